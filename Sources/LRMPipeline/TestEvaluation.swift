import LRMDatasets
public import LRMFormat
public import LRMVerify

/// A converted model against its original on the test split: what `lrm convert` reports whenever it
/// has data, so that a conversion never hides what it cost.
public struct TestEvaluation: Sendable {
    public var task: TaskKind
    /// Where the samples came from (the data set's description).
    public var dataset: String
    public var samples: Int
    /// Classification (multi-class and binary): accuracy of the original and of the converted model.
    public var referenceAccuracy: Double?
    public var accuracy: Double?
    /// Classification: the fraction of samples whose decision is the same for both models.
    public var agreement: Double?
    /// Regression: RMSE of the original and of the converted model.
    public var referenceRMSE: Double?
    public var rmse: Double?
    /// The test samples scored, when only part of the split (the second half after `--estimate test-half`).
    public var range: Range<Int>?

    /// The loss: accuracy points for a classifier, percent of RMSE increase for a regressor.
    public var drop: Double {
        if let referenceAccuracy, let accuracy { return (referenceAccuracy - accuracy) * 100 }
        if let referenceRMSE, let rmse { return TaskVerifier.relativeIncrease(rmse, over: referenceRMSE) * 100 }
        return 0
    }

    /// The unit of `drop`: "pp" (accuracy points) or "%" (of the RMSE).
    public var dropUnit: String { task == .regression ? "%" : "pp" }
}

/// The original and a converted model run once on the test split (or part of it), scored as the data's task: what a
/// search's test figures (``SearchOutcome/testAccuracy`` and the rest) and ``TestEvaluation`` are both taken from, so
/// that a search's test split is scored once for both.
struct TestRun {
    var task: TaskKind
    /// The test samples' description (the data set's, or the subset's).
    var dataset: String
    /// The test samples scored, when only part of the split.
    var range: Range<Int>?
    /// A multi-class task's report.
    var classes: VerificationReport?
    /// A binary or regression task's report.
    var scores: TaskReport?

    /// Runs `converted` and `original` on the test split of `data` (own data already split), or on the samples `range`
    /// of it, with samples in `layout`; `progress` is told after each batch.
    init(_ converted: Model, original: Model, data: DataSelection, layout: SampleLayout, range: Range<Int>?,
         progress: ProgressHandler?) throws {
        let report: (Int, Int) -> Void = { done, total in
            progress?(ProgressEvent(phase: "evaluation", done: done, total: total, message: "original and converted on the test split"))
        }
        var test = try data.open(.test)
        if let range { test = try test.subset(.indices(Array(range))) }
        (task, dataset, self.range) = (data.task, test.description, range)
        switch data.task {
        case .multiclass:
            classes = try Verifier.verify(candidate: converted, reference: original, dataset: test, thresholds: VerificationThresholds(),
                                          layout: layout, progress: report)
        case .binary, .regression:
            scores = try TaskVerifier.verify(candidate: converted, reference: original, dataset: test, task: data.task,
                                             threshold: data.ownSplits?.threshold ?? 0.5, thresholds: TaskThresholds(), progress: report)
        }
    }

    /// What `lrm convert` reports of it.
    var evaluation: TestEvaluation {
        if let classes {
            let agreement = classes.comparison.map { $0.sampleCount > 0 ? Double($0.agreementCount) / Double($0.sampleCount) : 0 }
            return TestEvaluation(task: .multiclass, dataset: dataset, samples: classes.sampleCount,
                                  referenceAccuracy: classes.reference?.accuracy, accuracy: classes.candidate.accuracy, agreement: agreement,
                                  range: range)
        }
        guard let scores else { preconditionFailure("a test run has a report of its task") }
        var evaluation = TestEvaluation(task: task, dataset: dataset, samples: scores.sampleCount, range: range)
        switch (scores.candidate, scores.reference) {
        case let (.binary(c), .binary(r)?):
            evaluation.accuracy = c.accuracy
            evaluation.referenceAccuracy = r.accuracy
            evaluation.agreement = scores.agreeingSamples.map { Double($0) / Double(max(1, scores.sampleCount)) }
        case let (.regression(c), .regression(r)?):
            evaluation.rmse = c.rootMeanSquaredError
            evaluation.referenceRMSE = r.rootMeanSquaredError
        default:
            break
        }
        return evaluation
    }
}

extension ConversionPipeline {
    /// Runs `converted` and `original` on the test split of `data` (never used to choose anything) and
    /// scores both as the data's task.
    /// `range`: only those test samples (the ones a search did not select on), else all of them.
    /// A search's result has this already (``SearchOutcome/testEvaluation``, from the run its test figures come from).
    public static func evaluateOnTest(_ converted: Model, original: Model, data: DataSelection, range: Range<Int>? = nil,
                                      progress: ProgressHandler? = nil) throws -> TestEvaluation {
        let data = try data.resolved(for: original)
        return try TestRun(converted, original: original, data: data, layout: data.layout(for: original), range: range,
                           progress: progress).evaluation
    }
}
