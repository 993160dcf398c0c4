import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras
import LRMHDF5

// Round trips without Python: a model is exported, the .h5 re-imported with KerasImporter (which reads
// the same attributes Keras's legacy loader reads), and both are run by LRMRuntime.
//
// Tolerance 1e-5 absolute: the re-imported model computes the same float32 products (a factorized layer
// as two Dense layers: (x·UΣ)·Vᵀ, which is also how lrm runs it), so differences come only from
// summation order and BatchNormalization's rsqrt(1 − ε + ε), about 1e-7 on these outputs of magnitude ≤ 10.

/// Exports `model` to a fresh directory, re-imports it, and returns the re-imported model, the summary
/// and the file's path. The directory is removed by `cleanup`.
private func exportAndReimport(_ model: Model) throws -> (reimported: Model, summary: KerasExportSummary, path: String, directory: URL) {
    let directory = try TestData.temporaryDirectory()
    let path = directory.appendingPathComponent("exported.h5").path
    let summary = try KerasExporter.write(model, to: path)
    return (try KerasImporter.loadModel(path: path), summary, path, directory)
}

/// Largest |a − b| between the original and the re-imported model, each run with its own preprocessing (the
/// export writes it as the first layer, which the importer folds back), on `sampleCount` seeded raw inputs in [-1, 1).
private func largestDifference(_ original: Model, _ reimported: Model, sampleCount: Int = 16, seed: UInt64 = 7) throws -> Float {
    var rng = SeededGenerator(seed: seed)
    let inputs = (0..<(sampleCount * original.input.elementCount)).map { _ in rng.nextSymmetricFloat() }
    let want = try InferenceModel(original).run(inputs, sampleCount: sampleCount)
    let got = try InferenceModel(reimported).run(inputs, sampleCount: sampleCount)
    #expect(want.count == got.count)
    return zip(want, got).map { abs($0 - $1) }.max() ?? .infinity
}

private func seededTensor(_ shape: [Int], _ rng: inout SeededGenerator, scale: Float = 0.5) -> Tensor {
    Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in scale * rng.nextSymmetricFloat() })
}

private func factorization(_ inFeatures: Int, _ outFeatures: Int, rank: Int) -> Factorization {
    Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: rank, retainedEnergy: 1, relativeError: 0,
                  policy: "rank", policyParameter: Double(rank), method: "test", singularValues: Array(repeating: 1, count: rank))
}

/// Input 3×4; every layer kind: a factorized Dense on a 3-D sample, scale_shift with and without shift,
/// activation, reshape, flatten, dense without bias.
private func everyKindModel(activation: Activation = .silu) -> Model {
    var rng = SeededGenerator(seed: 11)
    let layers: [Layer<Tensor>] = [
        Layer(name: "project", operation: .factorizedDense(us: seededTensor([4, 2], &rng), vt: seededTensor([2, 6], &rng),
                                                           bias: seededTensor([6], &rng), activation: .gelu,
                                                           factorization: factorization(4, 6, rank: 2))),
        Layer(name: "norm", operation: .scaleShift(scale: seededTensor([6], &rng, scale: 2), shift: seededTensor([6], &rng))),
        Layer(name: "act", operation: .activation(activation)),
        Layer(name: "regroup", operation: .reshape([6, 3])),
        Layer(name: "halve", operation: .scaleShift(scale: Tensor(shape: [3], floats: [0.5, 0.5, 0.5]), shift: nil)),
        Layer(name: "flat", operation: .flatten),
        Layer(name: "head", operation: .dense(kernel: seededTensor([18, 5], &rng), bias: nil, activation: .tanh)),
        Layer(name: "probs", operation: .activation(.softmax)),
    ]
    return Model(name: "every_kind", input: InputSpec(shape: [3, 4], scale: [2], offset: [0.5]), layers: layers)
}

