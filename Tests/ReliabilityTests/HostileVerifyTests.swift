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

    @Test("a rank search of the housing sample under --input-scale 1e308 (outputs that overflow): refused before any candidate is scored, naming the file, exit 65 (every candidate scored 1.0000 against the original's NaN outputs, and only the test step refused)")
    func searchRefusesBeforeSearching() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", out = scratch.file("h.lrm")
        let model = samples + "housing_mlp.h5"
        let result = try ChildProcess.run(["convert", model, "--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
                                           "--input-scale", "1e308", "--target-metric-drop", "1", "--metric", "plain", "--no-refit",
                                           "--progress", "json", "-o", out], timeout: 120)
        let lines = result.stderr.split(separator: "\n")
        #expect(result.status == 65 && !FileManager.default.fileExists(atPath: out), "\(result)")
        #expect(lines.last?.contains("{\"error\":{\"message\":\"\(model): the model 'housing_mlp' gives NaN or infinite outputs") == true, "\(result.stderr)")
        // No candidate was scored (confirmed or searched): the original's outputs were refused first.
        #expect(!lines.contains { $0.contains("\"phase\":\"confirm\"") || $0.contains("\"phase\":\"search\"") }, "\(result.stderr)")
    }
}
