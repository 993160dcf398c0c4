import Foundation
import Testing
@testable import LRMNumPy

/// Builds `.npy` bytes from parts, so that each test states exactly what is in the file.
func npyBytes(version: (UInt8, UInt8) = (1, 0), header: String, data: [UInt8] = [], padTo64: Bool = true) -> Data {
    var headerBytes = Array(header.utf8)
    let prefix = version.0 == 1 ? 10 : 12
    if padTo64 {
        let padding = (64 - (prefix + headerBytes.count + 1) % 64) % 64
        headerBytes += [UInt8](repeating: 0x20, count: padding)
    }
    headerBytes.append(0x0A)
    var out = NPY.magic + [version.0, version.1]
    let length = headerBytes.count
    out += version.0 == 1 ? [UInt8(length & 0xFF), UInt8(length >> 8)]
                          : [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)]
    return Data(out + headerBytes + data)
}

func littleEndianBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value -> [UInt8] in
        let bits = value.bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
    }
}

@Suite("NPY reading and writing")
struct NPYTests {
    @Test("float32 arrays round-trip through encode and decode, bit for bit",
          arguments: [[], [0], [3], [2, 3], [2, 0, 4], [1, 1, 1, 5]])
    func roundTrip(_ shape: [Int]) throws {
        var generator = SystemRandomNumberGenerator()
        let count = shape.reduce(1, *)
        let values = (0..<count).map { _ in Float.random(in: -1e6...1e6, using: &generator) }
        let array = try NumPyArray(shape: shape, float32: values)
        let decoded = try NPY.decode(NPY.encode(array), file: "mem.npy")
        #expect(decoded == array)
        #expect(decoded.floatValues().map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("every supported dtype round-trips, and the data starts at a multiple of 64 bytes")
    func allTypes() throws {
        let arrays: [NumPyArray] = [
            try NumPyArray(shape: [2], storage: .float16(bits: [0x3C00, 0xC000])),
            try NumPyArray(shape: [2], float64: [0.1, -1e300]),
            try NumPyArray(shape: [3], storage: .int32([1, -2, .max])),
            try NumPyArray(shape: [1], storage: .int64([.min])),
            try NumPyArray(shape: [2], storage: .uint8([0, 255])),
            try NumPyArray(shape: [2], storage: .bool([true, false])),
        ]
        for array in arrays {
            let bytes = NPY.encode(array)
            #expect((bytes.count - array.count * array.dtype.byteCount) % 64 == 0)
            #expect(try NPY.decode(bytes, file: "mem.npy") == array)
        }
        #expect(arrays[0].floatValues() == [1, -2])
        #expect(try arrays[2].int64Values() == [1, -2, Int64(Int32.max)])
    }

    @Test("version 2.0 and 3.0 headers, odd spacing and Python 2 long suffixes are read")
    func headerVariants() throws {
        let data = littleEndianBytes([1, 2, 3, 4, 5, 6])
        for (version, header) in [((2, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
                                  ((3, 0), "{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}"),
                                  ((1, 0), "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2L , 3L ) }")] {
            let array = try NPY.decode(npyBytes(version: (UInt8(version.0), UInt8(version.1)), header: header, data: data), file: "v.npy")
            #expect(array.shape == [2, 3])
            #expect(array.floatValues() == [1, 2, 3, 4, 5, 6])
        }
    }

    /// Malformed inputs, each with the exact error kind it must produce.
    enum Defect: String, CaseIterable, CustomTestStringConvertible {
        case empty, badMagic, futureVersion, headerLengthPastEnd, headerNotDict, unterminatedString, missingShape
        case extraKey, duplicateKey, shapeNotTuple, negativeDimension, hugeDimension, overflowingShape
        case bigEndian, fortranOrder, structuredDType, unknownDType, shortData, trailingData, badBoolean, nonASCIIHeader

        var testDescription: String { rawValue }

        var bytes: Data {
            let ok = "'fortran_order': False, 'shape': (2,), "
            switch self {
            case .empty: return Data()
            case .badMagic: return Data("\u{93}NUMPX".utf8) + Data(repeating: 0, count: 20)
            case .futureVersion: return npyBytes(version: (4, 0), header: "{'descr': '<f4', \(ok)}")
            case .headerLengthPastEnd: return Data(NPY.magic + [1, 0, 0xFF, 0x00]) + Data("{}".utf8)
            case .headerNotDict: return npyBytes(header: "['descr', '<f4']")
            case .unterminatedString: return npyBytes(header: "{'descr: '<f4', }")
            case .missingShape: return npyBytes(header: "{'descr': '<f4', 'fortran_order': False, }")
            case .extraKey: return npyBytes(header: "{'descr': '<f4', \(ok)'evil': True, }", data: littleEndianBytes([1, 2]))
            case .duplicateKey: return npyBytes(header: "{'descr': '<f4', 'descr': '<f8', \(ok)}")
            case .shapeNotTuple: return npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }")
            case .negativeDimension: return npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }")
            case .hugeDimension: return npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }")
            case .overflowingShape:
                return npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }")
            case .bigEndian: return npyBytes(header: "{'descr': '>f4', \(ok)}", data: littleEndianBytes([1, 2]))
            case .fortranOrder: return npyBytes(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", data: littleEndianBytes([1, 2]))
            case .structuredDType: return npyBytes(header: "{'descr': [('a', '<f4')], \(ok)}")
            case .unknownDType: return npyBytes(header: "{'descr': '<c8', \(ok)}")
            case .shortData: return npyBytes(header: "{'descr': '<f4', \(ok)}", data: littleEndianBytes([1]))
            case .trailingData: return npyBytes(header: "{'descr': '<f4', \(ok)}", data: littleEndianBytes([1, 2, 3]))
            case .badBoolean: return npyBytes(header: "{'descr': '|b1', \(ok)}", data: [1, 7])
            case .nonASCIIHeader: return npyBytes(header: "{'descr': '<f4', \(ok)'é': 1}")
            }
        }

        var expectedKind: NumPyError.Kind {
            switch self {
            case .empty, .badMagic: .badMagic
            case .futureVersion: .unsupportedVersion
            case .headerLengthPastEnd, .headerNotDict, .unterminatedString, .missingShape, .extraKey, .duplicateKey,
                 .shapeNotTuple, .negativeDimension, .nonASCIIHeader:
                .malformedHeader
            case .hugeDimension, .overflowingShape: .tooLarge
            case .bigEndian: .bigEndian
            case .fortranOrder: .fortranOrder
            case .structuredDType, .unknownDType: .unsupportedDType
            case .shortData, .trailingData: .dataSizeMismatch
            case .badBoolean: .invalidData
            }
        }
    }

