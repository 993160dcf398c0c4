/// The shape of a dense row-major matrix: `rows` × `columns`, element (i, j) at `i·columns + j`.
public struct MatrixShape: Hashable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var columns: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
    }

    /// rows·columns, or nil if negative or it overflows `Int`.
    public var elementCount: Int? {
        guard rows >= 0, columns >= 0 else { return nil }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        return overflow ? nil : count
    }

    /// The shape with rows and columns swapped.
    public var transposed: MatrixShape { MatrixShape(rows: columns, columns: rows) }

    public var description: String { "\(rows)×\(columns)" }
}