@Suite("Keras export: round trips through the importer")
struct KerasExportRoundTripTests {
    @Test("the example model's factorized layer becomes two Dense layers and predictions match within 1e-5")
    func exampleModel() throws {
        let model = ExampleModel.make()
        let (reimported, summary, _, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The input scale 1/255 is the first layer, a Rescaling the importer folds back into the input.
        #expect(summary.layers.map(\.name) == ["input_rescaling", "hidden_factor_u", "hidden", "output"])
        #expect(summary.layers.map(\.className) == ["Rescaling", "Dense", "Dense", "Dense"])
        #expect(summary.preprocessing == .layer(name: "input_rescaling", className: "Rescaling"))
        #expect(summary.inputShape == [784])
        #expect(summary.parameterCount == 784 * 16 + 16 * 64 + 64 + 64 * 10 + 10)
        #expect(reimported.input.shape == [784])
        #expect(reimported.input.scale == [Double(Float(1.0 / 255))] || reimported.input.scale == [1.0 / 255], "\(reimported.input)")
        #expect(reimported.input.offset.isEmpty)
        guard reimported.layers.count == 3,
              case let .dense(uKernel, uBias, uActivation) = reimported.layers[0].operation,
              case let .dense(vKernel, vBias, vActivation) = reimported.layers[1].operation,
              case let .factorizedDense(us, vt, bias, activation, _) = model.layers[0].operation else {
            Issue.record("expected three Dense layers, found \(reimported.layers.map(\.operation.kindName))")
            return
        }
        #expect(uKernel == us && uBias == nil && uActivation == .linear)
        #expect(vKernel == vt && vBias == bias && vActivation == activation)
        let worst = try largestDifference(model, reimported)
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
    }

    @Test("every layer kind maps to a Keras layer and predictions match within 1e-5")
    func everyKind() throws {
        let model = everyKindModel()
        let (reimported, summary, _, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(summary.layers.map(\.className) == ["Rescaling", "Dense", "Dense", "BatchNormalization", "Activation", "Reshape",
                                                     "BatchNormalization", "Flatten", "Dense", "Activation"])
        #expect(summary.layers.map(\.sourceLayer) == ["(input preprocessing)", "project", "project", "norm", "act", "regroup", "halve", "flat",
                                                      "head", "probs"])
        #expect(reimported.input.scale == [2] && reimported.input.offset == [0.5])
        #expect(reimported.input.shape == [3, 4])
        let worst = try largestDifference(model, reimported)
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
    }

