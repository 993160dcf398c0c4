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

    /// Reads the array in the `.npy` file at `path`.
    ///
    /// - Throws: ``NumPyError`` naming the file and the problem; nothing in the file can make this trap.
    public static func read(path: String) throws(NumPyError) -> NumPyArray {
        try decode(try readFile(path), file: path)
    }

    /// Decodes the bytes of a `.npy` file; `file` names it in errors.
    public static func decode(_ data: Data, file: String) throws(NumPyError) -> NumPyArray {
        // Zero-based indices even when `data` is a slice (a whole file's bytes are used as they are, not copied).
        let data = data.startIndex == 0 ? data : Data(data)
        let bytes = data.prefix(12 + maxHeaderByteCount)
        let totalCount = data.count
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
        guard dataStart <= totalCount else {
            throw NumPyError(.malformedHeader, file: file, location: "header",
                             "header claims \(headerLength) bytes, but only \(totalCount - headerStart) follow")
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
        let storage = try decodeStorage(data, from: dataStart, dtype: dtype, count: count, file: file)
        return try NumPyArray(shape: header.shape, storage: storage)
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

    static func readFile(_ path: String) throws(NumPyError) -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw NumPyError(.unreadable, file: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw NumPyError(.unreadable, file: path, "is a directory, expected a file") }
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
