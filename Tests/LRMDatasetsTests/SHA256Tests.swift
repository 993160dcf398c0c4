import Foundation
import Testing
@testable import LRMDatasets

@Suite("SHA-256 and SHA256SUMS")
struct SHA256Tests {
    /// FIPS 180-4 / NIST example vectors.
    @Test("known vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ("The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func vector(message: String, digest: String) {
        #expect(SHA256.hex(SHA256.hash(Array(message.utf8))) == digest)
    }

    @Test("one million 'a' fed in uneven pieces")
    func millionA() {
        var hasher = SHA256()
        let bytes = [UInt8](repeating: 0x61, count: 1_000_000)
        var offset = 0
        var step = 1
        while offset < bytes.count {
            let end = min(bytes.count, offset + step)
            hasher.update(bytes[offset..<end])
            offset = end
            step = step * 3 % 997 + 1
        }
        #expect(SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("padding boundaries 55, 56, 63, 64 bytes agree between one-shot and split updates")
    func boundaries() {
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 128] {
            let bytes = (0..<length).map { UInt8($0 % 251) }
            var split = SHA256()
            split.update(bytes[..<(length / 2)])
            split.update(bytes[(length / 2)...])
            #expect(split.finalize() == SHA256.hash(bytes), "length \(length)")
        }
    }

    @Test("a file's digest equals the digest of its bytes")
    func fileDigest() throws {
        let directory = try TestFiles.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        let url = directory.appendingPathComponent("blob")
        try TestFiles.write(bytes, to: url)
        #expect(try SHA256.hexDigest(ofFileAt: url) == SHA256.hex(SHA256.hash(bytes)))
    }

    @Test("SHA256SUMS lines parse in text and binary mode; malformed lines are rejected")
    func parseList() throws {
        let digest = String(repeating: "ab", count: 32)
        let sums = try SHA256Sums.parse("\(digest)  mnist/a.gz\n\n# comment\n\(digest.uppercased()) *cifar-10/b.bin\r\n",
                                        source: "SUMS")
        #expect(sums.entries == [SHA256Sums.Entry(path: "mnist/a.gz", digest: digest),
                                 SHA256Sums.Entry(path: "cifar-10/b.bin", digest: digest)])
        #expect(sums.digest(for: "cifar-10/b.bin") == digest)
        for bad in ["\(digest) x", "abc  file", "\(digest)  ", String(repeating: "zz", count: 32) + "  f"] {
            let error = #expect(throws: DatasetError.self) { try SHA256Sums.parse(bad, source: "SUMS") }
            #expect(error?.kind == .badChecksumList)
        }
    }

    @Test("verifying a data set's files finds a changed file")
    func verifyDataset() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = DataFolder(root: root)
        let dataset = try Dataset.open(.cifar10, split: .train, in: folder)
        var lines = ""
        for file in dataset.files {
            lines += "\(try SHA256.hexDigest(ofFileAt: file))  \(folder.relativePath(of: file) ?? "?")\n"
        }
        try TestFiles.write(Array(lines.utf8), to: folder.checksumsFile)
        #expect(try folder.checksums(of: dataset).allSatisfy { $0.matches == true })
        try folder.verifyChecksums(of: dataset)
        var bytes = [UInt8](try Data(contentsOf: dataset.files[1]))
        bytes[100] ^= 1
        try TestFiles.write(bytes, to: dataset.files[1])
        let results = try folder.checksums(of: dataset)
        #expect(results.map(\.matches) == [true, false])
        #expect(results[1].path == "cifar-10/data_batch_2.bin")
        let error = #expect(throws: DatasetError.self) { try folder.verifyChecksums(of: dataset) }
        #expect(error?.kind == .checksumMismatch)
    }

    @Test("a listed data file that differs from SHA256SUMS is refused before use, naming it; no list or an unlisted file is not an error")
    func listedChecksumsBeforeUse() throws {
        let root = try TestFiles.makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = DataFolder(root: root)
        let dataset = try Dataset.open(.cifar10, split: .train, in: folder)
        // No list: nothing to check against.
        try folder.verifyListedChecksums(of: dataset)
        // A list naming only the second file, with its digest: passes.
        let second = dataset.files[1]
        try TestFiles.write(Array("\(try SHA256.hexDigest(ofFileAt: second))  cifar-10/data_batch_2.bin\n".utf8), to: folder.checksumsFile)
        try folder.verifyListedChecksums(of: dataset)
        // The listed file changed (same size, one bit): refused, naming it and both digests.
        var bytes = [UInt8](try Data(contentsOf: second))
        bytes[100] ^= 1
        try TestFiles.write(bytes, to: second)
        let changed = try SHA256.hexDigest(ofFileAt: second)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: second.path)
        let error = #expect(throws: DatasetError.self) { try folder.verifyListedChecksums(of: dataset) }
        #expect(error?.kind == .checksumMismatch)
        #expect(error?.description.contains(second.path) == true, "\(String(describing: error))")
        #expect(error?.description.contains(changed) == true)
        // The first file is not listed: not checked, not an error (the list is the user's choice).
        try TestFiles.write(Array("\(changed)  cifar-10/data_batch_2.bin\n".utf8), to: folder.checksumsFile)
        try folder.verifyListedChecksums(of: dataset)
    }
}

