/// Every way computing metrics can fail: inputs whose sizes disagree, labels outside the
/// classes, no samples. These are errors of the caller's data, never of a file.
public struct MetricsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The defect. The raw value is a stable name for JSON output and tests.
    public enum Kind: String, Sendable, CaseIterable {
        /// Output and label counts disagree, or outputs are not a whole number of rows.
        case shapeMismatch = "shape_mismatch"
        /// A true or predicted label is outside 0..<classCount.
        case labelOutOfRange = "label_out_of_range"
        /// The class count is below 1.
        case invalidClassCount = "invalid_class_count"
        /// Metrics were asked of zero samples.
        case empty = "empty"
    }

    public var kind: Kind
    /// What is wrong, with the numbers ("3,000 outputs for 100 samples of 10 classes").
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
