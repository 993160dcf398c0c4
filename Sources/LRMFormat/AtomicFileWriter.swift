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
    /// The file replaced: `path`, or the target of the symbolic link `path` is (see ``OutputTarget``).
    private let target: String
    private let temporaryPath: String
    private var fd: Int32
    private var committed = false
    /// Whether `commit` syncs the data and the directory (a scratch file that nobody needs after a
    /// crash need not wait for the disk).
    private let durable: Bool
    /// Bytes written so far (the position of the next sequential write).
    public private(set) var byteCount = 0

    /// Opens a temporary file for `path` (see ``OutputTarget`` for where it goes, its name and its
    /// permissions: a symbolic link is written through, a replaced file keeps its mode, a new one
    /// follows the umask).
    public init(path: String, durable: Bool = true) throws {
        self.path = path
        self.durable = durable
        target = try Self.resolve(path)
        (fd, temporaryPath) = try Self.makeTemporary(for: target, reportedAs: path)
    }

    /// The file `path` replaces, or an error (a symbolic link to a directory or to nothing).
    private static func resolve(_ path: String) throws -> String {
        do { return try OutputTarget.resolve(path) } catch {
            throw ContainerError(.io, "cannot write: \(error.message)", path: path, operation: .createTemporary)
        }
    }

    /// Creates `.<name>.tmp-XXXXXX` next to `target` (with the mode ``OutputTarget/mode(replacing:)`` gives), open for writing.
    private static func makeTemporary(for target: String, reportedAs path: String) throws -> (descriptor: Int32, path: String) {
        let directory = OutputTarget.split(target).directory
        var template = Array(OutputTarget.temporaryTemplate(for: target).utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw MappedFile.ioError(path, .createTemporary, "cannot create a temporary file in \(directory)", errno)
        }
        _ = fchmod(descriptor, mode_t(OutputTarget.mode(replacing: target)))
        let temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        InFlightFiles.shared.register(temporaryPath)
        return (descriptor, temporaryPath)
    }

    /// Renames the finished temporary file over `path` (removing it if that fails) and syncs the directory.
    private static func moveIntoPlace(_ temporaryPath: String, _ path: String, target: String, durable: Bool = true) throws {
        defer { InFlightFiles.shared.unregister(temporaryPath) }
        guard rename(temporaryPath, target) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw MappedFile.ioError(path, .rename, "cannot rename the finished file into place", code)
        }
        let dirfd = durable ? open(OutputTarget.split(target).directory, O_RDONLY | O_DIRECTORY) : -1
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
        let target = try resolve(path)
        let (descriptor, temporaryPath) = try makeTemporary(for: target, reportedAs: path)
        close(descriptor)
        var placed = false
        defer {
            if !placed {
                unlink(temporaryPath)
                InFlightFiles.shared.unregister(temporaryPath)
            }
        }
        try body(temporaryPath)
        let readBack = open(temporaryPath, O_RDONLY)
        guard readBack >= 0 else { throw MappedFile.ioError(path, .sync, "cannot reopen the written file to sync it", errno) }
        let synced = fsync(readBack)
        let syncError = errno
        close(readBack)
        guard synced == 0 else { throw MappedFile.ioError(path, .sync, "cannot sync the written file", syncError) }
        placed = true  // moveIntoPlace removes the temporary file itself when the rename fails
        try moveIntoPlace(temporaryPath, path, target: target)
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

    /// Writes `bytes` as the whole file at `path`, atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try AtomicFileWriter(path: path)
        try file.write(bytes)
        try file.commit()
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
        guard !durable || fsync(fd) == 0 else { throw MappedFile.ioError(path, .sync, "cannot sync", errno) }
        close(fd)
        fd = -1
        committed = true  // moveIntoPlace removes the temporary file itself when the rename fails
        try Self.moveIntoPlace(temporaryPath, path, target: target, durable: durable)
    }

    /// Removes the temporary file (done automatically unless committed).
    public func abandon() {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        if !committed {
            unlink(temporaryPath)
            InFlightFiles.shared.unregister(temporaryPath)
            committed = true
        }
    }
}
