public import Foundation
import LRMFormat

/// Reading and writing single arrays in NumPy's `.npy` format.
///
/// Layout (all integers little-endian): the magic `\x93NUMPY`, a major and a minor version byte, the
/// header length (`UInt16` in version 1.0, `UInt32` in 2.0 and 3.0), the header — a Python dict literal
/// with `descr`, `fortran_order` and `shape`, ASCII (UTF-8 in 3.0), padded with spaces and ending in
/// `\n` — then the elements in C order, exactly `count × itemsize` bytes.
public enum NPY {
    /// The six bytes every `.npy` file starts with.
    public static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    /// The largest header this reader accepts, in bytes. NumPy itself refuses headers over 10 000 bytes
    /// unless told otherwise.
    public static let maxHeaderByteCount = 65_536

    /// The bytes a regular `.npy` file is read in after its header: each piece is decoded into the result before the
    /// next is read, so reading an array costs the array and one piece, not the file's bytes as well.
    static let readChunkByteCount = 4 << 20

    /// Reads the array in the `.npy` file at `path`, decoding the data into the array as they are read
    /// (``readChunkByteCount`` bytes at a time; a pipe or device is read whole, then decoded).
    ///
    /// - Throws: ``NumPyError`` naming the file and the problem; nothing in the file can make this trap.
    public static func read(path: String) throws(NumPyError) -> NumPyArray {
        try read(path: path, chunkByteCount: readChunkByteCount)
    }

    /// Reads the array in the `.npy` file at `path` converted to `Float` as it is read: the values
    /// ``NumPyArray/floatValues()`` gives, without the array in its stored type (a float64 file costs its float32
    /// values, not its doubles and then the floats).
    public static func readFloat32(path: String) throws(NumPyError) -> (shape: [Int], values: [Float]) {
        try readFloat32(path: path, chunkByteCount: readChunkByteCount)
    }

    /// Reads the array in the `.npy` file at `path` converted to `Double` as it is read: the values
    /// ``NumPyArray/doubleValues()`` gives, without the array in its stored type.
    public static func readFloat64(path: String) throws(NumPyError) -> (shape: [Int], values: [Double]) {
        try readFloat64(path: path, chunkByteCount: readChunkByteCount)
    }

    /// Reads the array in the `.npy` file at `path` converted as it is read to `Float` where that holds its type exactly,
    /// else to `Double` (``ExactValues``): a float32 file costs its floats, an int64 one doubles.
    public static func readExact(path: String) throws(NumPyError) -> (shape: [Int], values: ExactValues) {
        guard let (reader, layout) = try openChecked(path) else {
            let array = try decode(try readFile(path), file: path)
            return (array.shape, array.exactValues())
        }
        return try readExact(from: reader, layout, chunkByteCount: readChunkByteCount)
    }

    /// The values of the array whose header `layout` is, in ``ExactValues`` for its type, decoded from `source`.
    static func readExact(from source: some NPYDataSource, _ layout: Layout, chunkByteCount: Int) throws(NumPyError) -> (shape: [Int], values: ExactValues) {
        if layout.dtype.fitsFloat {
            let (shape, values): ([Int], [Float]) = try readConverted(from: source, layout, chunkByteCount: chunkByteCount)
            return (shape, .float(values))
        }
        let (shape, values): ([Int], [Double]) = try readConverted(from: source, layout, chunkByteCount: chunkByteCount)
        return (shape, .double(values))
    }

    static func read(path: String, chunkByteCount: Int) throws(NumPyError) -> NumPyArray {
        guard let (reader, layout) = try openChecked(path) else { return try decode(try readFile(path), file: path) }
        return try read(from: reader, layout, chunkByteCount: chunkByteCount)
    }

