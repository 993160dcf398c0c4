import Foundation
import LRMCompress
import LRMFormat

/// The table `lrm convert` prints, and its JSON form.
struct ConversionReport {
    var input: String
    var output: String?
    var decisions: [LayerDecision]
    var inputBytes: Int?
    var outputBytes: Int?
    var seconds: Double
    /// Bytes of each layer's tensors as stored (codes, scales, biases), by layer name.
    var layerBytes: [String: Int] = [:]

    /// Bytes of every layer's tensors in `model`, as written.
    static func layerBytes(of model: Model) -> [String: Int] {
        var bytes: [String: Int] = [:]
        for layer in model.layers { bytes[layer.name] = layer.operation.tensors.reduce(0) { $0 + $1.tensor.storedByteCount } }
        return bytes
    }

    func bits(_ d: LayerDecision) -> String {
        guard let bytes = layerBytes[d.name], d.parametersAfter > 0 else { return "" }
        return String(format: "%.2f", Double(bytes * 8) / Double(d.parametersAfter))
    }

    /// Multiply-accumulates per sample of the original and the converted model, when their shapes chain.
    var macs: (before: Int, after: Int)?

    /// Parameters the input file stores, when that is not what `parametersBefore` counts: a `.lrm` input whose layers
    /// are already factorized, where the layers' "before" is the original's kernel (as `lrm inspect` counts it) and the
    /// compression against the input file is said beside it.
    var inputParameters: Int?

    /// The per-sample MACs of two models (each counted by `ModelSummary` from its own header).
    static func macs(before: Model, after: Model) -> (before: Int, after: Int)? {
        guard let original = try? before.plan().header else { return nil }
        return macs(before: original, after: after)
    }

    /// The same, from the original's header (a mapped model's, already checked).
    static func macs(before original: ContainerHeader, after: Model) -> (before: Int, after: Int)? {
        guard let converted = try? after.plan().header else { return nil }
        let total = ModelSummary(header: original).macsAfter
        return total > 0 ? (total, ModelSummary(header: converted).macsAfter) : nil
    }

    var parametersBefore: Int { decisions.reduce(0) { $0 + $1.parametersBefore } }
    var parametersAfter: Int { decisions.reduce(0) { $0 + $1.parametersAfter } }
    var ratio: Double { parametersAfter == 0 ? 1 : Double(parametersBefore) / Double(parametersAfter) }
    /// The input file's stored parameters over the output's, when they differ from the original's (`inputParameters`).
    var ratioOnInput: (parameters: Int, ratio: Double)? {
        guard let inputParameters, inputParameters != parametersBefore else { return nil }
        return (inputParameters, parametersAfter == 0 ? 1 : Double(inputParameters) / Double(parametersAfter))
    }

    /// The kinds with weights that a conversion never factorizes here and keeps as they are: their result is
    /// "KIND (kept whole)" with a reason line (a depthwise convolution's, a transposed one's, a convolution's under
    /// `--conv none`), where other layers without weights to factorize show "-".
    static let keptWholeKinds: Set<String> = ["conv2d", "depthwise_conv2d", "conv2d_transpose"]

    func outcomeName(_ outcome: LayerDecision.Outcome, kind: String = "dense") -> String {
        let kept = kind == "conv2d" ? "conv2d" : "dense"
        return switch outcome {
        case .factorized: "factorized"
        case .notWorthIt: "\(kept) (does not pay)"
        case .excluded: "\(kept) (excluded)"
        case .notApplicable: Self.keptWholeKinds.contains(kind) ? "\(kind) (kept whole)" : "-"
        case .keptFactorized: "factorized (kept)"
        }
    }

