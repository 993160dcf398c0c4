extension SVD {
    /// The min(m, n) singular values of `a` (m×n, row-major), descending, without the vectors
    /// (`?gesdd` with jobz 'N').
    ///
    /// What a rank policy needs to choose k and the break-even rule needs to decide whether a
    /// layer is factorized at all, at a fraction of the thin SVD's cost: measured with OpenBLAS
    /// 0.3.21 on one thread, 3.5–9× faster than jobz 'S' on 784×512 to 4096×4096
    /// (`lrm-bench svd`). The values agree with ``compute(_:precision:)``'s to LAPACK's backward
    /// error (about 1e-6·σ₁ in `.single`), not bit for bit: the two run different bidiagonal
    /// solvers. The row-major buffer is the column-major Aᵀ, whose singular values are A's, so no
    /// transpose is made.
    /// - Parameter precision: `.single` (`sgesdd`) or `.double` (`dgesdd` on a `Double` copy).
    /// - Throws: `.nonFiniteInput` for NaN/∞; `.didNotConverge` if gesdd fails to converge.
    public static func singularValues(of a: Matrix, precision: Precision = .single) throws -> [Double] {
        let (m, n) = (a.rows, a.columns)
        let context = "computing the singular values of a \(a.shape) matrix"
        guard a.isFinite else { throw LinearAlgebraError(.nonFiniteInput, context: context) }
        let r = min(m, n)
        if r == 0 { return [] }
        switch precision {
        case .single:
            var work = a.values
            var s = [Float](repeating: 0, count: r)
            try work.withUnsafeMutableBufferPointer { w in
                try s.withUnsafeMutableBufferPointer { sp in
                    try NativeCalls.gesddValues(m: n, n: m, a: w.baseAddress, s: sp.baseAddress, context: context)
                }
            }
            return s.map(Double.init)
        case .double:
            var work = a.values.map(Double.init)
            var s = [Double](repeating: 0, count: r)
            try work.withUnsafeMutableBufferPointer { w in
                try s.withUnsafeMutableBufferPointer { sp in
                    try NativeCalls.gesddValues(m: n, n: m, a: w.baseAddress, s: sp.baseAddress, context: context)
                }
            }
            return s
        }
    }
}
