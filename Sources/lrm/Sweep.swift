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
                activation-scaled metrics (calibrated on the training split: --calibration-samples, --validation-samples, --validation and --data-seed \
                choose its records, and without --fine are refused), and prints the smallest hidden-parameter \
                fraction each method reaches within 0.5 and 1 point of accuracy. The hidden-parameter fraction counts the \
                kernels of every dense layer but the last. With your own data (--inputs) the task decides the scores: \
                multi-class accuracy and macro-F1; binary accuracy at --threshold, F1 and ROC AUC; regression RMSE (its \
                change in percent of the original's, as --target-metric-drop counts it; the summary looks within 1% and 5%), \
                MAE and R². 
                """ + ExitStatus.helpText)

        @Argument(help: "A Keras model or a .lrm file (its dense layers are swept; already factorized ones from their stored factors, only truncated further, and compared with this file's model; --fine, whose data-aware metrics need the original kernels, is refused for them).")
        var model: String

        @Option(help: "Split to evaluate on.")
        var split: DatasetSplit = .test

        @Option(help: ArgumentHelp("Energy / entropy thresholds, comma-separated.", valueName: "list"))
        var taus: String = "0.80,0.85,0.90,0.95,0.99"

        @Flag(help: "A dense grid of every method, data-aware ones included, and the smallest size within 0.5 and 1 point.")
        var fine = false

        @Option(help: ArgumentHelp("Also write every point as CSV to this file (any name but a model's or data file's: .lrm, .h5, .hdf5, .keras, .npy, .npz).", valueName: "file"))
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
            try weights.check(architectureOptions: [("--config", config)])
            guard dataOptions.hasData else { throw ValidationError("give the data set with --dataset, or your own with --inputs") }
            let values = taus.split(separator: ",")
            guard !values.isEmpty, thresholds.count == values.count, thresholds.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                throw ValidationError("--taus must be numbers in (0, 1], comma-separated, found '\(taus)'")
            }
            try refuseUnusedSampling()
        }

        /// The training records are read only by `--fine`, whose data-aware metrics are calibrated on them (the
        /// calibration subset that `DataSelection.trainingSubsets()` draws, which all four options shape); without it the
        /// sweep reads the evaluation split alone, so these options would change nothing (at any value).
        func refuseUnusedSampling() throws {
            guard !fine else { return }
            let sampling = [("--calibration-samples", dataOptions.calibrationSamples != nil), ("--validation-samples", dataOptions.validationSamples != nil),
                            ("--validation", dataOptions.givenValidation != nil), ("--data-seed", dataOptions.givenDataSeed != nil)]
            if let flag = sampling.first(where: \.1)?.0 {
                throw ValidationError("\(flag) chooses the training records that calibrate --fine's data-aware metrics; "
                                      + "without --fine the sweep reads no training records")
            }
        }

        func run() throws {
            try reportingErrors {
                try InputFiles.requireRegular([model, config])
                if let csv {
                    try OutputFiles.refuseOverwritingInputs(csv, inputs: [("model", model), ("--config file", config)] + dataOptions.dataSet.own.files)
                    try OutputFiles.refuseInputExtension(csv, option: "--csv", content: "a CSV table", allowed: ".csv")
                    try OutputFiles.checkWritable(csv, option: "--csv")
                }
                let started = Date()
                let original = try ModelSource.load(model, architecture: config, preprocessing: preprocessing, match: weights.match)
                // A .lrm's factorized dense layers are swept from their stored factors (truncated further, never above their
                // stored rank); --fine's data-aware metrics need the original kernels, which they no longer have.
                let factorized = original.factorizedLayerNames
                if fine && !factorized.isEmpty {
                    throw CommandFailure(status: .usage, message: "\(model): " + ConversionPipeline.storedFactorsRefusal(
                        "--fine's data-aware metrics (whitened, activation-scaled) are measured on the original layers' calibration inputs",
                        factorized: factorized, instead: "sweep without --fine (the plain grid truncates them further), or sweep the original model"))
                }
                // A bundled data set's samples that do not fit the model are said before any are read, as convert and verify say it.
                try dataOptions.selection(naming: model).checkFits(original, path: model)
                // Bundled images are raw bytes 0–255: a model that scales nothing most likely needs --input-scale, as verify warns.
                if dataOptions.dataset != nil { PreprocessingNotes(model: original, source: model, rawPixels: true).printWarnings() }
                let data = try dataOptions.selection(naming: model).resolved(for: original)
                let evaluation = try EvaluationSet(try data.open(split), layout: data.layout(for: original), task: data.task)
                let sweepPrinter = progressOptions.printer
                defer { sweepPrinter?.finish() }
                var runner: SweepRunner
                do {
                    runner = try SweepRunner(model: original, evaluation: evaluation, options: ConversionOptions(svdMethod: .exact),
                                         threshold: dataOptions.dataSet.own.threshold)
                    runner.progress = sweepPrinter?.handler
                } catch {
                    // The original's evaluation (a model that cannot run, outputs that do not fit the data) names the file.
                    throw CommandFailure.evaluating(model, failedWith: error)
                }
                let points: [SweepPoint]
                do {
                    points = try fine ? runner.fineGrid(calibration: try data.calibration(for: original)) : runner.paperGrid(thresholds: thresholds)
                } catch let error as ConversionError {
                    throw dataOptions.failure(error, model: model)
                } catch let error as VerificationError {
                    throw CommandFailure.evaluating(model, failedWith: error)
                }
                sweepPrinter?.finish()
                var report = SweepReport(model: model, dataset: evaluation.description, original: runner.original, points: points,
                                         seconds: Date().timeIntervalSince(started))
                report.preprocessing = (original.input.scale, original.input.offset, original.input.layout.name)
                report.storedFactorLayers = (0..<original.layerCount).compactMap { original.factorizedDenseRecord($0) == nil ? nil : original.layerName($0) }
                if let csv {
                    do { try AtomicFileWriter.write(Array(report.csv().utf8), to: csv) } catch {
                        throw CommandFailure(status: .cannotWrite, message: "\(csv): cannot write: \(OutputFiles.reason(error))")
                    }
                }
                print(json ? report.json().serialized(indent: 2) : report.text(summary: fine))
            }
        }
    }
}

/// Text, JSON and CSV of a sweep. Multi-class sweeps show accuracy and macro-F1; binary ones accuracy at
/// the threshold, the positive class's F1 and ROC AUC; regression ones RMSE (and its change in percent of
/// the original's, the unit of `--target-metric-drop`), MAE and R².
struct SweepReport {
    var model: String
    var dataset: String
    var original: SweepMetrics
    var points: [SweepPoint]
    var seconds: Double
    /// The model's dense layers that were already factorized (a `.lrm` input): swept from their stored factors, and the
    /// "original" every point is compared with is the model given.
    var storedFactorLayers: [String] = []
    /// What the model was fed (its inputs × scale + offset, in its layout), options applied: `report --sweep` draws a file
    /// on this sweep's chart only when verify fed it the same.
    var preprocessing: (scale: [Double], offset: [Double], layout: String)?

    static func rankText(_ point: SweepPoint) -> String {
        point.ranks.map { $0.rank.map(String.init) ?? "dense" }.joined(separator: "/")
    }

    var task: TaskKind { original.task }

    /// The drops the summary looks within: percentage points of accuracy, or percent of RMSE for regression.
    var summaryLimits: [Double] { task == .regression ? [1, 5] : [0.5, 1] }

    func percent(_ value: Double?) -> String { value.map { Format.fixed($0 * 100, 2) + "%" } ?? "n/a" }

    func originalLine() -> String {
        switch original {
        case .classes(let m):
            String(format: "original: accuracy %.2f%%, macro-F1 %.2f%% (%d samples)", m.accuracy * 100, m.macroF1 * 100, m.sampleCount)
        case .binary(let m):
            String(format: "original: accuracy %.2f%% (output ≥ %g), F1 %.2f%%, ROC AUC %@ (%d samples)", m.accuracy * 100, m.threshold,
                   m.f1 * 100, m.rocAUC.map { String(format: "%.4f", $0) } ?? "n/a", m.sampleCount)
        case .regression(let m):
            String(format: "original: RMSE %.6g, MAE %.6g, R² %@ (%d samples)", m.rootMeanSquaredError, m.meanAbsoluteError,
                   m.r2.map { String(format: "%.4f", $0) } ?? "n/a", m.sampleCount)
        }
    }

    /// The task's metric columns: headers, and a point's cells.
    var metricHeaders: [String] {
        switch task {
        case .multiclass: ["accuracy", "Δ acc", "macro-F1", "agree"]
        case .binary: ["accuracy", "Δ acc", "F1", "ROC AUC", "agree"]
        case .regression: ["RMSE", "Δ RMSE", "MAE", "R²"]
        }
    }

    func metricCells(_ p: SweepPoint) -> [String] {
        switch (p.metrics, original) {
        case (.regression(let m), .regression):
            return [String(format: "%.6g", m.rootMeanSquaredError), String(format: "%+.2f%%", p.metrics.drop(from: original)),
                    String(format: "%.6g", m.meanAbsoluteError), m.r2.map { String(format: "%.4f", $0) } ?? "n/a"]
        default:
            let accuracy = p.metrics.accuracy ?? 0, baseAccuracy = original.accuracy ?? 0
            var cells = [Format.fixed(accuracy * 100, 2) + "%",
                         String(format: "%+.2f pp (%+d)", (accuracy - baseAccuracy) * 100, (p.metrics.correct ?? 0) - (original.correct ?? 0)),
                         percent(p.metrics.f1)]
            if case .binary(let m) = p.metrics { cells.append(m.rocAUC.map { String(format: "%.4f", $0) } ?? "n/a") }
            return cells + [percent(p.agreement)]
        }
    }

    func text(summary: Bool) -> String {
        var out = ["lrm sweep: \(model) on \(dataset)", originalLine(), ""]
        if !storedFactorLayers.isEmpty {
            let names = storedFactorLayers.prefix(3).joined(separator: ", ") + (storedFactorLayers.count > 3 ? ", …" : "")
            out.insert("already factorized here (\(names)): swept in the plain metric on their stored factors' spectra, only truncated "
                       + "further (never above their stored rank); \"original\" is this file's model, and ratio and params count from it", at: 2)
        }
        let headers = ["method", "param", "ranks", "params", "ratio", "hidden", "bytes", "bits/param"] + metricHeaders
        var table = TextTable(headers, rightAligned: Set([1] + Array(3..<headers.count)))
        for p in points {
            table.add([p.method, InspectReport.shortNumber(p.parameter), SweepReport.rankText(p), Format.count(p.parameters),
                       Format.ratio(p.compressionRatio), Format.fixed(p.hiddenFraction, 3), Format.count(p.fileBytes),
                       Format.fixed(p.bitsPerParameter, 2)] + metricCells(p))
        }
        out.append(table.render(indent: ""))
        if summary {
            out.append("")
            let n = original.sampleCount
            switch task {
            case .multiclass:
                out.append("smallest hidden-parameter fraction within a drop of (test split, \(n) images: 0.5 pp = \(n / 200) images)")
            case .binary:
                out.append("smallest hidden-parameter fraction within an accuracy drop of (\(n) samples: 1 pp = \(Format.fixed(Double(n) / 100, 1)) samples)")
            case .regression:
                out.append("smallest hidden-parameter fraction within an RMSE increase of (\(n) samples)")
            }
            let unit = task == .regression ? "%" : " pp"
            var best = TextTable(["method"] + summaryLimits.map { "≤ \(InspectReport.shortNumber($0))\(unit)" }, rightAligned: [1, 2])
            for method in ["energy", "entropy", "rank", "ratio", "whitened", "activation-scaled"] {
                best.add([method] + summaryLimits.map { limit in
                    smallest(method: method, limit: limit).map { point in
                        let change = task == .regression ? String(format: "%+.2f%%", point.metrics.drop(from: original))
                            : String(format: "%+.2f", ((point.metrics.accuracy ?? 0) - (original.accuracy ?? 0)) * 100)
                        return Format.fixed(point.hiddenFraction, 3) + " (" + change + ")"
                    } ?? "none"
                })
            }
            out.append(best.render(indent: ""))
        }
        out.append("")
        out.append("\(points.count) points in \(Format.fixed(seconds, 1)) s")
        return out.joined(separator: "\n")
    }

    /// The point of `method` with the smallest hidden fraction whose drop (``SweepMetrics/drop(from:)``) is within `limit`.
    func smallest(method: String, limit: Double) -> SweepPoint? {
        points.filter { $0.method == method && $0.metrics.drop(from: original) <= limit + 1e-9 }.min { $0.hiddenFraction < $1.hiddenFraction }
    }

    /// The task's metrics as JSON members (multi-class: accuracy, correct, f1_macro; binary: accuracy,
    /// correct, f1, roc_auc; regression: rmse, mae, r2).
    static func metricMembers(_ metrics: SweepMetrics, original: SweepMetrics?, samples: Bool) -> [(String, JSONValue)] {
        var members: [(String, JSONValue)]
        switch metrics {
        case .classes(let m):
            members = [("accuracy", .number(m.accuracy))] + (samples ? [] : [("correct", .int(Int64(m.confusion.correct)))])
                + [("f1_macro", .number(m.macroF1))]
        case .binary(let m):
            members = [("accuracy", .number(m.accuracy))] + (samples ? [("threshold", .number(m.threshold))] : [("correct", .int(Int64(m.correct)))])
                + [("f1", .number(m.f1)), ("roc_auc", m.rocAUC.map { .number($0) } ?? .null)]
        case .regression(let m):
            members = [("rmse", .number(m.rootMeanSquaredError))]
            if let original { members.append(("rmse_change_percent", .number(metrics.drop(from: original)))) }
            members += [("mae", .number(m.meanAbsoluteError)), ("r2", m.r2.map { .number($0) } ?? .null)]
        }
        if samples { members.append(("samples", .int(Int64(metrics.sampleCount)))) }
        return members
    }

    func json() -> LRMFormat.JSONValue {
        var top: [(String, JSONValue)] = [("model", .string(model)), ("dataset", .string(dataset))]
        if task != .multiclass { top.append(("task", .string(task.rawValue))) }
        if let preprocessing {
            top.append(("preprocessing", .object([("scale", .array(preprocessing.scale.map { .number($0) })),
                                                   ("offset", .array(preprocessing.offset.map { .number($0) })),
                                                   ("layout", .string(preprocessing.layout))])))
        }
        top.append(("original", .object(SweepReport.metricMembers(original, original: nil, samples: true))))
        top.append(("stored_factor_layers", .array(storedFactorLayers.map { .string($0) })))
        top.append(("points", .array(points.map { p in
            var members: [(String, JSONValue)] = [
                ("method", .string(p.method)), ("parameter", .number(p.parameter)),
                ("ranks", .array(p.ranks.map { .object([("layer", .string($0.layer)), ("rank", $0.rank.map { .int(Int64($0)) } ?? .null)]) })),
                ("parameters", .int(Int64(p.parameters))), ("compression_ratio", .number(p.compressionRatio)),
                ("hidden_fraction", .number(p.hiddenFraction))]
            members += SweepReport.metricMembers(p.metrics, original: original, samples: false)
            if let agreement = p.agreement { members.append(("agreement", .number(agreement))) }
            members += [("file_bytes", .int(Int64(p.fileBytes))), ("bits_per_parameter", .number(p.bitsPerParameter))]
            return .object(members)
        })))
        top.append(("seconds", .number(seconds)))
        return .object(top)
    }

    func csv() -> String {
        let metricColumns = switch task {
        case .multiclass: "accuracy,correct,f1_macro,agreement"
        case .binary: "accuracy,correct,f1,roc_auc,agreement"
        case .regression: "rmse,rmse_change_percent,mae,r2"
        }
        var lines = ["method,parameter,ranks,parameters,compression_ratio,hidden_fraction," + metricColumns + ",file_bytes,bits_per_parameter"]
        for p in points {
            var metrics: [String]
            switch p.metrics {
            case .classes(let m): metrics = [String(m.accuracy), String(m.confusion.correct), String(m.macroF1)]
            case .binary(let m): metrics = [String(m.accuracy), String(m.correct), String(m.f1), m.rocAUC.map { String($0) } ?? ""]
            case .regression(let m):
                metrics = [String(m.rootMeanSquaredError), String(p.metrics.drop(from: original)), String(m.meanAbsoluteError),
                           m.r2.map { String($0) } ?? ""]
            }
            if let agreement = p.agreement { metrics.append(String(agreement)) }
            lines.append(([p.method, String(p.parameter), SweepReport.rankText(p), String(p.parameters), String(p.compressionRatio),
                           String(p.hiddenFraction)] + metrics + [String(p.fileBytes), String(p.bitsPerParameter)])
                .map { $0.contains(",") || $0.contains("\"") ? "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : $0 }
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
