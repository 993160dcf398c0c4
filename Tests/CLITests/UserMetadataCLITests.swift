import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// `--meta KEY=VALUE` on convert and import (issue 17), and `export` to a Keras 3 `.keras` archive.
@Suite("lrm --meta and export to .keras")
struct UserMetadataCLITests {
    static let sample = TestPackage.root + "/samples/mnist_mlp.h5"

    /// The file's user metadata, from `lrm inspect --json`.
    func userMetadata(_ path: String) throws -> [String: String] {
        let run = try ChildProcess.run(["inspect", path, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        return try jsonObject(run.stdout)["user_metadata"] as? [String: String] ?? [:]
    }

    @Test("convert and import store --meta entries (the import through the Keras reader child); convert keeps the input's and replaces a repeated key")
    func stored() throws {
        let scratch = try Scratch()
        let imported = scratch.file("imported.lrm")
        let importRun = try ChildProcess.run(["import", Self.sample, "-o", imported, "--meta", "owner=team a", "--meta", "source=mnist=v1"])
        #expect(importRun.status == 0, "\(importRun.stderr)")
        #expect(try userMetadata(imported) == ["owner": "team a", "source": "mnist=v1"])

        let converted = scratch.file("converted.lrm")
        let convertRun = try ChildProcess.run(["convert", imported, "--policy", "rank:8", "-o", converted, "--meta", "owner=team b", "--meta", "ticket=42"])
        #expect(convertRun.status == 0, "\(convertRun.stderr)")
        #expect(try userMetadata(converted) == ["owner": "team b", "source": "mnist=v1", "ticket": "42"])

        let fromKeras = scratch.file("from-keras.lrm")
        #expect(try ChildProcess.run(["convert", Self.sample, "--policy", "rank:8", "-o", fromKeras, "--meta", "k=v"]).status == 0)
        #expect(try userMetadata(fromKeras) == ["k": "v"])
    }

    @Test("a malformed, empty-keyed or repeated --meta is a usage error and nothing is written", arguments: [
        (["--meta", "novalue"], "expected KEY=VALUE"), (["--meta", "=x"], "the key must be 1 to 1024 bytes"),
        (["--meta", "a=1", "--meta", "a=2"], "--meta a is given twice"),
    ])
    func malformed(_ meta: [String], message: String) throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        expectOneLineError(try ChildProcess.run(["import", Self.sample, "-o", output] + meta), status: 64, naming: message)
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("export -o x.keras writes a Keras 3 archive that lrm reads back and runs like the .lrm")
    func exportArchive() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), archive = scratch.file("m.keras")
        #expect(try ChildProcess.run(["convert", Self.sample, "--policy", "rank:16", "-o", model]).status == 0)
        let export = try ChildProcess.run(["export", model, "--to", "keras", "-o", archive])
        #expect(export.status == 0 && export.stdout.contains("wrote \(archive): Keras Sequential"), "\(export.stdout)\(export.stderr)")
        // The same predictions from the archive (re-imported by lrm's Keras 3 reader) and from the .lrm.
        let input = scratch.file("x.npy")
        var state: UInt64 = 3
        let values = (0..<(8 * 784)).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) * 255
        }
        try NPY.write(try NumPyArray(shape: [8, 28, 28], float32: values), to: input)
        let fromLRM = try ChildProcess.run(["predict", model, "--input", input, "-o", scratch.file("a.npy")])
        let fromKeras = try ChildProcess.run(["predict", archive, "--input", input, "-o", scratch.file("b.npy")])
        #expect(fromLRM.status == 0 && fromKeras.status == 0, "\(fromLRM.stderr)\(fromKeras.stderr)")
        let a = try NPY.read(path: scratch.file("a.npy")).floatValues()
        let b = try NPY.read(path: scratch.file("b.npy")).floatValues()
        #expect(a.count == 80 && b.count == 80)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "largest |Δ| \(worst)")
    }
}
