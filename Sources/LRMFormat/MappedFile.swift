#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory. The mapping lives as long as this object.
///
/// The corresponding C functions are `open`, `fstat`, `mmap` and `munmap`.
final class MappedFile: @unchecked Sendable {
    let path: String
    /// The file's bytes; valid until deinit. Never written through (PROT_READ).
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MappedFile.ioError(path, "cannot open", errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw MappedFile.ioError(path, "cannot stat", errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let what = (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file"
            throw ContainerError(.io, "\(what), expected a .lrm file", path: path)
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw MappedFile.ioError(path, "cannot map", errno)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    static func ioError(_ path: String, _ action: String, _ code: Int32) -> ContainerError {
        ContainerError(.io, "\(action): \(String(cString: strerror(code)))", path: path)
    }
}
