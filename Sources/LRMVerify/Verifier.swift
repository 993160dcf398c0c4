import Foundation
import Synchronization
public import LRMDatasets
public import LRMFormat
public import LRMRuntime

/// Thresholds a verification must meet; each is optional. Percentages are in points (0–100).
public struct VerificationThresholds: Sendable, Equatable {
    /// Largest allowed drop of accuracy, reference − compressed, in percentage points.
    public var maxAccuracyDrop: Double?
    /// Largest allowed drop of macro-F1, in percentage points.
    public var maxF1Drop: Double?
    /// Smallest allowed fraction (0–1) of identical top-1 predictions.
    public var minAgreement: Double?
    /// Smallest allowed measured retained energy (0–1) of every factorized layer.
    public var minEnergy: Double?

    public init(maxAccuracyDrop: Double? = nil, maxF1Drop: Double? = nil, minAgreement: Double? = nil, minEnergy: Double? = nil) {
        self.maxAccuracyDrop = maxAccuracyDrop
        self.maxF1Drop = maxF1Drop
        self.minAgreement = minAgreement
        self.minEnergy = minEnergy
    }

    public var needsReference: Bool { maxAccuracyDrop != nil || maxF1Drop != nil || minAgreement != nil || minEnergy != nil }
}

/// One threshold check and its outcome.
public struct VerificationCheck: Sendable {
    public var name: String
    public var passed: Bool
    /// e.g. "accuracy dropped 0.36 pp (36 of 10,000 images), limit 1.0 pp".
    public var detail: String
    /// For the operation check of a layer without weights (``LayerFidelity/operationChecks(candidate:reference:)``): the
    /// layer, so that the outputs show it where they show a weighted layer's ``LayerFidelity/operationMismatch`` (JSON
    /// `layers`, the notes under the Weights table); nil for every other check.
    public var operationLayer: OperationMismatch? = nil

    public init(name: String, passed: Bool, detail: String, operationLayer: OperationMismatch? = nil) {
        (self.name, self.passed, self.detail, self.operationLayer) = (name, passed, detail, operationLayer)
    }
}

/// A layer without weights that does not compute what the reference's layer of its name does.
public struct OperationMismatch: Sendable, Equatable {
    public var name: String
    /// The spec's name of its kind ("activation", "pool2d", …).
    public var kind: String
    public var kerasClass: String?
    /// "activation linear, the reference's activation relu".
    public var mismatch: String

    /// Its entry in verify's JSON `layers`: name, kind, `keras_class` when it has one, `weights` false and
    /// `operation_mismatch` (the weighted layers' entries have the same field).
    public var json: JSONValue {
        var entry: [(String, JSONValue)] = [("name", .string(name)), ("kind", .string(kind))]
        if let kerasClass { entry.append(("keras_class", .string(kerasClass))) }
        entry += [("weights", .bool(false)), ("operation_mismatch", .string(mismatch))]
        return .object(entry)
    }
}

extension [VerificationCheck] {
    /// The layers without weights whose operation check failed, in order.
    public var operationMismatches: [OperationMismatch] { compactMap(\.operationLayer) }
}

/// Everything `lrm verify` found.
public struct VerificationReport: Sendable {
    public var dataset: String
    public var sampleCount: Int
    public var classNames: [String]
    public var layers: [LayerFidelity]
    public var candidate: ClassificationMetrics
    public var reference: ClassificationMetrics?
    public var comparison: MetricsComparison?
    public var checks: [VerificationCheck]
    public var seconds: Double
    /// How each model's input preprocessing was chosen, and any difference between the two (set by the caller).
    public var preprocessingNotes: [String] = []

    public var passed: Bool {
        checks.allSatisfy(\.passed) && layers.allSatisfy { $0.agreesWithRecord != false && $0.operationMismatch == nil }
    }

