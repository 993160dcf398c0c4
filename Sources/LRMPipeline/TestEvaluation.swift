public import LRMDatasets
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

extension ConversionPipeline {
    /// Runs `converted` and `original` on the test split of `data` (never used to choose anything) and
    /// scores both as the data's task.
    /// `range`: only those test samples (the ones a search did not select on), else all of them.
    public static func evaluateOnTest(_ converted: Model, original: Model, data: DataSelection, range: Range<Int>? = nil,
                                      progress: ProgressHandler? = nil) throws -> TestEvaluation {
        var evaluation = try evaluateOnTest(converted, original: original, data: data, subset: range, progress: progress)
        evaluation.range = range
        return evaluation
    }

    static func evaluateOnTest(_ converted: Model, original: Model, data: DataSelection, subset range: Range<Int>?,
                               progress: ProgressHandler?) throws -> TestEvaluation {
        let report: (Int, Int) -> Void = { done, total in
            progress?(ProgressEvent(phase: "evaluation", done: done, total: total, message: "original and converted on the test split"))
        }
        let data = try data.resolved(for: original)
        var test = try data.open(.test)
        if let range { test = try test.subset(.indices(Array(range))) }
        switch data.task {
        case .multiclass:
            let report = try Verifier.verify(candidate: converted, reference: original, dataset: test, thresholds: VerificationThresholds(),
                                             layout: data.layout(for: original), progress: report)
            let agreement = report.comparison.map { $0.sampleCount > 0 ? Double($0.agreementCount) / Double($0.sampleCount) : 0 }
            return TestEvaluation(task: .multiclass, dataset: test.description, samples: report.sampleCount,
                                  referenceAccuracy: report.reference?.accuracy, accuracy: report.candidate.accuracy, agreement: agreement)
        case .binary, .regression:
            let report = try TaskVerifier.verify(candidate: converted, reference: original, dataset: test, task: data.task,
                                                 threshold: data.ownSplits?.threshold ?? 0.5, thresholds: TaskThresholds(), progress: report)
            var evaluation = TestEvaluation(task: data.task, dataset: test.description, samples: report.sampleCount)
            switch (report.candidate, report.reference) {
            case let (.binary(c), .binary(r)?):
                evaluation.accuracy = c.accuracy
                evaluation.referenceAccuracy = r.accuracy
                evaluation.agreement = report.agreeingSamples.map { Double($0) / Double(max(1, report.sampleCount)) }
            case let (.regression(c), .regression(r)?):
                evaluation.rmse = c.rootMeanSquaredError
                evaluation.referenceRMSE = r.rootMeanSquaredError
            default:
                break
            }
            return evaluation
        }
    }
}