    /// `gelu_tanh` and `hard_sigmoid_keras2` have no Keras 3 function; their refusals are tested in
    /// KerasActivationTests.hardSigmoidByVersion and "gelu_tanh is refused as unsupportedActivation" below.
    @Test("every activation Keras 3 has by name round-trips",
          arguments: Activation.allCases.filter { $0 != .geluTanh && $0 != .hardSigmoidKeras2 })
    func activations(_ activation: Activation) throws {
        let model = everyKindModel(activation: activation)
        let (reimported, _, _, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        let worst = try largestDifference(model, reimported)
        #expect(worst <= 1e-5, "\(activation): max |Δ| = \(worst)")
    }

    @Test("scale_shift's moving variance plus ε is exactly 1 in float32")
    func batchNormalizationIsExact() {
        let variance = KerasExportPlan.scaleShiftVariance
        #expect(variance + Float(KerasExportPlan.scaleShiftEpsilon) == 1)
    }
}

@Suite("Keras export: file layout")
struct KerasExportLayoutTests {
    @Test("the file has Keras's legacy layout: root attributes, layer_names, weight_names, float32 datasets")
    func layout() throws {
        let (_, _, path, directory) = try exportAndReimport(everyKindModel())
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = try HDF5File(path: path).rootGroup()
        #expect(try root.kerasString("keras_version") == KerasExporter.kerasVersion)
        #expect(try root.kerasString("backend") == KerasExporter.backend)
        let config = try LRMFormat.JSONValue.parse(Data(try #require(try root.kerasString("model_config")).utf8))
        #expect(config["class_name"]?.string == "Sequential")
        let entries = try #require(config["config"]?["layers"]?.array)
        #expect(entries.first?["class_name"]?.string == "InputLayer")
        #expect(entries.first?["config"]?["batch_input_shape"] == .array([.null, .number(3), .number(4)]))
        let weights = try root.openGroup("model_weights")
        let names = try #require(try weights.kerasStringList("layer_names"))
        #expect(names == ["input_rescaling", "project_factor_u", "project", "norm", "act", "regroup", "halve", "flat", "head", "probs"])
        // The preprocessing x · 2 + 0.5 as Keras's Rescaling config, without weights.
        #expect(entries.dropFirst().first?["class_name"]?.string == "Rescaling")
        #expect(entries.dropFirst().first?["config"]?["scale"]?.number == 2 && entries.dropFirst().first?["config"]?["offset"]?.number == 0.5)
        #expect(try weights.openGroup("input_rescaling").readAttribute("weight_names") == .floats([], shape: [0]))
        #expect(try weights.openGroup("project").kerasStringList("weight_names") == ["project/kernel:0", "project/bias:0"])
        #expect(try weights.openGroup("project_factor_u").kerasStringList("weight_names") == ["project_factor_u/kernel:0"])
        #expect(try weights.openGroup("norm").kerasStringList("weight_names")
                == ["norm/gamma:0", "norm/beta:0", "norm/moving_mean:0", "norm/moving_variance:0"])
        #expect(try weights.openGroup("halve").kerasStringList("weight_names")
                == ["halve/gamma:0", "halve/moving_mean:0", "halve/moving_variance:0"])
        #expect(try weights.openGroup("flat").readAttribute("weight_names") == .floats([], shape: [0]))
        let kernel = try weights.openDataset("project_factor_u/project_factor_u/kernel:0")
        #expect(kernel.shape == [4, 2] && kernel.elementType == .float32)
        let halveScale = try weights.openDataset("halve/halve/gamma:0").readFloats()
        #expect(halveScale == [0.5, 0.5, 0.5])
    }

    @Test("names Keras 3 refuses or HDF5 cannot store become unique, valid names")
    func names() throws {
        let relu = LayerOperation<Tensor>.activation(.relu)
        var rng = SeededGenerator(seed: 3)
        let layers: [Layer<Tensor>] = [
            Layer(name: "a/b", operation: relu), Layer(name: "a_b", operation: relu), Layer(name: ".", operation: relu),
            Layer(name: "top_level_model_weights", operation: relu), Layer(name: "input_layer", operation: relu),
            Layer(name: "x_factor_u", operation: relu),
            Layer(name: "x", operation: .factorizedDense(us: seededTensor([4, 1], &rng), vt: seededTensor([1, 4], &rng), bias: nil,
                                                         activation: .linear, factorization: factorization(4, 4, rank: 1))),
            Layer(name: "x", operation: relu),
        ]
        let model = Model(name: "model/with/slashes", input: InputSpec(shape: [4]), layers: layers)
        let (reimported, summary, path, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(summary.modelName == "model_with_slashes")
        #expect(summary.layers.map(\.name) == ["a_b", "a_b_2", "layer_2", "top_level_model_weights_2", "input_layer",
                                               "x_factor_u", "x_factor_u_2", "x", "x_2"])
        let config = try LRMFormat.JSONValue.parse(Data(try #require(try HDF5File(path: path).rootGroup().kerasString("model_config")).utf8))
        #expect(config["config"]?["layers"]?.array?.first?["config"]?["name"]?.string == "input_layer_2")
        #expect(try largestDifference(model, reimported) <= 1e-5)
    }

    @Test("more than 2000 layer names are split over layer_names0, layer_names1, as Keras does")
    func splitNameList() throws {
        let count = KerasExporter.maxNamesPerAttribute + 5
        let layers = (0..<count).map { Layer<Tensor>(name: "act_\($0)", operation: .activation(.relu)) }
        let (reimported, _, path, directory) = try exportAndReimport(Model(name: "long", input: InputSpec(shape: [2]), layers: layers))
        defer { try? FileManager.default.removeItem(at: directory) }
        let weights = try HDF5File(path: path).rootGroup().openGroup("model_weights")
        #expect(try !weights.hasAttribute("layer_names"))
        #expect(try weights.hasAttribute("layer_names0") && weights.hasAttribute("layer_names1"))
        #expect(try weights.kerasStringList("layer_names") == layers.map(\.name))
        #expect(reimported.layers.count == count)
    }
}

@Suite("Keras export: refusals and atomic writing")
struct KerasExportErrorTests {
    /// The names in `directory` other than `keep`.
    private func leftovers(_ directory: URL, keeping keep: Set<String>) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !keep.contains($0) }
    }

