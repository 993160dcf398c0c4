/// Builds `ClassificationMetrics` batch by batch, so that a data set can be evaluated while it
/// streams: only the confusion matrix and the top-5 hit count are kept.
public struct MetricsAccumulator: Sendable {
    /// Number of classes (scores per output row).
    public let classCount: Int
    /// The counts so far (rows: true label, columns: predicted label).
    public private(set) var confusion: ConfusionMatrix
    /// Samples whose label is in the top 5 scores (counted only when `classCount > 10`).
    public private(set) var top5Correct = 0

    /// - Throws: `MetricsError.invalidClassCount` when `classCount < 1`.
    public init(classCount: Int) throws {
        self.classCount = classCount
        confusion = try ConfusionMatrix(classCount: classCount)
    }

    /// Adds a batch: `outputs` row-major (`labels.count × classCount` scores), `labels` the true
    /// classes. Nothing is added if the batch is rejected.
    /// - Throws: `MetricsError` `.shapeMismatch`, `.labelOutOfRange`.
    public mutating func add(outputs: [Float], labels: [Int]) throws {
        try outputs.withUnsafeBufferPointer { try add(outputs: $0, labels: labels) }
    }

    /// Adds a batch from a buffer (valid only during the call); see `add(outputs:labels:)`.
    public mutating func add(outputs: UnsafeBufferPointer<Float>, labels: [Int]) throws {
        guard outputs.count == labels.count * classCount else {
            throw MetricsError(.shapeMismatch, "\(outputs.count) outputs for \(labels.count) samples of "
                               + "\(classCount) classes (expected \(labels.count * classCount))")
        }
        var predicted: [Int] = []
        predicted.reserveCapacity(labels.count)
        var hits = 0
        for (row, label) in labels.enumerated() {
            let scores = UnsafeBufferPointer(rebasing: outputs[(row * classCount)..<((row + 1) * classCount)])
            predicted.append(ClassificationMetrics.argmax(scores))
            if classCount > 10, (0..<classCount).contains(label),
               ClassificationMetrics.isInTopK(scores, label: label, k: 5) {
                hits += 1
            }
        }
        try confusion.add(predicted: predicted, labels: labels)
        top5Correct += hits
    }

    /// Samples added so far.
    public var sampleCount: Int { confusion.total }

    /// The metrics of everything added.
    /// - Throws: `MetricsError.empty` when nothing was added.
    public func metrics() throws -> ClassificationMetrics {
        try ClassificationMetrics(confusion: confusion, top5Correct: classCount > 10 ? top5Correct : nil)
    }
}
