import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `lrm convert` on a `.lrm` whose layers are already factorized (review finding 7).
@Suite("Re-converting a .lrm")
struct ReconvertCLITests {
    let samples = TestPackage.root + "/samples/"

    /// The rank of every factorized layer of the file at `path`, by name.
    func ranks(_ path: String) throws -> [String: Int] {
        var ranks: [String: Int] = [:]
        for layer in try ContainerFile(path: path).header.model.layers {
            if case let .factorizedDense(_, _, _, _, f) = layer.operation { ranks[layer.name] = f.rank }
        }
        return ranks
    }

    @Test("--in-place truncates a rank-8 file to rank 4 and records the history; a policy asking for more keeps it, with a note (before: nothing changed, no word)")
    func inPlace() throws {
        let scratch = try Scratch()
        let model = scratch.file("real.lrm")
        #expect(try ChildProcess.run(["import", samples + "mnist_mlp.h5", "-o", model]).status == 0)
        let eight = try ChildProcess.run(["convert", model, "--in-place", "--policy", "rank:8"])
        #expect(eight.status == 0, "\(eight.stderr)")
        #expect(try ranks(model) == ["dense_1": 8, "dense_2": 8, "output": 8])
        let four = try ChildProcess.run(["convert", model, "--in-place", "--policy", "rank:4"])
        #expect(four.status == 0, "\(four.stderr)")
        #expect(four.stdout.contains("dense_1: rank 4 chose k = 4 of 512: truncated from the stored rank 8"), "\(four.stdout)")
        // Compression is counted from the original layers, as inspect counts it.
        #expect(four.stdout.contains("parameters 535,818 → 10,098, compression 53.06×"), "\(four.stdout)")
        #expect(try ranks(model) == ["dense_1": 4, "dense_2": 4, "output": 4])
        let metadata = try ContainerFile(path: model).header.metadata
        #expect(metadata[MetadataKey.conversionHistory] == .string("rank 8 (plain, f32)"))
        #expect(metadata[MetadataKey.conversionPolicy] == .string("rank"))
        #expect(metadata[MetadataKey.sourceFile] == .string("mnist_mlp.h5"))
        let more = try ChildProcess.run(["convert", model, "--in-place", "--policy", "energy:0.99"])
        #expect(more.status == 0, "\(more.stderr)")
        #expect(more.stdout.contains("more than the 4 stored: kept at rank 4"), "\(more.stdout)")
        #expect(try ranks(model) == ["dense_1": 4, "dense_2": 4, "output": 4])
        let inspect = try ChildProcess.run(["inspect", model])
        #expect(inspect.stdout.contains("compression 53.06×"), "\(inspect.stdout)")
    }

    @Test("sweep, a rank search and a data-aware metric on a .lrm with factorized layers are refused up front, one line, exit 64 (before: identical points, or the layers left as they were)")
    func refusedWhereTheOriginalIsNeeded() throws {
        let scratch = try Scratch()
        let model = scratch.file("r8.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", model]).status == 0)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        expectOneLineError(try ChildProcess.run(["sweep", model] + data), status: 64, naming: "the sweep truncates the original kernels")
        for request in [["--target-ratio", "0.5"], ["--target-accuracy-drop", "2"], ["--policy", "whitened:0.9"]] {
            let result = try ChildProcess.run(["convert", model] + request + data + ["-o", output])
            expectOneLineError(result.droppingWarnings, status: 64, naming: "already factorized here (dense_1, dense_2)", "\(request)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }
}

extension RunResult {
    /// The result with `lrm: warning:` lines left out of stderr.
    var droppingWarnings: RunResult {
        var copy = self
        copy.stderr = stderr.split(separator: "\n").filter { !$0.hasPrefix("lrm: warning:") }.map { $0 + "\n" }.joined()
        return copy
    }
}
