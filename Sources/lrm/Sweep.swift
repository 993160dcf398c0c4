import ArgumentParser
import Foundation
import LRMCompress
import LRMDatasets
import LRMFormat
import LRMPipeline
import LRMVerify

extension LRM {
    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate a grid of rank policies on one model (each layer's SVD computed once).",
            discussion: """
                ARSVD points: energy τ and entropy τ for each --taus value. Static baselines at the same total parameter \
                budget as each ARSVD point: one rank k for every layer (rank) and one parameter ratio r for every layer \
                (ratio). --fine adds a dense grid of every method, including the data-aware whitened and \
                activation-scaled metrics (calibrated on the training split), and prints the smallest hidden-parameter \
                fraction each method reaches within 0.5 and 1 point of accuracy. The hidden-parameter fraction counts the \
                kernels of every dense layer but the last. 
                """ + ExitStatus.helpText)

        @Argument(help: "A Keras model or a .lrm file (its dense layers are swept).")
        var model: String

        @Option(help: "Split to evaluate on.")
        var split: DatasetSplit = .test

        @Option(help: ArgumentHelp("Energy / entropy thresholds, comma-separated.", valueName: "list"))
        var taus: String = "0.80,0.85,0.90,0.95,0.99"

        @Flag(help: "A dense grid of every method, data-aware ones included, and the smallest size within 0.5 and 1 point.")
        var fine = false

        @Option(help: ArgumentHelp("Also write every point as CSV to this file.", valueName: "file"))
        var csv: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for weights-only files.", valueName: "file"))
        var config: String?

        @OptionGroup var progressOptions: ProgressOptions

        @OptionGroup var weights: WeightMatchOptions

        @OptionGroup var dataOptions: DataOptions
        @OptionGroup var preprocessing: PreprocessingOptions

        var thresholds: [Double] { taus.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }

        func validate() throws {
            guard dataOptions.hasData else { throw ValidationError("give the data set with --dataset, or your own with --inputs") }
            let values = taus.split(separator: ",")
            guard !values.isEmpty, thresholds.count == values.count, thresholds.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw ValidationError("--taus must be numbers in (0, 1], comma-separated, found '\(taus)'")
            }
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([model, config])
                let started = Date()
                let original = try ModelSource.load(model, architecture: config, preprocessing: preprocessing, match: weights.match)
                let data = try dataOptions.selection.resolved(for: original)
                guard data.task == .multiclass else {
                    throw CommandFailure(status: .usage, message: "\(model): sweep scores multi-class accuracy; a \(data.task.rawValue) model is "
                                         + "converted with --target-metric-drop and checked with lrm verify")
                }
                let evaluation = try EvaluationSet(try data.open(split), layout: data.layout(for: original))
                let sweepPrinter = progressOptions.printer
                defer { sweepPrinter?.finish() }
                var runner: SweepRunner
                do {
                    runner = try SweepRunner(model: original, evaluation: evaluation, options: ConversionOptions(svdMethod: .exact))
                    runner.progress = sweepPrinter?.handler
                } catch let error as VerificationError {
                    throw CommandFailure(status: .invalidInput, message: "\(model): \(error.description)")
                }
                let points = try fine ? runner.fineGrid(calibration: try data.calibration(for: original))
                                      : runner.paperGrid(thresholds: thresholds)
                sweepPrinter?.finish()
                if let csv {
                    do { try AtomicFileWriter.write(Array(SweepReport.csv(points).utf8), to: csv) } catch {
                        throw CommandFailure(status: .cannotWrite, message: "\(csv): cannot write: \(OutputFiles.reason(error))")
                    }
                }
                let report = SweepReport(model: model, dataset: evaluation.description, original: runner.original, points: points,
                                         seconds: Date().timeIntervalSince(started))
                print(json ? report.json().serialized(indent: 2) : report.text(summary: fine))
            }
        }
    }
}

/// Text, JSON and CSV of a sweep.
struct SweepReport {
    var model: String
    var dataset: String
    var original: LRMVerify.ClassificationMetrics
    var points: [SweepPoint]
    var seconds: Double

    static func rankText(_ point: SweepPoint) -> String {
        point.ranks.map { $0.rank.map(String.init) ?? "dense" }.joined(separator: "/")
    }

