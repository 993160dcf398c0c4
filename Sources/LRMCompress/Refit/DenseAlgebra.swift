import LRMLinearAlgebra

/// Row-major dense helpers for the refit and the fine-tuning: products through the package's BLAS,
/// and small symmetric positive definite solves in Double.
enum DenseAlgebra {
    /// op(A)·op(B) for row-major A (aRows × aColumns as stored) and B, through `sgemm`.
    static func product(_ a: [Float], _ aRows: Int, _ aColumns: Int, transposeA: Bool = false,
                        _ b: [Float], _ bRows: Int, _ bColumns: Int, transposeB: Bool = false) throws -> [Float] {
        let m = transposeA ? aColumns : aRows
        let n = transposeB ? bRows : bColumns
        var c = [Float](repeating: 0, count: m * n)
        try accumulate(a, aRows, aColumns, transposeA: transposeA, b, bRows, bColumns, transposeB: transposeB, into: &c, beta: 0)
        return c
    }

    /// c = alpha·op(A)·op(B) + beta·c.
    static func accumulate(_ a: [Float], _ aRows: Int, _ aColumns: Int, transposeA: Bool = false,
                           _ b: [Float], _ bRows: Int, _ bColumns: Int, transposeB: Bool = false,
                           into c: inout [Float], alpha: Float = 1, beta: Float = 1) throws {
        let m = transposeA ? aColumns : aRows
        let n = transposeB ? bRows : bColumns
        guard m > 0, n > 0 else { return }
        try a.withUnsafeBufferPointer { ap in
            try b.withUnsafeBufferPointer { bp in
                try c.withUnsafeMutableBufferPointer { cp in
                    try GEMM.multiply(ap, shape: MatrixShape(rows: aRows, columns: aColumns), transposeA: transposeA,
                                      bp, shape: MatrixShape(rows: bRows, columns: bColumns), transposeB: transposeB,
                                      into: cp, shape: MatrixShape(rows: m, columns: n), alpha: alpha, beta: beta)
                }
            }
        }
    }

    /// op(A)·op(B) for row-major A and B in Double, through `dgemm`.
    static func product(_ a: [Double], _ aRows: Int, _ aColumns: Int, transposeA: Bool = false,
                        _ b: [Double], _ bRows: Int, _ bColumns: Int, transposeB: Bool = false) throws -> [Double] {
        let m = transposeA ? aColumns : aRows
        let n = transposeB ? bRows : bColumns
        var c = [Double](repeating: 0, count: m * n)
        guard m > 0, n > 0 else { return c }
        try a.withUnsafeBufferPointer { ap in
            try b.withUnsafeBufferPointer { bp in
                try c.withUnsafeMutableBufferPointer { cp in
                    try GEMM.multiply(ap, shape: MatrixShape(rows: aRows, columns: aColumns), transposeA: transposeA,
                                      bp, shape: MatrixShape(rows: bRows, columns: bColumns), transposeB: transposeB,
                                      into: cp, shape: MatrixShape(rows: m, columns: n), beta: 0)
                }
            }
        }
        return c
    }

    /// Column sums of a row-major rows × columns matrix, in Double.
    static func columnSums(_ x: [Float], rows: Int, columns: Int) -> [Double] {
        var sums = [Double](repeating: 0, count: columns)
        for r in 0..<rows {
            let base = r * columns
            for c in 0..<columns { sums[c] += Double(x[base + c]) }
        }
        return sums
    }

    /// Solves M·X = B for a symmetric positive definite n×n M (row-major, Double) and n×m B, by
    /// Cholesky; `ridge` is added to the diagonal first (relative to its mean), and grown tenfold
    /// while the factorization fails. Nil when it never succeeds (non-finite input).
    static func solveSPD(_ matrix: [Double], n: Int, _ rhs: [Double], m: Int, ridge: Double = 1e-10) -> [Double]? {
        guard n > 0 else { return [] }
        let meanDiagonal = max((0..<n).reduce(0.0) { $0 + abs(matrix[$1 * n + $1]) } / Double(n), 1e-300)
        var lambda = ridge * meanDiagonal
        for _ in 0..<8 {
            if let lower = choleskyLower(matrix, n: n, ridge: lambda) {
                var x = rhs
                // L·Y = B, then Lᵀ·X = Y, column by column of B (row-major n×m).
                for i in 0..<n {
                    for j in 0..<i {
                        let l = lower[i * n + j]
                        if l != 0 { for c in 0..<m { x[i * m + c] -= l * x[j * m + c] } }
                    }
                    let d = lower[i * n + i]
                    for c in 0..<m { x[i * m + c] /= d }
                }
                for i in stride(from: n - 1, through: 0, by: -1) {
                    for j in (i + 1)..<max(i + 1, n) {
                        let l = lower[j * n + i]
                        if l != 0 { for c in 0..<m { x[i * m + c] -= l * x[j * m + c] } }
                    }
                    let d = lower[i * n + i]
                    for c in 0..<m { x[i * m + c] /= d }
                }
                return x.allSatisfy(\.isFinite) ? x : nil
            }
            lambda = max(lambda * 10, 1e-12 * meanDiagonal)
        }
        return nil
    }

    /// The lower Cholesky factor of M + ridge·I, or nil if it is not positive definite.
    private static func choleskyLower(_ matrix: [Double], n: Int, ridge: Double) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = matrix[i * n + j] + (i == j ? ridge : 0)
                for p in 0..<j { sum -= l[i * n + p] * l[j * n + p] }
                if i == j {
                    guard sum > 0, sum.isFinite else { return nil }
                    l[i * n + i] = sum.squareRoot()
                } else {
                    l[i * n + j] = sum / l[j * n + j]
                }
            }
        }
        return l
    }
}
