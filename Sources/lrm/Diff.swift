import ArgumentParser
import Foundation
import LRMFormat

extension LRM {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two .lrm files: metadata, the model's input, layers (kind, rank, parameters) and tensors (dtype, shape, max |Δ|).",
            discussion: "Tensors are matched by name; those with the same shape are compared value by value as float32 (the values "
                + "lrm computes with), giving the largest |Δ|; a quantized weight (i8 or i4 codes) is compared as its dequantized values "
                + "(codes × scales, less zero points), never its raw codes, so files of different dtypes compare in the same units. "
                + "--json gives every difference as text (metadata, model, layers, tensors) and those of metadata and tensors also as "
                + "data (metadata_differences, tensor_differences: dtypes, shapes and max_abs_difference as numbers). Exit status 0 when nothing differs (metadata such as the writer and "
                + "the conversion's time included), 1 when something does, as diff(1). " + ExitStatus.helpText)

        @Argument(help: "The first .lrm file (a Keras file is refused: store it as one with lrm import).")
        var first: String

        @Argument(help: "The second .lrm file.")
        var second: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([first, second])
                for path in [first, second] { try ModelSource.refuseKeras(path, command: "diff", reads: "compares .lrm files") }
                let a = try ContainerFile(path: first), b = try ContainerFile(path: second)
                let report = try ContainerDiff(a, b)
                print(json ? report.json(first: first, second: second).serialized(indent: 2) : report.text(first: first, second: second))
                if !report.isEmpty { throw ExitCode(ExitStatus.checkFailed.rawValue) }
            }
        }
    }
}

/// What differs between two containers, section by section: each entry a line of text, and for metadata and
/// tensors the same differences as data (``metadataDifferences``, ``tensorDifferences``) for the JSON.
struct ContainerDiff {
    var metadata: [String] = []
    var model: [String] = []
    var layers: [String] = []
    var tensors: [String] = []
    /// Tensors present in both with the same shape, and the largest |Δ| over all of them.
    var comparedTensors = 0
    var largestDifference = 0.0
    /// How many of the compared tensors are quantized weights in either file, compared as their dequantized values.
    var dequantizedTensors = 0

    /// A metadata key whose value differs: nil where a file has none.
    struct MetadataDifference {
        var key: String
        var user: Bool
        var first: JSONValue?
        var second: JSONValue?
    }

    /// A tensor that differs: in one file only (the other side nil), another shape, another dtype or other values.
    struct TensorDifference {
        struct Side { var dtype: String; var shape: [Int] }
        var name: String
        var first: Side?
        var second: Side?
        /// The largest |Δ| of the values, nil when the tensor is not in both with one shape.
        var maxAbsDifference: Double?
        /// Whether a side is a quantized weight, compared as its dequantized values (codes × scales), not its codes.
        var dequantized = false
    }

    var metadataDifferences: [MetadataDifference] = []
    var tensorDifferences: [TensorDifference] = []

    var isEmpty: Bool { metadata.isEmpty && model.isEmpty && layers.isEmpty && tensors.isEmpty }

