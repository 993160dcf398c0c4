/// Counts NaN and infinite values in row-major samples and locates the first: inputs are refused with it
/// (`lrm predict`), outputs that become non-finite from finite inputs are reported with it.
public struct NonFiniteScan: Sendable, Equatable {
    /// How many values are NaN or infinite.
    public var count = 0
    /// How many values were scanned.
    public var total = 0
    /// The first one: its sample, its position within the sample, and its value.
    public var first: (sample: Int, position: Int, value: Float)? {
        firstIndex.map { ($0 / max(width, 1), $0 % max(width, 1), firstValue) }
    }

    private var firstIndex: Int?
    private var firstValue: Float = 0
    private let width: Int

    /// Scans `values`: samples of `width` values each.
    public init(_ values: UnsafeBufferPointer<Float>, width: Int) {
        self.width = width
        total = values.count
        for (index, value) in values.enumerated() where !value.isFinite {
            if firstIndex == nil {
                firstIndex = index
                firstValue = value
            }
            count += 1
        }
    }

    public init(_ values: [Float], width: Int) {
        self = values.withUnsafeBufferPointer { NonFiniteScan($0, width: width) }
    }

    /// Whether every value is finite.
    public var allFinite: Bool { count == 0 }

    /// "3 of 1,568 values are NaN or infinite (the first: sample 0, feature 12 is nan)", with `position`
    /// naming what a position within a sample is ("feature", "output").
    public func describe(position name: String) -> String {
        guard let first else { return "all \(total) values are finite" }
        return "\(count) of \(total) values are NaN or infinite (the first: sample \(first.sample), \(name) \(first.position) is \(first.value))"
    }

    public static func == (a: NonFiniteScan, b: NonFiniteScan) -> Bool {
        a.count == b.count && a.total == b.total && a.firstIndex == b.firstIndex && a.width == b.width
    }
}