    @Test("gelu_tanh is refused as unsupportedActivation, and an existing file is left untouched")
    func geluTanhRefused() throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.h5").path
        try Data("previous".utf8).write(to: URL(fileURLWithPath: path))
        let model = everyKindModel(activation: .geluTanh)
        let error = try #require(throws: KerasExportError.self) { try KerasExporter.write(model, to: path) }
        #expect(error.kind == .unsupportedActivation)
        #expect(error.location == "layer 'act' (activation)")
        #expect(error.description.contains("gelu_tanh"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("previous".utf8))
        #expect(try leftovers(directory, keeping: ["out.h5"]).isEmpty)
    }

    @Test("a tensor that does not fit the features reaching it is refused as invalidModel, naming the layer")
    func shapeMismatch() throws {
        var rng = SeededGenerator(seed: 5)
        let cases: [(Model, String)] = [
            (Model(name: "m", input: InputSpec(shape: [4]),
                   layers: [Layer(name: "d", operation: .dense(kernel: seededTensor([5, 3], &rng), bias: nil, activation: .relu))]),
             "layer 'd' (dense)"),
            (Model(name: "m", input: InputSpec(shape: [4]),
                   layers: [Layer(name: "f", operation: .factorizedDense(us: seededTensor([4, 2], &rng), vt: seededTensor([3, 4], &rng),
                                                                         bias: nil, activation: .relu, factorization: factorization(4, 4, rank: 2)))]),
             "layer 'f' (factorized_dense)"),
            (Model(name: "m", input: InputSpec(shape: [4]),
                   layers: [Layer(name: "d", operation: .dense(kernel: seededTensor([4, 3], &rng), bias: seededTensor([4], &rng), activation: .relu))]),
             "layer 'd' (dense)"),
            (Model(name: "m", input: InputSpec(shape: [4]), layers: [Layer(name: "r", operation: .reshape([3, 2]))]),
             "layer 'r' (reshape)"),
            (Model(name: "m", input: InputSpec(shape: [4]),
                   layers: [Layer(name: "s", operation: .scaleShift(scale: seededTensor([3], &rng), shift: nil))]),
             "layer 's' (scale_shift)"),
            (Model(name: "m", input: InputSpec(shape: []), layers: []), "input"),
        ]
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (model, location) in cases {
            let path = directory.appendingPathComponent("out.h5").path
            let error = try #require(throws: KerasExportError.self) { try KerasExporter.write(model, to: path) }
            #expect(error.kind == .invalidModel)
            #expect(error.location == location, "\(error)")
        }
        #expect(try leftovers(directory, keeping: []).isEmpty, "nothing is written for a refused model")
    }

    @Test("a missing target directory fails as writeFailed, naming the file")
    func missingDirectory() throws {
        let path = "/nonexistent-lrm-export-\(UUID().uuidString)/out.h5"
        let error = try #require(throws: KerasExportError.self) { try KerasExporter.write(ExampleModel.make(), to: path) }
        #expect(error.kind == .writeFailed)
        #expect(error.file == path)
        #expect(error.description.contains("temporary file"))
    }

    @Test("a successful export replaces an existing file and leaves no temporary file behind")
    func replacesAtomically() throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.h5").path
        try Data("previous".utf8).write(to: URL(fileURLWithPath: path))
        try KerasExporter.write(ExampleModel.make(), to: path)
        #expect(try leftovers(directory, keeping: ["out.h5"]).isEmpty)
        #expect(try KerasImporter.loadModel(path: path).layers.count == 3)
    }
}

