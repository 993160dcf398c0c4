/// A thin QR factorization A = Q · R of an m×n matrix A (Householder, `sgeqrf` + `sorgqr`):
/// Q is m×r with orthonormal columns, R is r×n upper triangular, r = min(m, n).
/// Q·R reproduces A to about 1e-7·√max(m, n)·‖A‖_F.
public struct QR: Sendable, Equatable {
    /// m×r, orthonormal columns.
    public let q: Matrix
    /// r×n, upper triangular (zeros below the diagonal).
    public let r: Matrix

    /// The thin QR factorization of `a` (m×n, row-major).
    /// - Throws: `.nonFiniteInput` for NaN/∞.
    public static func compute(_ a: Matrix) throws -> QR {
        let (m, n) = (a.rows, a.columns)
        let rank = min(m, n)
        let context = "computing the QR factorization of a \(a.shape) matrix"
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        // The row-major buffer of Aᵀ (n×m) is the column-major m×n A that LAPACK expects.
        var work = a.transposed()
        var tau = [Float](repeating: 0, count: rank)
        var r = Matrix(rows: rank, columns: n)
        try work.withUnsafeMutableBufferPointer { w in
            try tau.withUnsafeMutableBufferPointer { t in
                try NativeCalls.geqrf(m: m, n: n, a: w.baseAddress, tau: t.baseAddress, context: context)
                for i in 0..<rank {
                    for j in i..<n { r[i, j] = w[j * m + i] }  // column-major (i, j)
                }
                if rank > 0 {
                    try NativeCalls.orgqr(m: m, n: rank, k: rank, a: w.baseAddress, tau: t.baseAddress,
                                          context: context)
                }
            }
        }
        // The first `rank` columns of the column-major m×n buffer hold Q: row-major, Qᵀ.
        let qt = try Matrix(rows: rank, columns: m, values: Array(work.values.prefix(rank * m)))
        return QR(q: qt.transposed(), r: r)
    }
}

extension Matrix {
    /// Replaces the rows of this l×m matrix (l ≤ m) by an orthonormal basis of their span,
    /// in place and without transposing: the row-major l×m buffer is the column-major m×l
    /// matrix whose columns `sgeqrf`/`sorgqr` orthonormalize.
    mutating func orthonormalizeRows(context: String) throws {
        let (l, m) = (rows, columns)
        guard l > 0 else { return }
        guard l <= m else {
            throw LinearAlgebraError(.shapeMismatch, context: context,
                                     detail: "cannot orthonormalize \(l) rows of length \(m)")
        }
        var tau = [Float](repeating: 0, count: l)
        try withUnsafeMutableBufferPointer { w in
            try tau.withUnsafeMutableBufferPointer { t in
                try NativeCalls.geqrf(m: m, n: l, a: w.baseAddress, tau: t.baseAddress, context: context)
                try NativeCalls.orgqr(m: m, n: l, k: l, a: w.baseAddress, tau: t.baseAddress, context: context)
            }
        }
    }
}
