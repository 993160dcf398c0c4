internal import CLinearAlgebra

/// Every call into CLinearAlgebra (BLAS, LAPACKE, OpenBLAS) goes through this file.
/// Sizes are checked into `Int32`, and LAPACK's `info` becomes a ``LinearAlgebraError`` in
/// ``check(_:routine:context:)``. Pointers are only used inside the caller's closures.
enum NativeCalls {
    /// `value` as the 32-bit integer BLAS/LAPACK take, or `.dimensionTooLarge`.
    static func int32(_ value: Int, context: String) throws -> Int32 {
        guard let converted = Int32(exactly: value), converted >= 0 else {
            throw LinearAlgebraError(.dimensionTooLarge, context: context,
                                     detail: "expected at most \(Int32.max), found \(value)")
        }
        return converted
    }

    /// Converts LAPACK's `info` into an error: < 0 an invalid argument (our bug; LAPACKE's
    /// -1010/-1011 are workspace allocation failures), > 0 a routine-specific failure.
    static func check(_ info: Int32, routine: String, context: String) throws {
        guard info != 0 else { return }
        let kind: LinearAlgebraError.Kind
        switch info {
        case -1011, -1010: kind = .workspaceAllocationFailed
        case ..<0: kind = .invalidArgument(position: Int(-info))
        default: kind = routine.hasSuffix("potrf") ? .notPositiveDefinite(order: Int(info))
                                                   : .didNotConverge(info: Int(info))
        }
        throw LinearAlgebraError(kind, routine: routine, context: context)
    }

    // MARK: BLAS (row-major)