@Suite("Real data: corpus models, every Dense factorized exactly, exported and re-imported (skipped without ../shared/keras-corpus)",
       .enabled(if: TestData.corpus != nil, "../shared/keras-corpus not found"))
struct KerasExportCorpusTests {
    /// The legacy .h5 of every float model of the corpus that lrm imports (not the conv model).
    static let cases: [String] = {
        guard let corpus = TestData.corpus else { return [] }
        return ["keras3/k3_nobias", "keras3/k3_bn", "keras3/k3_fp64", "keras3/k3_fp16", "keras3/k3_names", "keras3/k3_nested",
                "tf-keras/tfk_nobias", "tf-keras/tfk_bn", "tf-keras/tfk_names", "tf-keras/tfk_nested"]
            .map { corpus.appendingPathComponent($0).path }
            .filter { FileManager.default.fileExists(atPath: $0 + ".h5") }
    }()

    /// Every dense layer W (in × out) as the exact factorization W = W · I: rank out, us = W, vt = I.
    static func factorizedExactly(_ model: Model) -> Model {
        var model = model
        model.layers = model.layers.map { layer in
            guard case let .dense(kernel, bias, activation) = layer.operation, kernel.shape.count == 2 else { return layer }
            let (rows, columns) = (kernel.shape[0], kernel.shape[1])
            var identity = [Float](repeating: 0, count: columns * columns)
            for index in 0..<columns { identity[index * columns + index] = 1 }
            return Layer(name: layer.name, operation: .factorizedDense(
                us: kernel, vt: Tensor(shape: [columns, columns], floats: identity), bias: bias, activation: activation,
                factorization: factorization(rows, columns, rank: columns)))
        }
        return model
    }

    @Test("real-data: the exported .h5, re-imported, reproduces Keras's y on NAME.pred.npz", arguments: cases)
    func reproducesKeras(_ stem: String) throws {
        let original = try KerasImporter.loadModel(path: stem + ".h5")
        let model = Self.factorizedExactly(original)
        let (reimported, summary, _, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        let factorized = model.layers.filter { if case .factorizedDense = $0.operation { true } else { false } }.count
        #expect(factorized > 0)
        #expect(summary.layers.count == model.layers.count + factorized + (summary.preprocessing == .none ? 0 : 1))
        let arrays = try NPZ.read(path: stem + ".pred.npz")
        let x = try #require(arrays["x"]), y = try #require(arrays["y"])
        let got = try InferenceModel(reimported).run(x.floatValues(), sampleCount: x.shape[0])
        let want = y.floatValues()
        #expect(got.count == want.count)
        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
        let name = (stem as NSString).lastPathComponent
        #expect(worst <= tolerance(for: name), "\(name): max |Δ| = \(worst)")
        #expect(try largestDifference(original, reimported) <= 1e-5)
    }
}

@Suite("Export of convolutional models (Conv2D, factorized convolutions, depthwise, pooling, padding, permutes)")
struct KerasExportCNNTests {
    /// Every conv2d of `model` replaced by a factorized_conv2d of rank 2 in `form`, with seeded factors.
    static func factorized(_ model: Model, form: ConvFactorizationForm) -> Model {
        var model = model
        var rng = SeededGenerator(seed: 11)
        model.layers = model.layers.map { layer in
            guard case let .conv2D(kernel, bias, activation, geometry) = layer.operation else { return layer }
            let (kh, kw, cin, cout) = (kernel.shape[0], kernel.shape[1], kernel.shape[2], kernel.shape[3])
            let (first, second) = form == .channel
                ? (seededTensor([kh, kw, cin, 2], &rng), seededTensor([1, 1, 2, cout], &rng))
                : (seededTensor([kh, 1, cin, 2], &rng), seededTensor([1, kw, 2, cout], &rng))
            let (rows, columns) = form == .channel ? (kh * kw * cin, cout) : (cin * kh, kw * cout)
            return Layer(name: layer.name, operation: .factorizedConv2D(
                first: first, second: second, bias: bias, activation: activation, form: form, geometry: geometry,
                factorization: factorization(rows, columns, rank: 2)))
        }
        return model
    }

