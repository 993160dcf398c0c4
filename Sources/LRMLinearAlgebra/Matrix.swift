import LRMFormat

/// A dense matrix of `Float` in row-major (C) order: element (i, j) is `values[i·columns + j]`.
///
/// The same buffer read in column-major (Fortran) order is the transpose, `columns`×`rows`;
/// the LAPACK calls of this module use that to avoid copies.
public struct Matrix: Equatable, Sendable, CustomStringConvertible {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// The elements in row-major order; `values.count == rows · columns`.
    public private(set) var values: [Float]

    /// A `rows`×`columns` matrix of zeros. Traps if a dimension is negative or the element
    /// count overflows (a programming error; sizes read from files go through the throwing init).
    public init(rows: Int, columns: Int) {
        guard let count = MatrixShape(rows: rows, columns: columns).elementCount else {
            preconditionFailure("Matrix(rows: \(rows), columns: \(columns)): invalid shape")
        }
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: 0, count: count)
    }

    /// A `rows`×`columns` matrix from its elements in row-major order.
    /// - Throws: ``LinearAlgebraError/Kind/shapeMismatch`` unless `values.count == rows · columns`.
    public init(rows: Int, columns: Int, values: [Float]) throws {
        let shape = MatrixShape(rows: rows, columns: columns)
        guard let count = shape.elementCount, count == values.count else {
            throw LinearAlgebraError(.shapeMismatch, context: "creating a \(shape) matrix",
                                     detail: "expected \(shape.elementCount.map(String.init) ?? "a valid shape") values, found \(values.count)")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// The shape, `rows`×`columns`.
    public var shape: MatrixShape { MatrixShape(rows: rows, columns: columns) }

    /// The element in row `row`, column `column` (both 0-based). Traps when out of range.
    public subscript(row: Int, column: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
            return values[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "index out of range")
            values[row * columns + column] = newValue
        }
    }

    /// The `n`×`n` identity matrix.
    public static func identity(_ n: Int) -> Matrix {
        var matrix = Matrix(rows: n, columns: n)
        for i in 0..<n { matrix.values[i * n + i] = 1 }
        return matrix
    }

    /// The transpose, `columns`×`rows` (a copy, blocked for cache locality).
    public func transposed() -> Matrix {
        var result = Matrix(rows: columns, columns: rows)
        let block = 32
        values.withUnsafeBufferPointer { source in
            result.values.withUnsafeMutableBufferPointer { target in
                for rowStart in stride(from: 0, to: rows, by: block) {
                    for columnStart in stride(from: 0, to: columns, by: block) {
                        for i in rowStart..<min(rowStart + block, rows) {
                            for j in columnStart..<min(columnStart + block, columns) {
                                target[j * rows + i] = source[i * columns + j]
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// ‖A‖_F = √(Σ aᵢⱼ²), accumulated in `Double`.
    public var frobeniusNorm: Double {
        values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// True if no element is NaN or infinite.
    public var isFinite: Bool { FiniteValues.all(values) }

    /// The first `count` columns (`rows`×`count`), e.g. U truncated to rank `count`.
    /// Traps unless `0 ≤ count ≤ columns`.
    public func leadingColumns(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= columns, "leadingColumns(\(count)) of a \(shape) matrix")
        var result = Matrix(rows: rows, columns: count)
        let columns = columns
        values.withUnsafeBufferPointer { source in
            result.values.withUnsafeMutableBufferPointer { target in
                for i in 0..<rows {
                    for j in 0..<count { target[i * count + j] = source[i * columns + j] }
                }
            }
        }
        return result
    }

    /// The first `count` rows (`count`×`columns`), e.g. Vᵀ truncated to rank `count`.
    /// Traps unless `0 ≤ count ≤ rows`.
    public func leadingRows(_ count: Int) -> Matrix {
        precondition(count >= 0 && count <= rows, "leadingRows(\(count)) of a \(shape) matrix")
        var result = Matrix(rows: count, columns: columns)
        result.values = Array(values[0..<(count * columns)])
        return result
    }

    /// This matrix times diag(`scales`): column j multiplied by `scales[j]` (e.g. U·Σ).
    /// - Throws: ``LinearAlgebraError/Kind/shapeMismatch`` unless `scales.count == columns`.
    public func scalingColumns(by scales: [Float]) throws -> Matrix {
        guard scales.count == columns else {
            throw LinearAlgebraError(.shapeMismatch, context: "scaling the columns of a \(shape) matrix",
                                     detail: "expected \(columns) scales, found \(scales.count)")
        }
        let (rows, columns) = (rows, columns)
        // One pass into new storage (not a copy, then a second pass scaling it): the same products.
        let scaled = [Float](unsafeUninitializedCapacity: values.count) { target, count in
            scales.withUnsafeBufferPointer { scale in
                values.withUnsafeBufferPointer { source in
                    for i in 0..<rows {
                        for j in 0..<columns { target[i * columns + j] = source[i * columns + j] * scale[j] }
                    }
                }
            }
            count = rows * columns
        }
        return try Matrix(rows: rows, columns: columns, values: scaled)
    }

    /// Multiplies column j by `scales[j]` in place (``scalingColumns(by:)`` without new storage, for a
    /// matrix no one else holds).
    /// - Throws: ``LinearAlgebraError/Kind/shapeMismatch`` unless `scales.count == columns`.
    public mutating func scaleColumns(by scales: [Float]) throws {
        guard scales.count == columns else {
            throw LinearAlgebraError(.shapeMismatch, context: "scaling the columns of a \(shape) matrix",
                                     detail: "expected \(columns) scales, found \(scales.count)")
        }
        let (rows, columns) = (rows, columns)
        scales.withUnsafeBufferPointer { scale in
            values.withUnsafeMutableBufferPointer { target in
                for i in 0..<rows {
                    for j in 0..<columns { target[i * columns + j] *= scale[j] }
                }
            }
        }
    }

    /// Calls `body` with the row-major elements; the pointer must not escape the closure.
    public func withUnsafeBufferPointer<R, E: Error>(
        _ body: (UnsafeBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        try values.withUnsafeBufferPointer { (buffer) throws(E) -> R in try body(buffer) }
    }

    /// Calls `body` with the mutable row-major elements; the pointer must not escape the closure.
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws(E) -> R
    ) throws(E) -> R {
        try values.withUnsafeMutableBufferPointer { (buffer) throws(E) -> R in try body(buffer) }
    }

    public var description: String {
        let shown = (0..<min(rows, 6)).map { i in
            (0..<min(columns, 6)).map { j in "\(values[i * columns + j])" }.joined(separator: " ")
                + (columns > 6 ? " …" : "")
        }
        return "Matrix \(shape)" + (shown.isEmpty ? "" : "\n" + shown.joined(separator: "\n"))
            + (rows > 6 ? "\n…" : "")
    }
}
