import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// verify's gate on models whose outputs overflow.
@Suite("verify of models that overflow")
struct HostileVerifyTests {
    /// 4 inputs → 3 softmax outputs, every weight 1e30: inputs of 1e10 overflow float32.
    static func overflowing() -> Model {
        Model(name: "wide", input: InputSpec(shape: [4]), layers: [
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [4, 3], floats: [Float](repeating: 1e30, count: 12)), bias: nil, activation: .softmax)),
        ])
    }

    @Test("outputs that overflow to NaN in both models: verify refuses in one line naming the file (exit 65, a JUnit error case) where it scored them, found 100% agreement and said PASS (exit 0)")
    func overflowingOutputs() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), reference = scratch.file("r.lrm")
        try ContainerWriter.write(Self.overflowing(), to: model)
        try ContainerWriter.write(Self.overflowing(), to: reference)
        try NPY.write(try NumPyArray(shape: [10, 4], float32: [Float](repeating: 1e10, count: 40)), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [10], storage: .int64((0..<10).map { Int64($0 % 3) })), to: scratch.file("y.npy"))
        let junit = scratch.file("j.xml")
        let result = try ChildProcess.run(["verify", model, "--reference", reference, "--min-agreement", "0.99",
                                           "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"), "--test-fraction", "0.5",
                                           "--junit", junit], timeout: 60)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: error:") }
        #expect(result.status == 65 && errors.count == 1 && !result.stdout.contains("PASS"), "\(result)")
        #expect(errors.first?.contains("\(model): the model 'wide' gives NaN or infinite outputs from finite inputs (it overflows)") == true,
                "\(result.stderr)")
        // CI sees it as an error case.
        #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("errors=\"1\""))
    }

    @Test("convert of a model whose outputs overflow on the test split: one line naming the model file, exit 65, nothing written (the line named only the model's internal name)")
    func convertNamesTheFile() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm"), out = scratch.file("o.lrm")
        try ContainerWriter.write(Self.overflowing(), to: model)
        try NPY.write(try NumPyArray(shape: [10, 4], float32: [Float](repeating: 1e10, count: 40)), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [10], storage: .int64((0..<10).map { Int64($0 % 3) })), to: scratch.file("y.npy"))
        let result = try ChildProcess.run(["convert", model, "--policy", "rank:1", "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"),
                                           "-o", out], timeout: 60)
        #expect(result.isCleanError && result.status == 65, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: \(model): the model 'wide' gives NaN or infinite outputs"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("sweep of a model whose outputs overflow: one line naming the model file, exit 65 (it scored the NaN outputs, every point 'agreed' 100% with the original, exit 0)")
    func sweepRefuses() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(Self.overflowing(), to: model)
        try NPY.write(try NumPyArray(shape: [10, 4], float32: [Float](repeating: 1e10, count: 40)), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [10], storage: .int64((0..<10).map { Int64($0 % 3) })), to: scratch.file("y.npy"))
        let result = try ChildProcess.run(["sweep", model, "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")], timeout: 60)
        #expect(result.isCleanError && result.status == 65 && result.stdout.isEmpty, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: \(model): the model 'wide' gives NaN or infinite outputs from finite inputs (it overflows)"),
                "\(result.stderr)")
    }

    @Test("a rank search of the housing sample under --input-scale 1e38 (outputs that overflow): refused before any candidate is scored, naming the file, exit 65 (every candidate scored 1.0000 against the original's NaN outputs, and only the test step refused)")
    func searchRefusesBeforeSearching() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", out = scratch.file("h.lrm")
        let model = samples + "housing_mlp.h5"
        let result = try ChildProcess.run(["convert", model, "--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
                                           "--input-scale", "1e38", "--target-metric-drop", "1", "--metric", "plain", "--no-refit",
                                           "--progress", "json", "-o", out], timeout: 120)
        let lines = result.stderr.split(separator: "\n")
        #expect(result.status == 65 && !FileManager.default.fileExists(atPath: out), "\(result)")
        #expect(lines.last?.contains("{\"error\":{\"message\":\"\(model): the model 'housing_mlp' gives NaN or infinite outputs") == true, "\(result.stderr)")
        // No candidate was scored (confirmed or searched): the original's outputs were refused first.
        #expect(!lines.contains { $0.contains("\"phase\":\"confirm\"") || $0.contains("\"phase\":\"search\"") }, "\(result.stderr)")
    }
    @Test("an input scale or offset past float32's range (1e308, a fraction that gets there) is a bad command line naming the option, exit 64, before anything runs: a size search under --input-scale 1e308 was refused at calibration with 'XᵀX reaches nan' (exit 65)")
    func scalePastFloat32() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", out = scratch.file("m.lrm")
        let search = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--dataset", "mnist", "--input-scale", "1e308", "--target-size", "100KB",
                                           "--progress", "json", "-o", out], timeout: 120)
        #expect(search.status == 64 && !FileManager.default.fileExists(atPath: out), "\(search)")
        #expect(search.stderr.contains("--input-scale: '1e308' is past the range of float32 (±3.4e38)") && !search.stderr.contains("calibration"),
                "\(search.stderr)")
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        for (command, option, value) in [("predict", "--input-scale", "1/1e-300"), ("sweep", "--input-offset", "-1e39"), ("verify", "--input-scale", "1e308"),
                                         ("import", "--input-offset", "4e38")] {
            var arguments = [command, samples + "housing_mlp.h5", option, value]
            switch command {
            case "predict": arguments += ["--input", samples + "housing_x.npy", "-o", scratch.file("p.npy")]
            case "import": arguments += ["-o", out]
            default: arguments += housing
            }
            let run = try ChildProcess.run(arguments, timeout: 120)
            #expect(run.status == 64 && run.stderr.contains("\(option): '\(value)' is past the range of float32"), "\(command): \(run)")
        }
        #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: scratch.file("p.npy")))
        // The largest float32 is still a scale (what it does to the data is the data's affair).
        let largest = try ChildProcess.run(["predict", samples + "housing_mlp.h5", "--input-scale", "3.4e38", "--input", samples + "housing_x.npy",
                                            "-o", scratch.file("p.npy")], timeout: 120)
        #expect(largest.status != 64, "\(largest)")
    }

    /// 4 inputs → 8 relu → 1, whose rank-1 truncation of the hidden layer overflows while the original does not: the hidden
    /// kernel's rows (2, 2, 0, …) and (−1, 1, 0, …) are orthogonal (singular values 2√2 and √2), so rank 1 keeps the first row
    /// alone. On inputs (t, 4t, 0, 0) the first hidden unit's pre-activation is 2t − 4t < 0 (relu: 0) in the original and 2t > 0
    /// at rank 1, where the output's weight on it, 3e38, takes it past float32's largest value.
    static func overflowingWhenTruncated() -> Model {
        var hidden = [Float](repeating: 0, count: 4 * 8)
        hidden[0] = 2; hidden[1] = 2; hidden[8] = -1; hidden[9] = 1
        var output = [Float](repeating: 0, count: 8)
        output[0] = 3e38; output[1] = 1
        return Model(name: "cancels", input: InputSpec(shape: [4]), layers: [
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [4, 8], floats: hidden), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [8, 1], floats: output), bias: nil, activation: .linear)),
        ])
    }

    /// ``overflowingWhenTruncated()`` as `m.lrm` in `scratch`, with 60 own records (`x.npy`, `y.npy`) that a search of it
    /// overflows on; returns the model's path and the output path `o.lrm`.
    static func overflowingSearchFiles(_ scratch: Scratch) throws -> (model: String, out: String) {
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(overflowingWhenTruncated(), to: model)
        let n = 60
        let x = (0..<n).flatMap { i -> [Float] in let t = Float(i + 1); return [t, 4 * t, 0, 0] }
        try NPY.write(try NumPyArray(shape: [n, 4], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [n], float32: (0..<n).map { Float(6 * ($0 + 1)) + ($0 % 2 == 0 ? 1 : -1) }), to: scratch.file("y.npy"))
        return (model, scratch.file("o.lrm"))
    }

    @Test("a search whose candidates overflow while the original does not: convert warns how many, --json's search has overflowing_candidates (it had no such field) and the progress events say the candidate overflowed (they said 'score -inf')")
    func searchCountsOverflowingCandidates() throws {
        let scratch = try Scratch()
        let (model, out) = try Self.overflowingSearchFiles(scratch)
        let result = try ChildProcess.run(["convert", model, "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"),
                                           "--target-metric-drop", "5", "--metric", "plain", "--no-refit", "--json", "--progress", "json",
                                           "-o", out], timeout: 120)
        #expect(result.status == 0, "\(result)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let search = try #require(report["search"] as? [String: Any], "\(result.stdout)")
        let overflowing = try #require(search["overflowing_candidates"] as? Int, "\(search)")
        let candidates = try #require(search["candidates"] as? Int)
        #expect(overflowing > 0 && overflowing < candidates, "\(overflowing) of \(candidates)")
        let events = result.stderr.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }
        let warnings = events.compactMap { ($0["warning"] as? [String: Any])?["message"] as? String }
        #expect(warnings.contains("\(overflowing) of the \(candidates) candidates the search scored gave NaN or infinite outputs (they overflow) and missed the budget"),
                "\(result.stderr)")
        let scored = events.compactMap { $0["progress"] as? [String: Any] }.filter { $0["phase"] as? String == "search" }.compactMap { $0["message"] as? String }
        #expect(scored.count == candidates && scored.filter { $0.hasPrefix("candidate outputs NaN or infinite values (it overflows)") }.count == overflowing,
                "\(scored)")
        #expect(!scored.contains { $0.contains("inf") && !$0.contains("infinite") }, "\(scored)")
    }

    @Test("a size search whose candidates overflow: --json's size_candidates mark each such candidate overflowed (its score null, which alone did not say why), and only those")
    func sizeSearchMarksOverflowingCandidates() throws {
        let scratch = try Scratch()
        let (model, out) = try Self.overflowingSearchFiles(scratch)
        let result = try ChildProcess.run(["convert", model, "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"),
                                           "--target-size", "700", "--metric", "plain", "--no-refit", "--json", "-o", out], timeout: 120)
        #expect(result.status == 0, "\(result)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let search = try #require(report["search"] as? [String: Any], "\(result.stdout)")
        let overflowing = try #require(search["overflowing_candidates"] as? Int, "\(search)")
        let candidates = try #require(search["size_candidates"] as? [[String: Any]], "\(search)")
        let marked = candidates.filter { $0["overflowed"] as? Bool == true }
        #expect(overflowing > 0 && marked.count == overflowing, "\(overflowing): \(candidates)")
        #expect(marked.allSatisfy { $0["validation_accuracy"] is NSNull }, "\(marked)")
        #expect(candidates.filter { $0["overflowed"] == nil }.allSatisfy { $0["validation_accuracy"] is NSNumber }, "\(candidates)")
    }
}
