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
}
