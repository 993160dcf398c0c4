import ArgumentParser
import Foundation
import LRMFormat

extension LRM {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a .lrm file or a Keras model (as lrm import would store it): summary, metadata, layers and tensors.",
            discussion: """
                Opening validates the whole structure; --verify also checks every tensor's CRC-32. A Keras \
                file (.h5, .weights.h5 with --config, .keras) is described as `lrm import` would store it: \
                its layers, shapes, parameters and tensors, with nothing written (one whose config leaves its input \
                shape open, Input((None, 3)), for the shape --input-shape gives). A recorded energy that is the \
                truncation's the stored factors started from (refitted, fine-tuned or rounded to integer codes since) \
                is marked (truncation's), JSON retained_energy_is_truncations.
                """ + " " + ExitStatus.helpText)

        @Argument(help: "The .lrm file, or a Keras model.")
        var file: String

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for a weights-only Keras file.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var shape: InputShapeOption

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Flag(help: "Check every tensor's checksum (reads all data).")
        var verify = false

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config)])
            let keras = ModelSource.looksLikeKeras(file)
            if keras && verify {
                throw ValidationError("--verify checks a .lrm file's checksums; \(file) is a Keras file")
            }
            if config != nil && !keras {
                throw ValidationError("--config gives a Keras weights-only file its architecture; \(file) is not a Keras file")
            }
            try shape.refuseUnlessKeras(file)
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([file, config])
                if ModelSource.looksLikeKeras(file) {
                    // What `lrm import` would store, encoded in memory and read back through the container reader.
                    let model = try shape.load(file, architecture: config, match: weights.match)
                    let container = try ContainerWriter.encode(model).withUnsafeBytes { try ContainerFile(bytes: $0, path: file) }
                    let summary = ModelSummary(header: container.header)
                    if json {
                        print(InspectReport.json(container, summary: summary, verified: false, failure: nil, keras: true).serialized(indent: 2))
                    } else {
                        print(InspectReport.text(container, summary: summary, checksums: "", keras: true))
                    }
                    return
                }
                let container = try ContainerFile(path: file)
                var checksumFailure: ContainerError?
                var checksums = "not verified (use --verify)"
                if verify {
                    do {
                        try container.verifyAllChecksums()
                        checksums = "all \(container.header.tensors.count) verified"
                    } catch let error as ContainerError {
                        checksumFailure = error
                        checksums = "MISMATCH: \(error.message)"
                    }
                }
                let summary = ModelSummary(header: container.header)
                if json {
                    print(InspectReport.json(container, summary: summary, verified: verify, failure: checksumFailure).serialized(indent: 2))
                } else {
                    print(InspectReport.text(container, summary: summary, checksums: checksums))
                }
                if let checksumFailure { throw checksumFailure }
            }
        }
    }
}

/// The text and JSON renderings of `lrm inspect`.
enum InspectReport {
    static func dtypeTotals(_ header: ContainerHeader) -> [(DType, parameters: Int, bytes: Int)] {
        DType.allCases.compactMap { dtype in
            let tensors = header.tensors.filter { $0.dtype == dtype }
            guard !tensors.isEmpty else { return nil }
            return (dtype, tensors.reduce(0) { $0 + ($1.elementCount ?? 0) }, tensors.reduce(0) { $0 + $1.byteCount })
        }
    }