    init(_ a: ContainerFile, _ b: ContainerFile) throws {
        let (ha, hb) = (a.header, b.header)
        for key in Set(ha.metadata.keys).union(hb.metadata.keys).sorted() where ha.metadata[key] != hb.metadata[key] {
            metadata.append("\(escaped(key)): \(Self.show(ha.metadata[key])) → \(Self.show(hb.metadata[key]))")
            metadataDifferences.append(MetadataDifference(key: key, user: false, first: ha.metadata[key]?.json, second: hb.metadata[key]?.json))
        }
        for key in Set(ha.userMetadata.keys).union(hb.userMetadata.keys).sorted() where ha.userMetadata[key] != hb.userMetadata[key] {
            metadata.append("user \(escaped(key)): \(ha.userMetadata[key].map { "'\(escaped($0))'" } ?? "none") → "
                            + "\(hb.userMetadata[key].map { "'\(escaped($0))'" } ?? "none")")
            metadataDifferences.append(MetadataDifference(key: key, user: true, first: ha.userMetadata[key].map { .string($0) },
                                                          second: hb.userMetadata[key].map { .string($0) }))
        }
        let (ma, mb) = (ha.model, hb.model)
        if ma.name != mb.name { model.append("name '\(escaped(ma.name))' → '\(escaped(mb.name))'") }
        if ma.input.shape != mb.input.shape { model.append("input shape \(ma.input.shape) → \(mb.input.shape)") }
        if ma.input.layout != mb.input.layout { model.append("input layout \(ma.input.layout.name) → \(mb.input.layout.name)") }
        if ma.input.scale != mb.input.scale { model.append("input scale \(ma.input.scale) → \(mb.input.scale)") }
        if ma.input.offset != mb.input.offset { model.append("input offset \(ma.input.offset) → \(mb.input.offset)") }
        if ma.classNames != mb.classNames { model.append("class names (\(ma.classNames.count)) → (\(mb.classNames.count)) differ") }

        let (sa, sb) = (ModelSummary(header: ha), ModelSummary(header: hb))
        func describe(_ row: ModelSummary.LayerRow) -> String {
            // What the kind alone does not say, as inspect's table says it (no tensor tells these apart).
            kindText(row.kind, kerasClass: row.kerasClass) + (row.parametricActivation.map { " (\($0.summary))" } ?? "")
                + (row.upsampling.map { " (\($0.summary))" } ?? "") + (row.transposedGeometry.map { " (\($0.summary))" } ?? "")
                + (row.epsilon.map { " (epsilon \($0))" } ?? "")
                + (row.slots.map { " [\($0)]" } ?? "") + (row.factorization.map { " rank \($0.rank)" } ?? "")
                + ", \(Format.count(row.parametersAfter)) parameters"
        }
        let namesA = sa.layers.map(\.name), namesB = sb.layers.map(\.name)
        for row in sa.layers where !namesB.contains(row.name) { layers.append("only in the first: \(escaped(row.name)) (\(describe(row)))") }
        for row in sb.layers where !namesA.contains(row.name) { layers.append("only in the second: \(escaped(row.name)) (\(describe(row)))") }
        for row in sa.layers {
            guard let other = sb.layers.first(where: { $0.name == row.name }) else { continue }
            if describe(row) != describe(other) || row.activation != other.activation {
                layers.append("\(escaped(row.name)): \(describe(row)) → \(describe(other))")
            }
        }
        if namesA != namesB, Set(namesA) == Set(namesB) { layers.append("the same layers in another order") }

        // A quantized weight's tensor holds integer codes; its values are codes × scales (minus zero points): those are
        // what is compared, so an i4 and an i8 file (or a quantized and a float one) compare in the same units.
        let (qa, qb) = (Self.quantizations(ha), Self.quantizations(hb))
        let tensorsB = Dictionary(hb.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, info) in ha.tensors.enumerated() {
            let side = TensorDifference.Side(dtype: info.dtype.name, shape: info.shape)
            guard let otherIndex = tensorsB[info.name] else {
                tensors.append("only in the first: \(escaped(info.name)) \(info.dtype.name) \(Self.shape(info.shape))")
                tensorDifferences.append(TensorDifference(name: info.name, first: side))
                continue
            }
            let other = hb.tensors[otherIndex]
            let otherSide = TensorDifference.Side(dtype: other.dtype.name, shape: other.shape)
            guard info.shape == other.shape else {
                tensors.append("\(escaped(info.name)): shape \(Self.shape(info.shape)) → \(Self.shape(other.shape))")
                tensorDifferences.append(TensorDifference(name: info.name, first: side, second: otherSide))
                continue
            }
            let x = try Self.values(a, index, qa[index]), y = try Self.values(b, otherIndex, qb[otherIndex])
            var worst = 0.0
            for (u, v) in zip(x, y) {
                let d = abs(Double(u) - Double(v))
                worst = max(worst, d.isNaN ? (u.isNaN && v.isNaN ? 0 : .infinity) : d)
            }
            let dequantized = qa[index] != nil || qb[otherIndex] != nil
            comparedTensors += 1
            if dequantized { dequantizedTensors += 1 }
            largestDifference = max(largestDifference, worst)
            if info.dtype != other.dtype || worst > 0 {
                tensors.append("\(escaped(info.name)) \(Self.shape(info.shape)): "
                               + (info.dtype != other.dtype ? "\(info.dtype.name) → \(other.dtype.name), " : "")
                               + "max |Δ| \(String(format: "%.3g", worst))" + (dequantized ? " (dequantized)" : ""))
                tensorDifferences.append(TensorDifference(name: info.name, first: side, second: otherSide, maxAbsDifference: worst,
                                                          dequantized: dequantized))
            }
        }
        let namesInA = Set(ha.tensors.map(\.name))
        for info in hb.tensors where !namesInA.contains(info.name) {
            tensors.append("only in the second: \(escaped(info.name)) \(info.dtype.name) \(Self.shape(info.shape))")
            tensorDifferences.append(TensorDifference(name: info.name, second: TensorDifference.Side(dtype: info.dtype.name, shape: info.shape)))
        }
    }

