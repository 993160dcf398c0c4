import Foundation
import LRMTestSupport
import Testing
import ZIPFoundation

/// Keras files cut short (an interrupted copy or download): one line naming the file and saying it is truncated,
/// in the user's terms rather than libhdf5's ("sblock->base_addr", "bad byte number in an address", function names).
@Suite("Truncated Keras files")
struct TruncatedFileTests {
    /// What libhdf5's own messages for these files contained.
    static let libraryWording = ["sblock", "stored_eof", "bad byte number", "H5F", "HDF5: "]

    static func expectTruncated(_ result: RunResult, _ path: String, length: Int, of size: Int, _ arguments: [String]) {
        #expect(result.status == 65 && result.isCleanError, "\(arguments): \(result)")
        let recorded = "lrm: error: \(path): truncated HDF5 file: it has \(length) bytes of the \(size) its superblock records\n"
        let inside = "lrm: error: \(path): truncated HDF5 file: its \(length) bytes end inside the superblock\n"
        #expect(length >= 48 ? result.stderr == recorded : (result.stderr == recorded || result.stderr == inside), "\(arguments): \(result.stderr)")
        for wording in libraryWording { #expect(!result.stderr.contains(wording), "\(arguments): \(result.stderr)") }
    }

    @Test("samples, fixtures and corpus files cut at many lengths: exit 65, one line naming the file, its length and the length recorded")
    func truncatedHDF5() throws {
        let scratch = try Scratch()
        var files: [(String, String?)] = [
            (TestPackage.root + "/samples/mnist_mlp.h5", nil), (TestPackage.root + "/samples/cifar10_cnn.h5", nil),
            (Fixtures.path("mlp.h5"), nil), (Fixtures.path("mlp.weights.h5"), Fixtures.path("mlp.keras")),
            (Fixtures.path("mlp_weights.h5"), Fixtures.path("mlp.keras")),
        ]
        let corpus = TestPackage.shared + "/keras-corpus"
        if FileManager.default.fileExists(atPath: corpus) {
            files += [(corpus + "/keras3/k3_chunked.h5", nil), (corpus + "/tf-keras/tfk_fp64.h5", nil),
                      (corpus + "/keras3/k3_bn.weights.h5", corpus + "/keras3/k3_bn.keras"),
                      (corpus + "/tf-keras/tfk_nested_weights.h5", corpus + "/tf-keras/tfk_nested.keras")]
        }
        for (file, config) in files {
            let full = try Data(contentsOf: URL(fileURLWithPath: file))
            let name = (file as NSString).lastPathComponent
            for length in [8, 20, 40, 48, 96, 2048, full.count / 4, full.count - 1] {
                let path = try scratch.write([UInt8](full.prefix(length)), to: "\(length)-\(name)")
                let arguments = ["inspect", path] + (config.map { ["--config", $0] } ?? [])
                Self.expectTruncated(try ChildProcess.run(arguments, timeout: 60), path, length: length, of: full.count, arguments)
            }
        }
        // The same through import, convert and verify's reference, and with the reader in-process.
        let full = try Data(contentsOf: URL(fileURLWithPath: TestPackage.root + "/samples/mnist_mlp.h5"))
        let path = try scratch.write([UInt8](full.prefix(full.count / 2)), to: "half.h5")
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        for arguments in [["import", path, "-o", scratch.file("o.lrm")], ["convert", path, "--policy", "rank:4", "-o", scratch.file("o.lrm")],
                          ["verify", model, "--reference", path, "--dataset", "mnist"]] {
            Self.expectTruncated(try ChildProcess.run(arguments, timeout: 60), path, length: full.count / 2, of: full.count, arguments)
            Self.expectTruncated(try ChildProcess.run(arguments, environment: ["LRM_KERAS_IN_PROCESS": "1"], timeout: 60), path,
                                 length: full.count / 2, of: full.count, arguments + ["(in-process)"])
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.lrm")))
    }

    /// Cuts 4 and 16 bytes off `full` (written as `name`): `truncated`; and instead records an end 16 bytes past its
    /// size (a version 0 superblock keeps it at byte 40), where all it holds is there: `truncated or corrupt`.
    static func expectCutAtTheEnd(_ full: [UInt8], _ name: String, in scratch: Scratch) throws {
        for cut in [4, 16] {
            let path = try scratch.write(Array(full.dropLast(cut)), to: "cut\(cut)-\(name)")
            expectTruncated(try ChildProcess.run(["inspect", path], timeout: 60), path, length: full.count - cut, of: full.count, [name, "\(cut)"])
        }
        #expect(full[8] == 0)
        var bytes = full
        bytes.replaceSubrange(40..<48, with: (0..<8).map { UInt8(truncatingIfNeeded: (full.count + 16) >> (8 * $0)) })
        let path = try scratch.write(bytes, to: "end-\(name)")
        let result = try ChildProcess.run(["inspect", path], timeout: 60)
        #expect(result.status == 65 && result.isCleanError, "\(name): \(result)")
        #expect(result.stderr == "lrm: error: \(path): truncated or corrupt HDF5 file: it has \(full.count) bytes of the \(full.count + 16) its superblock records\n",
                "\(name): \(result.stderr)")
    }

    @Test("a file cut inside its global heap (the characters of its variable-length strings), kept last, is truncated; with its recorded end's lowest byte damaged instead, truncated or corrupt")
    func cutInGlobalHeap() throws {
        let scratch = try Scratch()
        let file = scratch.file("strings.h5")
        try HDF5Craft.stringAttributeLast(at: file, characters: 5000)
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        // A global heap collection: "GCOL", its version, 3 reserved bytes, then its size (8 bytes), from its start.
        let heap = try #require(full.indices.dropLast(16).last { full[$0...].starts(with: Array("GCOL".utf8)) })
        let size = (0..<8).reduce(0) { $0 | Int(full[heap + 8 + $1]) << (8 * $1) }
        #expect(heap + size == full.count, "\(heap) + \(size)")
        try Self.expectCutAtTheEnd(full, "strings.h5", in: scratch)
    }

    @Test("a file cut inside a chunk past its dataset's first 1,024, kept last, is truncated; with its recorded end's lowest byte damaged instead, truncated or corrupt")
    func cutInLateChunk() throws {
        let scratch = try Scratch()
        let file = scratch.file("chunks.h5")
        try HDF5Craft.chunkedWeights(at: file, chunk: [1, 2])  // 1,536 deflated chunks
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        let last = try HDF5Craft.chunkRecord(in: file, dataset: "/dense/dense/kernel:0", index: 1535)
        #expect(Int(last.address + last.stored) == full.count, "\(last)")
        try Self.expectCutAtTheEnd(full, "chunks.h5", in: scratch)
    }

    @Test(".keras archives cut short: exit 65, one line saying the ZIP archive lacks its end record and is truncated or corrupt")
    func truncatedKeras() throws {
        let scratch = try Scratch()
        var files = [Fixtures.path("mlp.keras"), Fixtures.path("nested.keras")]
        let corpus = TestPackage.shared + "/keras-corpus"
        if FileManager.default.fileExists(atPath: corpus) { files += [corpus + "/keras3/k3_bn.keras", corpus + "/tf-keras/tfk_chunked.keras"] }
        for file in files {
            let full = try Data(contentsOf: URL(fileURLWithPath: file))
            for length in [4, 30, 512, full.count / 2, full.count - 1] {
                let path = try scratch.write([UInt8](full.prefix(length)), to: "\(length)-\((file as NSString).lastPathComponent)")
                for arguments in [["inspect", path], ["import", path, "-o", scratch.file("o.lrm")]] {
                    let result = try ChildProcess.run(arguments, timeout: 60)
                    #expect(result.status == 65 && result.isCleanError, "\(arguments): \(result)")
                    #expect(result.stderr == "lrm: error: \(path): not a readable ZIP archive: it has no end-of-central-directory record, "
                            + "the index a ZIP file ends with (the file is truncated or corrupt)\n", "\(arguments): \(result.stderr)")
                }
            }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.lrm")))
    }

    @Test("a .keras archive whose model.weights.h5 is cut short names the archive and the member")
    func truncatedMember() throws {
        let scratch = try Scratch()
        let path = scratch.file("cut-member.keras")
        let source = try Archive(url: URL(fileURLWithPath: Fixtures.path("mlp.keras")), accessMode: .read)
        let target = try Archive(url: URL(fileURLWithPath: path), accessMode: .create)
        var weightsSize = 0
        for entry in source {
            var data = Data()
            _ = try source.extract(entry) { data.append($0) }
            if entry.path == "model.weights.h5" {
                weightsSize = data.count
                data = data.prefix(data.count / 2)
            }
            try target.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        let result = try ChildProcess.run(["inspect", path], timeout: 60)
        #expect(result.status == 65 && result.isCleanError, "\(result)")
        #expect(result.stderr == "lrm: error: \(path): model.weights.h5: truncated HDF5 file: it has \(weightsSize / 2) bytes of the \(weightsSize) its superblock records\n",
                "\(result.stderr)")
    }
}
