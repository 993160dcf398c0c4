/// The process-wide BLAS: kernel selection, its report and the thread count.
///
/// The kernel selection runs only when a program asks for it: ``prepare()`` (idempotent), called
/// first thing, before the program starts threads or uses BLAS. The `lrm` and `lrm-bench`
/// executables run it at load time (the CKernelSelectionAtLoad target); a program that embeds
/// lrm's libraries and does not call it keeps OpenBLAS's own choice, unchanged.
///
/// Kernel selection (Debian's OpenBLAS 0.3.21 falls back to generic "Prescott" kernels on
/// CPUs it does not know, 5× slower): if `OPENBLAS_CORETYPE` or `OPENBLAS_L2_SIZE` is set,
/// nothing changes. Otherwise, if OpenBLAS uses an SSE-era fallback core and the CPU and OS
/// support AVX-512, the SkylakeX kernels are used; with AVX2+FMA, Zen (AMD, Hygon) or
/// Haswell. The switch is verified (core name read back, exact sgemm/dgemm check) and the
/// process environment is left as it was. A BLAS other than OpenBLAS is left alone.
///
/// `LRM_BLAS_KERNELS` (read once, at preparation):
/// - unset or `auto`: the rules above;
/// - `library`: keep OpenBLAS's choice;
/// - `generic`: force Prescott first, then apply the rules (exercises the upgrade on any CPU);
/// - `generic-only`: force Prescott and keep it (what an unknown CPU gets; for benchmarks).
public enum BLASRuntime {
    /// Runs the kernel selection (once per process) and returns its report.
    @discardableResult
    public static func prepare() -> KernelReport {
        NativeCalls.prepareKernels()
    }

    /// The kernel selection's report (runs ``prepare()`` if it has not run: an explicit call).
    public static var report: KernelReport { prepare() }

    /// The upgrade rule alone (no switching): the core that replaces `core` on a CPU with
    /// `cpu`'s features, nil if `core` is kept. For tests of the policy on any machine.
    static func upgradeTarget(forCore core: String, cpu: KernelReport.CPU) -> String? {
        NativeCalls.upgradeTarget(core: core, cpu: cpu)
    }

    /// The number of threads BLAS uses, nil if the BLAS does not say.
    public static var threadCount: Int? { NativeCalls.threadCount() }

    /// Sets the number of threads BLAS uses. Factorizations are deterministic run to run for
    /// a given thread count; changing it may change the last bits of results.
    /// - Throws: `.invalidParameter` unless `count ≥ 1`; `.unsupported` if the BLAS has no setting.
    public static func setThreadCount(_ count: Int) throws {
        let context = "setting the BLAS thread count to \(count)"
        guard count >= 1, let count32 = Int32(exactly: count) else {
            throw LinearAlgebraError(.invalidParameter, context: context, detail: "expected at least 1")
        }
        guard NativeCalls.setThreadCount(count32) else {
            throw LinearAlgebraError(.unsupported, context: context)
        }
    }

    /// With one BLAS thread (``setThreadCount(_:)``), ends OpenBLAS's worker threads, which otherwise spin
    /// in `sched_yield` beside the program for a while after start-up (about 0.1 s). OpenBLAS starts them
    /// again if a later call runs on more threads. For a program's start, while nothing else uses BLAS.
    /// Returns whether they were ended (false with more threads or another BLAS).
    @discardableResult
    package static func stopIdleThreads() -> Bool {
        NativeCalls.stopIdleThreads()
    }
}
