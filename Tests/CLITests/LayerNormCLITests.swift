import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Format 1.5's `layer_norm` through the CLI, on the fixtures of `Fixtures/layernorm`.
@Suite("Keras LayerNormalization through the CLI: predict, import, inspect, diff, refusals")
struct LayerNormCLITests {
    static func fixture(_ name: String) -> String { TestPackage.root + "/Tests/LRMKerasTests/Fixtures/layernorm/" + name }

    @Test("predict gives Keras's outputs; import writes format 1.5 and inspect shows layer_norm with its epsilon; diff tells two epsilons apart")
    func predictImportInspectDiff() throws {
        let scratch = try Scratch()
        for stem in ["k3_ln_mlp", "k3_ln_conv1d"] {
            try expectPredictGivesKerasOutputs(Self.fixture("\(stem).keras"), pred: Self.fixture("\(stem).pred.npz"), in: scratch, stem)
        }
        let imported = try ChildProcess.run(["import", Self.fixture("k3_ln_mlp.h5"), "-o", scratch.file("a.lrm")])
        #expect(imported.status == 0, "\(imported.stderr)")
        let inspect = try ChildProcess.run(["inspect", scratch.file("a.lrm")])
        #expect(inspect.stdout.contains("lrm format 1.5"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("layer_norm (epsilon 0.001)") && inspect.stdout.contains("layer_norm (epsilon 1e-05)"), "\(inspect.stdout)")
        // The same model with another epsilon (no tensor differs): diff says so, exit 1.
        var model = try ContainerFile(path: scratch.file("a.lrm")).loadModel()
        guard case let .layerNorm(gamma, beta, _) = model.layers[1].operation else { Issue.record("ln1 is not a layer_norm"); return }
        model.layers[1].operation = .layerNorm(gamma: gamma, beta: beta, epsilon: 0.01)
        try ContainerWriter.write(model, to: scratch.file("b.lrm"))
        let diff = try ChildProcess.run(["diff", scratch.file("a.lrm"), scratch.file("b.lrm")])
        #expect(diff.status == 1, "\(diff.stdout) \(diff.stderr)")
        #expect(diff.stdout.contains("ln1: layer_norm (epsilon 0.001)") && diff.stdout.contains("→ layer_norm (epsilon 0.01)"), "\(diff.stdout)")
    }

    @Test("rms_scaling, another axis or a negative epsilon in the config is refused: one line naming the file and the layer, exit 65, nothing written")
    func refusals() throws {
        let scratch = try Scratch()
        let config = try String(contentsOfFile: Self.fixture("k3_ln_mlp.keras.config.json"), encoding: .utf8)
        for (edit, phrase) in [(("\"rms_scaling\": false", "\"rms_scaling\": true"), "rms_scaling=True"),
                               (("\"axis\": [-1], \"epsilon\": 0.001", "\"axis\": [0], \"epsilon\": 0.001"), "lrm imports LayerNormalization over the last axis only"),
                               (("\"epsilon\": 0.001", "\"epsilon\": -0.001"), "config field 'epsilon'")] {
            #expect(config.contains(edit.0), "\(edit.0)")
            let bad = config.replacingOccurrences(of: edit.0, with: edit.1)
            try bad.write(toFile: scratch.file("bad.json"), atomically: true, encoding: .utf8)
            let out = scratch.file("bad.lrm")
            let run = try ChildProcess.run(["import", Self.fixture("k3_ln_mlp.weights.h5"), "--config", scratch.file("bad.json"), "-o", out])
            #expect(run.status == 65, "\(run.stderr)")
            #expect(run.stderr.contains("layer 'ln1' (LayerNormalization)") && run.stderr.contains(phrase), "\(run.stderr)")
            #expect(run.stderr.contains("bad.json") || run.stderr.contains("k3_ln_mlp.weights.h5"), "\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