    /// The array whose header `layout` is, in its stored type, its data decoded from `source` piece by piece.
    static func read(from source: some NPYDataSource, _ layout: Layout, chunkByteCount: Int) throws(NumPyError) -> NumPyArray {
        func load<T: FixedWidthInteger, U>(_: T.Type, _ convert: (T) -> U?) throws(NumPyError) -> [U] {
            try readElements(source, layout, chunkByteCount: chunkByteCount, convert)
        }
        let storage: NumPyArray.Storage
        switch layout.dtype {
        case .float16: storage = .float16(bits: try load(UInt16.self) { $0 })
        case .float32: storage = .float32(try load(UInt32.self, Float.init(bitPattern:)))
        case .float64: storage = .float64(try load(UInt64.self, Double.init(bitPattern:)))
        case .int32: storage = .int32(try load(Int32.self) { $0 })
        case .int64: storage = .int64(try load(Int64.self) { $0 })
        case .uint8: storage = .uint8(try load(UInt8.self) { $0 })
        case .bool: storage = .bool(try load(UInt8.self) { $0 > 1 ? nil : $0 == 1 })
        }
        return try NumPyArray(shape: layout.shape, storage: storage)
    }

    static func readFloat32(path: String, chunkByteCount: Int) throws(NumPyError) -> (shape: [Int], values: [Float]) {
        try readConverted(path: path, chunkByteCount: chunkByteCount) { $0.floatValues() }
    }

    static func readFloat64(path: String, chunkByteCount: Int) throws(NumPyError) -> (shape: [Int], values: [Double]) {
        try readConverted(path: path, chunkByteCount: chunkByteCount) { $0.doubleValues() }
    }

    /// The values of the `.npy` file at `path` converted to `F` as they are read, each rounded once from its stored
    /// type; `whole` converts an array read whole (a pipe or a device) the same way.
    static func readConverted<F: BinaryFloatingPoint>(path: String, chunkByteCount: Int,
                                                      whole: (NumPyArray) -> [F]) throws(NumPyError) -> (shape: [Int], values: [F]) {
        guard let (reader, layout) = try openChecked(path) else {
            let array = try decode(try readFile(path), file: path)
            return (array.shape, whole(array))
        }
        return try readConverted(from: reader, layout, chunkByteCount: chunkByteCount)
    }

    /// The values of the array whose header `layout` is, converted to `F` as its data are decoded from `source`.
    static func readConverted<F: BinaryFloatingPoint>(from source: some NPYDataSource, _ layout: Layout,
                                                      chunkByteCount: Int) throws(NumPyError) -> (shape: [Int], values: [F]) {
        func load<T: FixedWidthInteger>(_: T.Type, _ convert: (T) -> F?) throws(NumPyError) -> [F] {
            try readElements(source, layout, chunkByteCount: chunkByteCount, convert)
        }
        let values: [F]
        switch layout.dtype {
        case .float16: values = try load(UInt16.self) { F(HalfPrecision.float(fromHalf: $0)) }
        case .float32: values = try load(UInt32.self) { F(Float(bitPattern: $0)) }
        case .float64: values = try load(UInt64.self) { F(Double(bitPattern: $0)) }
        case .int32: values = try load(Int32.self) { F($0) }
        case .int64: values = try load(Int64.self) { F($0) }
        case .uint8: values = try load(UInt8.self) { F($0) }
        case .bool: values = try load(UInt8.self) { $0 > 1 ? nil : F($0) }
        }
        return (layout.shape, values)
    }

