#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes a file so that its target path never holds a partial file: the bytes go to a
/// temporary file in the same directory, which is synced and then renamed over the target.
/// On failure (or if `commit` is never called) the temporary file is removed.
///
/// The corresponding C functions are `mkstemp`, `write`, `pwrite`, `fsync` and `rename`.
public final class AtomicFileWriter {
    public let path: String
    private let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Bytes written so far (the position of the next sequential write).
    public private(set) var byteCount = 0

    public init(path: String) throws {
        self.path = path
        (fd, temporaryPath) = try Self.makeTemporary(for: path)
    }

    /// Creates `.<name>.tmp-XXXXXX` next to `path` (mode 0644), open for writing.
    private static func makeTemporary(for path: String) throws -> (descriptor: Int32, path: String) {
        let (directory, base) = split(path)
        var template = Array("\(directory)/.\(base).tmp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw MappedFile.ioError(path, .createTemporary, "cannot create a temporary file in \(directory)", errno)
        }
        _ = fchmod(descriptor, 0o644)
        return (descriptor, template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    /// The directory (`/` or `.` when the path has none) and the file name of `path`.
    private static func split(_ path: String) -> (directory: String, base: String) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return (directory.isEmpty ? "/" : directory, base)
    }

    /// Renames the finished temporary file over `path` (removing it if that fails) and syncs the directory.
    private static func moveIntoPlace(_ temporaryPath: String, _ path: String) throws {
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw MappedFile.ioError(path, .rename, "cannot rename the finished file into place", code)
        }
        let dirfd = open(split(path).directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }

    /// Writes `path` with a library that creates its files by name (libhdf5): `body` fills the file at a
    /// fresh temporary path in the same directory (and closes it); the file is then synced and renamed
    /// over `path`, and the directory synced. If anything fails, `body` included, the temporary file is
    /// removed and `path` is left as it was. Errors from `body` pass through unchanged.
    public static func replace(_ path: String, by body: (_ temporaryPath: String) throws -> Void) throws {
        let (descriptor, temporaryPath) = try makeTemporary(for: path)
        close(descriptor)
        var placed = false
        defer { if !placed { unlink(temporaryPath) } }
        try body(temporaryPath)
        let readBack = open(temporaryPath, O_RDONLY)
        guard readBack >= 0 else { throw MappedFile.ioError(path, .sync, "cannot reopen the written file to sync it", errno) }
        let synced = fsync(readBack)
        let syncError = errno
        close(readBack)
        guard synced == 0 else { throw MappedFile.ioError(path, .sync, "cannot sync the written file", syncError) }
        placed = true  // moveIntoPlace removes the temporary file itself when the rename fails
        try moveIntoPlace(temporaryPath, path)
    }

    deinit { abandon() }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw MappedFile.ioError(path, .write, "cannot write", errno)
            }
            done += n
        }
        byteCount += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` zero bytes.
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Overwrites bytes already written, at `offset`, without moving the append position.
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MappedFile.ioError(path, .write, "cannot write", errno)
            }
            done += n
        }
    }

    /// Syncs the data, renames the temporary file to `path` and syncs the directory.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw MappedFile.ioError(path, .sync, "cannot sync", errno) }
        close(fd)
        fd = -1
        committed = true  // moveIntoPlace removes the temporary file itself when the rename fails
        try Self.moveIntoPlace(temporaryPath, path)
    }

    /// Removes the temporary file (done automatically unless committed).
    public func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !committed {
            unlink(temporaryPath)
            committed = true
        }
    }
}
