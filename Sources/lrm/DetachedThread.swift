import Foundation

/// Threads of lrm's own with a small stack, for work that must run where the address space is tight (`ulimit -v`):
/// the signal pipe's reader (``Cleanup/installHandlers()``) and the work buffer's watchdog (``BLASThreads``).
enum DetachedThread {
    /// Starts a detached thread with a 256 KiB stack running `body(argument)`; returns whether it was made.
    /// The corresponding C function is `pthread_create`.
    @discardableResult
    static func start(argument: UnsafeMutableRawPointer? = nil,
                      _ body: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?) -> Bool {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 256 << 10)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        return pthread_create(&thread, &attributes, body, argument) == 0
    }
}