    /// Each quantized weight's codes tensor (by index) with its scales and zero points.
    static func quantizations(_ header: ContainerHeader) -> [Int: WeightQuantization] {
        var found: [Int: WeightQuantization] = [:]
        for layer in header.model.layers {
            for (role, index) in layer.operation.tensors {
                if let q = layer.quantization[role] { found[index] = q }
            }
        }
        return found
    }

    /// Tensor `index`'s values as float32, checksums checked: a quantized weight's dequantized (its scales' and zero
    /// points' checksums checked too), anything else as stored.
    static func values(_ file: ContainerFile, _ index: Int, _ quantization: WeightQuantization?) throws -> [Float] {
        try file.verifyChecksum(index)
        guard let quantization else { return file.tensor(index).floats() }
        try file.verifyChecksum(quantization.scales)
        if let zeroPoints = quantization.zeroPoints { try file.verifyChecksum(zeroPoints) }
        return try file.quantizedValues(codes: index, quantization: quantization).dequantized()
    }

    static func show(_ value: MetadataValue?) -> String {
        guard let value else { return "none" }
        let text = escaped(value.description)
        return text.count > 60 ? String(text.prefix(57)) + "…" : text
    }

    static func shape(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }

    func text(first: String, second: String) -> String {
        var out = ["lrm diff: \(first) → \(second)"]
        for (title, lines) in [("Metadata", metadata), ("Model", model), ("Layers", layers), ("Tensors", tensors)] where !lines.isEmpty {
            out.append("")
            out.append(title)
            out += lines.map { "  " + $0 }
        }
        out.append("")
        let dequantized = dequantizedTensors > 0
            ? "; quantized weights compared as their dequantized values (codes × scales), not their integer codes" : ""
        out.append(isEmpty ? "no differences (\(comparedTensors) tensors compared\(dequantized))"
                   : "\(metadata.count + model.count + layers.count + tensors.count) difference(s); \(comparedTensors) tensors of equal shape "
                     + "compared, largest |Δ| \(String(format: "%.3g", largestDifference))\(dequantized)")
        return out.joined(separator: "\n")
    }

    func json(first: String, second: String) -> JSONValue {
        func side(_ side: TensorDifference.Side?) -> JSONValue {
            side.map { .object([("dtype", .string($0.dtype)), ("shape", .array($0.shape.map { .int(Int64($0)) }))]) } ?? .null
        }
        return .object([
            ("first", .string(first)), ("second", .string(second)), ("identical", .bool(isEmpty)),
            ("metadata", .array(metadata.map { .string($0) })), ("model", .array(model.map { .string($0) })),
            ("layers", .array(layers.map { .string($0) })), ("tensors", .array(tensors.map { .string($0) })),
            ("compared_tensors", .int(Int64(comparedTensors))), ("max_abs_difference", .number(largestDifference)),
            ("dequantized_tensors", .int(Int64(dequantizedTensors))),
            ("metadata_differences", .array(metadataDifferences.map { d in
                .object([("key", .string(d.key)), ("user", .bool(d.user)), ("first", d.first ?? .null), ("second", d.second ?? .null)])
            })),
            ("tensor_differences", .array(tensorDifferences.map { d in
                .object([("name", .string(d.name)), ("first", side(d.first)), ("second", side(d.second)),
                         ("max_abs_difference", d.maxAbsDifference.map { .number($0) } ?? .null), ("dequantized", .bool(d.dequantized))])
            })),
        ])
    }
}
