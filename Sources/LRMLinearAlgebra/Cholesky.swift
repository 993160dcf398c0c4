/// The Cholesky factorization A = L · Lᵀ of a symmetric positive definite n×n matrix,
/// e.g. the regularized Gram matrix XᵀX + λI of activations X used for whitening.
///
/// `?potrf` works column-major; the row-major lower triangle of A is the column-major upper
/// triangle, so LAPACK computes A = UᵀU with U = Lᵀ in place and no transposition.
/// L·Lᵀ reproduces A to about 1e-7·n·‖A‖ in `.single` precision.
public struct Cholesky: Sendable, Equatable {
    /// L: n×n, lower triangular with a positive diagonal, zeros above the diagonal.
    public let lower: Matrix

    /// Factors `a` (n×n, symmetric positive definite). Only the lower triangle is read.
    /// - Parameter precision: `.single` (`spotrf`) or `.double` (`dpotrf` on a `Double` copy).
    /// - Throws: `.shapeMismatch` unless square; `.nonFiniteInput`; `.notPositiveDefinite(order:)`.
    public static func factor(_ a: Matrix, precision: Precision = .single) throws -> Cholesky {
        let n = a.rows
        let context = "computing the Cholesky factorization of a \(a.shape) matrix"
        guard a.columns == n else {
            throw LinearAlgebraError(.shapeMismatch, context: context, detail: "expected a square matrix")
        }
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        var factor: [Float]
        switch precision {
        case .single:
            factor = a.values
            try factor.withUnsafeMutableBufferPointer { w in
                try NativeCalls.potrfUpper(n: n, a: w.baseAddress, context: context)
            }
        case .double:
            var work = a.values.map(Double.init)
            try work.withUnsafeMutableBufferPointer { w in
                try NativeCalls.potrfUpper(n: n, a: w.baseAddress, context: context)
            }
            factor = work.map(Float.init)
        }
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) { factor[i * n + j] = 0 }
        }
        return Cholesky(lower: try Matrix(rows: n, columns: n, values: factor))
    }

    /// XᵀX + λ·I for `x` of shape samples×features: a features×features symmetric matrix
    /// (both triangles filled), computed by `?syrk`.
    /// - Parameter precision: `.double` accumulates in `Double` (`dsyrk` on a copy of `x`).
    /// - Throws: `.invalidParameter` if `ridge` is negative or not finite.
    public static func regularizedGram(of x: Matrix, ridge: Float, precision: Precision = .single) throws -> Matrix {
        let (samples, features) = (x.rows, x.columns)
        let context = "computing XᵀX + λI for X of shape \(x.shape)"
        guard ridge.isFinite, ridge >= 0 else {
            throw LinearAlgebraError(.invalidParameter, context: context, detail: "expected λ ≥ 0, found \(ridge)")
        }
        var gram = Matrix(rows: features, columns: features)
        guard features > 0 else { return gram }
        switch precision {
        case .single:
            try gram.withUnsafeMutableBufferPointer { c in
                try x.withUnsafeBufferPointer { xp in
                    try NativeCalls.syrk(transpose: true, n: features, k: samples, alpha: 1, a: xp.baseAddress,
                                         lda: max(1, features), beta: 0, c: c.baseAddress, ldc: features,
                                         context: context)
                }
            }
        case .double:
            let xd = x.values.map(Double.init)
            var cd = [Double](repeating: 0, count: features * features)
            try cd.withUnsafeMutableBufferPointer { c in
                try xd.withUnsafeBufferPointer { xp in
                    try NativeCalls.syrk(transpose: true, n: features, k: samples, alpha: 1, a: xp.baseAddress,
                                         lda: max(1, features), beta: 0, c: c.baseAddress, ldc: features,
                                         context: context)
                }
            }
            gram = try Matrix(rows: features, columns: features, values: cd.map(Float.init))
        }
        for i in 0..<features {
            gram[i, i] += ridge
            for j in 0..<i { gram[j, i] = gram[i, j] }  // mirror the lower triangle
        }
        return gram
    }

    /// X with op(L)·X = `b` (`b` is n×k): forward substitution, or backward with
    /// `transposed` (Lᵀ). Uses `cblas_strsm`.
    public func solve(_ b: Matrix, transposed: Bool = false) throws -> Matrix {
        try triangularSolve(b, rightSide: false, transposed: transposed)
    }

    /// X with X·op(L) = `b` (`b` is k×n), e.g. W·L⁻¹ after a whitened SVD of W·L.
    /// Uses `cblas_strsm`.
    public func solveRight(_ b: Matrix, transposed: Bool = false) throws -> Matrix {
        try triangularSolve(b, rightSide: true, transposed: transposed)
    }

    private func triangularSolve(_ b: Matrix, rightSide: Bool, transposed: Bool) throws -> Matrix {
        let n = lower.rows
        let context = "solving with a \(lower.shape) Cholesky factor for a \(b.shape) right-hand side"
        guard (rightSide ? b.columns : b.rows) == n else {
            throw LinearAlgebraError(.shapeMismatch, context: context,
                                     detail: "expected \(n) \(rightSide ? "columns" : "rows")")
        }
        var x = b
        guard b.rows > 0, b.columns > 0 else { return x }
        let ldb = b.columns
        try x.withUnsafeMutableBufferPointer { xp in
            try lower.withUnsafeBufferPointer { l in
                try NativeCalls.trsm(rightSide: rightSide, transposeL: transposed, m: b.rows, n: b.columns,
                                     l: l.baseAddress, ldl: max(1, n), b: xp.baseAddress, ldb: ldb, context: context)
            }
        }
        return x
    }
}
