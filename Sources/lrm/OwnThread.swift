import Foundation

/// Threads of lrm's own with a small stack, for work that must run where the address space is tight (`ulimit -v`):
/// the signal pipe's reader (``Cleanup/installHandlers()``), the work buffer's watchdog (``BLASThreads``) and the Keras
/// reader child's watch on its parent (``ParentWatch``).
enum OwnThread {
    /// Starts a thread with a 256 KiB stack running `body(argument)`; returns it, or nil when it could not be made.
    /// Detached, unless `joinable` (then whoever started it must join it with `pthread_join`).
    /// The corresponding C function is `pthread_create`.
    @discardableResult
    static func start(joinable: Bool = false, argument: UnsafeMutableRawPointer? = nil,
                      _ body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?) -> pthread_t? {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 << 10)
        pthread_attr_setdetachstate(&attributes, Int32(joinable ? PTHREAD_CREATE_JOINABLE : PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        return pthread_create(&thread, &attributes, body, argument) == 0 ? thread : nil
    }
}
