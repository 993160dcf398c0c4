import Foundation
import LRMFormat

/// Scratch folders and child processes that must not outlive `lrm`.
///
/// Every scratch folder is `$TMPDIR/lrm-scratch-<pid>-<random>`, named after the process that owns it.
/// The first folder a process makes sweeps away the folders of processes that are gone (a run killed
/// with SIGKILL cannot clean up after itself); nothing without that prefix, and nothing of a living
/// process, is ever removed. SIGINT and SIGTERM are caught while a folder or a child exists: the signal
/// is forwarded to the children, which are killed and reaped if they have not ended within half a
/// second, the folders are removed, and `lrm` exits with 128 + the signal (130, 143).
enum Scratch {
    static let prefix = "lrm-scratch-"

    /// A new, empty scratch folder owned by this process, registered for removal on SIGINT/SIGTERM.
    static func makeFolder() throws -> String {
        let directory = temporaryDirectory
        Cleanup.shared.sweepOnce(directory)
        let random = UUID().uuidString.prefix(8).lowercased()
        let path = directory + "/" + prefix + "\(getpid())-" + random
        guard mkdir(path, 0o700) == 0 else {
            throw CommandFailure(status: .cannotWrite, message: "\(directory): cannot create a scratch folder: \(String(cString: strerror(errno)))")
        }
        Cleanup.shared.register(folder: path)
        return path
    }

    /// Removes a folder made by ``makeFolder()`` and forgets it.
    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        Cleanup.shared.unregister(folder: path)
    }

    /// `TMPDIR` without a trailing slash (`/tmp` when unset).
    static var temporaryDirectory: String {
        var directory = NSTemporaryDirectory()
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        return directory
    }

    /// The owning process id of a scratch folder's name, or nil for any other name.
    static func owner(ofFolderNamed name: String) -> pid_t? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = pid_t(rest[..<dash]), pid > 0,
              !rest[rest.index(after: dash)...].isEmpty else { return nil }
        return pid
    }

    /// Whether process `pid` exists (it may belong to another user: EPERM still means it exists).
    static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    /// Removes the scratch folders in `directory` whose owning process is gone; returns their names.
    @discardableResult
    static func sweepStale(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let pid = owner(ofFolderNamed: name), pid != getpid(), !isAlive(pid) else { continue }
            let path = directory + "/" + name
            var info = stat()
            // Only folders this user owns (never follow a link planted under the prefix).
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid() else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(name) }
        }
        return removed
    }
}

/// What SIGINT/SIGTERM must clean up: child processes, scratch folders, and the temporary files of
/// outputs being written (``InFlightFiles``).
/// The write end of ``Cleanup``'s signal pipe (-1: none). Set once, before the handlers are installed.
nonisolated(unsafe) private var signalPipe: Int32 = -1

final class Cleanup: @unchecked Sendable {
    static let shared = Cleanup()

    private let lock = NSLock()
    private var folders: Set<String> = []
    private var children: Set<pid_t> = []
    private var swept = false
    private var terminating = false
    private var installed = false

    func sweepOnce(_ directory: String) {
        lock.lock()
        let first = !swept
        swept = true
        lock.unlock()
        if first { Scratch.sweepStale(in: directory) }
    }

    func register(folder: String) {
        installHandlers()
        lock.lock(); folders.insert(folder); lock.unlock()
    }

    func unregister(folder: String) {
        lock.lock(); folders.remove(folder); lock.unlock()
    }

    func register(child: pid_t) {
        installHandlers()
        lock.lock(); children.insert(child); lock.unlock()
    }

    func unregister(child: pid_t) {
        lock.lock(); children.remove(child); lock.unlock()
    }

    /// Called when a child has ended: if it ended because a signal is being handled, waits for the
    /// handler to exit the process instead of reporting the child's end as an error of its own.
    func waitIfTerminating() {
        lock.lock()
        let waiting = terminating
        lock.unlock()
        while waiting { sleep(1) }
    }

    /// Catches SIGINT and SIGTERM (once per process). `lrm` calls it at start, so that a stopped run never
    /// leaves a temporary output file behind.
    ///
    /// No dispatch queue: libdispatch must make a thread to run a handler, and where it cannot (a low
    /// `ulimit -v`) it retries for ever and the signal is never handled. The C handler only writes the signal's
    /// number to a pipe; a thread of our own, made now with a small stack and blocked reading that pipe, does
    /// the cleanup (``terminate(signal:)``). If that thread cannot be made, the handler restores the default
    /// action and re-raises: the process ends (its scratch folders are swept by the next run, and a Keras child
    /// ends itself once its parent is gone).
    func installHandlers() {
        lock.lock(); defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            let made = OwnThread.start(argument: UnsafeMutableRawPointer(bitPattern: Int(fds[0]))) { argument in
                let fd = Int32(Int(bitPattern: argument))
                var byte: UInt8 = 0
                while true {
                    let count = read(fd, &byte, 1)
                    if count == 1 { Cleanup.shared.terminate(signal: Int32(byte)) }
                    if count == 0 || (count == -1 && errno != EINTR) { return nil }
                }
            }
            if made != nil {
                signalPipe = fds[1]
            } else {
                close(fds[0]); close(fds[1])
            }
        }
        // A blocked mask is inherited (a test runner may start `lrm` with these blocked): unblock them here, on
        // the main thread, which every thread made later copies.
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for number in [SIGINT, SIGTERM] {
            sigaddset(&unblocked, number)
            signal(number) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                if signalPipe < 0 || write(signalPipe, &byte, 1) != 1 {
                    signal(number, SIG_DFL)
                    raise(number)
                }
            }
        }
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
    }

    /// Forwards `signal` to the children, kills and reaps those still running after half a second,
    /// removes the folders and exits with 128 + `signal`.
    fileprivate func terminate(signal number: Int32) -> Never {
        end(forwarding: number, status: 128 + number)
    }

    /// What ``terminate(signal:)`` does, for an ending that is not a signal's (an allocation that failed):
    /// temporary outputs removed, the children sent `signal` (then killed), the folders removed, exit `status`.
    func end(forwarding number: Int32, status: Int32) -> Never {
        lock.lock()
        terminating = true
        let pids = children, paths = folders
        lock.unlock()
        // Outputs being written are never finished now: their temporary files go first.
        for path in InFlightFiles.shared.paths { unlink(path) }
        for pid in pids { kill(pid, number) }
        let deadline = DispatchTime.now() + .milliseconds(500)
        var running = Set(pids)
        while !running.isEmpty && DispatchTime.now() < deadline {
            for pid in running {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid || (result == -1 && errno == ECHILD) || !Scratch.isAlive(pid) { running.remove(pid) }
            }
            if !running.isEmpty { usleep(10_000) }
        }
        for pid in running {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
        _exit(status)
    }
}
