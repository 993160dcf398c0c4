import Foundation
import LRMLinearAlgebra

/// Pins BLAS to one thread for the commands whose results must not depend on the machine's thread count.
///
/// OpenBLAS splits a product differently for 1 and 2 threads, and LAPACK's SVD (`gesdd`) inherits the
/// difference in its last bits: the same `lrm convert` gave different `.lrm` bytes under
/// `OPENBLAS_NUM_THREADS=1` and `=2` (issue 8; `docs/RELIABILITY.md`). With one BLAS thread the output is
/// byte-identical whatever the environment says; the converter still uses every core, one layer per core.
/// `LRM_BLAS_THREADS=N` pins N threads instead (results are then reproducible for that N only).
enum BLASThreads {
    static func pinForReproducibleResults() {
        let requested = ProcessInfo.processInfo.environment["LRM_BLAS_THREADS"].flatMap(Int.init) ?? 1
        BLASRuntime.prepare()
        try? BLASRuntime.setThreadCount(max(1, requested))
        // OpenBLAS's worker threads, unused from here on with one thread, would spin beside the Keras
        // reader child for the first ~0.1 s.
        BLASRuntime.stopIdleThreads()
    }

    /// Under an address-space limit (`ulimit -v`), starts this program again with `OPENBLAS_NUM_THREADS=1`
    /// (unless the variable is set). OpenBLAS 0.3.21 starts its worker threads when it is loaded, before
    /// `main`; each reserves a 128 MiB buffer and retries a failed reservation for ever, and `exit` waits
    /// for them: under `ulimit -v 200000` every `lrm` command hung at exit. Only the environment can stop
    /// OpenBLAS from starting them. If `execv` fails, this process carries on as it is.
    static func restartWithOneThreadUnderAddressSpaceLimit() {
        guard addressSpaceLimited, getenv("OPENBLAS_NUM_THREADS") == nil else { return }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        // The resolved path, not /proc/self/exe: the process is named after the file it runs (`ps`, `pkill lrm`).
        execv(KerasSubprocess.executablePath, CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_NUM_THREADS")
    }

    /// Whether this process runs under an address-space limit (`ulimit -v`, RLIMIT_AS). Then every thread
    /// that calls BLAS reserves a 128 MiB OpenBLAS buffer, and a reservation that fails is retried for ever;
    /// so `lrm convert` converts one layer at a time.
    static var addressSpaceLimited: Bool {
        var limit = rlimit()
        return getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 && limit.rlim_cur != rlim_t.max
    }
}
