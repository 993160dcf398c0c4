import Foundation

/// The Keras reader child's watch on its parent, for as long as it reads: a parent killed with SIGKILL cannot stop
/// the child, and its watchdog dies with it, so on a file that makes libhdf5 loop the child would spin for ever.
/// A thread of its own (``OwnThread``, small stack) checks every 100 ms whether the parent is still there and ends the
/// process (exit 65, `_exit`: no exit handlers) once it is gone. ``stop()`` wakes it through a pipe and joins it, so
/// no watcher is left running once the read is over.
final class ParentWatch {
    private let thread: pthread_t
    /// The pipe ``stop()`` writes to; the thread polls its read end.
    private let wake: (read: Int32, write: Int32)
    /// What the thread reads: the parent's process id and the pipe's read end.
    private let argument: UnsafeMutablePointer<Int32>
    private var stopped = false

    /// Starts watching `parent` (a process id that was this process's parent). Nil when the pipe or the thread cannot be
    /// made (a low `ulimit -v`): then nothing watches, and only the parent's watchdog bounds the read.
    init?(parent: pid_t) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let argument = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        argument[0] = parent
        argument[1] = fds[0]
        let thread = OwnThread.start(joinable: true, argument: UnsafeMutableRawPointer(argument)) { argument in
            let values = argument!.assumingMemoryBound(to: Int32.self)
            let parent = values[0]
            var wake = pollfd(fd: values[1], events: Int16(POLLIN), revents: 0)
            while getppid() == parent {
                // Readable (or closed): stop() was called.
                if poll(&wake, 1, 100) > 0 { return nil }
            }
            _exit(ExitStatus.invalidInput.rawValue)
        }
        guard let thread else {
            argument.deallocate()
            close(fds[0]); close(fds[1])
            return nil
        }
        self.thread = thread
        self.wake = (fds[0], fds[1])
        self.argument = argument
    }

    /// Ends the watch: wakes the thread and waits for it (at once: it is waiting on the pipe or checking the parent).
    func stop() {
        guard !stopped else { return }
        stopped = true
        var byte: UInt8 = 0
        while write(wake.write, &byte, 1) == -1 && errno == EINTR {}
        pthread_join(thread, nil)
        close(wake.read)
        close(wake.write)
        argument.deallocate()
    }

    deinit { stop() }
}