    func text() -> String {
        var table = TextTable(["layer", "in×out", "k", "energy", "rel. error", "params before", "params after", "ratio", "bytes", "bits/param", "result"],
                              rightAligned: [2, 3, 4, 5, 6, 7, 8, 9])
        for d in decisions where d.outcome != .notApplicable || d.parametersBefore > 0 {
            let shape = d.inFeatures.map { "\($0)×\(d.outFeatures ?? 0)" } ?? ""
            table.add([escaped(d.name), shape, d.rank.map(String.init) ?? "", d.retainedEnergy.map { Format.fixed($0, 4) } ?? "",
                       d.relativeError.map { Format.fixed($0, 4) } ?? "", Format.count(d.parametersBefore), Format.count(d.parametersAfter),
                       Format.ratio(d.parametersAfter == 0 ? 1 : Double(d.parametersBefore) / Double(d.parametersAfter)),
                       layerBytes[d.name].map { Format.count($0) } ?? "", bits(d), outcomeName(d.outcome, kind: d.kind)])
        }
        let totalBytes = layerBytes.values.reduce(0, +)
        table.add(["total", "", "", "", "", Format.count(parametersBefore), Format.count(parametersAfter), Format.ratio(ratio),
                   Format.count(totalBytes), parametersAfter == 0 ? "" : String(format: "%.2f", Double(totalBytes * 8) / Double(parametersAfter)), ""])
        var lines = [table.render(indent: "")]
        lines.append("")
        for d in decisions where d.outcome == .notWorthIt || d.outcome == .excluded || d.outcome == .keptFactorized
            || (d.outcome == .factorized && d.truncatedFromRank != nil) || (d.outcome == .notApplicable && Self.keptWholeKinds.contains(d.kind)) {
            lines.append("\(escaped(d.name)): \(d.reason)")
        }
        for d in decisions where d.outcome == .factorized {
            if let note = d.note { lines.append("\(escaped(d.name)): \(note)") }
        }
        var totals = "parameters \(Format.count(parametersBefore)) → \(Format.count(parametersAfter)), compression \(Format.ratio(ratio))"
        if let onInput = ratioOnInput {
            totals = "parameters \(Format.count(parametersBefore)) in the original layers (\(Format.count(onInput.parameters)) in the input)"
                + " → \(Format.count(parametersAfter)), compression \(Format.ratio(ratio)) (\(Format.ratio(onInput.ratio)) on the input)"
        }
        if let inputBytes, let outputBytes {
            totals += "; bytes on disk \(Format.bytes(inputBytes)) → \(Format.bytes(outputBytes))"
        }
        lines.append(totals)
        if let macs { lines.append("multiply-accumulates per sample \(Format.count(macs.before)) → \(Format.count(macs.after))") }
        lines.append(output.map { "wrote \($0) in \(Format.fixed(seconds, 2)) s" } ?? "dry run: nothing written (\(Format.fixed(seconds, 2)) s)")
        return lines.joined(separator: "\n")
    }

    func json() -> JSONValue {
        let layers: [JSONValue] = decisions.map { d in
            var members: [(String, JSONValue)] = [("name", .string(d.name)), ("kind", .string(d.kind)),
                                                  ("result", .string(outcomeName(d.outcome, kind: d.kind)))]
            if let i = d.inFeatures, let o = d.outFeatures { members += [("in_features", .int(Int64(i))), ("out_features", .int(Int64(o)))] }
            if let p = d.policy { members += [("policy", .string(p.name)), ("policy_parameter", .number(p.parameter))] }
            if let k = d.policyRank { members.append(("policy_rank", .int(Int64(k)))) }
            if let k = d.rank { members.append(("rank", .int(Int64(k)))) }
            if let e = d.retainedEnergy { members.append(("retained_energy", .number(e))) }
            if let e = d.relativeError { members.append(("relative_error", .number(e))) }
            if let m = d.method { members += [("method", .string(m)), ("svd_seconds", .number(d.seconds))] }
            members += [("parameters_before", .int(Int64(d.parametersBefore))), ("parameters_after", .int(Int64(d.parametersAfter)))]
            if let bytes = layerBytes[d.name] { members.append(("stored_bytes", .int(Int64(bytes)))) }
            members.append(("reason", .string(d.reason)))
            return .object(members)
        }
        var members: [(String, JSONValue)] = [("input", .string(input)), ("output", output.map { .string($0) } ?? .null),
                                              ("layers", .array(layers)),
                                              ("parameters_before", .int(Int64(parametersBefore))),
                                              ("parameters_after", .int(Int64(parametersAfter))),
                                              ("compression_ratio", .number(ratio))]
        if let onInput = ratioOnInput {
            members += [("input_parameters", .int(Int64(onInput.parameters))), ("compression_ratio_on_input", .number(onInput.ratio))]
        }
        if let inputBytes { members.append(("input_bytes", .int(Int64(inputBytes)))) }
        if let outputBytes { members.append(("output_bytes", .int(Int64(outputBytes)))) }
        if let macs { members += [("macs_before", .int(Int64(macs.before))), ("macs_after", .int(Int64(macs.after)))] }
        members.append(("seconds", .number(seconds)))
        return .object(members)
    }
}
