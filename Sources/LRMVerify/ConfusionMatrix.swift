public import LRMFormat

/// Counts of (true label, predicted label) pairs over `classCount` classes.
///
/// Orientation: **rows are true labels, columns are predicted labels** (as
/// `sklearn.metrics.confusion_matrix`): `self[trueLabel, predicted]` is how many samples of
/// class `trueLabel` were predicted as `predicted`. Row sums are supports; column sums are
/// prediction counts; the diagonal holds the correct predictions.
public struct ConfusionMatrix: Sendable, Equatable {
    /// Number of classes; labels are 0..<classCount.
    public let classCount: Int
    /// `classCount × classCount` counts, row-major: `counts[trueLabel * classCount + predicted]`.
    public private(set) var counts: [Int]

    /// An all-zero matrix.
    /// - Throws: `MetricsError.invalidClassCount` when `classCount < 1`.
    public init(classCount: Int) throws {
        guard classCount >= 1 else {
            throw MetricsError(.invalidClassCount, "class count must be at least 1, found \(classCount)")
        }
        self.classCount = classCount
        counts = [Int](repeating: 0, count: classCount * classCount)
    }

    /// The matrix of paired predicted and true labels.
    /// - Throws: `MetricsError` `.shapeMismatch` (different lengths), `.labelOutOfRange`,
    ///   `.invalidClassCount`.
    public init(predicted: [Int], labels: [Int], classCount: Int) throws {
        try self.init(classCount: classCount)
        try add(predicted: predicted, labels: labels)
    }

    /// Counts more pairs. Nothing is added if any label is out of range.
    public mutating func add(predicted: [Int], labels: [Int]) throws {
        guard predicted.count == labels.count else {
            throw MetricsError(.shapeMismatch, "\(predicted.count) predicted labels for \(labels.count) true labels")
        }
        for (which, values) in [("true", labels), ("predicted", predicted)] {
            if let position = values.firstIndex(where: { !(0..<classCount).contains($0) }) {
                throw MetricsError(.labelOutOfRange, "\(which) label of sample \(position) is \(values[position]), "
                                   + "expected 0...\(classCount - 1)")
            }
        }
        for (guess, truth) in zip(predicted, labels) { counts[truth * classCount + guess] += 1 }
    }

    /// The count of samples of class `trueLabel` predicted as `predicted` (both in range).
    public subscript(trueLabel: Int, predicted: Int) -> Int {
        counts[trueLabel * classCount + predicted]
    }

    /// All samples counted.
    public var total: Int { counts.reduce(0, +) }

    /// Correctly predicted samples (the trace).
    public var correct: Int { (0..<classCount).reduce(0) { $0 + self[$1, $1] } }

    /// Samples whose true label is `label` (row sum).
    public func support(of label: Int) -> Int {
        (0..<classCount).reduce(0) { $0 + self[label, $1] }
    }

    /// Samples predicted as `label` (column sum).
    public func predictedCount(of label: Int) -> Int {
        (0..<classCount).reduce(0) { $0 + self[$1, label] }
    }

    /// The matrix as rows (one per true label).
    public var rows: [[Int]] {
        (0..<classCount).map { Array(counts[($0 * classCount)..<(($0 + 1) * classCount)]) }
    }

    /// Adds another matrix of the same size (e.g. from another batch or worker).
    public mutating func merge(_ other: ConfusionMatrix) throws {
        guard other.classCount == classCount else {
            throw MetricsError(.shapeMismatch, "cannot merge a \(other.classCount)-class confusion matrix into a "
                               + "\(classCount)-class one")
        }
        for i in counts.indices { counts[i] += other.counts[i] }
    }

    /// `{"orientation": "rows: true label, columns: predicted label", "counts": [[…], …]}`.
    public var json: JSONValue {
        .object([("orientation", .string("rows: true label, columns: predicted label")),
                 ("counts", .array(rows.map { JSONValue($0) }))])
    }
}
