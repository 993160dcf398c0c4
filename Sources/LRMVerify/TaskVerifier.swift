import Foundation
public import LRMDatasets
public import LRMFormat
public import LRMRuntime

/// Thresholds for a binary or regression verification; each is optional.
public struct TaskThresholds: Sendable, Equatable {
    /// Binary: largest allowed drop of accuracy at the threshold, in percentage points.
    public var maxAccuracyDrop: Double?
    /// Binary: largest allowed drop of the positive class's F1, in percentage points.
    public var maxF1Drop: Double?
    /// Binary: smallest allowed fraction (0–1) of identical decisions.
    public var minAgreement: Double?
    /// Smallest allowed measured retained energy (0–1) of every factorized layer.
    public var minEnergy: Double?
    /// Regression: largest allowed relative increase of the RMSE, in percent of the reference's.
    public var maxMetricDrop: Double?

    public init(maxAccuracyDrop: Double? = nil, maxF1Drop: Double? = nil, minAgreement: Double? = nil, minEnergy: Double? = nil,
                maxMetricDrop: Double? = nil) {
        self.maxAccuracyDrop = maxAccuracyDrop
        self.maxF1Drop = maxF1Drop
        self.minAgreement = minAgreement
        self.minEnergy = minEnergy
        self.maxMetricDrop = maxMetricDrop
    }

    public var needsReference: Bool {
        maxAccuracyDrop != nil || maxF1Drop != nil || minAgreement != nil || minEnergy != nil || maxMetricDrop != nil
    }
}

/// A binary or regression model's scores.
public enum TaskScores: Sendable, Equatable {
    case binary(BinaryMetrics)
    case regression(RegressionMetrics)

    public var json: JSONValue {
        switch self {
        case .binary(let m): m.json
        case .regression(let m): m.json
        }
    }
}

/// Everything `lrm verify` found for a binary or regression model.
public struct TaskReport: Sendable {
    public var task: TaskKind
    public var dataset: String
    public var sampleCount: Int
    public var layers: [LayerFidelity]
    public var candidate: TaskScores
    public var reference: TaskScores?
    /// Binary: samples whose decision is the same for both models (nil without a reference or for regression).
    public var agreeingSamples: Int?
    /// Largest and mean |Δ| between the two models' outputs (0 without a reference).
    public var maxAbsoluteDifference: Double
    public var meanAbsoluteDifference: Double
    public var checks: [VerificationCheck]
    public var seconds: Double

    public var passed: Bool {
        checks.allSatisfy(\.passed) && layers.allSatisfy { $0.agreesWithRecord != false && $0.operationMismatch == nil }
    }

    /// Whether anything was checked (see `VerificationReport.checked`).
    public var checked: Bool { !checks.isEmpty }

    public var result: VerificationResult { VerificationResult(passed: passed, checked: checked) }
}

/// Evaluates binary and regression models on data given as arrays (multi-class models use `Verifier`).
public enum TaskVerifier {
    /// Runs `candidate` (and `reference`) on every sample of `dataset` and checks `thresholds`.
    ///
    /// - Throws: `VerificationError` `.missingReference`, `.inputMismatch`, `.outputMismatch`; a runtime or
    ///   metrics error.
    public static func verify(candidate: Model, reference: Model?, dataset: Dataset, task: TaskKind, threshold: Double = 0.5,
                              thresholds: TaskThresholds, batchSize: Int = 1000, progress: ((Int, Int) -> Void)? = nil) throws -> TaskReport {
        let started = Date()
        if thresholds.needsReference && reference == nil {
            throw VerificationError(.missingReference, "the thresholds compare with the original model: give it with --reference")
        }
        let layers = try reference.map { try LayerFidelity.compare(candidate: candidate, reference: $0) } ?? []
        var report = try evaluate(candidate: try InferenceModel(candidate), reference: try reference.map { try InferenceModel($0) }, layers: layers,
                                  dataset: dataset, task: task, threshold: threshold, thresholds: thresholds, batchSize: batchSize,
                                  progress: progress, started: started)
        // The layers without weights are compared by what they compute (LayerFidelity+Operations.swift).
        report.checks += LayerFidelity.operationChecks(candidate: candidate, reference: reference)
        return report
    }

