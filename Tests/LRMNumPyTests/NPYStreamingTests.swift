import Foundation
import Testing
@testable import LRMNumPy

/// `NPY.read(path:)`, `readFloat32(path:)` and `readFloat64(path:)` decode a regular file's data as they read them, a
/// bounded piece at a time: they must give what decoding the whole file's bytes gives, for every dtype, wherever the
/// pieces end, and fail on every defect exactly as ``NPY/decode(_:file:)`` does.
@Suite("NPY files read in pieces")
struct NPYStreamingTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npy-stream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ bytes: Data, _ name: String) throws -> String {
        let path = directory + "/" + name
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// 7 × 143 = 1001 elements of `dtype` (an odd count: no piece size divides it), finite and varied.
    static func sample(_ dtype: NumPyDType) throws -> NumPyArray {
        let n = 1001, shape = [7, 143]
        let storage: NumPyArray.Storage
        switch dtype {
        case .float16: storage = .float16(bits: (0..<n).map { UInt16(($0 * 37) % 0x7C00) | ($0 % 3 == 0 ? 0x8000 : 0) })
        case .float32: storage = .float32((0..<n).map { Float($0) * -0.37 + 1e-3 })
        case .float64: storage = .float64((0..<n).map { Double($0) * 1.0e-7 - 3.25 })
        case .int32: storage = .int32((0..<n).map { Int32($0 * 40_503) - 20_000_000 })
        case .int64: storage = .int64((0..<n).map { Int64($0) * 9_000_000_000_007 - 4 })
        case .uint8: storage = .uint8((0..<n).map { UInt8($0 % 256) })
        case .bool: storage = .bool((0..<n).map { $0 % 3 == 1 })
        }
        return try NumPyArray(shape: shape, storage: storage)
    }

    @Test("every dtype read in pieces smaller than the file, the last one partial, gives the values decoding gives",
          arguments: NumPyDType.allCases)
    func multiChunk(_ dtype: NumPyDType) throws {
        let array = try Self.sample(dtype)
        let path = try write(NPY.encode(array), "a.npy")
        // 64 bytes: 32, 16, 8 or 64 elements a piece; 100 bytes is no whole number of 8-byte elements.
        for chunk in [1, 64, 100, 1000] {
            #expect(chunk < array.count * dtype.byteCount)
            #expect(try NPY.read(path: path, chunkByteCount: chunk) == array, "\(dtype), \(chunk) bytes a piece")
            let floats = try NPY.readFloat32(path: path, chunkByteCount: chunk)
            #expect(floats.shape == [7, 143] && floats.values.map(\.bitPattern) == array.floatValues().map(\.bitPattern))
            let doubles = try NPY.readFloat64(path: path, chunkByteCount: chunk)
            #expect(doubles.shape == [7, 143] && doubles.values.map(\.bitPattern) == array.doubleValues().map(\.bitPattern))
        }
        // Spot values, so that the comparison above is not only of one decoder with itself.
        let floats = try NPY.readFloat32(path: path, chunkByteCount: 64).values
        switch dtype {
        case .float32: #expect(floats[1000] == Float(1000) * -0.37 + 1e-3)
        case .float64: #expect(floats[999] == Float(Double(999) * 1.0e-7 - 3.25))
        case .int32: #expect(floats[1000] == Float(Int32(1000 * 40_503) - 20_000_000))
        case .int64: #expect(floats[3] == Float(Int64(3) * 9_000_000_000_007 - 4))
        case .uint8: #expect(floats[1000] == Float(1000 % 256))
        case .bool: #expect(floats[997] == 1 && floats[998] == 0)
        case .float16: #expect(floats[1] == Float(37) / 16_777_216)  // binary16 bits 37: the subnormal 37 · 2⁻²⁴
        }
    }