    /// `keras`: `file` is a Keras model encoded in memory, so its sizes, offsets and checksums are not the file's.
    static func text(_ file: ContainerFile, summary: ModelSummary, checksums: String, keras: Bool = false) -> String {
        let header = file.header
        var out: [String] = []
        if keras {
            let format = header.metadata[MetadataKey.sourceFormat].map { " (\($0.description))" } ?? ""
            out.append("\(escaped(file.path)): Keras model\(format), described as lrm import would store it (nothing written); "
                       + "as .lrm \(Format.bytes(file.fileByteCount))")
        } else {
            out.append("\(escaped(file.path)): lrm format \(file.majorVersion).\(file.minorVersion), "
                       + "\(Format.bytes(file.fileByteCount)) (\(Format.count(file.fileByteCount)) bytes), alignment \(header.alignment)")
        }
        let dtypes = dtypeTotals(header).map { "\($0.0.name) \(Format.count($0.parameters)) (\(Format.bytes($0.bytes)))" }
        out.append("  tensors:     \(header.tensors.count)" + (dtypes.isEmpty ? "" : ": " + dtypes.joined(separator: ", ")))
        out.append("  parameters:  \(Format.count(summary.parametersAfter)) stored, \(Format.count(summary.parametersBefore)) "
                   + "in the original layers: compression \(Format.ratio(summary.compressionRatio))")
        if let bits = summary.bitsPerParameter {
            out.append("  weights:     \(Format.count(summary.storedBytes)) bytes of tensors, \(String(format: "%.2f", bits)) bits per stored parameter "
                       + "(quantization scales included)")
        }
        if summary.macsBefore > 0 {
            out.append("  MACs/sample: \(Format.count(summary.macsAfter)) stored, \(Format.count(summary.macsBefore)) in the original layers")
        }
        if !keras {
            out.append("  header:      \(Format.count(file.headerByteCount)) bytes; data section at byte \(file.dataOffset)")
            out.append("  checksums:   \(checksums)")
        }

        let input = header.model.input
        var inputText = "\(input.shape.map(String.init).joined(separator: "×")) \(input.layout.name)"
        let open = MetadataKey.sourceOpenInputDims(in: header.metadata, rank: input.shape.count)
        if !open.isEmpty {
            // The source left these open (Input((None, 3))); --input-shape gave them.
            inputText += " (open in the source: " + input.shape.indices.map { open.contains($0) ? "None" : String(input.shape[$0]) }
                .joined(separator: "×") + ")"
        }
        if !input.scale.isEmpty { inputText += ", scale " + describe(input.scale) }
        if !input.offset.isEmpty { inputText += ", offset " + describe(input.offset) }
        out.append("")
        out.append("Model \"\(escaped(header.model.name))\": input \(inputText)"
                   + (header.model.classNames.isEmpty ? "" : ", \(header.model.classNames.count) classes"))
        if !header.model.classNames.isEmpty {
            let shown = header.model.classNames.prefix(10).map { escaped($0) }.joined(separator: ", ")
            out.append("  classes: \(shown)\(header.model.classNames.count > 10 ? ", …" : "")")
        }
        if let dropped = MetadataKey.droppedLayersText(in: header.metadata) { out.append("  note: " + dropped) }

        if !header.metadata.isEmpty || !header.userMetadata.isEmpty {
            out.append("")
            out.append("Metadata")
            var table = TextTable(["key", "type", "value"])
            for key in header.metadata.keys.sorted() {
                let value = header.metadata[key]!
                table.add([escaped(key), value.typeName, truncate(escaped(value.description))])
            }
            for key in header.userMetadata.keys.sorted() {
                table.add([escaped(key), "user", truncate(escaped(header.userMetadata[key]!))])
            }
            out.append(table.render())
        }

        out.append("")
        out.append("Layers")
        var layers = TextTable(["#", "name", "kind", "in→out", "output", "rank", "energy", "rel. error", "params before", "params after",
                                "ratio", "bytes", "bits/param", "MACs before", "MACs after"],
                               rightAligned: [0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
        for (index, row) in summary.layers.enumerated() {
            var kind = row.kind
            // In parentheses: the activation (unless linear), a parametric activation's function, an upsampling's factors
            // and interpolation, a transposed convolution's strides (dilation and crop where not 1 and 0), (1.5) a layer
            // normalization's epsilon.
            let details = [row.activation.flatMap { $0 == .linear ? nil : $0.name }, row.parametricActivation?.summary,
                           row.upsampling?.summary, row.transposedGeometry?.summary, row.epsilon.map { "epsilon \($0)" }].compactMap { $0 }
            if !details.isEmpty { kind += " (\(details.joined(separator: "; ")))" }
            kind = kindText(kind, kerasClass: row.kerasClass)
            if let slots = row.slots { kind += " [\(slots)]" }
            let shape = row.inFeatures.map { "\($0)→\(row.outFeatures ?? 0)" } ?? ""
            let f = row.factorization
            layers.add([String(index), escaped(row.name), kind, shape, row.outputShape.map(String.init).joined(separator: "×"),
                        f.map { "\($0.rank)" } ?? "",
                        f.map { Format.fixed($0.retainedEnergy, 4) + (row.energyIsTruncations ? " (truncation's)" : "") } ?? "", f.map { Format.fixed($0.relativeError, 4) } ?? "",
                        row.parametersBefore == 0 ? "" : Format.count(row.parametersBefore),
                        row.parametersAfter == 0 ? "" : Format.count(row.parametersAfter),
                        row.parametersBefore == 0 ? "" : Format.ratio(row.compressionRatio),
                        row.storedBytes == 0 ? "" : Format.count(row.storedBytes),
                        row.bitsPerParameter.map { String(format: "%.2f", $0) } ?? "",
                        row.macsBefore == 0 ? "" : Format.count(row.macsBefore), row.macsAfter == 0 ? "" : Format.count(row.macsAfter)])
        }
        layers.add(["", "total", "", "", "", "", "", "", Format.count(summary.parametersBefore), Format.count(summary.parametersAfter),
                    Format.ratio(summary.compressionRatio), Format.count(summary.storedBytes),
                    summary.bitsPerParameter.map { String(format: "%.2f", $0) } ?? "",
                    Format.count(summary.macsBefore), Format.count(summary.macsAfter)])
        out.append(layers.render())
        if summary.layers.contains(where: \.energyIsTruncations) { out.append("  " + HTMLReport.truncationsEnergyNote) }
        if summary.layers.contains(where: { $0.kerasClass != nil }) { out.append("  " + sourceKerasClassNote) }

        let factorized = summary.layers.compactMap { row in row.factorization.map { (row.name, $0) } }
        if !factorized.isEmpty {
            out.append("")
            out.append("Factorizations")
            var table = TextTable(["layer", "policy", "method", "k / min(in,out)", "σ₁", "σₖ", "σ known"], rightAligned: [3, 4, 5, 6])
            for (name, f) in factorized {
                table.add([escaped(name), "\(escaped(f.policy)) \(shortNumber(f.policyParameter))", escaped(f.method),
                           "\(f.rank) / \(min(f.inFeatures, f.outFeatures))",
                           shortNumber(f.singularValues.first ?? 0), shortNumber(f.singularValues[f.rank - 1]),
                           String(f.singularValues.count)])
            }
            out.append(table.render())
        }

        out.append("")
        out.append("Tensors")
        var tensors = keras ? TextTable(["name", "dtype", "shape", "bytes"], rightAligned: [3])
            : TextTable(["name", "dtype", "shape", "file offset", "bytes", "crc32"], rightAligned: [3, 4])
        for tensor in header.tensors {
            let shape = tensor.shape.map(String.init).joined(separator: "×")
            tensors.add(keras ? [escaped(tensor.name), tensor.dtype.name, shape, Format.count(tensor.byteCount)]
                : [escaped(tensor.name), tensor.dtype.name, shape, Format.count(file.dataOffset + tensor.byteOffset),
                   Format.count(tensor.byteCount), String(format: "%08x", tensor.crc32)])
        }
        out.append(tensors.render())
        return out.joined(separator: "\n")
    }

    /// `keras`: `file` is a Keras model encoded in memory: the JSON says so (`"source": "keras"`) and leaves out
    /// what belongs to a .lrm file (format version, sizes, offsets, checksums).
    static func json(_ file: ContainerFile, summary: ModelSummary, verified: Bool, failure: ContainerError?, keras: Bool = false) -> JSONValue {
        let header = file.header
        let layers: [JSONValue] = summary.layers.map { row in
            var members: [(String, JSONValue)] = [("name", .string(row.name)), ("kind", .string(row.kind))]
            if let kerasClass = row.kerasClass { members.append(("keras_class", .string(kerasClass))) }
            if let activation = row.activation { members.append(("activation", .string(activation.name))) }
            if let slots = row.slots { members.append(("slots", .string(slots))) }
            if let inFeatures = row.inFeatures { members.append(("in_features", .int(Int64(inFeatures)))) }
            if let outFeatures = row.outFeatures { members.append(("out_features", .int(Int64(outFeatures)))) }
            if let f = row.factorization {
                members += [("rank", .int(Int64(f.rank))), ("retained_energy", .number(f.retainedEnergy)),
                            ("retained_energy_is_truncations", .bool(row.energyIsTruncations)),
                            ("relative_error", .number(f.relativeError)), ("policy", .string(f.policy)),
                            ("policy_parameter", .number(f.policyParameter)), ("method", .string(f.method)),
                            ("singular_values", JSONValue(f.singularValues))]
            }
            members += [("parameters_before", .int(Int64(row.parametersBefore))), ("parameters_after", .int(Int64(row.parametersAfter))),
                        ("compression_ratio", .number(row.compressionRatio)), ("stored_bytes", .int(Int64(row.storedBytes)))]
            if let bits = row.bitsPerParameter { members.append(("bits_per_parameter", .number(bits))) }
            if !row.outputShape.isEmpty { members.append(("output_shape", JSONValue(row.outputShape))) }
            if row.macsBefore > 0 {
                members += [("macs_before", .int(Int64(row.macsBefore))), ("macs_after", .int(Int64(row.macsAfter)))]
            }
            return .object(members)
        }
        let checksumState: String = !verified ? "not_verified" : (failure == nil ? "verified" : "mismatch")
        let tensors: [JSONValue] = header.tensors.map { t in
            keras ? .object([("name", .string(t.name)), ("dtype", .string(t.dtype.name)), ("shape", JSONValue(t.shape)),
                             ("byte_count", .int(Int64(t.byteCount)))])
                : .object([("name", .string(t.name)), ("dtype", .string(t.dtype.name)), ("shape", JSONValue(t.shape)),
                           ("offset", .int(Int64(t.byteOffset))), ("file_offset", .int(Int64(file.dataOffset + t.byteOffset))),
                           ("byte_count", .int(Int64(t.byteCount))), ("crc32", .int(Int64(t.crc32)))])
        }
        var members: [(String, JSONValue)] = [("file", .string(file.path))]
        if keras {
            members += [("source", .string("keras")), ("lrm_byte_count", .int(Int64(file.fileByteCount)))]
        } else {
            members += [("source", .string("lrm")),
                        ("format_version", .string("\(file.majorVersion).\(file.minorVersion)")),
                        ("file_byte_count", .int(Int64(file.fileByteCount))),
                        ("header_byte_count", .int(Int64(file.headerByteCount))),
                        ("alignment", .int(Int64(header.alignment)))]
        }
        members += [
            ("tensor_count", .int(Int64(header.tensors.count))),
            ("dtypes", .object(dtypeTotals(header).map { ($0.0.name, .object([("parameters", .int(Int64($0.parameters))), ("bytes", .int(Int64($0.bytes)))])) })),
            ("parameters_before", .int(Int64(summary.parametersBefore))),
            ("parameters_after", .int(Int64(summary.parametersAfter))),
            ("compression_ratio", .number(summary.compressionRatio)),
            ("stored_bytes", .int(Int64(summary.storedBytes))),
            ("macs_before", .int(Int64(summary.macsBefore))),
            ("macs_after", .int(Int64(summary.macsAfter))),
        ]
        if let bits = summary.bitsPerParameter { members.append(("bits_per_parameter", .number(bits))) }
        if !keras { members.append(("checksums", .string(checksumState))) }
        if let failure { members.append(("checksum_error", .string(failure.description))) }
        members += [("metadata", header.metadataJSON), ("user_metadata", header.userMetadataJSON), ("model", header.modelJSON),
                    ("layers", .array(layers)), ("tensors", .array(tensors))]
        return .object(members)
    }

    static func describe(_ values: [Double]) -> String {
        if values.count == 1, values[0] != 0, abs(1 / values[0] - (1 / values[0]).rounded()) < 1e-9 {
            return "1/\(Int((1 / values[0]).rounded()))"
        }
        let shown = values.prefix(4).map(shortNumber).joined(separator: ", ")
        return values.count == 1 ? shown : "[\(shown)\(values.count > 4 ? ", …" : "")]"
    }

    static func shortNumber(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e9 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    static func truncate(_ text: String, limit: Int = 60) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
