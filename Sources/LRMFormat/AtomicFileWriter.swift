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
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(base).tmp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw MappedFile.ioError(path, "cannot create a temporary file in \(directory)", errno)
        }
        fd = descriptor
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        _ = fchmod(fd, 0o644)
    }

    deinit { abandon() }

    /// Appends `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw MappedFile.ioError(path, "cannot write", errno)
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
                throw MappedFile.ioError(path, "cannot write", errno)
            }
            done += n
        }
    }

    /// Syncs the data, renames the temporary file to `path` and syncs the directory.
    public func commit() throws {
        guard fsync(fd) == 0 else { throw MappedFile.ioError(path, "cannot sync", errno) }
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let code = errno
            unlink(temporaryPath)
            throw MappedFile.ioError(path, "cannot rename the finished file into place", code)
        }
        committed = true
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let dirfd = open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
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
