import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A buffered forward reader over a file on disk (no decompression). Reads go through
/// `FileHandle` in chunks of `chunkByteCount`, so memory stays bounded whatever the file size.
final class FileByteStream: ByteStream {
    let path: String
    /// Total file size in bytes, taken when the file was opened.
    let byteCount: Int
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var bufferIndex = 0
    /// File offset of `buffer[0]`.
    private var bufferOffset = 0
    private let chunkByteCount: Int

    var position: Int { bufferOffset + bufferIndex }

    init(_ url: URL, chunkByteCount: Int = 1 << 20) throws {
        path = url.path
        byteCount = try FileByteStream.size(of: url)
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            throw DatasetError(.io, "cannot open for reading (\(FileByteStream.reason(error)))", path: url.path)
        }
        self.chunkByteCount = chunkByteCount
    }

    deinit { try? handle.close() }

    /// Size in bytes of a regular file. Throws `.notFound` if absent, `.io` if not a file.
    static func size(of url: URL) throws -> Int {
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        } catch {
            throw DatasetError(.notFound, "file not found", path: url.path)
        }
        guard (attributes[.type] as? FileAttributeType) != .typeDirectory,
              let size = (attributes[.size] as? NSNumber)?.intValue else {
            throw DatasetError(.io, "not a regular file", path: url.path)
        }
        return size
    }

    /// The whole file, refusing files over `limit` bytes (`.limitExceeded`).
    static func readAll(_ url: URL, limit: Int) throws -> [UInt8] {
        let stream = try FileByteStream(url)
        guard stream.byteCount <= limit else {
            throw DatasetError(.limitExceeded, "file size", path: url.path,
                               expected: "at most \(limit) bytes", found: "\(stream.byteCount)")
        }
        return try stream.read(stream.byteCount, what: "the file")
    }

    static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }

    /// The next `count` bytes (fewer at the end of the file) without consuming them.
    func peek(_ count: Int) throws -> [UInt8] {
        if buffer.count - bufferIndex < count { try refill(keepingUnread: true) }
        return Array(buffer[bufferIndex..<min(buffer.count, bufferIndex + count)])
    }

    func readSome(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        if bufferIndex == buffer.count { try refill(keepingUnread: false) }
        let count = min(destination.count, buffer.count - bufferIndex)
        guard count > 0 else { return 0 }
        buffer.withUnsafeBytes { source in
            destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[bufferIndex..<(bufferIndex + count)]))
        }
        bufferIndex += count
        return count
    }

    func skip(_ count: Int, what: String) throws {
        precondition(count >= 0)
        let buffered = buffer.count - bufferIndex
        if count <= buffered {
            bufferIndex += count
            return
        }
        let start = position
        let target = start + count
        guard target <= byteCount else {
            throw DatasetError(.truncated, "file ends inside \(what)", path: path, byteOffset: start,
                               expected: "\(count) bytes", found: "\(byteCount - start)")
        }
        do {
            try handle.seek(toOffset: UInt64(target))
        } catch {
            throw DatasetError(.io, "cannot seek (\(FileByteStream.reason(error)))", path: path, byteOffset: target)
        }
        buffer = []
        bufferIndex = 0
        bufferOffset = target
    }

    /// Reads the next chunk from the file after the buffered bytes.
    private func refill(keepingUnread: Bool) throws {
        let unread = keepingUnread ? Array(buffer[bufferIndex...]) : []
        let nextOffset = bufferOffset + buffer.count
        // read(2) into a buffer lrm allocates, not FileHandle.read: Foundation turns a failed allocation of its own
        // into a read error ("NSCocoaErrorDomain error 256"), where lrm's allocation reports itself as out of memory.
        var chunk = [UInt8](repeating: 0, count: chunkByteCount)
        var filled = 0
        let descriptor = handle.fileDescriptor
        while filled < chunk.count {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw DatasetError(.io, "cannot read (\(String(cString: strerror(errno))))", path: path, byteOffset: nextOffset + filled)
            }
            filled += count
        }
        chunk.removeSubrange(filled...)
        bufferOffset = nextOffset - unread.count
        buffer = unread.isEmpty ? chunk : unread + chunk
        bufferIndex = 0
    }
}
