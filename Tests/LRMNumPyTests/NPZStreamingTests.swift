import Foundation
import Testing
@testable import LRMNumPy

/// `.npz` members are decoded as they are extracted, a piece at a time, into their arrays: they must give what decoding
/// the member's whole bytes gives, for every dtype, stored and deflated, wherever the pieces end (inside the header, inside
/// an element), and fail as extracting the member whole and then decoding it did: the archive's checks (sizes, CRC-32)
/// first, then the `.npy` bytes' fault with ``NPY/decode(_:file:)``'s error word for word.
@Suite("NPZ members read in pieces")
struct NPZStreamingTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npz-stream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// An archive holding `arrays`, stored or deflated.
    func archive(_ arrays: [String: NumPyArray], _ name: String, compressed: Bool) throws -> String {
        let path = directory + "/" + name
        try NPZ.write(arrays, to: path, compressed: compressed)
        return path
    }

    /// An archive of one member `x.npy` holding exactly `bytes` (a `.npy` file or not), stored or deflated.
    func archive(member bytes: Data, _ name: String, compressed: Bool) throws -> String {
        let path = directory + "/" + name
        try NPZ.write(members: [("x.npy", { bytes })], to: path, compressed: compressed)
        return path
    }

    @Test("every dtype, stored and deflated, read in pieces of 1, 3, 64, 100 and 1000 bytes and the default: what decoding the member's bytes gives",
          arguments: NumPyDType.allCases)
    func pieces(_ dtype: NumPyDType) throws {
        let array = try NPYStreamingTests.sample(dtype)
        let bytes = NPY.encode(array)
        for compressed in [false, true] {
            let path = try archive(["x": array, "other": try NumPyArray(shape: [2], float64: [1, 2])], "p\(compressed).npz", compressed: compressed)
            let npz = try NPZArchive(path: path)
            let whole = try NPY.decode(bytes, file: "\(path): x.npy")
            #expect(whole == array)
            // 3 bytes: every element of 2, 4 or 8 bytes is split between pieces somewhere, and the header's end falls
            // inside a piece. ZIPFoundation hands a deflated member over in pieces of at most the buffer's size.
            for chunk in [1, 3, 64, 100, 1000, NPY.readChunkByteCount] {
                let label = "\(dtype), \(compressed ? "deflated" : "stored"), \(chunk) bytes a piece"
                #expect(try npz.read("x", chunkByteCount: chunk) == whole, "\(label)")
                let floats: (shape: [Int], values: [Float]) = try npz.readConverted("x", chunkByteCount: chunk)
                #expect(floats.shape == [7, 143] && floats.values.map(\.bitPattern) == whole.floatValues().map(\.bitPattern), "\(label)")
                let doubles: (shape: [Int], values: [Double]) = try npz.readConverted("x", chunkByteCount: chunk)
                #expect(doubles.shape == [7, 143] && doubles.values.map(\.bitPattern) == whole.doubleValues().map(\.bitPattern), "\(label)")
            }
            #expect(try npz.readFloat32("x").values.map(\.bitPattern) == whole.floatValues().map(\.bitPattern))
            #expect(try npz.readFloat64("x").values.map(\.bitPattern) == whole.doubleValues().map(\.bitPattern))
            #expect(try NPZ.read(path: path) == ["x": array, "other": try NumPyArray(shape: [2], float64: [1, 2])])
        }
    }

    @Test("readExact: floats for the types a Float holds (f2, f4, u1, b1), doubles for the others, from .npy files and members alike",
          arguments: NumPyDType.allCases)
    func exact(_ dtype: NumPyDType) throws {
        let array = try NPYStreamingTests.sample(dtype)
        let expected: ExactValues = dtype.fitsFloat ? .float(array.floatValues()) : .double(array.doubleValues())
        #expect(dtype.fitsFloat == [.float16, .float32, .uint8, .bool].contains(dtype))
        let npy = directory + "/e.npy"
        try NPY.write(array, to: npy)
        let npz = try archive(["x": array], "e.npz", compressed: true)
        for read in [try NPY.readExact(path: npy), try NPZArchive(path: npz).readExact("x")] {
            #expect(read.shape == [7, 143])
            switch (read.values, expected) {
            case (.float(let got), .float(let want)): #expect(got.map(\.bitPattern) == want.map(\.bitPattern))
            case (.double(let got), .double(let want)): #expect(got.map(\.bitPattern) == want.map(\.bitPattern))
            default: Issue.record("\(dtype): \(read.values) is not \(expected)")
            }
        }
        #expect(array.exactValues() == expected)
    }

    @Test("a member of more than one default piece (4 MiB) and an odd element count, stored and deflated, reads whole")
    func defaultPieces() throws {
        let count = NPY.readChunkByteCount / 4 + 3
        let values = (0..<count).map { Float($0 % 65_521) * 0.5 - 7 }
        for compressed in [false, true] {
            let npz = try NPZArchive(path: try archive(["x": try NumPyArray(shape: [count], float32: values)], "big\(compressed).npz",
                                                       compressed: compressed))
            let floats = try npz.readFloat32("x")
            #expect(floats.shape == [count] && floats.values == values)
            #expect(try npz.read("x").floatValues() == values)
        }
    }

    @Test("each malformed .npy as a member, stored and deflated: decode's error word for word, naming the archive and the member",
          arguments: NPYTests.Defect.allCases)
    func defects(_ defect: NPYTests.Defect) throws {
        for compressed in [false, true] {
            let path = try archive(member: defect.bytes, "bad\(compressed).npz", compressed: compressed)
            let expected = #expect(throws: NumPyError.self) { try NPY.decode(defect.bytes, file: "\(path): x.npy") }
            let npz = try NPZArchive(path: path)
            #expect(throws: try #require(expected)) { try npz.read("x", chunkByteCount: 1) }
            #expect(throws: try #require(expected)) { try npz.readFloat32("x") }
            #expect(throws: try #require(expected)) { try npz.readFloat64("x") }
            #expect(throws: try #require(expected)) { try NPZ.read(path: path) }
        }
    }

    @Test("a boolean byte other than 0 or 1 in a later piece is named by its element index, stored and deflated")
    func badBooleanLate() throws {
        var bytes = NPY.encode(try NPYStreamingTests.sample(.bool))
        bytes[bytes.count - 2] = 9   // element 999
        for compressed in [false, true] {
            let path = try archive(member: bytes, "b\(compressed).npz", compressed: compressed)
            let expected = NumPyError(.invalidData, file: "\(path): x.npy", location: "data", "boolean element 999 is 9, expected 0 or 1")
            let npz = try NPZArchive(path: path)
            #expect(throws: expected) { try npz.read("x", chunkByteCount: 64) }
            #expect(throws: expected) { try npz.readFloat32("x") }
        }
    }

    @Test("a member whose data and CRC-32 disagree: the CRC-32 mismatch, not the fault the changed bytes make, as when it was extracted whole first")
    func checksumFirst() throws {
        let bytes = NPY.encode(try NPYStreamingTests.sample(.bool))
        let path = try archive(member: bytes, "crc.npz", compressed: false)
        var archiveBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let data = try #require(NPZTestArchive.range(of: [UInt8](bytes), in: archiveBytes))
        // A boolean element that reads 9, then the header's magic: each changes the data after the CRC-32 was written.
        for offset in [bytes.count - 2, 0] {
            var damaged = archiveBytes
            damaged[data.lowerBound + offset] = 9
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: NumPyError.self) { try NPZArchive(path: path).read("x", chunkByteCount: 64) }
            #expect(error?.kind == .badArchive && error?.location == "x.npy" && error?.message.hasPrefix("CRC-32 mismatch, expected ") == true,
                    "\(String(describing: error))")
        }
        archiveBytes[data.lowerBound + bytes.count - 2] = 1
        try Data(archiveBytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: NumPyError.self) { try NPZArchive(path: path).read("x") }
    }

    @Test("a deflated member that inflates past its declared size: refused as it inflates, before its header's mismatch with that size")
    func inflatesPast() throws {
        let bytes = NPY.encode(try NPYStreamingTests.sample(.float32))
        let path = try archive(member: bytes, "past.npz", compressed: true)
        let declared = UInt32(bytes.count - 100)
        try NPZTestArchive.patch(path, uncompressedSize: declared)
        let expected = NumPyError(.badArchive, file: path, location: "x.npy", "entry inflates past its declared size of \(declared) bytes")
        #expect(throws: expected) { try NPZArchive(path: path).read("x", chunkByteCount: 1000) }
        #expect(throws: expected) { try NPZArchive(path: path).readFloat64("x") }
    }

    @Test("members claiming more than the archive holds are refused before anything is extracted or allocated")
    func claimsPastTheArchive() throws {
        let bytes = NPY.encode(try NumPyArray(shape: [4], float32: [1, 2, 3, 4]))
        // A stored member claiming 100,128 bytes, within 1032 times its compressed size (what a deflated member could
        // hold), but more than the archive: its header rewritten to the shape that size holds, so that only the claim is false.
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (25000,), }".utf8)
        header += [UInt8](repeating: 0x20, count: (64 - (10 + header.count + 1) % 64) % 64) + [0x0A]
        let lying = Data(NPY.magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header) + bytes.dropFirst(128)
        #expect(lying.count == bytes.count)
        let stored = try archive(member: lying, "stored.npz", compressed: false)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: stored)[.size] as? Int)
        try NPZTestArchive.patch(stored, uncompressedSize: 128 + 4 * 25000)
        #expect(throws: NumPyError(.tooLarge, file: stored, location: "x.npy", "stored entry claims 100128 bytes, more than the archive's \(size)")) {
            try NPZArchive(path: stored).read("x")
        }
        // Both its sizes 1 GiB: compressed bytes the archive cannot hold.
        try NPZTestArchive.patch(stored, compressedSize: 1 << 30, uncompressedSize: 1 << 30)
        #expect(throws: NumPyError(.tooLarge, file: stored, location: "x.npy", "entry claims 1073741824 compressed bytes, more than the archive's \(size)")) {
            try NPZArchive(path: stored).readFloat32("x")
        }
        // A deflated member's claim beyond 1032 times its compressed bytes: refused as before.
        let deflated = try archive(member: bytes, "deflated.npz", compressed: true)
        try NPZTestArchive.patch(deflated, uncompressedSize: 1 << 30)
        let error = #expect(throws: NumPyError.self) { try NPZArchive(path: deflated).read("x") }
        #expect(error?.kind == .tooLarge && error?.message.hasSuffix("more than deflate's 1032:1 can expand") == true, "\(String(describing: error))")
    }

    @Test("only the arrays asked for are read: a damaged member beside them does not stop them")
    func onlyWhatIsAsked() throws {
        let path = try archive(["x": try NumPyArray(shape: [2], float32: [1, 2]), "z": try NumPyArray(shape: [3], float64: [1, 2, 3])],
                               "two.npz", compressed: false)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let z = try #require(NPZTestArchive.range(of: [UInt8](NPY.encode(try NumPyArray(shape: [3], float64: [1, 2, 3]))), in: bytes))
        bytes[z.upperBound - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let npz = try NPZArchive(path: path)
        #expect(npz.keys == ["x", "z"])
        #expect(try npz.readFloat32("x").values == [1, 2])
        #expect(throws: NumPyError.self) { try npz.read("z") }
        #expect(throws: NumPyError(.badArchive, file: path, "no array named 'y' (it holds x, z)")) { try npz.read("y") }
    }

    /// Hands over the bytes it holds in the pieces it is given, to test what the decoder does with too few or too many.
    struct Pieces: NPYDataSource {
        var name: String { "pieces.npy" }
        var pieces: [[UInt8]]
        func forEachDataPiece(_ layout: NPY.Layout, chunkByteCount: Int,
                              _ body: (UnsafeRawBufferPointer) throws(NumPyError) -> Void) throws(NumPyError) {
            for piece in pieces {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, piece.count), alignment: 1)
                defer { buffer.deallocate() }
                buffer.copyBytes(from: piece)
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<piece.count]))
            }
        }
    }

    @Test("a source that hands over fewer or more bytes than the layout needs is an error, never a value out of bounds")
    func sourceMismatch() throws {
        let layout = NPY.Layout(shape: [2], dtype: .float32, count: 2, dataStart: 0)
        let one = [UInt8](NPY.encode(try NumPyArray(shape: [1], float32: [1.5])).suffix(4))
        func read(_ pieces: [[UInt8]]) throws(NumPyError) -> [Float] {
            try NPY.readElements(Pieces(pieces: pieces), layout, chunkByteCount: 4) { (bits: UInt32) in Float(bitPattern: bits) }
        }
        #expect(try read([Array(one.prefix(3)), Array(one.suffix(1)) + one.prefix(2), Array(one.suffix(2))]) == [1.5, 1.5])
        #expect(throws: NumPyError(.dataSizeMismatch, file: "pieces.npy", location: "data", "the data ended after 6 bytes, expected 8")) {
            try read([one, Array(one.prefix(2))])
        }
        #expect(throws: NumPyError(.dataSizeMismatch, file: "pieces.npy", location: "data", "more data than shape (2,) of <f4 needs")) {
            try read([one, one, [0]])
        }
        #expect(throws: NumPyError(.dataSizeMismatch, file: "pieces.npy", location: "data", "more data than shape (2,) of <f4 needs")) {
            try read([one + one + one])
        }
    }
}

/// Writing and patching small ZIP archives for the tests.
enum NPZTestArchive {
    /// Where `needle` first occurs in `haystack`.
    static func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] && Array(haystack[start..<(start + needle.count)]) == needle {
            return start..<(start + needle.count)
        }
        return nil
    }

    /// Rewrites the sizes the local and the central file headers of the archive at `path` give (every member's).
    static func patch(_ path: String, compressedSize: UInt32? = nil, uncompressedSize: UInt32? = nil) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // Compressed size at offset 18 of a local header (PK 03 04), 20 of a central one (PK 01 02); uncompressed 4 further.
        for (signature, offset) in [([0x50, 0x4B, 0x03, 0x04] as [UInt8], 18), ([0x50, 0x4B, 0x01, 0x02], 20)] {
            for i in 0..<(bytes.count - 4) where Array(bytes[i..<(i + 4)]) == signature {
                if let compressedSize { put(compressedSize, at: i + offset, in: &bytes) }
                if let uncompressedSize { put(uncompressedSize, at: i + offset + 4, in: &bytes) }
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }
}
