import Foundation

extension Matrix {
    /// a · op(b), its rows computed in two halves at once (one BLAS call each, on two threads when one
    /// is free, else one after the other). The split is fixed (rows ⌊m/2⌋ and the rest), so the result is
    /// the same bits on any machine whatever the thread count. With fewer than `minimumRows` rows: one call.
    ///
    /// For a large product on the critical path of a conversion (one big layer while the other core is idle).
    public static func productInHalves(_ a: Matrix, _ b: Matrix, transposeB: Bool = false, minimumRows: Int = 1024) throws -> Matrix {
        let (m, k) = (a.rows, a.columns)
        guard m >= max(minimumRows, 2) else { return try product(a, b, transposeB: transposeB) }
        let n = transposeB ? b.rows : b.columns
        var result = Matrix(rows: m, columns: n)
        let half = m / 2
        let failures = HalfFailures()
        let bShape = b.shape
        a.values.withUnsafeBufferPointer { ap in
            b.values.withUnsafeBufferPointer { bp in
                result.withUnsafeMutableBufferPointer { (cp: UnsafeMutableBufferPointer<Float>) -> Void in
                    // The halves read a and b and write disjoint rows of c.
                    let buffers = HalfBuffers(a: ap, b: bp, c: cp)
                    HalfFailures.perform(2) { part in
                        let (ap, bp, cp) = (buffers.a, buffers.b, buffers.c)
                        let (start, rows) = part == 0 ? (0, half) : (half, m - half)
                        do {
                            try GEMM.multiply(UnsafeBufferPointer(rebasing: ap[(start * k)..<((start + rows) * k)]),
                                              shape: MatrixShape(rows: rows, columns: k), bp, shape: bShape, transposeB: transposeB,
                                              into: UnsafeMutableBufferPointer(rebasing: cp[(start * n)..<((start + rows) * n)]),
                                              shape: MatrixShape(rows: rows, columns: n))
                        } catch {
                            failures.record(error, part: part)
                        }
                    }
                }
            }
        }
        try failures.rethrow()
        return result
    }
}

/// The buffers of a product split in halves: read by both, written in disjoint rows.
struct HalfBuffers<T>: @unchecked Sendable {
    let a: UnsafeBufferPointer<T>
    let b: UnsafeBufferPointer<T>
    let c: UnsafeMutableBufferPointer<T>
}

/// The errors of the two halves of a split computation; the first half's is rethrown first.
final class HalfFailures: @unchecked Sendable {
    /// Runs `body` for parts 0..<count: at once when BLAS runs each call on its caller's thread (one BLAS
    /// thread, as `lrm` sets it), one after the other otherwise. OpenBLAS's own threads are not meant to
    /// serve several calls at once, and each part's result is the same either way. Under an address-space
    /// limit the calls run one at a time (``BLASWorkBuffer``), so the parts do too, without a thread's stack.
    ///
    /// Parts 1… run on threads of their own and part 0 on the caller's: not `concurrentPerform`, which
    /// inside another `concurrentPerform` (the converter's layers) runs its iterations one after the
    /// other on a 2-core machine, just when the largest layer is left alone with an idle core.
    static func perform(_ count: Int, _ body: @Sendable (Int) -> Void) {
        guard count > 1, NativeCalls.threadCount() == 1, !BLASWorkBuffer.limited else {
            for part in 0..<count { body(part) }
            return
        }
        withoutActuallyEscaping(body) { body in
            // The threads reach `body` through a box emptied before this returns: a thread object may
            // outlive the call, and a non-escaping closure must not.
            let parts = Parts(body)
            let finished = DispatchSemaphore(value: 0)
            for part in 1..<count {
                let thread = Thread {
                    parts.run(part)
                    finished.signal()
                }
                thread.stackSize = 1 << 23
                thread.start()
            }
            parts.run(0)
            for _ in 1..<count { finished.wait() }
            parts.clear()
        }
    }

    /// The body of ``perform(_:_:)`` as its threads see it.
    private final class Parts: @unchecked Sendable {
        private var body: (@Sendable (Int) -> Void)?
        init(_ body: @escaping @Sendable (Int) -> Void) { self.body = body }
        func run(_ part: Int) { body?(part) }
        /// Called after every part has finished (the semaphore orders it after their reads).
        func clear() { body = nil }
    }

    private let lock = NSLock()
    private var errors: [(any Error)?] = [nil, nil]

    func record(_ error: any Error, part: Int) {
        lock.lock()
        errors[part] = error
        lock.unlock()
    }

    func rethrow() throws {
        lock.lock()
        defer { lock.unlock() }
        if let error = errors.compactMap({ $0 }).first { throw error }
    }
}