    /// Decodes the bytes of a `.npy` file; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(NumPyError) -> NumPyArray {
        // Zero-based indices even when `data` is a slice (a whole file's bytes are used as they are, not copied).
        let data = data.startIndex == 0 ? data : Data(data)
        let layout = try layout(prefix: Array(data.prefix(12 + maxHeaderByteCount)), byteCount: data.count, file: file)
        let storage = try decodeStorage(data, from: layout.dataStart, dtype: layout.dtype, count: layout.count, file: file)
        return try NumPyArray(shape: layout.shape, storage: storage)
    }

    /// What a checked header says: the array's shape and type, and where its `count` elements start.
    struct Layout {
        var shape: [Int]
        var dtype: NumPyDType
        var count: Int
        var dataStart: Int
    }

    /// Parses and checks the header at the start of a `.npy` file of `byteCount` bytes, of which `prefix` holds the
    /// first `min(byteCount, 12 + maxHeaderByteCount)`: magic, version, header, dtype, order, and that the data
    /// that follow the header are exactly the shape's bytes.
    static func layout(prefix bytes: [UInt8], byteCount totalCount: Int, file: String) throws(NumPyError) -> Layout {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            let found = bytes.prefix(6).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw NumPyError(.badMagic, file: file, "not a .npy file, expected magic 93 4E 55 4D 50 59, found \(found.isEmpty ? "an empty file" : found)")
        }
        let major = bytes[6], minor = bytes[7]
        let headerStart: Int
        let headerLength: Int
        switch (major, minor) {
        case (1, 0):
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case (2, 0), (3, 0):
            guard bytes.count >= 12 else {
                throw NumPyError(.malformedHeader, file: file, location: "header", "file ends inside the header length")
            }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw NumPyError(.unsupportedVersion, file: file, "format version \(major).\(minor) is not supported, expected 1.0, 2.0 or 3.0")
        }
        guard headerLength <= maxHeaderByteCount else {
            throw NumPyError(.headerTooLarge, file: file, location: "header", "header is \(headerLength) bytes, expected at most \(maxHeaderByteCount)")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= totalCount, dataStart <= bytes.count else {
            throw NumPyError(.malformedHeader, file: file, location: "header",
                             "header claims \(headerLength) bytes, but only \(min(totalCount, bytes.count) - headerStart) follow")
        }
        let headerBytes = bytes[headerStart..<dataStart]
        let isText = major == 3 || headerBytes.allSatisfy { $0 < 0x80 }
        guard isText, let text = String(bytes: headerBytes, encoding: .utf8) else {
            throw NumPyError(.malformedHeader, file: file, location: "header", "header is not \(major == 3 ? "UTF-8" : "ASCII") text")
        }
        let header = try NPYHeader.parse(text, file: file)
        guard let dtype = NumPyDType(descr: header.descr) else {
            if NumPyDType.isBigEndianDescr(header.descr) {
                throw NumPyError(.bigEndian, file: file, location: "header", "dtype '\(header.descr)' is big-endian; only little-endian arrays are read")
            }
            throw NumPyError(.unsupportedDType, file: file, location: "header",
                             "dtype '\(header.descr)' is not supported, expected one of \(NumPyDType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !header.fortranOrder else {
            throw NumPyError(.fortranOrder, file: file, location: "header", "array is in Fortran order; only C order is read")
        }
        let count = try NumPyArray.elementCount(of: header.shape, file: file)
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow else {
            throw NumPyError(.tooLarge, file: file, location: "header", "shape \(NPYHeader.formatShape(header.shape)) overflows the byte count")
        }
        let available = totalCount - dataStart
        guard available == byteCount else {
            throw NumPyError(.dataSizeMismatch, file: file, location: "data",
                             "shape \(NPYHeader.formatShape(header.shape)) of \(header.descr) needs \(byteCount) bytes of data, found \(available)")
        }
        return Layout(shape: header.shape, dtype: dtype, count: count, dataStart: dataStart)
    }

    /// Opens the `.npy` file at `path` and checks its header against its size; `nil` when it is not a regular file.
    static func openChecked(_ path: String) throws(NumPyError) -> (NPYFileReader, Layout)? {
        try checkIsFile(path)
        guard let reader = try NPYFileReader(path: path) else { return nil }
        let wanted = min(reader.byteCount, 12 + maxHeaderByteCount)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, wanted), alignment: 16)
        defer { buffer.deallocate() }
        let got = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]), at: 0)
        // Fewer bytes than its size only when the file shrank since it was opened: the header is checked against what is there.
        return (reader, try layout(prefix: Array(buffer[0..<got]), byteCount: got < wanted ? got : reader.byteCount, file: path))
    }

    /// Decodes the data section `layout` describes, handed over by `source` in pieces of about `chunkByteCount` bytes,
    /// each element through `convert` into one new array. An element split between two pieces is put together from
    /// both. `convert` returns `nil` for a value its type cannot hold: a boolean byte other than 0 or 1, the only such
    /// value.
    static func readElements<T: FixedWidthInteger, U>(_ source: some NPYDataSource, _ layout: Layout, chunkByteCount: Int,
                                                      _ convert: (T) -> U?) throws(NumPyError) -> [U] {
        let size = MemoryLayout<T>.size, count = layout.count
        // The first bytes of an element whose last bytes are in the next piece.
        let partial = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { partial.deallocate() }
        var failure: NumPyError?
        let values = [U](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = 0, partialCount = 0
            /// Decodes the first `n` elements of `raw` into the result from `index` on.
            func decode(_ raw: UnsafeRawBufferPointer, _ n: Int) throws(NumPyError) {
                for k in 0..<n {
                    let bits = T(littleEndian: raw.loadUnaligned(fromByteOffset: k * size, as: T.self))
                    guard let value = convert(bits) else {
                        throw NumPyError(.invalidData, file: source.name, location: "data", "boolean element \(index + k) is \(bits), expected 0 or 1")
                    }
                    buffer.initializeElement(at: index + k, to: value)
                    initialized = index + k + 1
                }
                index += n
            }
            do throws(NumPyError) {
                try source.forEachDataPiece(layout, chunkByteCount: chunkByteCount) { (piece: UnsafeRawBufferPointer) throws(NumPyError) in
                    var rest = piece[...]
                    if partialCount > 0 {
                        let taken = min(size - partialCount, rest.count)
                        UnsafeMutableRawBufferPointer(rebasing: partial[partialCount..<(partialCount + taken)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(taken)))
                        partialCount += taken
                        rest = rest.dropFirst(taken)
                        guard partialCount == size else { return }
                        try decode(UnsafeRawBufferPointer(partial), 1)
                        partialCount = 0
                    }
                    let whole = min(rest.count / size, count - index)
                    try decode(UnsafeRawBufferPointer(rebasing: rest), whole)
                    rest = rest.dropFirst(whole * size)
                    guard rest.count < size, index < count || rest.isEmpty else {
                        throw NumPyError(.dataSizeMismatch, file: source.name, location: "data",
                                         "more data than shape \(NPYHeader.formatShape(layout.shape)) of \(layout.dtype.rawValue) needs")
                    }
                    UnsafeMutableRawBufferPointer(rebasing: partial[0..<rest.count]).copyMemory(from: UnsafeRawBufferPointer(rebasing: rest))
                    partialCount = rest.count
                }
                guard index == count, partialCount == 0 else {
                    throw NumPyError(.dataSizeMismatch, file: source.name, location: "data",
                                     "the data ended after \(index * size + partialCount) bytes, expected \(count * size)")
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return values
    }

    /// Encodes `array` as a `.npy` file: version 1.0 (2.0 if the header needs it), C order, little-endian,
    /// header padded so that the data starts at a multiple of 64 bytes.
    public static func encode(_ array: NumPyArray) -> Data {
        let literal = NPYHeader(descr: array.dtype.rawValue, fortranOrder: false, shape: array.shape).literal
        var headerBytes = Array(literal.utf8)
        let useVersion2 = headerBytes.count + 1 + 10 > 65_535
        let prefixCount = useVersion2 ? 12 : 10
        let padding = (64 - (prefixCount + headerBytes.count + 1) % 64) % 64
        headerBytes += [UInt8](repeating: 0x20, count: padding) + [0x0A]
        var out = magic + [useVersion2 ? 2 : 1, 0]
        let length = headerBytes.count
        out += useVersion2 ? [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24 & 0xFF)]
                           : [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF)]
        out += headerBytes
        out.reserveCapacity(out.count + array.count * array.dtype.byteCount)
        switch array.storage {
        case .float16(let bits): for v in bits { appendLittleEndian(v, to: &out) }
        case .float32(let values): for v in values { appendLittleEndian(v.bitPattern, to: &out) }
        case .float64(let values): for v in values { appendLittleEndian(v.bitPattern, to: &out) }
        case .int32(let values): for v in values { appendLittleEndian(UInt32(bitPattern: v), to: &out) }
        case .int64(let values): for v in values { appendLittleEndian(UInt64(bitPattern: v), to: &out) }
        case .uint8(let values): out += values
        case .bool(let values): out += values.map { $0 ? 1 : 0 }
        }
        return Data(out)
    }

    /// Writes `array` to `path` as a `.npy` file (see ``encode(_:)``), replacing any existing file
    /// atomically (``AtomicFileWriter``: a replaced file keeps its mode, a symbolic link is written through).
    public static func write(_ array: NumPyArray, to path: String) throws(NumPyError) {
        do {
            try AtomicFileWriter.write(Array(encode(array)), to: path)
        } catch let error as ContainerError {
            throw NumPyError(.writeFailed, file: path, "could not write the file: \(error.message)")
        } catch {
            throw NumPyError(.writeFailed, file: path, "could not write the file: \(error)")
        }
    }

    /// Refuses a path that does not exist or is a directory, with the errors every reader here gives.
    static func checkIsFile(_ path: String) throws(NumPyError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NumPyError(.unreadable, file: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw NumPyError(.unreadable, file: path, "is a directory, expected a file") }
    }

    /// The whole file (`.npy` files that are not regular files: pipes and devices).
    static func readFile(_ path: String) throws(NumPyError) -> Data {
        try checkIsFile(path)
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw NumPyError(.unreadable, file: path, "could not read the file: \(error.localizedDescription)")
        }
    }

    private static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { out += $0 }
    }

    /// Decodes `count` little-endian elements starting at byte `start`; the caller has checked that
    /// exactly `count × dtype.byteCount` bytes follow.
    private static func decodeStorage(_ data: Data, from start: Int, dtype: NumPyDType, count: Int,
                                      file: String) throws(NumPyError) -> NumPyArray.Storage {
        // Each element decoded straight into the result (one array, no intermediate of the raw integers).
        func load<T: FixedWidthInteger, U>(_: T.Type, _ convert: (T) -> U) -> [U] {
            data.withUnsafeBytes { raw in
                [U](unsafeUninitializedCapacity: count) { buffer, initialized in
                    for index in 0..<count {
                        let bits = T(littleEndian: raw.loadUnaligned(fromByteOffset: start + index * MemoryLayout<T>.size, as: T.self))
                        buffer.initializeElement(at: index, to: convert(bits))
                    }
                    initialized = count
                }
            }
        }
        switch dtype {
        case .float16: return .float16(bits: load(UInt16.self) { $0 })
        case .float32: return .float32(load(UInt32.self, Float.init(bitPattern:)))
        case .float64: return .float64(load(UInt64.self, Double.init(bitPattern:)))
        case .int32: return .int32(load(Int32.self) { $0 })
        case .int64: return .int64(load(Int64.self) { $0 })
        case .uint8: return .uint8(Array(data[start...]))
        case .bool:
            let raw = Array(data[start...])
            if let bad = raw.firstIndex(where: { $0 > 1 }) {
                throw NumPyError(.invalidData, file: file, location: "data", "boolean element \(bad) is \(raw[bad]), expected 0 or 1")
            }
            return .bool(raw.map { $0 == 1 })
        }
    }
}
