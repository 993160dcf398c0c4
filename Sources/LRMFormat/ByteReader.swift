/// A bounds-checked little-endian cursor over bytes read from a file.
///
/// Vocabulary as in swift-nio's ByteBuffer: `read…` moves the cursor. Every read checks the
/// remaining length first and throws `ContainerError` (`.malformedHeader` by default) naming
/// the absolute file offset, so no value from a file can trap.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    /// Offset of `bytes[0]` in the file, for error messages.
    let baseOffset: Int
    private(set) var index = 0
    /// The error kind reported when the bytes run out.
    var shortKind: ContainerError.Kind = .malformedHeader
    /// The minor format version of the file being read, for messages about codes this reader does not know.
    var fileMinorVersion: UInt16 = 0

    init(_ bytes: UnsafeRawBufferPointer, baseOffset: Int) {
        self.bytes = bytes
        self.baseOffset = baseOffset
    }

    var remaining: Int { bytes.count - index }
    var fileOffset: Int { baseOffset + index }

    func error(_ kind: ContainerError.Kind, _ message: String, at offset: Int? = nil) -> ContainerError {
        ContainerError(kind, message, byteOffset: offset ?? fileOffset)
    }

    private mutating func need(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= remaining else {
            throw error(shortKind, "\(what) needs \(count) bytes, only \(remaining) left in the header")
        }
    }

    mutating func readUInt8(_ what: String) throws -> UInt8 {
        try need(1, what)
        defer { index += 1 }
        return bytes[index]
    }

    mutating func readUInt16(_ what: String) throws -> UInt16 {
        try need(2, what)
        defer { index += 2 }
        return UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8
    }

    mutating func readUInt32(_ what: String) throws -> UInt32 {
        try need(4, what)
        var value: UInt32 = 0
        for k in 0..<4 { value |= UInt32(bytes[index + k]) << (8 * k) }
        index += 4
        return value
    }

    mutating func readUInt64(_ what: String) throws -> UInt64 {
        try need(8, what)
        var value: UInt64 = 0
        for k in 0..<8 { value |= UInt64(bytes[index + k]) << (8 * k) }
        index += 8
        return value
    }

    mutating func readInt64(_ what: String) throws -> Int64 {
        Int64(bitPattern: try readUInt64(what))
    }

    mutating func readFloat64(_ what: String) throws -> Double {
        Double(bitPattern: try readUInt64(what))
    }

    /// A u64 that must fit in `Int` and be at most `limit`.
    mutating func readSize(_ what: String, limit: Int) throws -> Int {
        let start = fileOffset
        let raw = try readUInt64(what)
        guard raw <= UInt64(limit) else {
            throw error(.limitExceeded, "\(what) is \(raw), more than the limit \(limit)", at: start)
        }
        return Int(raw)
    }

    /// A u32 count that must be at most `limit`, and for which `minimumElementBytes` each must
    /// still fit in the header (so a hostile count cannot make us allocate).
    mutating func readCount(_ what: String, limit: Int, minimumElementBytes: Int) throws -> Int {
        let start = fileOffset
        let count = Int(try readUInt32(what))
        guard count <= limit else {
            throw error(.limitExceeded, "\(what) is \(count), more than the limit \(limit)", at: start)
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: minimumElementBytes)
        guard !overflow, needed <= remaining else {
            throw error(shortKind, "\(what) is \(count), but only \(remaining) header bytes remain", at: start)
        }
        return count
    }

    /// A length-prefixed (u32) UTF-8 string of at most `limit` bytes.
    mutating func readString(_ what: String, limit: Int = Container.Limits.maxStringByteCount) throws -> String {
        let start = fileOffset
        let length = Int(try readUInt32("length of \(what)"))
        guard length <= limit else {
            throw error(.limitExceeded, "\(what) is \(length) bytes long, more than the limit \(limit)", at: start)
        }
        try need(length, what)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw error(.invalidString, "\(what) is not valid UTF-8", at: start + 4)
        }
        index += length
        return text
    }

    /// A name: a string of 1 to `maxNameByteCount` bytes.
    mutating func readName(_ what: String) throws -> String {
        let start = fileOffset
        let name = try readString(what, limit: Container.Limits.maxNameByteCount)
        guard !name.isEmpty else { throw error(.invalidString, "\(what) is empty", at: start) }
        return name
    }

    mutating func readFloat64Array(_ what: String, limit: Int = Container.Limits.maxArrayCount) throws -> [Double] {
        let count = try readCount("count of \(what)", limit: limit, minimumElementBytes: 8)
        var values: [Double] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try readFloat64(what)) }
        return values
    }

    mutating func readDimensions(_ what: String) throws -> [Int] {
        let start = fileOffset
        let ndim = Int(try readUInt8("dimension count of \(what)"))
        guard (1...Container.Limits.maxDimensions).contains(ndim) else {
            throw error(.badTensor, "\(what) has \(ndim) dimensions, expected 1 to \(Container.Limits.maxDimensions)", at: start)
        }
        var dims: [Int] = []
        for axis in 0..<ndim {
            let at = fileOffset
            let raw = try readUInt64("dimension \(axis) of \(what)")
            guard raw >= 1, raw <= UInt64(Int32.max) else {
                throw error(.badTensor, "\(what) has dimension \(axis) of size \(raw), expected 1 to \(Int32.max)", at: at)
            }
            dims.append(Int(raw))
        }
        return dims
    }
}
