internal import LRMZlib

/// Decompresses a gzip file on the fly. Every zlib call of LRMDatasets is in this file.
///
/// The C `z_stream` lives at a fixed heap address for the life of the object (zlib checks that
/// it does not move) and is released with `inflateEnd` in `deinit`. Its `next_in`/`next_out`
/// pointers are set inside one `withUnsafe…` closure per `inflate` call and cleared after it,
/// so no pointer outlives the buffer it points into. Concatenated gzip members are read as one
/// stream, as `gunzip` does.
final class GzipStream: ByteStream {
    let path: String
    /// Size of the compressed file in bytes.
    let compressedByteCount: Int
    private let file: FileByteStream
    private let stream: UnsafeMutablePointer<z_stream>
    private var input = [UInt8](repeating: 0, count: 1 << 16)
    private var inputStart = 0
    private var inputEnd = 0
    private var memberEnded = false
    private var fileEnded = false
    private(set) var position = 0

    /// The corresponding C function is `inflateInit2` with `16 + MAX_WBITS` (gzip wrapper only).
    init(_ file: FileByteStream) throws {
        self.file = file
        path = file.path
        compressedByteCount = file.byteCount
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let code = inflateInit2_(stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard code == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw GzipStream.error(code, message: nil, path: file.path, what: "initialising zlib (inflateInit2)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func readSome(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard destination.count > 0 else { return 0 }
        while true {
            if memberEnded {
                // Another gzip member follows only if compressed bytes remain.
                guard try refillIfEmpty() else { return 0 }
                inflateReset(stream)
                memberEnded = false
            }
            // At the end of the file inflate is still called: it may hold output it could not
            // deliver last time.
            _ = try refillIfEmpty()
            let (produced, code) = inflateStep(into: destination)
            position += produced
            switch code {
            case Z_STREAM_END:
                memberEnded = true
                if produced > 0 { return produced }
            case Z_OK, Z_BUF_ERROR:
                if produced > 0 { return produced }
                if inputStart == inputEnd, fileEnded {
                    throw DatasetError(.truncated, "gzip stream ends before its end marker", path: path,
                                       byteOffset: position, hint: "the compressed file is cut short")
                }
            default:
                throw GzipStream.error(code, message: stream.pointee.msg.map { String(cString: $0) },
                                       path: path, what: "decompressing near byte \(position)")
            }
        }
    }

    func skip(_ count: Int, what: String) throws {
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 16))
        var left = count
        while left > 0 {
            let step = min(left, scratch.count)
            try read(step, into: &scratch, what: what)
            left -= step
        }
    }

    /// One `inflate` call from the buffered input into `destination`.
    /// The corresponding C function is `inflate` with `Z_NO_FLUSH`.
    private func inflateStep(into destination: UnsafeMutableRawBufferPointer) -> (produced: Int, code: Int32) {
        let available = inputEnd - inputStart
        let outputCapacity = min(destination.count, Int(UInt32.max))
        let (consumed, produced, code) = input.withUnsafeMutableBytes { raw -> (Int, Int, Int32) in
            guard let inputBase = raw.baseAddress, let outputBase = destination.baseAddress else { return (0, 0, Z_BUF_ERROR) }
            stream.pointee.next_in = (inputBase + inputStart).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_in = UInt32(available)
            stream.pointee.next_out = outputBase.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(outputCapacity)
            let code = inflate(stream, Z_NO_FLUSH)
            let consumed = available - Int(stream.pointee.avail_in)
            let produced = outputCapacity - Int(stream.pointee.avail_out)
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            stream.pointee.avail_in = 0
            stream.pointee.avail_out = 0
            return (consumed, produced, code)
        }
        inputStart += consumed
        return (produced, code)
    }

    /// Reads more compressed bytes if the input buffer is empty; false at the end of the file.
    private func refillIfEmpty() throws -> Bool {
        if inputStart < inputEnd { return true }
        if fileEnded { return false }
        let got = try input.withUnsafeMutableBytes { try file.readSome(into: $0) }
        inputStart = 0
        inputEnd = got
        if got == 0 { fileEnded = true }
        return got > 0
    }

    /// The one place where a zlib return code becomes a `DatasetError`.
    static func error(_ code: Int32, message: String?, path: String, what: String) -> DatasetError {
        let name: String
        switch code {
        case Z_DATA_ERROR: name = "Z_DATA_ERROR"
        case Z_STREAM_ERROR: name = "Z_STREAM_ERROR"
        case Z_MEM_ERROR: name = "Z_MEM_ERROR"
        case Z_NEED_DICT: name = "Z_NEED_DICT"
        case Z_VERSION_ERROR: name = "Z_VERSION_ERROR"
        case Z_BUF_ERROR: name = "Z_BUF_ERROR"
        default: name = "code \(code)"
        }
        let detail = message.map { ": \($0)" } ?? ""
        return DatasetError(.corruptCompression, "zlib error \(name)\(detail) - while \(what)", path: path)
    }
}

/// gzip compression, for writing test files and fixtures.
enum Gzip {
    /// `bytes` as one gzip member (deflate level 6).
    /// The corresponding C functions are `deflateInit2`, `deflate` with `Z_FINISH`, `deflateEnd`.
    static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deinitialize(count: 1); stream.deallocate() }
        let code = deflateInit2_(stream, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                                 zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard code == Z_OK else {
            throw GzipStream.error(code, message: nil, path: "<memory>", what: "initialising zlib (deflateInit2)")
        }
        defer { deflateEnd(stream) }
        let bound = Int(deflateBound(stream, uLong(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var source = bytes
        let (result, produced) = source.withUnsafeMutableBytes { input in
            output.withUnsafeMutableBytes { out -> (Int32, Int) in
                stream.pointee.next_in = input.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_in = UInt32(input.count)
                stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = UInt32(out.count)
                let result = deflate(stream, Z_FINISH)
                let produced = out.count - Int(stream.pointee.avail_out)
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
                return (result, produced)
            }
        }
        guard result == Z_STREAM_END else {
            throw GzipStream.error(result, message: nil, path: "<memory>", what: "compressing")
        }
        return Array(output[..<produced])
    }
}
