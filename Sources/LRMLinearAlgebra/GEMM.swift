/// General matrix products on caller-owned row-major buffers (`cblas_sgemm`/`cblas_dgemm`):
///
///     C = alpha · op(A) · op(B) + beta · C
///
/// `aShape`/`bShape` are the shapes of the buffers as stored (row-major, dense: the row
/// stride is the column count); `op` transposes when asked, without copying. op(A) is m×k,
/// op(B) is k×n and C is m×n. Buffers may be longer than the shape needs (e.g. a slice of
/// an mmap'd file); only the leading elements are read.
///
/// Batches: a batch of b input rows times a weight matrix in×out is one call with A of shape
/// b×in; there is no need to loop over rows.
public enum GEMM {
    /// Single-precision product into `c`. The corresponding C function is `cblas_sgemm`.
    /// - Throws: `.shapeMismatch` if shapes disagree or a buffer is too short,
    ///   `.overlappingBuffers` if `c` overlaps `a` or `b`, `.dimensionTooLarge` past 2³¹−1.
    public static func multiply(
        _ a: UnsafeBufferPointer<Float>, shape aShape: MatrixShape, transposeA: Bool = false,
        _ b: UnsafeBufferPointer<Float>, shape bShape: MatrixShape, transposeB: Bool = false,
        into c: UnsafeMutableBufferPointer<Float>, shape cShape: MatrixShape,
        alpha: Float = 1, beta: Float = 0
    ) throws {
        let plan = try Plan(aShape, transposeA, a.count, rawRange(a), bShape, transposeB, b.count, rawRange(b),
                            cShape, c.count, rawRange(UnsafeBufferPointer(c)))
        guard plan.m > 0, plan.n > 0 else { return }
        try NativeCalls.gemm(transposeA: transposeA, transposeB: transposeB, m: plan.m, n: plan.n, k: plan.k,
                             alpha: alpha, a: a.baseAddress, lda: max(1, aShape.columns),
                             b: b.baseAddress, ldb: max(1, bShape.columns), beta: beta,
                             c: c.baseAddress, ldc: max(1, cShape.columns), context: plan.context)
    }

    /// Double-precision product into `c`. The corresponding C function is `cblas_dgemm`.
    /// - Throws: as the `Float` version.
    public static func multiply(
        _ a: UnsafeBufferPointer<Double>, shape aShape: MatrixShape, transposeA: Bool = false,
        _ b: UnsafeBufferPointer<Double>, shape bShape: MatrixShape, transposeB: Bool = false,
        into c: UnsafeMutableBufferPointer<Double>, shape cShape: MatrixShape,
        alpha: Double = 1, beta: Double = 0
    ) throws {
        let plan = try Plan(aShape, transposeA, a.count, rawRange(a), bShape, transposeB, b.count, rawRange(b),
                            cShape, c.count, rawRange(UnsafeBufferPointer(c)))
        guard plan.m > 0, plan.n > 0 else { return }
        try NativeCalls.gemm(transposeA: transposeA, transposeB: transposeB, m: plan.m, n: plan.n, k: plan.k,
                             alpha: alpha, a: a.baseAddress, lda: max(1, aShape.columns),
                             b: b.baseAddress, ldb: max(1, bShape.columns), beta: beta,
                             c: c.baseAddress, ldc: max(1, cShape.columns), context: plan.context)
    }

    /// The lower triangle of the n×n `c` (row-major, n the columns of the row-major `a`) set to alpha·AᵀA + beta·C, the
    /// upper triangle left as it is: half the work of ``multiply(_:shape:transposeA:_:shape:transposeB:into:shape:alpha:beta:)``
    /// for a Gram matrix. The corresponding C function is `cblas_dsyrk`.
    /// - Throws: as ``multiply(_:shape:transposeA:_:shape:transposeB:into:shape:alpha:beta:)``.
    public static func gramLower(
        _ a: UnsafeBufferPointer<Double>, shape aShape: MatrixShape,
        into c: UnsafeMutableBufferPointer<Double>, shape cShape: MatrixShape,
        alpha: Double = 1, beta: Double = 0
    ) throws {
        let plan = try Plan(aShape, true, a.count, rawRange(a), aShape, false, a.count, rawRange(a),
                            cShape, c.count, rawRange(UnsafeBufferPointer(c)))
        guard plan.n > 0 else { return }
        try NativeCalls.syrk(transpose: true, n: plan.n, k: plan.k, alpha: alpha, a: a.baseAddress, lda: max(1, aShape.columns),
                             beta: beta, c: c.baseAddress, ldc: max(1, cShape.columns), context: plan.context)
    }

    private static func rawRange<T>(_ buffer: UnsafeBufferPointer<T>) -> Range<UInt> {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return 0..<0 }
        let start = UInt(bitPattern: base)
        return start..<(start + UInt(buffer.count * MemoryLayout<T>.stride))
    }

    /// The validated m, n, k of one product.
    private struct Plan {
        let m: Int, n: Int, k: Int
        let context: String

        init(_ aShape: MatrixShape, _ transposeA: Bool, _ aCount: Int, _ aRange: Range<UInt>,
             _ bShape: MatrixShape, _ transposeB: Bool, _ bCount: Int, _ bRange: Range<UInt>,
             _ cShape: MatrixShape, _ cCount: Int, _ cRange: Range<UInt>) throws {
            let opA = transposeA ? aShape.transposed : aShape, opB = transposeB ? bShape.transposed : bShape
            context = "multiplying \(aShape)\(transposeA ? "ᵀ" : "") by \(bShape)\(transposeB ? "ᵀ" : "") into \(cShape)"
            guard opA.columns == opB.rows else {
                throw LinearAlgebraError(.shapeMismatch, context: context,
                                         detail: "inner dimensions: op(A) has \(opA.columns) columns, op(B) has \(opB.rows) rows")
            }
            guard cShape.rows == opA.rows, cShape.columns == opB.columns else {
                throw LinearAlgebraError(.shapeMismatch, context: context,
                                         detail: "expected C \(MatrixShape(rows: opA.rows, columns: opB.columns)), found \(cShape)")
            }
            for (name, shape, count) in [("A", aShape, aCount), ("B", bShape, bCount), ("C", cShape, cCount)] {
                guard let needed = shape.elementCount else {
                    throw LinearAlgebraError(.shapeMismatch, context: context, detail: "\(name) has an invalid shape \(shape)")
                }
                guard count >= needed else {
                    throw LinearAlgebraError(.shapeMismatch, context: context,
                                             detail: "buffer \(name) needs \(needed) elements, has \(count)")
                }
            }
            guard !cRange.overlaps(aRange), !cRange.overlaps(bRange) else {
                throw LinearAlgebraError(.overlappingBuffers, context: context)
            }
            (m, n, k) = (opA.rows, opB.columns, opA.columns)
        }
    }
}