    /// The same with the models prepared to run (for instance in place from a mapped file,
    /// ``InferenceModel/init(mapped:releaseThreshold:)``, so that the weights are never loaded whole);
    /// `layers` is the per-layer comparison (`LayerFidelity.compare` of the two mapped models,
    /// empty without a reference), as `Verifier.verify(candidate:reference:layers:…)` takes them.
    public static func verify(candidate runner: InferenceModel, reference referenceRunner: InferenceModel?, layers: [LayerFidelity],
                              dataset: Dataset, task: TaskKind, threshold: Double = 0.5, thresholds: TaskThresholds, batchSize: Int = 1000,
                              progress: ((Int, Int) -> Void)? = nil) throws -> TaskReport {
        let started = Date()
        if thresholds.needsReference && referenceRunner == nil {
            throw VerificationError(.missingReference, "the thresholds compare with the original model: give it with --reference")
        }
        return try evaluate(candidate: runner, reference: referenceRunner, layers: layers, dataset: dataset, task: task, threshold: threshold,
                            thresholds: thresholds, batchSize: batchSize, progress: progress, started: started)
    }

    static func evaluate(candidate: InferenceModel, reference: InferenceModel?, layers: [LayerFidelity], dataset: Dataset, task: TaskKind,
                         threshold: Double, thresholds: TaskThresholds, batchSize: Int, progress: ((Int, Int) -> Void)?,
                         started: Date) throws -> TaskReport {
        Verifier.evaluationCounter.add(1, ordering: .relaxed)
        let width = task == .regression ? dataset.targetWidth : 1
        let runners = [candidate] + (reference.map { [$0] } ?? [])
        for runner in runners {
            try Verifier.checkFits(model: "the model '\(escaped(runner.name))'", inputShape: runner.inputShape, outputShape: { runner.outputShape },
                                   data: dataset.identifier, sampleShape: dataset.storedShape,
                                   outputs: .init(task: task, classCount: dataset.classCount, targetWidth: dataset.targetWidth))
        }
        var outputs = [[Float]](repeating: [], count: runners.count)
        var labels: [Int] = []
        var targets: [Float] = []
        try dataset.forEachBatch(size: batchSize, layout: .features) { batch in
            for (index, runner) in runners.enumerated() {
                let batchOutputs = try runner.run(batch.pixels, sampleCount: batch.count)
                try Verifier.refuseNonFinite(batchOutputs, of: runner, reference: index == 1, samples: batch.range)
                outputs[index] += batchOutputs
            }
            labels += batch.labels
            targets += batch.targets
            progress?(batch.range.upperBound, dataset.sampleCount)
        }
        func scores(_ values: [Float]) throws -> TaskScores {
            task == .regression ? .regression(try RegressionMetrics(outputs: values, targets: targets, width: width))
                : .binary(try BinaryMetrics(outputs: values, labels: labels, threshold: threshold))
        }
        let candidateScores = try scores(outputs[0])
        let referenceScores = try runners.count > 1 ? scores(outputs[1]) : nil
        var agreeing: Int?
        var maxDifference = 0.0, sumDifference = 0.0
        if runners.count > 1 {
            for (a, b) in zip(outputs[0], outputs[1]) {
                let difference = abs(Double(a) - Double(b))
                maxDifference = max(maxDifference, difference.isNaN ? .infinity : difference)
                sumDifference += difference
            }
            if task == .binary {
                agreeing = zip(outputs[0], outputs[1]).filter { (Double($0) >= threshold) == (Double($1) >= threshold) }.count
            }
        }
        let count = task == .regression ? targets.count / max(1, width) : labels.count
        var checks = makeChecks(thresholds, candidate: candidateScores, reference: referenceScores, agreeing: agreeing, sampleCount: count)
        checks += Verifier.layerChecks(minEnergy: thresholds.minEnergy, layers: layers)
        return TaskReport(task: task, dataset: dataset.description, sampleCount: count, layers: layers, candidate: candidateScores,
                          reference: referenceScores, agreeingSamples: agreeing, maxAbsoluteDifference: maxDifference,
                          meanAbsoluteDifference: outputs[0].isEmpty ? 0 : sumDifference / Double(outputs[0].count),
                          checks: checks, seconds: Date().timeIntervalSince(started))
    }

