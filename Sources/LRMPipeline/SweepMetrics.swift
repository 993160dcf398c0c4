public import LRMVerify

/// A sweep point's scores, by the task of the data: multi-class accuracy and F1, a binary classifier's
/// accuracy at its threshold with F1 and ROC AUC, or a regressor's MAE, RMSE and R².
public enum SweepMetrics: Sendable {
    case classes(ClassificationMetrics)
    case binary(BinaryMetrics)
    case regression(RegressionMetrics)

    /// Scores `outputs` (row-major, `evaluation.outputWidth` per sample) against the evaluation's labels or targets.
    ///
    /// - Throws: `MetricsError` when the outputs do not fit the samples.
    public init(outputs: [Float], evaluation: EvaluationSet, threshold: Double) throws {
        switch evaluation.task {
        case .multiclass:
            self = .classes(try ClassificationMetrics(outputs: outputs, labels: evaluation.labels, classCount: evaluation.classCount))
        case .binary:
            self = .binary(try BinaryMetrics(outputs: outputs, labels: evaluation.labels, threshold: threshold))
        case .regression:
            self = .regression(try RegressionMetrics(outputs: outputs, targets: evaluation.targets, width: evaluation.targetWidth))
        }
    }

    public var task: TaskKind {
        switch self {
        case .classes: .multiclass
        case .binary: .binary
        case .regression: .regression
        }
    }

    public var sampleCount: Int {
        switch self {
        case .classes(let m): m.sampleCount
        case .binary(let m): m.sampleCount
        case .regression(let m): m.sampleCount
        }
    }

    /// Fraction (0–1) of samples right (top-1, or the decision at the threshold); nil for regression.
    public var accuracy: Double? {
        switch self {
        case .classes(let m): m.accuracy
        case .binary(let m): m.accuracy
        case .regression: nil
        }
    }

    /// Samples right; nil for regression.
    public var correct: Int? {
        switch self {
        case .classes(let m): m.confusion.correct
        case .binary(let m): m.correct
        case .regression: nil
        }
    }

    /// Macro-F1 (multi-class) or the positive class's F1 (binary); nil for regression.
    public var f1: Double? {
        switch self {
        case .classes(let m): m.macroF1
        case .binary(let m): m.f1
        case .regression: nil
        }
    }

    /// Root mean squared error; nil for the classification tasks.
    public var rootMeanSquaredError: Double? {
        if case .regression(let m) = self { return m.rootMeanSquaredError }
        return nil
    }

    /// How much worse than `original`, in the unit the task's budgets use: percentage points of accuracy
    /// for the classification tasks, percent of the original's RMSE for regression (as
    /// `--target-metric-drop` and `verify --max-metric-drop`). Negative when better.
    public func drop(from original: SweepMetrics) -> Double {
        if let rmse = rootMeanSquaredError, let base = original.rootMeanSquaredError {
            return TaskVerifier.relativeIncrease(rmse, over: base) * 100
        }
        return ((original.accuracy ?? 0) - (accuracy ?? 0)) * 100
    }

    /// Each sample's decision (top-1 class, or 0/1 at the threshold), for agreement; nil for regression.
    static func decisions(outputs: [Float], evaluation: EvaluationSet, threshold: Double) throws -> [Int]? {
        switch evaluation.task {
        case .multiclass: try ClassificationMetrics.predictions(outputs: outputs, classCount: evaluation.classCount)
        case .binary: outputs.map { Double($0) >= threshold ? 1 : 0 }
        case .regression: nil
        }
    }
}