    /// C (m×n) = alpha·op(A)·op(B) + beta·C. `cblas_sgemm`.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>?, lda: Int, b: UnsafePointer<Float>?, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>?, ldc: Int, context: String) throws {
        try BLASWorkBuffer.serialized(context: context) {
            lrm_sgemm(transposeA, transposeB, try int32(m, context: context), try int32(n, context: context),
                      try int32(k, context: context), alpha, a, try int32(lda, context: context), b,
                      try int32(ldb, context: context), beta, c, try int32(ldc, context: context))
        }
    }

    /// Double-precision ``gemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:context:)``. `cblas_dgemm`.
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                     a: UnsafePointer<Double>?, lda: Int, b: UnsafePointer<Double>?, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int, context: String) throws {
        try BLASWorkBuffer.serialized(context: context) {
            lrm_dgemm(transposeA, transposeB, try int32(m, context: context), try int32(n, context: context),
                      try int32(k, context: context), alpha, a, try int32(lda, context: context), b,
                      try int32(ldb, context: context), beta, c, try int32(ldc, context: context))
        }
    }

    /// Lower triangle of C (n×n) = alpha·op(A)·op(A)ᵀ + beta·C; `transpose` gives AᵀA for a k×n A. `cblas_ssyrk`.
    static func syrk(transpose: Bool, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>?, lda: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>?, ldc: Int, context: String) throws {
        try BLASWorkBuffer.serialized(context: context) {
            lrm_ssyrk(transpose, try int32(n, context: context), try int32(k, context: context), alpha, a,
                      try int32(lda, context: context), beta, c, try int32(ldc, context: context))
        }
    }

    /// Double-precision ``syrk(transpose:n:k:alpha:a:lda:beta:c:ldc:context:)``. `cblas_dsyrk`.
    static func syrk(transpose: Bool, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>?, lda: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int, context: String) throws {
        try BLASWorkBuffer.serialized(context: context) {
            lrm_dsyrk(transpose, try int32(n, context: context), try int32(k, context: context), alpha, a,
                      try int32(lda, context: context), beta, c, try int32(ldc, context: context))
        }
    }

    /// Solves op(L)·X = B (left) or X·op(L) = B (right) in place of the m×n B. `cblas_strsm`.
    static func trsm(rightSide: Bool, transposeL: Bool, m: Int, n: Int, l: UnsafePointer<Float>?, ldl: Int,
                     b: UnsafeMutablePointer<Float>?, ldb: Int, context: String) throws {
        try BLASWorkBuffer.serialized(context: context) {
            lrm_strsm(rightSide, transposeL, try int32(m, context: context), try int32(n, context: context), 1,
                      l, try int32(ldl, context: context), b, try int32(ldb, context: context))
        }
    }

    // MARK: LAPACK (column-major)

    /// Thin SVD of the column-major m×n A (destroyed). `LAPACKE_sgesdd`, jobz 'S'.
    static func gesdd(m: Int, n: Int, a: UnsafeMutablePointer<Float>?, s: UnsafeMutablePointer<Float>?,
                      u: UnsafeMutablePointer<Float>?, ldu: Int, vt: UnsafeMutablePointer<Float>?, ldvt: Int,
                      context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_sgesdd(try int32(m, context: context), try int32(n, context: context), a,
                                  try int32(max(1, m), context: context), s, u, try int32(ldu, context: context),
                                  vt, try int32(ldvt, context: context))
        }
        try check(info, routine: "sgesdd", context: context)
    }

    /// Double-precision ``gesdd(m:n:a:s:u:ldu:vt:ldvt:context:)``. `LAPACKE_dgesdd`, jobz 'S'.
    static func gesdd(m: Int, n: Int, a: UnsafeMutablePointer<Double>?, s: UnsafeMutablePointer<Double>?,
                      u: UnsafeMutablePointer<Double>?, ldu: Int, vt: UnsafeMutablePointer<Double>?, ldvt: Int,
                      context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dgesdd(try int32(m, context: context), try int32(n, context: context), a,
                                  try int32(max(1, m), context: context), s, u, try int32(ldu, context: context),
                                  vt, try int32(ldvt, context: context))
        }
        try check(info, routine: "dgesdd", context: context)
    }

    /// Singular values only of the column-major m×n A (destroyed). `LAPACKE_sgesdd`, jobz 'N'.
    static func gesddValues(m: Int, n: Int, a: UnsafeMutablePointer<Float>?, s: UnsafeMutablePointer<Float>?,
                            context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_sgesdd_values(try int32(m, context: context), try int32(n, context: context), a,
                                         try int32(max(1, m), context: context), s)
        }
        try check(info, routine: "sgesdd", context: context)
    }

    /// Double-precision ``gesddValues(m:n:a:s:context:)``. `LAPACKE_dgesdd`, jobz 'N'.
    static func gesddValues(m: Int, n: Int, a: UnsafeMutablePointer<Double>?, s: UnsafeMutablePointer<Double>?,
                            context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dgesdd_values(try int32(m, context: context), try int32(n, context: context), a,
                                         try int32(max(1, m), context: context), s)
        }
        try check(info, routine: "dgesdd", context: context)
    }

    /// Tridiagonal reduction of the symmetric column-major n×n A (lower triangle). `LAPACKE_dsytrd`.
    static func sytrd(n: Int, a: UnsafeMutablePointer<Double>?, d: UnsafeMutablePointer<Double>?,
                      e: UnsafeMutablePointer<Double>?, tau: UnsafeMutablePointer<Double>?, context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dsytrd(try int32(n, context: context), a, try int32(max(1, n), context: context), d, e, tau)
        }
        try check(info, routine: "dsytrd", context: context)
    }

    /// Eigenvalues of the symmetric tridiagonal (d, e), ascending into d. `LAPACKE_dsterf`.
    static func sterf(n: Int, d: UnsafeMutablePointer<Double>?, e: UnsafeMutablePointer<Double>?, context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dsterf(try int32(n, context: context), d, e)
        }
        try check(info, routine: "dsterf", context: context)
    }

    /// Eigenvalues (into d) and eigenvectors (column-major z) of the symmetric tridiagonal (d, e). `LAPACKE_dstedc`.
    static func stedc(n: Int, d: UnsafeMutablePointer<Double>?, e: UnsafeMutablePointer<Double>?,
                      z: UnsafeMutablePointer<Double>?, context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dstedc(try int32(n, context: context), d, e, z, try int32(max(1, n), context: context))
        }
        try check(info, routine: "dstedc", context: context)
    }

    /// C = Q·C for the Q of ``sytrd(n:a:d:e:tau:context:)`` (C n×`columns`, column-major). `LAPACKE_dormtr`.
    static func ormtr(n: Int, columns: Int, a: UnsafePointer<Double>?, tau: UnsafePointer<Double>?, c: UnsafeMutablePointer<Double>?,
                      context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dormtr(try int32(n, context: context), try int32(columns, context: context), a,
                                  try int32(max(1, n), context: context), tau, c, try int32(max(1, n), context: context))
        }
        try check(info, routine: "dormtr", context: context)
    }

    /// Householder QR of the column-major m×n A (lda = m) in place. `LAPACKE_sgeqrf`.
    static func geqrf(m: Int, n: Int, a: UnsafeMutablePointer<Float>?, tau: UnsafeMutablePointer<Float>?,
                      context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_sgeqrf(try int32(m, context: context), try int32(n, context: context), a,
                                  try int32(max(1, m), context: context), tau)
        }
        try check(info, routine: "sgeqrf", context: context)
    }

    /// The first n columns of Q (m×n, lda = m) from ``geqrf(m:n:a:tau:context:)``. `LAPACKE_sorgqr`.
    static func orgqr(m: Int, n: Int, k: Int, a: UnsafeMutablePointer<Float>?, tau: UnsafePointer<Float>?,
                      context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_sorgqr(try int32(m, context: context), try int32(n, context: context),
                                  try int32(k, context: context), a, try int32(max(1, m), context: context), tau)
        }
        try check(info, routine: "sorgqr", context: context)
    }

    /// Cholesky A = UᵀU of the column-major n×n A (upper triangle, lda = n) in place. `LAPACKE_spotrf`.
    static func potrfUpper(n: Int, a: UnsafeMutablePointer<Float>?, context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_spotrf(true, try int32(n, context: context), a, try int32(max(1, n), context: context))
        }
        try check(info, routine: "spotrf", context: context)
    }

    /// Double-precision ``potrfUpper(n:a:context:)``. `LAPACKE_dpotrf`.
    static func potrfUpper(n: Int, a: UnsafeMutablePointer<Double>?, context: String) throws {
        let info = try BLASWorkBuffer.serialized(context: context) {
            lrm_dpotrf(true, try int32(n, context: context), a, try int32(max(1, n), context: context))
        }
        try check(info, routine: "dpotrf", context: context)
    }

    // MARK: Kernel selection

    /// Runs the kernel selection (once per process) and converts its report.
    static func prepareKernels() -> KernelReport {
        let raw = lrm_blas_prepare().pointee
        func text(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        let decision: KernelReport.Decision = switch raw.decision {
        case .LRM_KERNELS_LIBRARY_CHOICE: .libraryChoice
        case .LRM_KERNELS_UPGRADED: .upgraded
        case .LRM_KERNELS_ENVIRONMENT: .environment
        case .LRM_KERNELS_OPTED_OUT: .optedOut
        case .LRM_KERNELS_FORCED_GENERIC: .forcedGeneric
        case .LRM_KERNELS_NOT_SWITCHABLE: .notSwitchable
        case .LRM_KERNELS_FALLBACK_KEPT: .fallbackKept
        case .LRM_KERNELS_UPGRADE_FAILED: .upgradeFailed
        }
        let coreType = text(raw.env_coretype), l2Size = text(raw.env_l2_size)
        return KernelReport(
            decision: decision, isOpenBLAS: raw.is_openblas, forcedGenericFirst: raw.forced_generic_first,
            libraryCore: text(raw.library_core), activeCore: text(raw.active_core), reason: text(raw.reason),
            summary: text(raw.summary), configuration: text(raw.config), kernelsSetting: text(raw.kernels_setting),
            environmentCoreType: coreType.isEmpty ? nil : coreType,
            environmentL2Size: l2Size.isEmpty ? nil : l2Size,
            cpu: KernelReport.CPU(vendor: text(raw.cpu.vendor), family: Int(raw.cpu.family),
                                  model: Int(raw.cpu.model), hasAVX2FMA: raw.cpu.avx2_fma,
                                  hasAVX512: raw.cpu.avx512))
    }

    /// The selection rule alone: the core to switch to from `core` on `cpu`, nil to keep it.
    static func upgradeTarget(core: String, cpu: KernelReport.CPU) -> String? {
        cpu.vendor.withCString { vendor in
            let features = lrm_cpu_features(vendor: vendor, family: Int32(clamping: cpu.family),
                                            model: Int32(clamping: cpu.model), avx2_fma: cpu.hasAVX2FMA,
                                            avx512: cpu.hasAVX512)
            return lrm_blas_upgrade_target(core, features).map { String(cString: $0) }
        }
    }

    /// OpenBLAS's thread count, nil for a BLAS without one.
    static func threadCount() -> Int? {
        let count = lrm_blas_thread_count()
        return count > 0 ? Int(count) : nil
    }

    /// Sets OpenBLAS's thread count; false if the BLAS has no such setting.
    static func setThreadCount(_ count: Int32) -> Bool {
        lrm_blas_set_thread_count(count)
    }

    /// Ends OpenBLAS's idle worker threads when it runs on one thread (`lrm_blas_stop_idle_threads`).
    static func stopIdleThreads() -> Bool {
        lrm_blas_stop_idle_threads()
    }
}
