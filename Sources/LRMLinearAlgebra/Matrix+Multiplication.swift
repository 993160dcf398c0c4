extension Matrix {
    /// alpha · op(a) · op(b), where op transposes when asked (without copying).
    /// op(a) must be m×k and op(b) k×n; the result is m×n. Uses `cblas_sgemm`.
    /// - Throws: `.shapeMismatch` if the inner dimensions differ.
    public static func product(
        _ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1
    ) throws -> Matrix {
        let rows = transposeA ? a.columns : a.rows
        let columns = transposeB ? b.rows : b.columns
        var result = Matrix(rows: rows, columns: columns)
        try result.addProduct(a, b, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: 0)
        return result
    }

    /// self = alpha · op(a) · op(b) + beta · self. Uses `cblas_sgemm`.
    /// - Throws: `.shapeMismatch` unless op(a) is `rows`×k and op(b) is k×`columns`.
    public mutating func addProduct(
        _ a: Matrix, _ b: Matrix, transposeA: Bool = false, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 1
    ) throws {
        let cShape = shape
        try withUnsafeMutableBufferPointer { c in
            try a.withUnsafeBufferPointer { a2 in
                try b.withUnsafeBufferPointer { b2 in
                    try GEMM.multiply(a2, shape: a.shape, transposeA: transposeA, b2, shape: b.shape,
                                      transposeB: transposeB, into: c, shape: cShape, alpha: alpha, beta: beta)
                }
            }
        }
    }
}
