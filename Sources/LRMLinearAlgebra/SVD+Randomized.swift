extension SVD {
    /// The `rank` leading singular triplets of `a` (m×n) by randomized range finding
    /// (Halko, Martinsson & Tropp 2011, algorithms 4.4 and 5.1):
    ///
    /// 1. sketch Y = A·Ω with a Gaussian n×l matrix Ω, l = rank + oversampling;
    /// 2. `powerIterations` times: Q = qr(Y), Z = qr(Aᵀ·Q), Y = A·Z (QR re-orthonormalizes
    ///    between products so that small singular directions are not lost in rounding);
    /// 3. Q = qr(Y), B = Qᵀ·A (l×n), exact SVD B = Û·Σ·Vᵀ, U = Q·Û; keep `rank`.
    ///
    /// Ω comes from ``SeededRandomGenerator`` with `seed`, so results are deterministic for
    /// a seed (and BLAS thread count). On matrices whose spectrum decays, the Frobenius error
    /// ‖A − U·Σ·Vᵀ‖_F is within a few percent of the optimal rank-`rank` error, but the
    /// smallest kept singular values can be underestimated by several percent. When l ≥
    /// min(m, n) this computes the exact SVD and truncates it.
    ///
    /// All products run in `Float` (`sgemm`); QR by `sgeqrf` + `sorgqr`; the small SVD by `sgesdd`.
    /// Intermediate l×m and l×n matrices are kept row-major with their rows as the basis
    /// vectors, which is exactly the column-major layout LAPACK's QR needs.
    /// - Throws: `.invalidParameter` unless `0 < rank ≤ min(m, n)`, oversampling ≥ 0 and
    ///   powerIterations ≥ 0; `.nonFiniteInput` for NaN/∞.
    public static func randomized(
        _ a: Matrix, rank: Int, oversampling: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0x5EED
    ) throws -> SVD {
        let (m, n) = (a.rows, a.columns)
        let context = "randomized SVD of rank \(rank) of a \(a.shape) matrix"
        guard rank > 0, rank <= min(m, n), oversampling >= 0, powerIterations >= 0 else {
            throw LinearAlgebraError(.invalidParameter, context: context,
                                     detail: "expected rank in 1...\(min(m, n)), oversampling ≥ 0 and power iterations ≥ 0, "
                                         + "found \(rank), \(oversampling), \(powerIterations)")
        }
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        let (sketchSize, overflow) = rank.addingReportingOverflow(oversampling)
        if overflow || sketchSize >= min(m, n) {
            return try compute(a).truncated(to: rank)
        }
        // yt = Yᵀ = Ωᵀ·Aᵀ (l×m): its rows span the sketch of the range of A.
        var yt = try Matrix.product(Matrix.gaussian(rows: sketchSize, columns: n, seed: seed), a, transposeB: true)
        try yt.orthonormalizeRows(context: "\(context): QR of the sketch")
        for iteration in 0..<powerIterations {
            var zt = try Matrix.product(yt, a)  // (Aᵀ·Q)ᵀ = Qᵀ·A, l×n
            try zt.orthonormalizeRows(context: "\(context): QR in power iteration \(iteration + 1)")
            yt = try Matrix.product(zt, a, transposeB: true)  // (A·Z)ᵀ = Zᵀ·Aᵀ, l×m
            try yt.orthonormalizeRows(context: "\(context): QR in power iteration \(iteration + 1)")
        }
        let b = try Matrix.product(yt, a)  // Qᵀ·A, l×n
        let small = try compute(b).truncated(to: rank)
        let u = try Matrix.product(yt, small.u, transposeA: true)  // Q·Û, m×rank
        return SVD(u: u, s: small.s, vt: small.vt, precision: .single)
    }
}
