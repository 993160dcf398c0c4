import Testing
@testable import LRMFormat

@Suite("Corruption catalogue and byte flips")
struct CorruptionTests {
    @Test("each defect is rejected with exactly its error kind", arguments: Defect.allCases)
    func defect(_ defect: Defect) throws {
        let directory = try TemporaryDirectory()
        let bytes = try defect.apply()
        if defect.foundOnlyByVerify {
            #expect(openErrorKind(bytes, in: directory, verify: false) == nil, "opens without verifying")
        }
        #expect(openErrorKind(bytes, in: directory) == defect.expectedKind)
    }

    @Test("the tiny file has padding after its header and between tensors, so those defects are real")
    func paddingExists() throws {
        let file = try ContainerFile.decodeForTests(try ContainerWriter.encode(TinyModel.make()))
        #expect(file.dataOffset > 32 + file.headerByteCount)
        #expect(file.header.tensors[0].byteCount < file.header.tensors[1].byteOffset)
    }

    @Test("errors name the file and a byte offset")
    func messages() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(try Defect.tensorOverlap.apply(), to: "overlap.lrm")
        let error = try #require(throws: ContainerError.self) { try ContainerFile(path: path) }
        #expect(error.description.hasPrefix(path + ": "))
        #expect(error.description.contains("tensor 'fc1/bias' has offset 0, expected 64"))
        let flip = try directory.write(try Defect.tensorChecksum.apply(), to: "flip.lrm")
        let verifyError = try #require(throws: ContainerError.self) { try ContainerFile(path: flip).verifyAllChecksums() }
        #expect(verifyError.byteOffset != nil)
        #expect(verifyError.description.contains("fc1/kernel"))
    }

    @Test("missing files, directories and non-lrm files give one-line io or magic errors")
    func notFiles() throws {
        let directory = try TemporaryDirectory()
        for (path, kind) in [(directory.file("missing.lrm"), ContainerError.Kind.io), (directory.path, .io)] {
            let error = try #require(throws: ContainerError.self) { try ContainerFile(path: path) }
            #expect(error.kind == kind)
            #expect(!error.description.contains("\n"))
        }
        let png = try directory.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 0, count: 64), to: "x.lrm")
        #expect(throws: ContainerError.self) { try ContainerFile(path: png) }
    }

    @Test("flipping any single byte of a small file is always detected")
    func everyByteFlip() throws {
        let directory = try TemporaryDirectory()
        let base = try ContainerWriter.encode(TinyModel.make())
        var kinds: [ContainerError.Kind: Int] = [:]
        for index in base.indices {
            var bytes = base
            bytes[index] ^= 0xFF
            let kind = openErrorKind(bytes, in: directory)
            #expect(kind != nil, "flip at byte \(index) was accepted")
            if let kind { kinds[kind, default: 0] += 1 }
        }
        // Every region of the file was exercised: preamble, header, padding, data.
        #expect(kinds[.badMagic] == 8)
        #expect((kinds[.headerChecksum] ?? 0) > 100)
        #expect((kinds[.nonZeroPadding] ?? 0) > 0)
        #expect((kinds[.tensorChecksum] ?? 0) == 64)
    }

    @Test("a seeded sweep of random mutations never crashes and never accepts changed tensor data")
    func randomMutations() throws {
        let directory = try TemporaryDirectory()
        let base = try ContainerWriter.encode(RandomModels.make(seed: 3))
        var rng = SeededGenerator(seed: 99)
        var rejected = 0
        for _ in 0..<2000 {
            var bytes = base
            switch rng.next() % 3 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1: for _ in 0..<(1 + rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count)))
            }
            if bytes == base { continue }
            if openErrorKind(bytes, in: directory) != nil { rejected += 1 } else { Issue.record("mutation accepted") }
        }
        #expect(rejected > 1900)
    }
}
