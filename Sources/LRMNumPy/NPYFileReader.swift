#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file read in caller-sized pieces, so that a `.npy` file is decoded as it is read rather than
/// held whole. The descriptor is closed in `deinit`.
///
/// The corresponding C functions are `open`, `fstat`, `pread` and `close`; every failure becomes a ``NumPyError`` of
/// kind `unreadable` naming the file.
final class NPYFileReader {
    let path: String
    /// The file's size in bytes when it was opened.
    let byteCount: Int
    private let descriptor: Int32

    /// Opens `path`; `nil` when it is not a regular file (a pipe or a device has no size to check the header
    /// against: the caller reads it whole instead).
    init?(path: String) throws(NumPyError) {
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is handed back to the caller below).
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw NPYFileReader.failure(path, "could not open the file", errno) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = errno
            close(descriptor)
            throw NPYFileReader.failure(path, "could not read the file", code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            return nil
        }
        self.path = path
        self.descriptor = descriptor
        byteCount = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Fills `destination` from byte `offset` of the file, retrying interrupted and partial reads; returns the bytes
    /// read, fewer than `destination.count` only where the file ends.
    func read(into destination: UnsafeMutableRawBufferPointer, at offset: Int) throws(NumPyError) -> Int {
        guard let base = destination.baseAddress else { return 0 }
        var filled = 0
        while filled < destination.count {
            let result = pread(descriptor, base + filled, destination.count - filled, off_t(offset + filled))
            if result < 0 {
                if errno == EINTR { continue }
                throw NPYFileReader.failure(path, "could not read the file", errno)
            }
            if result == 0 { break }
            filled += result
        }
        return filled
    }

    private static func failure(_ path: String, _ what: String, _ code: Int32) -> NumPyError {
        NumPyError(.unreadable, file: path, "\(what): \(String(cString: strerror(code)))")
    }
}