    @Test("each malformed file fails with its exact error kind, naming the file", arguments: Defect.allCases)
    func defects(_ defect: Defect) {
        let error = #expect(throws: NumPyError.self) { try NPY.decode(defect.bytes, file: "bad.npy") }
        #expect(error?.kind == defect.expectedKind, "\(error.map(String.init(describing:)) ?? "")")
        #expect(error?.description.hasPrefix("bad.npy: ") == true)
    }

    @Test("a seeded sweep of random byte mutations never crashes the reader")
    func mutationSweep() throws {
        let base = NPY.encode(try NumPyArray(shape: [3, 4], float32: (0..<12).map(Float.init)))
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            var bytes = [UInt8](base)
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator)) }
            _ = try? NPY.decode(Data(bytes), file: "fuzz.npy")
        }
    }

    @Test("write then read a file on disk; missing files and directories are typed errors")
    func files() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("a.npy").path
        let array = try NumPyArray(shape: [2, 2], float32: [1, 2, 3, 4])
        try NPY.write(array, to: path)
        #expect(try NPY.read(path: path) == array)
        #expect(throws: NumPyError(.unreadable, file: directory.path + "/none.npy", "no such file")) {
            try NPY.read(path: directory.path + "/none.npy")
        }
        let error = #expect(throws: NumPyError.self) { try NPY.read(path: directory.path) }
        #expect(error?.kind == .unreadable)
    }

    @Test("an array's shape must match its value count")
    func shapeChecked() {
        #expect(throws: NumPyError.self) { try NumPyArray(shape: [2, 2], float32: [1, 2, 3]) }
    }
}

/// SplitMix64: the same "random" mutations on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
