import Foundation
import LRMFormat

/// What an evaluating command fed the model, and the warnings about preprocessing that most likely
/// went wrong: shown in text and JSON so that a wrong scale never passes silently.
struct PreprocessingNotes {
    var scale: [Double]
    var offset: [Double]
    var layout: InputLayout
    /// "the model file" or the options that set it.
    var source: String
    var warnings: [String] = []

    /// `model` as it will be evaluated (options applied); `source` where its scale and offset came from
    /// (`VerifyPreprocessing.candidateSource`: a model's own record wins over the command line's options);
    /// `rawPixels` when the data are bundled images (bytes 0–255, scaled only by the model).
    init(model: Model, source: String, rawPixels: Bool) {
        self.init(input: model.input, source: source, rawPixels: rawPixels)
    }

    /// The same from the model's input description.
    init(input: InputSpec, source: String, rawPixels: Bool) {
        scale = input.scale
        offset = input.offset
        layout = input.layout
        self.source = source
        let scales = scale.allSatisfy { $0 == 1 }, shifts = offset.allSatisfy { $0 == 0 }
        if rawPixels && scales && shifts {
            warnings.append("the images are fed as raw pixels 0–255 and the model scales nothing: a model trained on pixels / 255 "
                            + "needs --input-scale 1/255 (Keras files rarely record it)")
        }
    }

    static func numbers(_ values: [Double], identity: Double) -> String {
        if values.isEmpty { return Format.fixed(identity, 0) }
        return values.map { value in
            if value != 0, abs(1 / value - (1 / value).rounded()) < 1e-6, abs(value) < 1 { return "1/\(Int((1 / value).rounded()))" }
            return String(format: "%.6g", value)
        }.joined(separator: ",")
    }

    var text: String {
        "preprocessing: inputs × \(Self.numbers(scale, identity: 1)) + \(Self.numbers(offset, identity: 0)), layout \(layout.name) (from \(source))"
    }

    var json: JSONValue {
        .object([("scale", .array(scale.map { .number($0) })), ("offset", .array(offset.map { .number($0) })),
                 ("layout", .string(layout.name)), ("source", .string(source))])
    }

    /// A warning when `accuracy` on `classCount` classes is at chance level (within 1.5× of 1/classes).
    mutating func checkChance(accuracy: Double, classCount: Int, model: String) {
        guard classCount >= 3, accuracy <= 1.5 / Double(classCount) else { return }
        warnings.append(String(format: "%@ scores %.2f%%, chance level for %d classes: is the preprocessing right (--input-scale, --input-offset, --data-layout)?",
                               model, accuracy * 100, classCount))
    }

    /// Prints the warnings on stderr.
    func printWarnings() {
        for warning in warnings { printWarning(warning) }
    }

    /// A text report with the preprocessing after its first line and the warnings before its result line.
    func annotate(_ report: String) -> String {
        var lines = report.components(separatedBy: "\n")
        lines.insert(text, at: min(1, lines.count))
        let result = lines.lastIndex { $0.hasPrefix("result: ") } ?? lines.count
        lines.insert(contentsOf: warnings.map { "warning: \($0)" }, at: result)
        return lines.joined(separator: "\n")
    }

    /// A JSON report with `preprocessing` and `warnings` members.
    func annotate(_ report: JSONValue) -> JSONValue {
        guard case .object(var members) = report else { return report }
        members.append(("preprocessing", json))
        members.append(("warnings", .array(warnings.map { .string($0) })))
        return .object(members)
    }
}