    /// Whether anything was checked that the report lists as a check: a threshold, or a layer whose weights
    /// disagree with the file's record (its `metadata` check). Records that agree are shown in the layers
    /// (`agrees_with_record`) but are not a check a PASS could rest on: without a threshold the result is
    /// `no_checks` (a CI step that forgot its threshold is told so).
    public var checked: Bool { !checks.isEmpty }

    /// "pass", "fail", or "no_checks" when no threshold was given and nothing failed (an evaluation alone passes nothing).
    public var result: VerificationResult { VerificationResult(passed: passed, checked: checked) }
}

/// The outcome of a verification.
public enum VerificationResult: String, Sendable {
    case pass
    case fail
    /// The models were evaluated, but no threshold was given (and no layer disagreed with its record).
    case noChecks = "no_checks"

    public init(passed: Bool, checked: Bool) {
        self = !passed ? .fail : checked ? .pass : .noChecks
    }

    /// The last line of the text report; "NO CHECKS" names the thresholds `task` takes.
    public func text(task: TaskKind = .multiclass) -> String {
        switch self {
        case .pass: "PASS"
        case .fail: "FAIL"
        case .noChecks: "NO CHECKS (no threshold was given; give " + (task == .regression
            ? "--max-metric-drop or --min-energy"
            : "--max-accuracy-drop, --max-f1-drop, --min-agreement or --min-energy") + " with --reference)"
        }
    }
}

/// Evaluates a compressed model (and optionally its reference) on a data set and checks thresholds.
public enum Verifier {
    /// How many times this process has run models over a data set to score them (`verify` here and
    /// `TaskVerifier.verify`): lets a test see that a command scores a split once (`LRM_TEST_COUNT_EVALUATIONS=1`
    /// makes lrm print it at exit).
    package static var evaluationCount: Int { evaluationCounter.load(ordering: .relaxed) }
    static let evaluationCounter = Atomic<Int>(0)

    /// The sample order a model's input layout needs from a data set. A flat `features` input on
    /// colour images is taken to be Keras's flattened HWC, unless `override` says otherwise.
    public static func sampleLayout(for input: InputSpec, override: SampleLayout? = nil) -> SampleLayout {
        if let override { return override }
        switch input.layout {
        case .chw: return .chw
        case .hwc, .features: return .hwc
        }
    }

    /// `progress` is called after each batch with the samples done and the samples in all.
    public static func verify(candidate: Model, reference: Model?, dataset: Dataset, thresholds: VerificationThresholds,
                              layout: SampleLayout? = nil, batchSize: Int = 1000,
                              progress: ((Int, Int) -> Void)? = nil) throws -> VerificationReport {
        let started = Date()
        if thresholds.needsReference && reference == nil {
            throw VerificationError(.missingReference, "the thresholds compare with the original model: give it with --reference")
        }
        let layers = try reference.map { try LayerFidelity.compare(candidate: candidate, reference: $0) } ?? []
        var report = try evaluate(candidate: try InferenceModel(candidate), reference: try reference.map { try InferenceModel($0) }, layers: layers,
                                  dataset: dataset, thresholds: thresholds, layout: layout, batchSize: batchSize, progress: progress, started: started)
        // The layers without weights are compared by what they compute (LayerFidelity+Operations.swift).
        report.checks += LayerFidelity.operationChecks(candidate: candidate, reference: reference)
        return report
    }

    /// The same with the models prepared to run (for instance in place from a mapped file,
    /// ``InferenceModel/init(mapped:releaseThreshold:)``, so that the weights are never loaded whole);
    /// `layers` is the per-layer comparison (empty without a reference).
    public static func verify(candidate runner: InferenceModel, reference referenceRunner: InferenceModel?, layers: [LayerFidelity],
                              dataset: Dataset, thresholds: VerificationThresholds, layout: SampleLayout? = nil, batchSize: Int = 1000,
                              progress: ((Int, Int) -> Void)? = nil) throws -> VerificationReport {
        try evaluate(candidate: runner, reference: referenceRunner, layers: layers, dataset: dataset, thresholds: thresholds,
                     layout: layout, batchSize: batchSize, progress: progress, started: Date())
    }

