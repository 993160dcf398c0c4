import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The fixtures of `Fixtures/layernorm` (written by `tools/make_layernorm_fixtures.py` with Keras 3.15.1 on JAX), each
/// with Keras's own outputs in `NAME.pred.npz`.
enum LayerNormFixture {
    static let models = ["k3_ln_mlp", "k3_ln_variants", "k3_ln_conv1d", "k3_ln_image", "k3_ln_channels_first"]

    static func path(_ name: String) -> String { TestData.fixture("layernorm/\(name)") }

    /// The two full-model files, and the two weights-only files with the `.keras` archive's architecture.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil),
         (path("\(stem).weights.h5"), path("\(stem).keras")), (path("\(stem)_weights.h5"), path("\(stem).keras"))]
    }
}

@Suite("Keras LayerNormalization (format 1.5 layer_norm): import, predictions against Keras's own outputs, export")
struct KerasLayerNormTests {
    @Test("every LayerNormalization fixture (between Dense layers, without gamma or beta, over a sequence's and an image's channels, after a channels-first convolution), in all four layouts, reproduces Keras's y within 1e-5 directly and through .lrm",
          arguments: LayerNormFixture.models)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(LayerNormFixture.layouts(stem), pred: LayerNormFixture.path("\(stem).pred.npz"), tolerance: 1e-5)
    }

    @Test("LayerNormalization becomes one layer_norm with gamma and beta as stored (absent when scale or center is off) and its epsilon, never folded into the Dense before it; the file is format 1.5")
    func layers() throws {
        let model = try KerasImporter.loadModel(path: LayerNormFixture.path("k3_ln_mlp.keras"))
        #expect(model.layers.map(\.operation.kindName) == ["dense", "layer_norm", "dense", "layer_norm", "dense"])
        guard case let .layerNorm(gamma, beta, epsilon) = model.layers[1].operation else { Issue.record("ln1"); return }
        #expect(gamma?.shape == [8] && beta?.shape == [8] && epsilon == 1e-3)
        guard case let .layerNorm(gamma2, beta2, epsilon2) = model.layers[3].operation else { Issue.record("ln_no_center"); return }
        #expect(gamma2?.shape == [7] && beta2 == nil && epsilon2 == 1e-5)
        let (_, header) = try model.plan()
        #expect(header.minorVersion == 5)

        let variants = try KerasImporter.loadModel(path: LayerNormFixture.path("k3_ln_variants.keras"))
        #expect(variants.layers.first?.operation == .layerNorm(gamma: nil, beta: nil, epsilon: 1e-3))
        guard case let .layerNorm(gamma3, beta3, epsilon3) = variants.layers[2].operation else { Issue.record("ln_no_scale"); return }
        #expect(gamma3 == nil && beta3?.shape == [6] && epsilon3 == 0.01)

        // Channels-first: Keras's order is restored before it (it normalizes Keras's last axis, the width).
        let first = try KerasImporter.loadModel(path: LayerNormFixture.path("k3_ln_channels_first.keras"))
        let index = try #require(first.layers.firstIndex { $0.name == "ln_width" })
        #expect(first.layers[index - 1].operation == .permute([2, 0, 1]))
    }

    @Test("each fixture exports as Keras's LayerNormalization (axis -1, its epsilon, center and scale as stored) and lrm reads the export back with the same outputs",
          arguments: LayerNormFixture.models)
    func export(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: LayerNormFixture.path("\(stem).keras"))
        let plan = try KerasExportPlan(model, file: "x.keras")
        #expect(plan.layers.map(\.className).contains("LayerNormalization"), "\(plan.layers.map(\.className))")
        if stem == "k3_ln_mlp" {
            #expect(KerasConv1DExportTests.setting(plan, "ln_no_center", "center") == .bool(false))
            #expect(KerasConv1DExportTests.setting(plan, "ln_no_center", "scale") == .bool(true))
            #expect(KerasConv1DExportTests.setting(plan, "ln_no_center", "epsilon") == .number(1e-5))
            #expect(plan.layers.first { $0.name == "ln1" }?.weights.map(\.variable) == ["gamma", "beta"])
        }
        let arrays = try NPZ.read(path: LayerNormFixture.path("\(stem).pred.npz"))
        let x = try #require(arrays["x"])
        try KerasConv1DExportTests.expectRoundTrip(model, x: x.floatValues(), samples: x.shape[0], stem)
    }

    func probe(_ layers: [String], input: String = "[null, 4]") throws(KerasImportError) -> Model {
        try KerasImporter.probeConfig(Array(KerasConv1DConfigTests.json(layers, input: input).utf8))
    }

    @Test("axes other than the last, axis lists, rms_scaling and a negative or non-numeric epsilon are refused in one line naming the layer",
          arguments: [
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "axis": 1}}"#, "[null, 3, 4]",
               KerasImportError.Kind.unsupportedLayer, "normalizes axis [1] of a rank-3 tensor; lrm imports LayerNormalization over the last axis only (-1)"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "axis": [-2, -1]}}"#, "[null, 3, 4]", .unsupportedLayer, "last axis only"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "axis": [1, 2, 3]}}"#, "[null, 2, 3, 4]", .unsupportedLayer, "last axis only"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "axis": 0}}"#, "[null, 4]", .unsupportedLayer, "last axis only"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "rms_scaling": true}}"#, "[null, 4]", .unsupportedLayer,
               "rms_scaling=True"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "epsilon": -0.001}}"#, "[null, 4]", .invalidConfig,
               "config field 'epsilon': expected a number of 0 or more"),
              (#"{"class_name": "LayerNormalization", "config": {"name": "u", "epsilon": "small"}}"#, "[null, 4]", .invalidConfig, "epsilon"),
          ])
    func refused(_ layer: String, _ input: String, _ kind: KerasImportError.Kind, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) { try probe([layer], input: input) }
        #expect(error?.kind == kind)
        #expect(error?.location.hasPrefix("layer 'u' (") == true, "\(error?.location ?? "")")
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
        #expect(error.map { !"\($0)".contains("\n") } == true)
    }

    @Test("axis -1 and the last axis by number are taken, whatever the rank")
    func lastAxis() throws {
        for (axis, input) in [("-1", "[null, 4]"), ("1", "[null, 4]"), ("[2]", "[null, 3, 4]"), ("3", "[null, 2, 3, 4]")] {
            let model = try probe([#"{"class_name": "LayerNormalization", "config": {"name": "u", "axis": \#(axis)}}"#], input: input)
            #expect(model.layers.map(\.operation.kindName).contains("layer_norm"), "\(axis) \(input)")
        }
    }

    @Test("gamma or beta not one vector of the same length is refused in one line naming the layer and the weight")
    func inconsistentWeights() {
        func weight(_ name: String, _ shape: [Int]) -> KerasWeight {
            KerasWeight(name: name, shape: shape, values: [Float](repeating: 0.5, count: shape.reduce(1, *)), sourceDType: .float32, sourcePath: "/l/\(name)")
        }
        let config = KerasLayerConfig.layerNormalization(axis: [-1], epsilon: 1e-3, center: true, scale: true)
        for weights in [[weight("gamma", [4]), weight("beta", [5])], [weight("gamma", [2, 2]), weight("beta", [2, 2])]] {
            let layer = KerasLayer(name: "l", className: "LayerNormalization", config: config, weights: weights)
            let error = #expect(throws: KerasImportError.self) { try KerasWeightValidator.validate(layer, source: "m.keras") }
            #expect(error?.kind == .shapeMismatch)
            #expect(error.map { !"\($0)".contains("\n") } == true)
        }
        let good = KerasLayer(name: "l", className: "LayerNormalization", config: config, weights: [weight("gamma", [4]), weight("beta", [4])])
        #expect(throws: Never.self) { try KerasWeightValidator.validate(good, source: "m.keras") }
    }
}
