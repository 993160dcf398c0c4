import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// Runs an imported model on a `NAME.pred.npz` file's `x` and returns (outputs, Keras's `y`).
/// Expects every layout of one fixture (each file with its architecture, if any) to reproduce Keras's y in `pred`,
/// directly and through a `.lrm`, within `tolerance`.
func expectLayoutsMatchKeras(_ layouts: [(file: String, architecture: String?)], pred: String, tolerance: Float) throws {
    for (file, architecture) in layouts {
        for throughContainer in [false, true] {
            let (got, want) = try predictions(file, architecture: architecture, pred: pred, throughContainer: throughContainer)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.count == want.count && worst <= tolerance,
                    "\((file as NSString).lastPathComponent) \(throughContainer ? "via .lrm" : "direct"): max |Δ| = \(worst)")
        }
    }
}

func predictions(_ path: String, architecture: String?, pred: String, throughContainer: Bool) throws -> (got: [Float], want: [Float]) {
    var model = try KerasImporter.loadModel(path: path, architecture: architecture)
    if throughContainer {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("m.lrm").path
        try ContainerWriter.write(model, to: file)
        model = try ContainerFile(path: file).loadModel()
    }
    let arrays = try NPZ.read(path: pred)
    let x = try #require(arrays["x"]), y = try #require(arrays["y"])
    let runner = try InferenceModel(model)
    let got = try runner.run(x.floatValues(), sampleCount: x.shape[0])
    return (got, y.floatValues())
}

/// 1e-5 absolute for float32 and float64 models; 1e-3 for models Keras computes in float16 (float16 and
/// mixed_float16 policies); 0.02 for bfloat16 (8 significant bits: Keras rounds every layer's output to
/// bfloat16, an ulp is 0.0078 at 1.4), while lrm computes in float32.
func tolerance(for model: String) -> Float {
    if model.contains("bf16") { return 0.02 }
    return model.contains("fp16") || model.contains("mixed16") ? 1e-3 : 1e-5
}

@Suite("Real data: predictions on the shared Keras corpus match Keras (skipped when ../shared/keras-corpus is absent)",
       .enabled(if: TestData.corpus != nil, "../shared/keras-corpus not found"))
struct KerasCorpusPredictionTests {
    @Test("real-data: every corpus model (MLPs and the CNN), in every layout, reproduces Keras's y directly and through .lrm",
          arguments: CorpusCase.all())
    func predictionsMatch(_ corpusCase: CorpusCase) throws {
        for throughContainer in [false, true] {
            let (got, want) = try predictions(corpusCase.path, architecture: corpusCase.architecture,
                                              pred: corpusCase.stem + ".pred.npz", throughContainer: throughContainer)
            #expect(got.count == want.count)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= tolerance(for: corpusCase.model),
                    "\(corpusCase.file) \(throughContainer ? "via .lrm" : "direct"): max |Δ| = \(worst)")
        }
    }

}

@Suite("Predictions on the committed fixtures match Keras")
struct KerasFixturePredictionTests {
    @Test("fixture models reproduce Keras's y in every layout, directly and through .lrm",
          arguments: ["mlp", "fp16", "bf16", "nested", "norm"])
    func fixtures(_ name: String) throws {
        let keras = TestData.fixture("\(name).keras")
        var layouts: [(String, String?)] = [("\(name).keras", nil)]
        for (file, needsArchitecture) in [("\(name).h5", false), ("\(name).weights.h5", true), ("\(name)_weights.h5", true)]
        where FileManager.default.fileExists(atPath: TestData.fixture(file)) {
            layouts.append((file, needsArchitecture ? keras : nil))
        }
        for (file, architecture) in layouts {
            for throughContainer in [false, true] {
                let (got, want) = try predictions(TestData.fixture(file), architecture: architecture,
                                                  pred: TestData.fixture("\(name).pred.npz"), throughContainer: throughContainer)
                let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
                #expect(got.count == want.count && worst <= tolerance(for: name), "\(file): max |Δ| = \(worst) \(got.prefix(4)) \(want.prefix(4))")
            }
        }
    }

    @Test("a leaky ReLU6 (refused before format 1.5) is a parametric relu")
    func leakyRelu6() throws {
        let model = try KerasImporter.loadModel(path: TestData.fixture("shapes.keras"))
        let layer = try #require(model.layers.first { $0.name == "relu6ish" })
        #expect(layer.operation == .parametricActivation(.relu(negativeSlope: 0.1, threshold: 0, maxValue: 6), alphas: nil))
    }
}

@Suite("Real data: lossless import (skipped when ../shared/keras-corpus is absent)",
       .enabled(if: TestData.corpus != nil, "../shared/keras-corpus not found"))
struct LosslessImportTests {
    @Test("real-data: a float64 model's kernels are stored as f64, bit for bit those Keras wrote",
          arguments: ["keras3/k3_fp64", "tf-keras/tfk_fp64"])
    func float64(_ stem: String) throws {
        let base = TestData.corpus!.appendingPathComponent(stem).path
        let model = try KerasImporter.loadModel(path: base + ".h5")
        let reference = try NPZ.read(path: base + ".ref.npz")
        guard case let .dense(kernel, _, _) = model.layers[0].operation, case .float64(let values) = kernel.storage else {
            Issue.record("the first kernel is not stored as float64")
            return
        }
        #expect(values == (try #require(reference["w000"])).doubleValues())
    }
}