    static func evaluate(candidate runner: InferenceModel, reference referenceRunner: InferenceModel?, layers: [LayerFidelity],
                         dataset: Dataset, thresholds: VerificationThresholds, layout: SampleLayout?, batchSize: Int,
                         progress: ((Int, Int) -> Void)?, started: Date) throws -> VerificationReport {
        if thresholds.needsReference && referenceRunner == nil {
            throw VerificationError(.missingReference, "the thresholds compare with the original model: give it with --reference")
        }
        evaluationCounter.add(1, ordering: .relaxed)
        let sampleLayout = sampleLayout(for: runner.input, override: layout)
        for model in [runner] + (referenceRunner.map { [$0] } ?? []) {
            try checkFits(model: "the model '\(escaped(model.name))'", inputShape: model.inputShape, outputShape: { model.outputShape },
                          data: dataset.identifier, sampleShape: dataset.storedShape, classCount: dataset.classCount)
        }
        var candidateMetrics = try MetricsAccumulator(classCount: dataset.classCount)
        var referenceMetrics = try referenceRunner.map { _ in try MetricsAccumulator(classCount: dataset.classCount) }
        var comparison = try referenceRunner.map { _ in try MetricsComparison(classCount: dataset.classCount) }
        try dataset.forEachBatch(size: batchSize, layout: sampleLayout) { batch in
            let outputs = try runner.run(batch.pixels, sampleCount: batch.count)
            try refuseNonFinite(outputs, of: runner, samples: batch.range)
            try candidateMetrics.add(outputs: outputs, labels: batch.labels)
            if let referenceRunner {
                let expected = try referenceRunner.run(batch.pixels, sampleCount: batch.count)
                try refuseNonFinite(expected, of: referenceRunner, reference: true, samples: batch.range)
                try referenceMetrics?.add(outputs: expected, labels: batch.labels)
                try comparison?.add(reference: expected, candidate: outputs)
            }
            progress?(batch.range.upperBound, dataset.sampleCount)
        }
        let candidateResult = try candidateMetrics.metrics()
        let referenceResult = try referenceMetrics?.metrics()
        let checks = makeChecks(thresholds, candidate: candidateResult, reference: referenceResult, comparison: comparison, layers: layers)
        return VerificationReport(dataset: dataset.description, sampleCount: candidateResult.sampleCount, classNames: dataset.classNames,
                                  layers: layers, candidate: candidateResult, reference: referenceResult, comparison: comparison,
                                  checks: checks, seconds: Date().timeIntervalSince(started))
    }

    /// Refuses outputs that are NaN or infinite (the inputs are finite: the model overflows, e.g. under --input-scale 1e308):
    /// no score or comparison of them means anything, and two models that both overflowed agreed on every sample (a PASS).
    static func refuseNonFinite(_ outputs: [Float], of model: InferenceModel, reference: Bool = false, samples: Range<Int>) throws {
        try refuseNonFinite(outputs, modelNamed: model.name, reference: reference, samples: samples)
    }

    /// ``refuseNonFinite(_:of:reference:samples:)`` for a model known by its name (the searches and sweeps score `Model`s).
    public static func refuseNonFinite(_ outputs: [Float], modelNamed name: String, reference: Bool = false, samples: Range<Int>) throws {
        let scan = NonFiniteScan(outputs, width: max(1, outputs.count / max(1, samples.count)))
        guard let first = scan.first else { return }
        throw VerificationError(.nonFiniteOutputs, "\(reference ? "the reference model" : "the model") '\(escaped(name))' gives NaN or infinite outputs from finite inputs (it overflows): "
                                + "\(scan.count) of the \(scan.total) outputs of samples \(samples.lowerBound)–\(samples.upperBound - 1), "
                                + "the first of sample \(samples.lowerBound + first.sample), output \(first.position), is \(first.value)")
    }

