import Foundation
import Testing
@testable import LRMNumPy

@Suite("NPZ archives")
struct NPZTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = packageRoot.appendingPathComponent("Tests/LRMKerasTests/Fixtures")
    static let corpus: URL? = {
        let candidates = [ProcessInfo.processInfo.environment["LRM_KERAS_CORPUS"].map { URL(fileURLWithPath: $0) },
                          packageRoot.deletingLastPathComponent().appendingPathComponent("shared/keras-corpus")]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("keras3").path) }
    }()

    @Test("write then read an archive of several arrays")
    func roundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arrays = ["x": try NumPyArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]),
                      "y": try NumPyArray(shape: [], float64: [0.5]),
                      "labels": try NumPyArray(shape: [2], storage: .int64([3, 9]))]
        let path = directory.appendingPathComponent("a.npz").path
        try NPZ.write(arrays, to: path)
        #expect(try NPZ.read(path: path) == arrays)
    }

    @Test("the fixtures' reference archives (written by numpy.savez) read with their shapes")
    func fixtures() throws {
        let pred = try NPZ.read(path: Self.fixtures.appendingPathComponent("mlp.pred.npz").path)
        #expect(pred["x"]?.shape == [8, 6])
        #expect(pred["x"]?.dtype == .float32)
        #expect(pred["y"]?.shape == [8, 3])
        let fp16 = try NPZ.read(path: Self.fixtures.appendingPathComponent("fp16.ref.npz").path)
        #expect(fp16["w000"]?.dtype == .float16)
        #expect(fp16["w000"]?.shape == [4, 3])
    }

    @Test("real-data: every .pred.npz of the shared corpus reads, y has one row per x row",
          .enabled(if: NPZTests.corpus != nil, "../shared/keras-corpus not found"))
    func corpusPredictions() throws {
        guard let corpus = Self.corpus else { return }
        var count = 0
        for sub in ["keras3", "tf-keras"] {
            let directory = corpus.appendingPathComponent(sub)
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".pred.npz") {
                let arrays = try NPZ.read(path: directory.appendingPathComponent(name).path)
                let x = try #require(arrays["x"]), y = try #require(arrays["y"])
                #expect(x.shape.first == 32 && y.shape.first == 32, "\(name)")
                #expect(x.floatValues().allSatisfy { $0.isFinite })
                count += 1
            }
        }
        #expect(count >= 18)
    }

    /// Bytes this thread has read from files since it started (`rchar` of /proc/thread-self/io), nil where there is none.
    static func bytesReadByThisThread() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/io", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("rchar:") }) else { return nil }
        return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
    }

    @Test("an archive is read once: reading it reads about its size, not its size for a check and again for the arrays",
          .enabled(if: NPZTests.bytesReadByThisThread() != nil, "no /proc/thread-self/io"))
    func readOnce() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("big.npz").path
        let count = 2 << 20
        let x = try NumPyArray(shape: [count / 8, 8], float32: (0..<count).map { Float($0 % 1000) })
        try NPZ.write(["x": x], to: path)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        // The read runs on this thread from start to end (nothing in it is asynchronous), so the thread's count is its own.
        let before = try #require(Self.bytesReadByThisThread())
        let arrays = try NPZ.read(path: path)
        let read = try #require(Self.bytesReadByThisThread()) - before
        #expect(arrays["x"] == x)
        #expect(read >= size * 9 / 10, "read \(read) bytes of a \(size)-byte archive: the count does not see the reads")
        #expect(read < size * 5 / 4, "read \(read) bytes of a \(size)-byte archive")
    }

    @Test("non-archives and corrupt archives are typed errors")
    func badArchives() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrm-npz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let notZip = directory.appendingPathComponent("not.npz")
        try Data("hello".utf8).write(to: notZip)
        let notZipError = #expect(throws: NumPyError.self) { try NPZ.read(path: notZip.path) }
        #expect(notZipError?.kind == .badArchive)
        #expect(notZipError?.description == "\(notZip.path): not a readable ZIP archive: it has no end-of-central-directory record, "
                + "the index a ZIP file ends with (the file is truncated, corrupt or not an .npz)")
        let full = try Data(contentsOf: Self.fixtures.appendingPathComponent("mlp.ref.npz"))
        var corrupt = [UInt8](full)
        corrupt[100] ^= 0xFF  // inside the first member's data: CRC-32 or .npy parse must catch it
        let corruptURL = directory.appendingPathComponent("corrupt.npz")
        try Data(corrupt).write(to: corruptURL)
        #expect(throws: NumPyError.self) { try NPZ.read(path: corruptURL.path) }
        let truncatedURL = directory.appendingPathComponent("truncated.npz")
        try full.prefix(full.count / 2).write(to: truncatedURL)
        let truncated = #expect(throws: NumPyError.self) { try NPZ.read(path: truncatedURL.path) }
        #expect(truncated?.kind == .badArchive && truncated?.description.contains("(the file is truncated, corrupt or not an .npz)") == true,
                "\(String(describing: truncated))")
        let missing = #expect(throws: NumPyError.self) { try NPZ.read(path: directory.appendingPathComponent("none.npz").path) }
        #expect(missing?.kind == .unreadable)
        // A pipe has no end to find the index at: refused at once (it used to be read whole, then opened again, waiting for
        // a writer that had gone).
        let fifo = directory.appendingPathComponent("pipe.npz").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: NumPyError(.unreadable, file: fifo, "not a regular file: an .npz archive is read from a file (its index is at its end)")) {
            try NPZ.read(path: fifo)
        }
    }
}
