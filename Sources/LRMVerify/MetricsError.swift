public import LRMFormat

/// Every way computing metrics can fail: inputs whose sizes disagree, labels outside the
/// classes, no samples. These are errors of the caller's data, never of a file.
public typealias MetricsError = KindedError<MetricsErrorKind>

/// The kinds of ``MetricsError``.
public enum MetricsErrorKind: String, Sendable, CaseIterable {
    /// Output and label counts disagree, or outputs are not a whole number of rows.
    case shapeMismatch = "shape_mismatch"
    /// A true or predicted label is outside 0..<classCount.
    case labelOutOfRange = "label_out_of_range"
    /// The class count is below 1.
    case invalidClassCount = "invalid_class_count"
    /// Metrics were asked of zero samples.
    case empty = "empty"
}