    @Test("every CNN fixture, as imported and with its convolutions factorized in each form, exports and re-imports with the same predictions",
          arguments: CNNFixture.models)
    func roundTrip(_ name: String) throws {
        let original = try KerasImporter.loadModel(path: CNNFixture.path("k3_\(name).keras"))
        for model in [original, Self.factorized(original, form: .channel), Self.factorized(original, form: .spatial)] {
            let (reimported, summary, _, directory) = try exportAndReimport(model)
            defer { try? FileManager.default.removeItem(at: directory) }
            let pairs = model.layers.filter { if case .factorizedConv2D = $0.operation { true } else { false } }.count
            #expect(summary.layers.count == model.layers.count + pairs + (summary.preprocessing == .none ? 0 : 1))
            #expect(try largestDifference(model, reimported, sampleCount: 6) <= 1e-5)
        }
    }
}

@Suite("Keras export: the input preprocessing as the first layer (a drop-in replacement)")
struct KerasExportPreprocessingTests {
    /// A 4-feature MLP, or a 2×2×3 HWC image model, with the given preprocessing.
    static func model(shape: [Int], layout: InputLayout, scale: [Double], offset: [Double]) -> Model {
        var rng = SeededGenerator(seed: 5)
        let features = shape.reduce(1, *)
        return Model(name: "pre", input: InputSpec(shape: shape, layout: layout, scale: scale, offset: offset), layers: [
            Layer(name: "flat", operation: .flatten),
            Layer(name: "dense", operation: .dense(kernel: seededTensor([features, 3], &rng), bias: seededTensor([3], &rng), activation: .tanh)),
        ])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var shape: [Int]
        var layout: InputLayout
        var scale: [Double]
        var offset: [Double]
        var testDescription: String { "\(layout.name) \(shape), scale \(scale), offset \(offset)" }
    }

    static let cases: [Case] = [
        Case(shape: [4], layout: .features, scale: [0.5, 2, -1, 4], offset: [1]),
        Case(shape: [4], layout: .features, scale: [3], offset: [0.1, 0.2, 0.3, 0.4]),
        Case(shape: [2, 2, 3], layout: .hwc, scale: [1.0 / 255, 2.0 / 255, 3.0 / 255], offset: [-0.5, 0, 0.5]),
    ]

    @Test("per-feature and per-channel values become a BatchNormalization that computes x · scale + offset; raw inputs give the same outputs",
          arguments: cases)
    func perFeature(_ c: Case) throws {
        let model = Self.model(shape: c.shape, layout: c.layout, scale: c.scale, offset: c.offset)
        let (reimported, summary, _, directory) = try exportAndReimport(model)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(summary.preprocessing == .layer(name: "input_normalization", className: "BatchNormalization"))
        #expect(summary.layers.first?.className == "BatchNormalization" && summary.layers.first?.sourceLayer == "(input preprocessing)")
        // Raw inputs (up to 255, as pixels) through lrm with its preprocessing and through the exported model.
        var rng = SeededGenerator(seed: 9)
        let inputs = (0..<(8 * model.input.elementCount)).map { _ in 128 + 127 * rng.nextSymmetricFloat() }
        let want = try InferenceModel(model).run(inputs, sampleCount: 8)
        let got = try InferenceModel(reimported).run(inputs, sampleCount: 8)
        let worst = zip(want, got).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
    }

