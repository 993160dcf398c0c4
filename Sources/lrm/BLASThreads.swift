import CAllocationFailure
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
        guard BLASWorkBuffer.limited else { return }
        // glibc gives each thread that allocates an arena of its own, reserving 64 MiB of address space each
        // (measured: a watchdog thread's first allocation took 64 MiB of the room OpenBLAS's buffer needed).
        // Under a limit every thread shares the main one.
        lrm_share_one_malloc_arena()
        guard getenv("OPENBLAS_NUM_THREADS") == nil else { return }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        // The resolved path, not /proc/self/exe: the process is named after the file it runs (`ps`, `pkill lrm`).
        execv(KerasSubprocess.executablePath, CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_NUM_THREADS")
    }

    /// Under an address-space limit, has OpenBLAS map its work buffer now, before the command reads anything
    /// (``BLASWorkBuffer/take()``): where there is no room for it, the command ends at once with one line naming
    /// the limit and what is needed (exit 71), instead of hanging in its first matrix product. Without a limit,
    /// nothing. A watchdog ends the process the same way if the buffer's mapping does not return (an OpenBLAS whose
    /// buffer is larger than the 128 MiB checked for).
    static func takeWorkBufferUnderAddressSpaceLimit() throws {
        guard BLASWorkBuffer.limited else { return }
        startWorkBufferWatchdog()
        do {
            try BLASWorkBuffer.take()
        } catch {
            workBufferSettled.signal()
            throw error
        }
        workBufferSettled.signal()
    }

    /// A thread with a small stack that ends the process (one line, exit 71) unless ``workBufferSettled`` is
    /// signalled within ``workBufferDeadline``. None when no thread can be made.
    private static func startWorkBufferWatchdog() {
        OwnThread.start { _ in
            BLASThreads.watchWorkBuffer()
            return nil
        }
    }

    private static func watchWorkBuffer() {
        guard workBufferSettled.wait(timeout: .now() + workBufferDeadline) == .timedOut else { return }
        let limit = (BLASWorkBuffer.limit ?? 0) >> 10
        printError("OpenBLAS could not map its work buffer in \(Int(workBufferDeadline)) s under the address-space limit "
                   + "(ulimit -v \(limit) KiB): raise the limit", status: .systemError)
        _exit(ExitStatus.systemError.rawValue)
    }

    /// Signalled once ``takeWorkBufferUnderAddressSpaceLimit()`` has taken the buffer or given up.
    private static let workBufferSettled = DispatchSemaphore(value: 0)

    /// How long the mapping of OpenBLAS's buffer may take (it takes milliseconds when it can be done at all).
    static let workBufferDeadline: Double = 10

    /// Turns a failed allocation in the Swift runtime (which would end the process with "Fatal error: failed to
    /// allocate", abort and a backtrace) into one line `lrm: error: out of memory: could not allocate …` (with the
    /// address-space limit, if any), the command's temporary outputs and scratch folders removed, exit 71.
    static func reportAllocationFailures() {
        lrm_set_allocation_failure_handler {
            Cleanup.shared.end(forwarding: SIGTERM, status: ExitStatus.systemError.rawValue)
        }
    }
}
