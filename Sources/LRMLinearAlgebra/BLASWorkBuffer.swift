import Foundation
internal import CLinearAlgebra

/// OpenBLAS's work buffer under an address-space limit (`ulimit -v`, RLIMIT_AS).
///
/// OpenBLAS 0.3.21 gives every level-2/3 call a work buffer (128 MiB in Debian's x86-64 build:
/// `BUFFER_SIZE`, measured as what a first 1×1 sgemm maps). It maps one the first time a call needs it and
/// keeps it for later calls; calls that overlap need one each. When the mapping fails it tries again for ever
/// (`blas_memory_alloc` in `driver/others/memory.c`): under a limit too low for it, a conversion hung in its
/// first SVD. So under a limit, every call into BLAS and LAPACK goes through ``serialized(context:_:)``:
/// one at a time (one buffer serves them all), the first one after ``take()`` has mapped the buffer, which it
/// does only when the room for it is there (otherwise it throws `.addressSpaceExhausted`). Without a limit
/// nothing changes. A program takes the buffer at start, while the address space is emptiest (`lrm` does for
/// the commands that run models); otherwise the first call does.
public enum BLASWorkBuffer {
    /// What OpenBLAS 0.3.21 maps for its buffer (Debian's x86-64 build, `BUFFER_SIZE` = 32 << 22).
    public static let expectedBytes = 128 << 20

    /// The address-space limit (RLIMIT_AS soft limit) in bytes; nil when there is none.
    public static var limit: Int? {
        let value = lrm_address_space_limit()
        return value >= 0 ? Int(value) : nil
    }

    /// The bytes this process has mapped now (what the limit is compared with); nil if unknown.
    public static var inUse: Int? {
        let value = lrm_address_space_in_use()
        return value >= 0 ? Int(value) : nil
    }

    /// Whether the process started under an address-space limit: then BLAS calls run one at a time.
    public static let limited: Bool = lrm_address_space_limit() >= 0

    private static let lock = NSLock()
    nonisolated(unsafe) private static var taken: Int?

    /// Under an address-space limit, makes OpenBLAS map its work buffer now, once room for it has been
    /// checked; nothing without a limit or once taken.
    /// - Throws: `LinearAlgebraError(.addressSpaceExhausted)` when the room left under the limit is less
    ///   than the buffer (then nothing was called: the call would never have returned).
    public static func take() throws {
        guard limited else { return }
        lock.lock(); defer { lock.unlock() }
        try takeLocked()
    }

    private static func takeLocked() throws {
        guard taken == nil else { return }
        // The kernel check at load (an upgraded core is verified with sgemm) has mapped the buffer already.
        let decision = NativeCalls.prepareKernels().decision
        if decision == .upgraded || decision == .upgradeFailed {
            taken = 0
            return
        }
        if let limit, let inUse, limit - inUse < expectedBytes {
            throw LinearAlgebraError(.addressSpaceExhausted(limit: limit, inUse: inUse, needed: expectedBytes),
                                     context: "reserving OpenBLAS's work buffer")
        }
        taken = max(0, Int(lrm_blas_take_work_buffer()))
    }

    /// Runs `body`, a call into BLAS or LAPACK: under an address-space limit after the buffer is taken and
    /// while no other such call runs; directly otherwise.
    static func serialized<T>(context: String, _ body: () throws -> T) throws -> T {
        guard limited else { return try body() }
        lock.lock(); defer { lock.unlock() }
        do {
            try takeLocked()
        } catch let error as LinearAlgebraError {
            throw error.adding(context: context)
        }
        return try body()
    }
}
