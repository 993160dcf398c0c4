public import LRMFormat

/// How closely two models agree on the same inputs (typically the original Keras model and
/// its low-rank `.lrm` version), accumulated batch by batch.
///
/// Both models' outputs are compared as given: when the last layer is a softmax they are
/// probabilities and the differences are in probability units (0…1).
/// - prediction agreement: the fraction of samples whose top-1 classes (argmax, ties to the
///   lowest index) are identical, whatever the true label;
/// - max / mean absolute difference: over every output value of every sample,
///   `|reference − candidate|`, accumulated in double precision.
public struct MetricsComparison: Sendable, Equatable {
    /// Values per output row.
    public let classCount: Int
    /// Samples compared so far.
    public private(set) var sampleCount = 0
    /// Samples whose top-1 predictions agree.
    public private(set) var agreementCount = 0
    /// The largest |reference − candidate| over all values so far (0 before any sample).
    public private(set) var maxAbsoluteDifference: Double = 0
    /// Sum of |reference − candidate| over all values so far.
    public private(set) var absoluteDifferenceSum: Double = 0
    /// Output value pairs whose difference is NaN (a NaN in either model, or the same infinity
    /// in both); they are left out of the max and the mean.
    public private(set) var nonFiniteCount = 0

    /// - Throws: `MetricsError.invalidClassCount` when `classCount < 1`.
    public init(classCount: Int) throws {
        guard classCount >= 1 else {
            throw MetricsError(.invalidClassCount, "class count must be at least 1, found \(classCount)")
        }
        self.classCount = classCount
    }

    /// Compares two complete output arrays (row-major, `classCount` per sample).
    public init(reference: [Float], candidate: [Float], classCount: Int) throws {
        try self.init(classCount: classCount)
        try add(reference: reference, candidate: candidate)
    }

    /// Adds a batch: both arrays row-major, the same samples in the same order.
    /// - Throws: `MetricsError.shapeMismatch` when the sizes differ or are not whole rows.
    public mutating func add(reference: [Float], candidate: [Float]) throws {
        guard reference.count == candidate.count, reference.count % classCount == 0 else {
            throw MetricsError(.shapeMismatch, "reference has \(reference.count) outputs and candidate "
                               + "\(candidate.count); both must be equal whole rows of \(classCount)")
        }
        let rows = reference.count / classCount
        reference.withUnsafeBufferPointer { left in
            candidate.withUnsafeBufferPointer { right in
                for row in 0..<rows {
                    let range = (row * classCount)..<((row + 1) * classCount)
                    if ClassificationMetrics.argmax(UnsafeBufferPointer(rebasing: left[range]))
                        == ClassificationMetrics.argmax(UnsafeBufferPointer(rebasing: right[range])) {
                        agreementCount += 1
                    }
                    for i in range {
                        let difference = abs(Double(left[i]) - Double(right[i]))
                        if difference.isNaN { nonFiniteCount += 1; continue }
                        absoluteDifferenceSum += difference
                        maxAbsoluteDifference = max(maxAbsoluteDifference, difference)
                    }
                }
            }
        }
        sampleCount += rows
    }

    /// Fraction (0…1) of samples with identical top-1 predictions; 0 before any sample.
    public var agreement: Double {
        sampleCount == 0 ? 0 : Double(agreementCount) / Double(sampleCount)
    }

    /// Mean |reference − candidate| over all finite differences; 0 before any sample.
    public var meanAbsoluteDifference: Double {
        let count = sampleCount * classCount - nonFiniteCount
        return count <= 0 ? 0 : absoluteDifferenceSum / Double(count)
    }

    /// `{"samples", "agreement", "agreement_count", "max_abs_diff", "mean_abs_diff", "nan_values"}`.
    public var json: JSONValue {
        .object([
            ("samples", .int(Int64(sampleCount))),
            ("agreement", .number(agreement)),
            ("agreement_count", .int(Int64(agreementCount))),
            ("max_abs_diff", .number(maxAbsoluteDifference)),
            ("mean_abs_diff", .number(meanAbsoluteDifference)),
            ("nan_values", .int(Int64(nonFiniteCount))),
        ])
    }
}
