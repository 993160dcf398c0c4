import ArgumentParser
import Foundation
import LRMFormat

extension LRM {
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two .lrm files: metadata, the model's input, layers (kind, rank, parameters) and tensors (dtype, shape, max |Δ|).",
            discussion: "Tensors are matched by name; those with the same shape are compared value by value as float32 (the values "
                + "lrm computes with), giving the largest |Δ|. Exit status 0 when nothing differs (metadata such as the writer and "
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

/// What differs between two containers, section by section: each entry a line of text.
struct ContainerDiff {
    var metadata: [String] = []
    var model: [String] = []
    var layers: [String] = []
    var tensors: [String] = []
    /// Tensors present in both with the same shape, and the largest |Δ| over all of them.
    var comparedTensors = 0
    var largestDifference = 0.0

    var isEmpty: Bool { metadata.isEmpty && model.isEmpty && layers.isEmpty && tensors.isEmpty }

    init(_ a: ContainerFile, _ b: ContainerFile) throws {
        let (ha, hb) = (a.header, b.header)
        for key in Set(ha.metadata.keys).union(hb.metadata.keys).sorted() where ha.metadata[key] != hb.metadata[key] {
            metadata.append("\(escaped(key)): \(Self.show(ha.metadata[key])) → \(Self.show(hb.metadata[key]))")
        }
        for key in Set(ha.userMetadata.keys).union(hb.userMetadata.keys).sorted() where ha.userMetadata[key] != hb.userMetadata[key] {
            metadata.append("user \(escaped(key)): \(ha.userMetadata[key].map { "'\(escaped($0))'" } ?? "none") → "
                            + "\(hb.userMetadata[key].map { "'\(escaped($0))'" } ?? "none")")
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
            row.kind + (row.factorization.map { " rank \($0.rank)" } ?? "") + ", \(Format.count(row.parametersAfter)) parameters"
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

        let tensorsB = Dictionary(hb.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, info) in ha.tensors.enumerated() {
            guard let otherIndex = tensorsB[info.name] else {
                tensors.append("only in the first: \(escaped(info.name)) \(info.dtype.name) \(Self.shape(info.shape))")
                continue
            }
            let other = hb.tensors[otherIndex]
            guard info.shape == other.shape else {
                tensors.append("\(escaped(info.name)): shape \(Self.shape(info.shape)) → \(Self.shape(other.shape))")
                continue
            }
            try a.verifyChecksum(index)
            try b.verifyChecksum(otherIndex)
            let x = a.tensor(index).floats(), y = b.tensor(otherIndex).floats()
            var worst = 0.0
            for (u, v) in zip(x, y) {
                let d = abs(Double(u) - Double(v))
                worst = max(worst, d.isNaN ? (u.isNaN && v.isNaN ? 0 : .infinity) : d)
            }
            comparedTensors += 1
            largestDifference = max(largestDifference, worst)
            if info.dtype != other.dtype || worst > 0 {
                tensors.append("\(escaped(info.name)) \(Self.shape(info.shape)): "
                               + (info.dtype != other.dtype ? "\(info.dtype.name) → \(other.dtype.name), " : "")
                               + "max |Δ| \(String(format: "%.3g", worst))")
            }
        }
        let namesInA = Set(ha.tensors.map(\.name))
        for info in hb.tensors where !namesInA.contains(info.name) {
            tensors.append("only in the second: \(escaped(info.name)) \(info.dtype.name) \(Self.shape(info.shape))")
        }
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
        out.append(isEmpty ? "no differences (\(comparedTensors) tensors compared)"
                   : "\(metadata.count + model.count + layers.count + tensors.count) difference(s); \(comparedTensors) tensors of equal shape "
                     + "compared, largest |Δ| \(String(format: "%.3g", largestDifference))")
        return out.joined(separator: "\n")
    }

    func json(first: String, second: String) -> JSONValue {
        .object([("first", .string(first)), ("second", .string(second)), ("identical", .bool(isEmpty)),
                 ("metadata", .array(metadata.map { .string($0) })), ("model", .array(model.map { .string($0) })),
                 ("layers", .array(layers.map { .string($0) })), ("tensors", .array(tensors.map { .string($0) })),
                 ("compared_tensors", .int(Int64(comparedTensors))), ("max_abs_difference", .number(largestDifference))])
    }
}
