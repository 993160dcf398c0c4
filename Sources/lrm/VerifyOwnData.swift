import ArgumentParser
import Foundation
import LRMDatasets
import LRMFormat
import LRMPipeline
import LRMRuntime
import LRMVerify

extension LRM.Verify {
    /// Verification on the user's own data: split as convert splits it (`--split test`: the held-out
    /// records or --test-inputs), scored as the task the model and labels imply (or --task).
    ///
    /// The models are mapped, not loaded, as on the bundled data sets: they run in place from their files
    /// (``InferenceModel/init(mapped:releaseThreshold:)``), the data are split from the candidate's header
    /// alone, and the per-layer comparison reads one layer at a time.
    func verifyOwnData(_ source: OwnDataSource, candidate mapped: MappedModel, reference mappedReference: MappedModel?, preprocessingNotes: [String],
                       preprocessingSource: String) throws {
        // Checksums first, as loading the model checked them; a model that cannot run is refused naming its file.
        let runner = try ModelSource.runner(mapped, path: model)
        let splits = try source.splits(for: mapped, path: model)
        var data = split == .train ? splits.train : splits.test
        // As on a bundled data set: a model converted with --estimate test-half was selected on the first half.
        if let testHalf { data = try data.testHalf(second: testHalf == .second) }
        if let limit, limit < data.sampleCount { data = try data.subset(.first(limit)) }
        if splits.task == .multiclass {
            if maxMetricDrop != nil { throw CommandFailure(status: .usage, message: "--max-metric-drop is for regression; a classifier has --max-accuracy-drop") }
            return try verifyClasses(data, candidate: mapped, reference: mappedReference, candidateRunner: runner,
                                     preprocessingNotes: preprocessingNotes, preprocessingSource: preprocessingSource)
        }
        if splits.task == .regression, maxAccuracyDrop != nil || maxF1Drop != nil || minAgreement != nil {
            throw CommandFailure(status: .usage, message: "\(model): a regression model has no accuracy, F1 or agreement: check it with --max-metric-drop (percent of RMSE)")
        }
        if splits.task == .binary, maxMetricDrop != nil {
            throw CommandFailure(status: .usage, message: "--max-metric-drop is for regression; a binary classifier has --max-accuracy-drop and --max-f1-drop")
        }
        let referenceRunner = try mappedReference.map { try ModelSource.runner($0, path: reference ?? model) }
        var report: TaskReport
        let printer = progressOptions.printer
        defer { printer?.finish() }
        do {
            // Both runners checked every checksum of their files a moment ago: the comparison does not check them again.
            let layers = try LayerFidelity.compareChecked(candidate: mapped, reference: mappedReference)
            report = try TaskVerifier.verify(candidate: runner, reference: referenceRunner, layers: layers, dataset: data, task: splits.task,
                                             threshold: splits.threshold,
                                             thresholds: TaskThresholds(maxAccuracyDrop: maxAccuracyDrop, maxF1Drop: maxF1Drop, minAgreement: minAgreement,
                                                                        minEnergy: minEnergy, maxMetricDrop: maxMetricDrop),
                                             batchSize: batchSize) { done, total in
                printer?.handle(ProgressEvent(phase: "evaluation", done: done, total: total, message: "own data \(split.rawValue)"))
            }
            printer?.finish()
        } catch {
            throw CommandFailure.evaluating(model, failedWith: error)
        }
        // The layers without weights, compared by what they compute (from the headers).
        report.checks += LayerFidelity.operationChecks(candidate: mapped, reference: mappedReference)
        if let junit {
            do { try Data(report.junit().utf8).write(to: URL(fileURLWithPath: junit), options: .atomic) } catch {
                throw CommandFailure(status: .cannotWrite, message: "\(junit): cannot write the JUnit report: \(error.localizedDescription)")
            }
        }
        let notes = PreprocessingNotes(input: mapped.input, source: preprocessingSource, rawPixels: false)
        print(json ? notes.annotate(report.json()).serialized(indent: 2) : notes.annotate(TaskVerifyText.render(report, model: model, reference: reference)))
        if !report.passed { throw ExitCode(ExitStatus.checkFailed.rawValue) }
    }
}

/// The human-readable report of a binary or regression verification.
enum TaskVerifyText {
    static func render(_ r: TaskReport, model: String, reference: String?) -> String {
        var out: [String] = []
        out.append("lrm verify: \(model)" + (reference.map { " against \($0)" } ?? "") + " on \(r.dataset)")
        out += VerifyText.weights(r.layers, operations: r.checks.operationMismatches)
        out.append("")
        let task = r.task == .binary ? "binary classification" : "regression"
        out.append("Task metrics (\(task), \(Format.count(r.sampleCount)) samples)")
        var table = TextTable(r.reference == nil ? ["metric", "model"] : ["metric", "reference", "compressed", "change"], rightAligned: [1, 2, 3])
        func row(_ name: String, _ candidate: Double?, _ reference: Double?, percent: Bool, unit: String = "") {
            func show(_ value: Double?) -> String {
                guard let value else { return "n/a" }
                return percent ? Format.fixed(value * 100, 2) + "%" : String(format: "%.6g", value)
            }
            guard r.reference != nil else { table.add([name, show(candidate)]); return }
            var change = ""
            if let candidate, let reference {
                change = percent ? Format.signedPoints(candidate - reference) : String(format: "%+.4g", candidate - reference)
                if !unit.isEmpty, reference != 0 { change += String(format: " (%+.2f%%)", (candidate - reference) / reference * 100) }
            }
            table.add([name, show(reference), show(candidate), change])
        }
        switch (r.candidate, r.reference) {
        case (.binary(let c), let ref):
            var base: BinaryMetrics?
            if case .binary(let b)? = ref { base = b }
            row(String(format: "accuracy (≥ %g)", c.threshold), c.accuracy, base?.accuracy, percent: true)
            row("F1 (positive class)", c.f1, base?.f1, percent: true)
            row("precision", c.precision, base?.precision, percent: true)
            row("recall", c.recall, base?.recall, percent: true)
            row("ROC AUC", c.rocAUC, base?.rocAUC, percent: false)
        case (.regression(let c), let ref):
            var base: RegressionMetrics?
            if case .regression(let b)? = ref { base = b }
            row("MAE", c.meanAbsoluteError, base?.meanAbsoluteError, percent: false, unit: "relative")
            row("RMSE", c.rootMeanSquaredError, base?.rootMeanSquaredError, percent: false, unit: "relative")
            row("R²", c.r2, base?.r2, percent: false)
        }
        out.append(table.render())
        if r.reference != nil {
            if let agreeing = r.agreeingSamples {
                out.append("  agreement: \(Format.fixed(Double(agreeing) / Double(max(1, r.sampleCount)) * 100, 2))% of decisions identical (\(Format.count(agreeing)) of \(Format.count(r.sampleCount)))")
            }
            out.append("  outputs: max |Δ| \(String(format: "%.3g", r.maxAbsoluteDifference)), mean |Δ| \(String(format: "%.3g", r.meanAbsoluteDifference))")
        }
        out += VerifyText.ending(r.checks, result: r.result.text(task: r.task), seconds: r.seconds)
        return out.joined(separator: "\n")
    }
}
