/// A thin singular value decomposition A = U · diag(s) · Vᵀ of an m×n matrix A.
///
/// - `u` is m×r with orthonormal columns (the left singular vectors),
/// - `s` holds the r singular values in descending order, all ≥ 0,
/// - `vt` is r×n with orthonormal rows (the right singular vectors),
///
/// where r = min(m, n) for ``compute(_:precision:)`` and the requested rank for
/// ``randomized(_:rank:oversampling:powerIterations:seed:)``. For a weight matrix stored
/// in×out, U·diag(s) is in×r and Vᵀ is r×out.
///
/// Tolerances (LAPACK's backward stability): with `.single`, ‖A − U·diag(s)·Vᵀ‖_F is about
/// 1e-7·√max(m, n)·‖A‖_F and the columns of U / rows of Vᵀ are orthonormal to about 1e-6;
/// with `.double` the factors are exact to `Float` rounding (relative 6e-8 per element).
/// Results are deterministic run to run for a given BLAS thread count.
public struct SVD: Sendable, Equatable {
    /// Left singular vectors, m×r, orthonormal columns.
    public let u: Matrix
    /// Singular values, descending, ≥ 0. In `.single` precision these are the `Float` values
    /// widened exactly.
    public let s: [Double]
    /// Right singular vectors transposed, r×n, orthonormal rows.
    public let vt: Matrix
    /// The precision LAPACK worked in.
    public let precision: Precision

    /// The factors as they are (the caller vouches for orthonormal `u` columns and `vt` rows and descending `s`), e.g. a
    /// thin SVD assembled from the SVD of a smaller core.
    public init(u: Matrix, s: [Double], vt: Matrix, precision: Precision) {
        self.u = u
        self.s = s
        self.vt = vt
        self.precision = precision
    }

    /// The number of singular triplets, r.
    public var rank: Int { s.count }

    /// The factors keeping only the `rank` largest singular values (the best rank-`rank`
    /// approximation in Frobenius and spectral norm, Eckart–Young).
    /// - Throws: `.invalidParameter` unless `0 ≤ rank ≤ self.rank`.
    public func truncated(to rank: Int) throws -> SVD {
        guard rank >= 0, rank <= self.rank else {
            throw LinearAlgebraError(.invalidParameter, context: "truncating an SVD of rank \(self.rank)",
                                     detail: "expected a rank in 0...\(self.rank), found \(rank)")
        }
        if rank == self.rank { return self }
        return SVD(u: u.leadingColumns(rank), s: Array(s.prefix(rank)), vt: vt.leadingRows(rank),
                   precision: precision)
    }

    /// U · diag(s) · Vᵀ, the m×n matrix the factors represent.
    public func reconstructed() throws -> Matrix {
        try Matrix.product(u.scalingColumns(by: s.map { Float($0) }), vt)
    }

    /// The thin SVD of `a` (m×n, row-major) by divide and conquer (`?gesdd`, jobz 'S').
    ///
    /// gesdd is faster on a tall column-major matrix (it reduces by QR first) than on a wide
    /// one (LQ first): 1.3–1.9× measured on 784×512 and 3072×1024 with OpenBLAS 0.3.21. The
    /// row-major buffer of A is the column-major n×m matrix Aᵀ, which is tall when m ≤ n:
    /// LAPACK then factors Aᵀ = V·Σ·Uᵀ on a plain copy of the buffer and writes Vᵀ and U
    /// directly in row-major form. A tall A (m > n) is transposed into column-major order
    /// first and its factors are transposed back (O(m·n) copies against O(m·n²) work).
    /// - Parameter precision: `.single` (`sgesdd`) or `.double` (`dgesdd` on a `Double` copy).
    /// - Throws: `.nonFiniteInput` for NaN/∞; `.didNotConverge` if gesdd fails to converge.
    public static func compute(_ a: Matrix, precision: Precision = .single) throws -> SVD {
        let (m, n) = (a.rows, a.columns)
        let r = min(m, n)
        let context = "computing the thin SVD of a \(a.shape) matrix"
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        if r == 0 {
            return SVD(u: Matrix(rows: m, columns: 0), s: [], vt: Matrix(rows: 0, columns: n), precision: precision)
        }
        let tall = m > n
        // Column-major input for LAPACK, lapackRows ≥ lapackColumns.
        let input = tall ? a.transposed().values : a.values
        let (lapackRows, lapackColumns) = tall ? (m, n) : (n, m)
        let left: [Float], right: [Float], s: [Double]
        switch precision {
        case .single:
            let factors = try factor(input, lapackRows, lapackColumns, context: context, gesdd: NativeCalls.gesdd)
            (left, right, s) = (factors.left, factors.right, factors.s.map(Double.init))
        case .double:
            let factors = try factor(input.map(Double.init), lapackRows, lapackColumns, context: context,
                                     gesdd: NativeCalls.gesdd)
            (left, right, s) = (factors.left.map(Float.init), factors.right.map(Float.init), factors.s)
        }
        // `left` is column-major lapackRows×r, `right` column-major r×lapackColumns.
        let u: Matrix, vt: Matrix
        if tall {  // left = U (m×r), right = Vᵀ (r×n), both column-major: transpose back.
            u = try Matrix(rows: r, columns: m, values: left).transposed()
            vt = try Matrix(rows: n, columns: r, values: right).transposed()
        } else {  // left = V of Aᵀ (n×r column-major = Vᵀ row-major), right = Uᵀ (r×m column-major = U row-major).
            u = try Matrix(rows: m, columns: r, values: right)
            vt = try Matrix(rows: r, columns: n, values: left)
        }
        return SVD(u: u, s: s, vt: vt, precision: precision)
    }

    /// Runs gesdd on a copy of the column-major `rows`×`columns` matrix in `values`
    /// (rows ≥ columns = r): left singular vectors rows×r and Vᵀ r×columns, column-major.
    private static func factor<T: BinaryFloatingPoint>(
        _ values: [T], _ rows: Int, _ columns: Int, context: String,
        gesdd: (Int, Int, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, UnsafeMutablePointer<T>?, Int,
                UnsafeMutablePointer<T>?, Int, String) throws -> Void
    ) throws -> (left: [T], right: [T], s: [T]) {
        var work = values
        var s = [T](repeating: 0, count: columns)
        var left = [T](repeating: 0, count: rows * columns)
        var right = [T](repeating: 0, count: columns * columns)
        try work.withUnsafeMutableBufferPointer { w in
            try s.withUnsafeMutableBufferPointer { sp in
                try left.withUnsafeMutableBufferPointer { lp in
                    try right.withUnsafeMutableBufferPointer { rp in
                        try gesdd(rows, columns, w.baseAddress, sp.baseAddress, lp.baseAddress, rows,
                                  rp.baseAddress, columns, context)
                    }
                }
            }
        }
        return (left, right, s)
    }
}
