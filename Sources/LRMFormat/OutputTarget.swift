import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an output file really goes, and the name and permissions its temporary file gets: the rules
/// shared by every writer that writes a temporary file and renames it over the output
/// (``AtomicFileWriter``, the Keras exporter).
///
/// - A symbolic link given as the output is written through: its target is replaced (atomically, in the
///   target's folder) and the link stays. A link to a directory, or to nothing, is refused.
/// - A replaced file keeps its permission bits; a new file gets `0666` less the process's umask, as
///   `open(2)` would give it.
/// - The temporary name is short enough for any output name the file system accepts (names up to 255
///   bytes): `.<at most 200 bytes of the name>.tmp-XXXXXX`.
public enum OutputTarget {
    /// Why an output path cannot be written (the message completes "cannot write <path>: …").
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The longest part of the output's name kept in the temporary file's name, in bytes.
    static let maxTemporaryStemBytes = 200

    /// The file to write for the output `path`: `path` itself, or the target of the symbolic link it is.
    /// A device, FIFO or socket (itself or through a link) is refused: renaming the finished file over it
    /// would replace it (`-o /dev/null` run as root replaced the system's /dev/null with a regular file).
    /// The corresponding C functions are `lstat`, `stat` and `realpath`.
    public static func resolve(_ path: String) throws(Problem) -> String {
        var info = stat()
        guard lstat(path, &info) == 0 else { return path }
        if let kind = special(info.st_mode) {
            throw Problem(message: "the output is \(kind), not a regular file; lrm writes a finished file in its place, "
                          + "which would replace it: give a file name")
        }
        guard (info.st_mode & S_IFMT) == S_IFLNK else { return path }
        guard stat(path, &info) == 0 else {
            throw Problem(message: "the output is a symbolic link to nothing (a missing file); not writing through it")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw Problem(message: "the output is a symbolic link to a directory, expected a file")
        }
        if let kind = special(info.st_mode) {
            throw Problem(message: "the output is a symbolic link to \(kind), not a regular file; lrm writes a finished file in "
                          + "place of its target, which would replace it: give a file name")
        }
        guard let resolved = realpath(path, nil) else {
            throw Problem(message: "cannot resolve the symbolic link (errno \(errno))")
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// What a file of `mode` is when it is a device, FIFO or socket; nil for files, folders and links.
    static func special(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFSOCK: "a socket"
        default: nil
        }
    }

    /// The folder and file name of `path` (`.` for a bare name, `/` for a file at the root).
    public static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// The `mkstemp` template of the temporary file for `path`, in the same folder.
    public static func temporaryTemplate(for path: String) -> String {
        let (directory, name) = split(path)
        var stem = ""
        var bytes = 0
        for character in name {
            let size = String(character).utf8.count
            if bytes + size > maxTemporaryStemBytes { break }
            stem.append(character)
            bytes += size
        }
        return "\(directory)/.\(stem).tmp-XXXXXX"
    }

    /// The permission bits the output gets: those of the file it replaces, else `0666` less the umask.
    public static func mode(replacing path: String) -> UInt32 {
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG { return UInt32(info.st_mode & 0o7777) }
        return UInt32(0o666 & ~currentUmask())
    }

    /// The process's umask, read from `/proc/self/status` where it is (Linux 4.7+), else by setting and
    /// restoring it.
    static func currentUmask() -> mode_t {
        if let file = fopen("/proc/self/status", "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("Umask:"), let value = mode_t(text.dropFirst(6).trimmingWhitespace(), radix: 8) { return value }
            }
        }
        let previous = umask(0o022)
        umask(previous)
        return previous
    }
}

private extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\n" { text = text.dropLast() }
        return text
    }
}

/// The temporary files ``AtomicFileWriter`` is writing right now, so that a program stopped by a signal
/// can remove them before it exits (`lrm` does, on SIGINT and SIGTERM): a stopped run then leaves neither
/// a partial output nor a `.NAME.tmp-XXXXXX` beside it.
public final class InFlightFiles: @unchecked Sendable {
    public static let shared = InFlightFiles()

    private let lock = NSLock()
    private var current: Set<String> = []
    private var observer: (@Sendable (String) -> Void)?

    /// The temporary files being written, in no particular order.
    public var paths: [String] {
        lock.lock(); defer { lock.unlock() }
        return Array(current)
    }

    /// `body` is called (on the writing thread) with each temporary file just created: a test can hold
    /// a write there to stop the program in the middle of it.
    public func observeCreation(_ body: @escaping @Sendable (String) -> Void) {
        lock.lock(); observer = body; lock.unlock()
    }

    func register(_ path: String) {
        lock.lock()
        current.insert(path)
        let observer = observer
        lock.unlock()
        observer?(path)
    }

    func unregister(_ path: String) {
        lock.lock(); current.remove(path); lock.unlock()
    }
}