    @Test("a model without preprocessing gets no extra layer; per-channel values of a CHW input are left out and said so")
    func noneAndNotIncluded() throws {
        let plain = Self.model(shape: [4], layout: .features, scale: [], offset: [])
        let (_, summary, _, directory) = try exportAndReimport(plain)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(summary.preprocessing == .none && summary.layers.map(\.name) == ["flat", "dense"])
        let chw = Self.model(shape: [3, 2, 2], layout: .chw, scale: [1, 2, 3], offset: [])
        let (_, chwSummary, _, chwDirectory) = try exportAndReimport(chw)
        defer { try? FileManager.default.removeItem(at: chwDirectory) }
        guard case .notIncluded(let reason) = chwSummary.preprocessing else {
            Issue.record("expected notIncluded, found \(chwSummary.preprocessing)")
            return
        }
        #expect(reason.contains("chw") && chwSummary.layers.map(\.name) == ["flat", "dense"])
    }
}


@Suite("Keras export to a Keras 3 .keras archive")
struct KerasArchiveExportTests {
    @Test("every layer kind round-trips through lrm's own Keras 3 importer within 1e-5, with Keras 3's member and weight paths")
    func roundTrip() throws {
        let model = everyKindModel()
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("exported.keras").path
        let summary = try KerasExporter.writeArchive(model, to: path)
        #expect(summary.layers.count == 10)
        #expect(try KerasImporter.sniff(path: path) == .zip)
        let keras = try KerasImporter.load(path: path)
        #expect(keras.layout == .kerasArchive)
        let reimported = try keras.containerModel(sourcePath: path)
        #expect(reimported.input.scale == [2] && reimported.input.offset == [0.5] && reimported.input.shape == [3, 4])
        let worst = try largestDifference(model, reimported)
        #expect(worst <= 1e-5, "max |Δ| = \(worst)")
        // Keras 3 finds each layer's variables under the snake-cased class name, numbered per class.
        #expect(KerasExporter.snakeCase("BatchNormalization") == "batch_normalization")
        #expect(KerasExporter.snakeCase("DepthwiseConv2D") == "depthwise_conv2d")
        #expect(KerasExporter.snakeCase("GlobalAveragePooling2D") == "global_average_pooling2d")
        #expect(KerasExporter.snakeCase("Conv2D") == "conv2d" && KerasExporter.snakeCase("Dense") == "dense")
        // The members Keras 3 reads (a ZIP's directory names them in plain text).
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for name in ["metadata.json", "config.json", "model.weights.h5"] { #expect(bytes.range(of: Data(name.utf8)) != nil, "\(name)") }
    }

    @Test("the input dimensions metadata source.open_input_dims records are written open (None), unless a Flatten or Reshape fixes the sample's size; a record that does not fit the input is ignored")
    func openInputDimensions() throws {
        let kernel = Tensor(shape: [12, 2], floats: (0..<24).map { Float($0) / 24 })
        let elementwise = Model(name: "m", input: InputSpec(shape: [4, 3]), layers: [Layer(name: "act", operation: .activation(.relu))],
                                metadata: [MetadataKey.sourceOpenInputDims: .ints([0])])
        let plan = try KerasExportPlan(elementwise, file: "out.h5")
        #expect(plan.openInputDims == [0] && plan.openInputDimsFixedBy == nil)
        #expect(plan.batchInputShape == .array([.null, .null, .int(3)]))
        let flattened = Model(name: "m", input: InputSpec(shape: [4, 3]), layers: [
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: kernel, bias: nil, activation: .linear)),
        ], metadata: [MetadataKey.sourceOpenInputDims: .ints([0])])
        let fixed = try KerasExportPlan(flattened, file: "out.h5")
        #expect(fixed.openInputDims.isEmpty && fixed.openInputDimsKeptFixed == [0] && fixed.openInputDimsFixedBy == "flat")
        #expect(fixed.batchInputShape == .array([.null, .int(4), .int(3)]))
        var unfitting = elementwise
        unfitting.metadata[MetadataKey.sourceOpenInputDims] = .ints([2])
        #expect(try KerasExportPlan(unfitting, file: "out.h5").openInputDims.isEmpty)
    }

    @Test("a model Keras cannot hold is refused before anything is written; an existing file stays")
    func refusedLeavesFile() throws {
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.keras").path
        try Data("previous".utf8).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: KerasExportError.self) { try KerasExporter.writeArchive(everyKindModel(activation: .geluTanh), to: path) }
        #expect(error.kind == .unsupportedActivation)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("previous".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.keras"])
    }
}
