import CHDF5
import Foundation
import Testing
@testable import LRMKeras
import LRMHDF5

/// libhdf5 1.10 leaks a few free-list blocks on some of its own error paths (an object header that runs past the end
/// of a file: `H5O_t`, the continuation list `H5O_cont_t_seq`), which lrm reaches when it judges whether a file was
/// cut short (`HDF5Truncation.contents`). Its exit handler then finds the blocks still allocated, loops 100 times and
/// prints "HDF5: infinite loop closing library" on any thread whose HDF5 error printing is on. These run in a child
/// process (an exit test), alone, so that HDF5's object counts are this test's only.
@Suite("HDF5 at exit: no object left open by any read path, and no teardown message")
struct HDF5TeardownTests {
    @Test("every read path, failing or not, closes every HDF5 object it opened; a process that read damaged files exits silently")
    func nothingOpenAndSilentAtExit() async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let failures = HDF5TeardownTests.readEveryPath()
            if !failures.isEmpty {
                FileHandle.standardError.write(Data(("left open: " + failures.joined(separator: "; ") + "\n").utf8))
                exit(1)
            }
            // Exit (running the exit handlers) from a thread that never called HDF5, as `swift test` may: its error
            // printing is on. The loads ran on another thread, which turned its own printing off.
            exit(0)
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!text.contains("HDF5"), "\(text.prefix(400))")
        #expect(!text.contains("left open"), "\(text.prefix(400))")
    }

    /// Identifiers open now, by kind, as far as HDF5 1.10's public functions tell: the objects of files (files, groups,
    /// datasets, named datatypes, attributes) by count, and for dataspaces, property lists and datatypes, the newest
    /// identifier of each (a fresh one, closed again): those between two of these that are still valid were left open.
    struct Snapshot {
        var fileObjects: Int
        var newest: [hid_t]

        static let kinds = ["dataspaces", "property lists", "datatypes"]

        init() {
            // H5F_OBJ_ALL (a macro Swift does not import), as the types and as the file ("every file").
            let all = H5F_OBJ_FILE | H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR
            fileObjects = Int(H5Fget_obj_count(hid_t(all), UInt32(all)))
            let space = H5Screate(H5S_SCALAR), list = H5Pcreate(lrm_h5p_file_access()), type = H5Tcopy(lrm_h5t_native_float())
            newest = [space, list, type]
            _ = H5Sclose(space); _ = H5Pclose(list); _ = H5Tclose(type)
        }

        /// What was opened after `earlier` and is still open (empty when nothing).
        func leftOpen(since earlier: Snapshot) -> [String] {
            var left: [String] = []
            if fileObjects != earlier.fileObjects { left.append("\(fileObjects - earlier.fileObjects) file objects") }
            for (index, kind) in Self.kinds.enumerated() where newest[index] > earlier.newest[index] + 1 {
                let open = (earlier.newest[index] + 1..<newest[index]).filter { H5Iis_valid($0) > 0 }.count
                if open > 0 { left.append("\(open) \(kind)") }
            }
            return left
        }
    }

    /// Reads every kind of input the reader meets (good files, each bad input, truncated and damaged HDF5 files) on a
    /// thread of its own and returns, for each read that left identifiers open, what it left.
    static func readEveryPath() -> [String] {
        /// Written by the thread before it signals, read after the wait.
        final class Outcome: @unchecked Sendable { var failures: [String] = [] }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            do {
                outcome.failures = try readEveryPathHere()
            } catch {
                outcome.failures = ["setting up: \(error)"]
            }
        }
        thread.start()
        done.wait()
        return outcome.failures
    }

    private static func readEveryPathHere() throws -> [String] {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var reads: [(String, () throws -> Void)] = []
        for (name, architecture) in [("mlp.h5", nil), ("nested.h5", nil), ("mlp.keras", nil), ("mlp.weights.h5", "mlp.keras"),
                                     ("mlp_weights.h5", "mlp.keras"), ("tfk_style_weights.h5", "tfk_style.json")] {
            reads.append((name, { _ = try KerasImporter.load(path: TestData.fixture(name), architecture: architecture.map(TestData.fixture)) }))
            let full = try Data(contentsOf: TestData.fixtures.appendingPathComponent(name))
            guard name.hasSuffix(".h5") else { continue }
            for length in [48, 512, 2048, full.count / 3, full.count / 2, full.count - 1] {
                let path = directory.appendingPathComponent("\(length)-\(name)").path
                try full.prefix(length).write(to: URL(fileURLWithPath: path))
                reads.append(("\(name) cut at \(length)", { _ = try KerasImporter.load(path: path, architecture: architecture.map(TestData.fixture)) }))
            }
        }
        let full = [UInt8](try Data(contentsOf: TestData.fixtures.appendingPathComponent("mlp.h5")))
        for offset in [9, 66, 72, 681, 863] {
            var bytes = full
            bytes[offset] ^= 0xFF
            let path = directory.appendingPathComponent("\(offset)-mlp.h5").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            reads.append(("mlp.h5 damaged at \(offset)", { _ = try KerasImporter.load(path: path) }))
        }
        for input in BadInput.allCases {
            let path = try input.make(in: directory)
            reads.append((input.rawValue, { _ = try KerasImporter.load(path: path) }))
        }
        HDF5Library.silenceErrorPrinting()  // this thread only; first, as before any HDF5 call
        var failures: [String] = []
        for (name, read) in reads {
            let before = Snapshot()
            try? read()
            let left = Snapshot().leftOpen(since: before)
            if !left.isEmpty { failures.append("\(name): \(left.joined(separator: ", "))") }
        }
        return failures
    }
}
