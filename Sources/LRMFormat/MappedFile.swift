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
    /// True when `bytes` is a heap copy (``init(copying:path:)``) rather than a mapping.
    private let isHeapCopy: Bool

    init(path: String) throws {
        self.path = path
        isHeapCopy = false
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below as not a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            // A missing file reads as every command's own check of its inputs does ("no such file").
            let code = errno
            if code == ENOENT { throw ContainerError(.io, "no such file", path: path, operation: .open, errorNumber: code) }
            throw MappedFile.ioError(path, .open, "cannot open", code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw MappedFile.ioError(path, .stat, "cannot stat", errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let what = (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file"
            throw ContainerError(.io, "\(what), expected a .lrm file", path: path, operation: .open)
        }
        let size = Int(info.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else {
            throw MappedFile.ioError(path, .map, "cannot map", errno)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// A heap copy of `source`, aligned like a mapping's start (64 bytes), standing in for a file
    /// called `path`: how the fuzz target hands bytes to the reader. Unlike a page-granular
    /// mapping, an address sanitizer sees a read one byte past the end.
    init(copying source: UnsafeRawBufferPointer, path: String) {
        self.path = path
        isHeapCopy = true
        guard source.count > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: source.count, alignment: 64)
        copy.copyMemory(from: source)
        bytes = UnsafeRawBufferPointer(copy)
    }

    /// Drops the resident pages of bytes `offset..<offset + count` (`madvise(MADV_DONTNEED)`): the
    /// mapping is private and never written, so the pages are read again from the file if touched.
    /// Pages shared with neighbouring bytes are dropped too. Nothing happens for a heap copy.
    func release(offset: Int, count: Int) {
        guard !isHeapCopy, count > 0, let base = bytes.baseAddress, offset >= 0, offset <= bytes.count - count else { return }
        let page = max(1, Int(sysconf(Int32(_SC_PAGESIZE))))
        let start = (offset / page) * page
        let end = min(((offset + count + page - 1) / page) * page, ((bytes.count + page - 1) / page) * page)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isHeapCopy {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    static func ioError(_ path: String, _ operation: ContainerError.Operation, _ action: String, _ code: Int32) -> ContainerError {
        ContainerError(.io, "\(action): \(String(cString: strerror(code)))", path: path, operation: operation, errorNumber: code)
    }
}
