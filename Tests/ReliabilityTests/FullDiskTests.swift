import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Whether this process may mount a tmpfs (root on Linux): the real full-disk test needs one.
private let canMountTmpfs: Bool = {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/bin/mount") else { return false }
    let probe = NSTemporaryDirectory() + "lrm-tmpfs-probe-\(getpid())"
    try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: probe) }
    guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]) == 0 else { return false }
    _ = run("/bin/umount", [probe])
    return true
}()

@discardableResult
private func run(_ executable: String, _ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// Issue 19, item 6: writing an output that does not fit ends in one line and exit 73, with nothing left
/// behind; `export` used to crash (SIGSEGV, exit 139) in libhdf5's exit-time cleanup of the file it left
/// open after the failed write.
@Suite("Full disk: every writer ends in exit 73, nothing left")
struct FullDiskTests {
    /// The commands that write, on `folder`, with inputs outside it.
    private func writers(model: String, inputs: String, into folder: String) -> [[String]] {
        [["export", model, "--to", "keras", "-o", folder + "/m.h5"],
         ["convert", model, "--policy", "rank:8", "-o", folder + "/c.lrm"],
         ["import", Fixtures.path("mlp.h5"), "-o", folder + "/i.lrm"],
         ["example", "-o", folder + "/e.lrm"],
         ["predict", model, "--input", inputs, "-o", folder + "/y.npy"]]
    }

    private func inputs(in scratch: Scratch) throws -> String {
        let path = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [64, 784], float32: [Float](repeating: 0.5, count: 64 * 784)), to: path)
        return path
    }

    @Test("a file-size limit (ulimit -f, SIGXFSZ ignored) makes every writer fail cleanly: exit 73, one line, no file left")
    func fileSizeLimit() throws {
        let scratch = try Scratch()
        let model = scratch.file("model.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 5), to: model)  // 57 KB; its Keras export about as much
        let inputs = try inputs(in: scratch)
        let out = scratch.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for arguments in writers(model: model, inputs: inputs, into: out) {
            // One block (512 bytes for dash, 1 KiB for bash): every output here is larger.
            let result = try runInShell(arguments, in: scratch.path, prefix: "ulimit -f 1 && trap '' XFSZ")
            #expect(result.status == 73, "\(arguments.first ?? ""): \(result.status) \(result.stderr)")
            #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            let left = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(left.isEmpty, "left: \(left)")
        }
    }

    @Test("a full 1 MB tmpfs: export and import of the 2 MB MNIST model end in exit 73 with the folder left empty",
          .enabled(if: canMountTmpfs, "needs root to mount a tmpfs"))
    func fullTmpfs() throws {
        let scratch = try Scratch()
        let model = scratch.file("mnist.lrm")
        #expect(try ChildProcess.run(["import", TestPackage.root + "/samples/mnist_mlp.h5", "-o", model]).status == 0)
        let small = scratch.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]) == 0)
        defer { run("/bin/umount", [small]) }
        for arguments in [["export", model, "--to", "keras", "-o", small + "/m.h5"],
                          ["import", TestPackage.root + "/samples/mnist_mlp.h5", "-o", small + "/i.lrm"]] {
            let result = try ChildProcess.run(arguments, timeout: 120)
            #expect(result.status == 73, "\(arguments.first ?? ""): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: small).isEmpty)
        }
    }

    @Test("a .keras whose weights do not fit in a full temporary folder: exit 73 (a full disk), not 65, and nothing left there",
          .enabled(if: canMountTmpfs, "needs root to mount a tmpfs"))
    func fullTemporaryFolder() throws {
        let scratch = try Scratch()
        let small = scratch.file("tmp")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try #require(run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", small]) == 0)
        defer { run("/bin/umount", [small]) }
        // Fill the folder but for about 16 KiB: the fixture's weights (27,104 bytes) cannot be extracted.
        let filler = small + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: Data(count: 48 << 10))
        let result = try ChildProcess.run(["inspect", Fixtures.path("mlp.keras")], environment: ["TMPDIR": small], timeout: 60)
        #expect(result.status == 73, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: small) == ["filler"])
    }
}