    func text(summary: Bool) -> String {
        var out = ["lrm sweep: \(model) on \(dataset)",
                   String(format: "original: accuracy %.2f%%, macro-F1 %.2f%% (%d samples)", original.accuracy * 100, original.macroF1 * 100, original.sampleCount),
                   ""]
        var table = TextTable(["method", "param", "ranks", "params", "ratio", "hidden", "bytes", "bits/param", "accuracy", "Δ acc", "macro-F1", "agree"],
                              rightAligned: [1, 3, 4, 5, 6, 7, 8, 9, 10, 11])
        for p in points {
            let drop = p.correct - original.confusion.correct
            table.add([p.method, InspectReport.shortNumber(p.parameter), SweepReport.rankText(p), Format.count(p.parameters),
                       Format.ratio(p.compressionRatio), Format.fixed(p.hiddenFraction, 3), Format.count(p.fileBytes),
                       Format.fixed(p.bitsPerParameter, 2), Format.fixed(p.accuracy * 100, 2) + "%",
                       String(format: "%+.2f pp (%+d)", (p.accuracy - original.accuracy) * 100, drop),
                       Format.fixed(p.macroF1 * 100, 2) + "%", Format.fixed(p.agreement * 100, 2) + "%"])
        }
        out.append(table.render(indent: ""))
        if summary {
            out.append("")
            out.append("smallest hidden-parameter fraction within a drop of (test split, \(original.sampleCount) images: 0.5 pp = \(original.sampleCount / 200) images)")
            var best = TextTable(["method", "≤ 0.5 pp", "≤ 1 pp"], rightAligned: [1, 2])
            for method in ["energy", "entropy", "rank", "ratio", "whitened", "activation-scaled"] {
                best.add([method] + [0.5, 1.0].map { limit in
                    smallest(method: method, limit: limit).map { Format.fixed($0.hiddenFraction, 3) + " (" + String(format: "%+.2f", ($0.accuracy - original.accuracy) * 100) + ")" } ?? "none"
                })
            }
            out.append(best.render(indent: ""))
        }
        out.append("")
        out.append("\(points.count) points in \(Format.fixed(seconds, 1)) s")
        return out.joined(separator: "\n")
    }

    func smallest(method: String, limit: Double) -> SweepPoint? {
        points.filter { $0.method == method && (original.accuracy - $0.accuracy) * 100 <= limit + 1e-9 }.min { $0.hiddenFraction < $1.hiddenFraction }
    }

    func json() -> LRMFormat.JSONValue {
        .object([
            ("model", .string(model)), ("dataset", .string(dataset)),
            ("original", .object([("accuracy", .number(original.accuracy)), ("f1_macro", .number(original.macroF1)),
                                  ("samples", .int(Int64(original.sampleCount)))])),
            ("points", .array(points.map { p in
                .object([("method", .string(p.method)), ("parameter", .number(p.parameter)),
                         ("ranks", .array(p.ranks.map { .object([("layer", .string($0.layer)), ("rank", $0.rank.map { .int(Int64($0)) } ?? .null)]) })),
                         ("parameters", .int(Int64(p.parameters))), ("compression_ratio", .number(p.compressionRatio)),
                         ("hidden_fraction", .number(p.hiddenFraction)), ("accuracy", .number(p.accuracy)),
                         ("correct", .int(Int64(p.correct))), ("f1_macro", .number(p.macroF1)), ("agreement", .number(p.agreement)),
                         ("file_bytes", .int(Int64(p.fileBytes))), ("bits_per_parameter", .number(p.bitsPerParameter))])
            })),
            ("seconds", .number(seconds)),
        ])
    }

    static func csv(_ points: [SweepPoint]) -> String {
        var lines = ["method,parameter,ranks,parameters,compression_ratio,hidden_fraction,accuracy,correct,f1_macro,agreement,file_bytes,bits_per_parameter"]
        for p in points {
            lines.append([p.method, String(p.parameter), rankText(p), String(p.parameters), String(p.compressionRatio), String(p.hiddenFraction),
                          String(p.accuracy), String(p.correct), String(p.macroF1), String(p.agreement), String(p.fileBytes),
                          String(p.bitsPerParameter)]
                .map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