    @Test("a float32 file of more than one default piece (4 MiB) and an odd element count reads whole")
    func defaultChunkSize() throws {
        let count = NPY.readChunkByteCount / 4 + 3
        let values = (0..<count).map { Float($0 % 65_521) * 0.5 - 7 }
        let path = try write(NPY.encode(try NumPyArray(shape: [count], float32: values)), "big.npy")
        let floats = try NPY.readFloat32(path: path)
        #expect(floats.shape == [count] && floats.values == values)
        #expect(try NPY.read(path: path).floatValues() == values)
    }

    @Test("each malformed file on disk fails as its bytes fail to decode, the same error word for word",
          arguments: NPYTests.Defect.allCases)
    func defects(_ defect: NPYTests.Defect) throws {
        let path = try write(defect.bytes, "bad.npy")
        let expected = #expect(throws: NumPyError.self) { try NPY.decode(defect.bytes, file: path) }
        #expect(throws: try #require(expected)) { try NPY.read(path: path, chunkByteCount: 1) }
        #expect(throws: try #require(expected)) { try NPY.readFloat32(path: path) }
        #expect(throws: try #require(expected)) { try NPY.readFloat64(path: path) }
    }

    @Test("a boolean byte other than 0 or 1 in a later piece is named by its element index")
    func badBooleanLate() throws {
        var bytes = NPY.encode(try Self.sample(.bool))
        bytes[bytes.count - 2] = 9   // element 999
        let path = try write(bytes, "b.npy")
        let expected = NumPyError(.invalidData, file: path, location: "data", "boolean element 999 is 9, expected 0 or 1")
        #expect(throws: expected) { try NPY.decode(bytes, file: path) }
        #expect(throws: expected) { try NPY.read(path: path, chunkByteCount: 64) }
        #expect(throws: expected) { try NPY.readFloat32(path: path, chunkByteCount: 64) }
    }

    @Test("a file cut in the middle of its data: one line naming the file and both sizes, from every reader")
    func truncatedInData() throws {
        let bytes = NPY.encode(try Self.sample(.float64))
        let path = try write(bytes.prefix(bytes.count - 8 * 500 - 3), "cut.npy")
        let expected = NumPyError(.dataSizeMismatch, file: path, location: "data", "shape (7, 143) of <f8 needs 8008 bytes of data, found 4005")
        #expect(throws: expected) { try NPY.read(path: path, chunkByteCount: 64) }
        #expect(throws: expected) { try NPY.readFloat32(path: path) }
        #expect(throws: expected) { try NPY.readFloat64(path: path) }
        #expect(!expected.description.contains("\n") && expected.description.hasPrefix(path + ": "))
    }

    @Test("a file cut short after its header was checked, while its pieces are read: an error, not a trap")
    func cutWhileReading() throws {
        let array = try Self.sample(.float32)
        let bytes = NPY.encode(array)
        let path = try write(bytes, "shrinks.npy")
        let (reader, layout) = try #require(try NPY.openChecked(path))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: UInt64(layout.dataStart + 4 * 600 + 2))
        try handle.close()
        let error = #expect(throws: NumPyError.self) {
            _ = try NPY.readElements(reader, layout, chunkByteCount: 64) { (bits: UInt32) in Float(bitPattern: bits) }
        }
        #expect(error == NumPyError(.dataSizeMismatch, file: path, location: "data",
                                    "the file ends after \(layout.dataStart + 4 * 600 + 2) bytes, expected \(bytes.count) (it was cut short while being read)"))
    }

    @Test("random byte mutations of a file on disk: reading it gives what decoding its bytes gives, value or error")
    func mutationSweep() throws {
        let base = NPY.encode(try NumPyArray(shape: [3, 5], float32: (0..<15).map(Float.init)))
        var generator = SeededGenerator(seed: 11)
        for round in 0..<300 {
            var bytes = [UInt8](base)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator)) }
            let path = try write(Data(bytes), "m\(round % 4).npy")
            let decoded = Result { () throws(NumPyError) in try NPY.decode(Data(bytes), file: path) }
            let read = Result { () throws(NumPyError) in try NPY.read(path: path, chunkByteCount: 8) }
            #expect(decoded == read, "mutation \(round)")
        }
    }
}
