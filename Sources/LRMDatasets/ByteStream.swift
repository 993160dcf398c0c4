import Foundation

/// A forward-only stream of the bytes of one file, raw or gzip-decompressed. Offsets are in the
/// decompressed content. Running out of bytes is a `.truncated` error naming what was being read.
protocol ByteStream: AnyObject {
    /// The file, for error messages.
    var path: String { get }
    /// Offset (decompressed bytes) of the next byte to be read.
    var position: Int { get }
    /// Reads up to `buffer.count` bytes into `buffer`; returns how many (0 only at the end).
    func readSome(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Moves `count` bytes forward without returning them.
    func skip(_ count: Int, what: String) throws
}

extension ByteStream {
    /// Fills `bytes[offset ..< offset + count]` or throws `.truncated`.
    func read(_ count: Int, into bytes: inout [UInt8], at offset: Int = 0, what: String) throws {
        precondition(offset >= 0 && count >= 0 && offset + count <= bytes.count, "buffer too small")
        let start = position
        var filled = 0
        while filled < count {
            let got = try bytes.withUnsafeMutableBytes { raw in
                try readSome(into: UnsafeMutableRawBufferPointer(rebasing: raw[(offset + filled)..<(offset + count)]))
            }
            guard got > 0 else {
                throw DatasetError(.truncated, "file ends inside \(what)", path: path, byteOffset: start,
                                   expected: "\(count) bytes", found: "\(filled)")
            }
            filled += got
        }
    }

    /// Reads `count` bytes into a new array (for headers and label blocks; `count` must
    /// already be capped by the caller).
    func read(_ count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try read(count, into: &bytes, what: what)
        return bytes
    }

    /// Whether the stream has no bytes left. Consumes at most one byte, so call it only
    /// when nothing more is expected.
    func isAtEnd() throws -> Bool {
        var probe: UInt8 = 0
        return try withUnsafeMutableBytes(of: &probe) { try readSome(into: $0) } == 0
    }

    /// Throws `.trailingData` if any byte is left.
    func expectEnd(_ what: String) throws {
        let offset = position
        guard try isAtEnd() else {
            throw DatasetError(.trailingData, "bytes after \(what)", path: path, byteOffset: offset,
                               hint: "the file is longer than its header declares")
        }
    }
}

/// Opening files as byte streams: gzip is recognised by its magic bytes (1f 8b), whatever
/// the file name, and decompressed on the fly.
enum ByteStreams {
    static func open(_ url: URL) throws -> any ByteStream {
        let file = try FileByteStream(url)
        let head = try file.peek(2)
        if head == [0x1F, 0x8B] { return try GzipStream(file) }
        return file
    }

    /// Whether the file starts with the gzip magic bytes.
    static func isGzip(_ url: URL) throws -> Bool {
        try FileByteStream(url).peek(2) == [0x1F, 0x8B]
    }
}
