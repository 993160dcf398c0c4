/// Integer arithmetic that saturates at `Int.max` instead of trapping, for the cost figures (parameters,
/// multiply-accumulates) that reports and limits compute from a file's shapes: a hostile header can describe products
/// past `Int.max`, and such a figure must read as "too many", not crash.
public enum Saturating {
    /// The product of `values` (1 for none), or `Int.max` when it overflows. The values are non-negative.
    public static func product(_ values: Int...) -> Int {
        var result = 1
        for value in values {
            let (next, overflow) = result.multipliedReportingOverflow(by: value)
            if overflow { return Int.max }
            result = next
        }
        return result
    }

    /// `a + b`, or `Int.max` when it overflows. Both are non-negative.
    public static func sum(_ a: Int, _ b: Int) -> Int {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? Int.max : value
    }
}