    static func makeChecks(_ t: VerificationThresholds, candidate: ClassificationMetrics, reference: ClassificationMetrics?,
                           comparison: MetricsComparison?, layers: [LayerFidelity]) -> [VerificationCheck] {
        var checks: [VerificationCheck] = []
        let n = candidate.sampleCount
        if let limit = t.maxAccuracyDrop, let reference {
            let drop = (reference.accuracy - candidate.accuracy) * 100
            let images = reference.confusion.correct - candidate.confusion.correct
            checks.append(VerificationCheck(name: "max-accuracy-drop", passed: drop <= limit + 1e-9,
                                            detail: String(format: "accuracy dropped %.2f pp (%d of %d images), limit %.2f pp", drop, images, n, limit)))
        }
        if let limit = t.maxF1Drop, let reference {
            let drop = (reference.macroF1 - candidate.macroF1) * 100
            checks.append(VerificationCheck(name: "max-f1-drop", passed: drop <= limit + 1e-9,
                                            detail: String(format: "macro-F1 dropped %.2f pp, limit %.2f pp", drop, limit)))
        }
        if let limit = t.minAgreement, let comparison {
            let agreement = comparison.sampleCount > 0 ? Double(comparison.agreementCount) / Double(comparison.sampleCount) : 0
            checks.append(VerificationCheck(name: "min-agreement", passed: agreement >= limit - 1e-12,
                                            detail: String(format: "%.4f of predictions agree (%d of %d), minimum %.4f",
                                                           agreement, comparison.agreementCount, comparison.sampleCount, limit)))
        }
        return checks + layerChecks(minEnergy: t.minEnergy, layers: layers)
    }

    /// The checks on the weights alone: `--min-energy` for every factorized layer, every layer whose activation or
    /// convolution geometry is not the reference layer's (``LayerFidelity/operationMismatch``), and every layer whose
    /// measured error disagrees with the file's record (a record not checked, ``LayerFidelity/recordNotChecked``, is none).
    static func layerChecks(minEnergy: Double?, layers: [LayerFidelity]) -> [VerificationCheck] {
        var checks: [VerificationCheck] = []
        if let limit = minEnergy {
            for layer in layers where layer.isFactorized {
                var detail = layer.label + String(format: " keeps %.4f of its weights' energy (measured against the reference), minimum %.4f",
                                                  layer.retainedEnergy, limit)
                if let metric = layer.recordedMetric, metric != "plain", let recorded = layer.recordedRetainedEnergy {
                    detail += String(format: "; it was truncated in the %@ metric, where it keeps %.4f", metric, recorded)
                }
                if layer.recordNotChecked == LayerFidelity.compressedReferenceReason { detail += "; the reference's layer is itself factorized, so this is relative to it, not to the original" }
                checks.append(VerificationCheck(name: "min-energy \(layer.name)", passed: layer.retainedEnergy >= limit - 1e-12,
                                                detail: detail))
            }
        }
        for layer in layers {
            guard let mismatch = layer.operationMismatch else { continue }
            checks.append(VerificationCheck(name: "operation \(layer.name)", passed: false,
                                            detail: "\(layer.label) does not compute what the reference's does: \(mismatch)"))
        }
        for layer in layers where layer.agreesWithRecord == false {
            let errorAgrees = layer.recordedRelativeError.map { LayerFidelity.agrees(layer.relativeError, $0) } ?? false
            let what = layer.recordDisagreement ?? (errorAgrees
                ? String(format: "measured retained energy %.6f (1 − e², plain truncation), the file records %.6f",
                         layer.retainedEnergy, layer.recordedRetainedEnergy ?? .nan)
                : String(format: "measured relative error %.6f, the file records %.6f", layer.relativeError, layer.recordedRelativeError ?? .nan))
            checks.append(VerificationCheck(name: "metadata \(layer.name)", passed: false, detail: "\(layer.label): \(what)"))
        }
        return checks
    }
}