    static func makeChecks(_ t: TaskThresholds, candidate: TaskScores, reference: TaskScores?, agreeing: Int?,
                           sampleCount n: Int) -> [VerificationCheck] {
        var checks: [VerificationCheck] = []
        switch (candidate, reference) {
        case let (.binary(c), .binary(r)?):
            if let limit = t.maxAccuracyDrop {
                let drop = (r.accuracy - c.accuracy) * 100
                checks.append(VerificationCheck(name: "max-accuracy-drop", passed: drop <= limit + 1e-9,
                                                detail: String(format: "accuracy at threshold %g dropped %.2f pp (%d of %d samples), limit %.2f pp",
                                                               c.threshold, drop, r.correct - c.correct, n, limit)))
            }
            if let limit = t.maxF1Drop {
                let drop = (r.f1 - c.f1) * 100
                checks.append(VerificationCheck(name: "max-f1-drop", passed: drop <= limit + 1e-9,
                                                detail: String(format: "F1 of the positive class dropped %.2f pp, limit %.2f pp", drop, limit)))
            }
            if let limit = t.minAgreement, let agreeing {
                let agreement = n > 0 ? Double(agreeing) / Double(n) : 0
                checks.append(VerificationCheck(name: "min-agreement", passed: agreement >= limit - 1e-12,
                                                detail: String(format: "%.4f of decisions agree (%d of %d), minimum %.4f", agreement, agreeing, n, limit)))
            }
        case let (.regression(c), .regression(r)?):
            if let limit = t.maxMetricDrop {
                let increase = relativeIncrease(c.rootMeanSquaredError, over: r.rootMeanSquaredError) * 100
                checks.append(VerificationCheck(name: "max-metric-drop", passed: increase <= limit + 1e-9,
                                                detail: String(format: "RMSE %.6g → %.6g (%+.2f%%), limit +%.2f%%",
                                                               r.rootMeanSquaredError, c.rootMeanSquaredError, increase, limit)))
            }
        default:
            break
        }
        return checks
    }

    /// (candidate − reference) / reference; 0 when both are 0, +∞ when only the reference is.
    public static func relativeIncrease(_ candidate: Double, over reference: Double) -> Double {
        if reference > 0 { return (candidate - reference) / reference }
        return candidate > reference ? .infinity : 0
    }
}

extension TaskReport {
    /// The report as JSON: result, task, data, samples, checks, layers' fidelity, each model's scores
    /// (`BinaryMetrics.json` or `RegressionMetrics.json`) and the comparison of their outputs.
    public func json() -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("result", .string(result.rawValue)), ("task", .string(task.rawValue)), ("dataset", .string(dataset)),
            ("samples", .int(Int64(sampleCount))),
            ("checks", .array(checks.map { .object([("name", .string($0.name)), ("passed", .bool($0.passed)), ("detail", .string($0.detail))]) })),
            ("layers", .array(layers.map(\.json) + checks.operationMismatches.map(\.json))),
            ("compressed", candidate.json),
        ]
        if let reference {
            members.append(("reference", reference.json))
            var comparison: [(String, JSONValue)] = [("max_abs_difference", .number(maxAbsoluteDifference)),
                                                     ("mean_abs_difference", .number(meanAbsoluteDifference))]
            if let agreeingSamples {
                comparison += [("agreement", .number(Double(agreeingSamples) / Double(max(1, sampleCount)))),
                               ("agreeing_samples", .int(Int64(agreeingSamples)))]
            }
            members.append(("comparison", .object(comparison)))
        }
        members.append(("seconds", .number(seconds)))
        return .object(members)
    }

    /// JUnit XML, as `VerificationReport.junit`.
    public func junit(suiteName: String = "lrm verify") -> String {
        let cases: [(String, Bool, String)] = [("evaluate \(dataset)", true, "\(sampleCount) samples")] + checks.map { ($0.name, $0.passed, $0.detail) }
        return VerificationReport.junitXML(suiteName: suiteName, cases: cases, seconds: seconds)
    }
}
