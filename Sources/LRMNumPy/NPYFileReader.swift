#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data of a `.npy` file whose header has been checked, handed over in pieces as they are read, so that they are
/// decoded as they come rather than held whole (``NPY/readElements(_:_:chunkByteCount:_:)``): a regular file
/// (``NPYFileReader``) or an `.npz` member as it is extracted (``NPZMember``).
protocol NPYDataSource {
    /// What errors name: the file, or `archive.npz: x.npy`.
    var name: String { get }
    /// Calls `body` with the bytes of the data section `layout` describes, in order, in pieces of about
    /// `chunkByteCount` bytes (an element may be split between two); throws when the source holds fewer bytes than
    /// the layout needs, or when `body` throws.
    func forEachDataPiece(_ layout: NPY.Layout, chunkByteCount: Int,
                          _ body: (UnsafeRawBufferPointer) throws(NumPyError) -> Void) throws(NumPyError)
}

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

extension NPYFileReader: NPYDataSource {
    var name: String { path }

    /// Pieces of whole elements (`chunkByteCount` rounded down to a multiple of the element size, at least one), read
    /// with `pread` into one buffer; a file cut short while it is read is a `dataSizeMismatch`.
    func forEachDataPiece(_ layout: NPY.Layout, chunkByteCount: Int,
                          _ body: (UnsafeRawBufferPointer) throws(NumPyError) -> Void) throws(NumPyError) {
        let size = layout.dtype.byteCount, total = layout.count * size
        let pieceSize = max(1, chunkByteCount / size) * size
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, min(total, pieceSize)), alignment: 16)
        defer { chunk.deallocate() }
        var done = 0
        while done < total {
            let n = min(pieceSize, total - done), offset = layout.dataStart + done
            let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<n]), at: offset)
            guard got == n else {
                throw NumPyError(.dataSizeMismatch, file: path, location: "data",
                                 "the file ends after \(offset + got) bytes, expected \(layout.dataStart + total) (it was cut short while being read)")
            }
            try body(UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
            done += n
        }
    }
}
