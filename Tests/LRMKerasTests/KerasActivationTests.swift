import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The fixtures of `Fixtures/activations` (`k3_act_*`, written by `tools/make_activation_fixtures.py` with Keras 3.15),
/// each with Keras's own outputs in `NAME.pred.npz`.
enum ActivationFixture {
    static let models = ["k3_act_mlp", "k3_act_cnn", "k3_act_conv1d"]

    static func path(_ name: String) -> String { TestData.fixture("activations/\(name)") }

    /// Every (file, architecture source) the fixture script wrote for `stem`.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil), (path("\(stem).weights.h5"), path("\(stem).keras")),
         (path("\(stem)_weights.h5"), path("\(stem).keras"))]
    }

    static func operation(_ model: Model, _ name: String) -> LayerOperation<Tensor>? {
        model.layers.first { $0.name == name }?.operation
    }
}

@Suite("Keras activations with parameters (format 1.5): LeakyReLU, ReLU, ELU, PReLU and Keras 3's activation names")
struct KerasActivationTests {
    @Test("every activation fixture, in every layout Keras 3 writes, reproduces Keras's y within 1e-5, directly and through .lrm",
          arguments: ActivationFixture.models)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(ActivationFixture.layouts(stem), pred: ActivationFixture.path("\(stem).pred.npz"), tolerance: 1e-5)
    }

    @Test("the layers map to activation codes where one exists and to parametric_activation otherwise")
    func mapping() throws {
        let mlp = try KerasImporter.loadModel(path: ActivationFixture.path("k3_act_mlp.keras"))
        let op = { ActivationFixture.operation(mlp, $0) }
        if case .dense(_, _, .linear)? = op("d1") {} else { Issue.record("d1 is not a linear dense: \(String(describing: op("d1")))") }
        #expect(op("d1/activation") == .parametricActivation(.relu(negativeSlope: 0.2, threshold: 0, maxValue: .infinity), alphas: nil))
        #expect(op("leaky") == .parametricActivation(.relu(negativeSlope: 0.1, threshold: 0, maxValue: .infinity), alphas: nil))
        #expect(op("relu_full") == .parametricActivation(.relu(negativeSlope: 0.05, threshold: 0.3, maxValue: 2.5), alphas: nil))
        #expect(op("elu") == .parametricActivation(.elu(alpha: 0.7), alphas: nil))
        #expect(op("celu") == .activation(.elu))
        #expect(op("hswish") == .activation(.hardSilu))
        for (name, activation) in [("d2", Activation.mish), ("d3", .hardSilu), ("d4", .logSigmoid), ("d5", .hardTanh), ("out", .logSoftmax)] {
            if case .dense(_, _, activation)? = op(name) {} else { Issue.record("\(name) is not a dense with \(activation)") }
        }
        if case let .parametricActivation(.prelu, alphas?)? = op("prelu") { #expect(alphas.shape == [6]) } else { Issue.record("prelu") }
        let cnn = try KerasImporter.loadModel(path: ActivationFixture.path("k3_act_cnn.keras"))
        if case let .parametricActivation(.prelu, alphas?)? = ActivationFixture.operation(cnn, "prelu_channel") {
            #expect(alphas.shape == [1, 1, 4])
        } else { Issue.record("prelu_channel") }
        #expect(ActivationFixture.operation(cnn, "relu6") == .activation(.relu6))
        #expect(ActivationFixture.operation(cnn, "elu1") == .activation(.elu))
        #expect(ActivationFixture.operation(cnn, "plain") == .activation(.relu))
        #expect(ActivationFixture.operation(cnn, "thresholded") == .parametricActivation(.relu(negativeSlope: 0, threshold: 0.2, maxValue: .infinity), alphas: nil))
        // Written as format 1.5; the conv1d model's PReLU sees Keras's [steps, channels] sample.
        let conv1d = try KerasImporter.loadModel(path: ActivationFixture.path("k3_act_conv1d.keras"))
        #expect(try conv1d.plan().header.minorVersion == 5)
        if case let .parametricActivation(.prelu, alphas?)? = ActivationFixture.operation(conv1d, "prelu") {
            #expect(alphas.shape == [1, 4])
        } else { Issue.record("conv1d prelu") }
    }

    @Test("tf-keras's LeakyReLU spelling (alpha) and Keras's default slope (0.3) are read")
    func leakyReluSpellings() throws {
        var model = try KerasImporter.load(path: ActivationFixture.path("k3_act_mlp.keras"))
        let index = try #require(model.layers.firstIndex { $0.name == "leaky" })
        for (config, slope) in [(#"{"name": "leaky", "alpha": 0.25}"#, 0.25), (#"{"name": "leaky"}"#, 0.3)] {
            let parsed = try KerasLayerConfig.parse(className: "LeakyReLU", config: try JSONValue.parse(Data(config.utf8)), name: "leaky",
                                                   source: "m.keras")
            #expect(parsed == .relu(maxValue: nil, negativeSlope: slope, threshold: 0))
            model.layers[index].config = parsed
            let mapped = try model.containerModel(sourcePath: "m.keras")
            #expect(ActivationFixture.operation(mapped, "leaky") == .parametricActivation(.relu(negativeSlope: slope, threshold: 0, maxValue: .infinity), alphas: nil))
        }
    }

    @Test("a PReLU alpha of the wrong shape, a ReLU with a negative threshold and an ELU with an infinite alpha are refused in one line naming the layer")
    func refused() throws {
        let base = try KerasImporter.load(path: ActivationFixture.path("k3_act_mlp.keras"))
        var wrongAlpha = base
        let prelu = try #require(wrongAlpha.layers.firstIndex { $0.name == "prelu" })
        wrongAlpha.layers[prelu].weights[0].shape = [3, 2]
        let shape = #expect(throws: KerasImportError.self) { try wrongAlpha.containerModel(sourcePath: "m.keras") }
        #expect(shape?.kind == .shapeMismatch)
        #expect(shape?.location == "layer 'prelu' (PReLU)")
        #expect(shape?.message == "alpha has shape [3, 2], expected [6] (its input [6] with shared axes [] as 1)")
        var wrongAxis = base
        wrongAxis.layers[prelu].config = .prelu(sharedAxes: [2])
        let axis = #expect(throws: KerasImportError.self) { try wrongAxis.containerModel(sourcePath: "m.keras") }
        #expect(axis?.kind == .unsupportedLayer)
        #expect(axis?.message == "shares axis 2, the sample [6] has axes 1 to 1")
        for (name, config, message) in [
            ("relu_full", KerasLayerConfig.relu(maxValue: 2, negativeSlope: 0.1, threshold: -1), "relu has threshold -1.0, expected a finite value ≥ 0"),
            ("elu", .elu(alpha: .infinity), "elu has alpha inf, expected a finite value"),
            ("leaky", .relu(maxValue: nil, negativeSlope: .nan, threshold: 0), "relu has negative_slope nan, expected a finite value"),
        ] {
            var model = base
            let index = try #require(model.layers.firstIndex { $0.name == name })
            model.layers[index].config = config
            let error = #expect(throws: KerasImportError.self) { try model.containerModel(sourcePath: "m.keras") }
            #expect(error?.kind == .unsupportedLayer)
            #expect(error?.message == message)
            #expect(error?.description.contains("\n") == false)
        }
    }

    @Test("each fixture exports as Keras's own layers (LeakyReLU, ReLU, ELU, PReLU, the activation names) and lrm reads it back with the same outputs",
          arguments: ActivationFixture.models)
    func export(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: ActivationFixture.path("\(stem).keras"))
        let plan = try KerasExportPlan(model, file: "x.keras")
        let classes = plan.layers.map(\.className)
        switch stem {
        case "k3_act_mlp":
            #expect(classes == ["Dense", "LeakyReLU", "LeakyReLU", "Dense", "ReLU", "Dense", "ELU", "Dense", "PReLU", "Dense", "Activation",
                                "Activation", "Dense"], "\(classes)")
            #expect(KerasConv1DExportTests.setting(plan, "relu_full", "max_value") == .number(2.5))
            #expect(KerasConv1DExportTests.setting(plan, "d2", "activation") == .string("mish"))
        case "k3_act_cnn":
            #expect(KerasConv1DExportTests.setting(plan, "prelu_channel", "shared_axes") == KerasConfigJSON([1, 2]))
            #expect(KerasConv1DExportTests.setting(plan, "prelu_element", "shared_axes") == .null)
            #expect(plan.layers.first { $0.name == "prelu_channel" }?.weights.map(\.shape) == [[1, 1, 4]])
        default:
            #expect(classes.contains("PReLU") && classes.contains("LeakyReLU"), "\(classes)")
        }
        let pred = try NPZ.read(path: ActivationFixture.path("\(stem).pred.npz"))
        let x = try #require(pred["x"])
        try KerasConv1DExportTests.expectRoundTrip(model, x: x.floatValues(), samples: x.shape[0], stem)
    }

    @Test("hard_sigmoid is Keras 3's relu6(x + 3) / 6, but clip(0.2·x + 0.5, 0, 1) in a file of Keras 1 or 2 (tf-keras), which was refused (2.x) or run as Keras 3's (1.x); export refuses the latter in one line")
    func hardSigmoidByVersion() throws {
        var model = try KerasImporter.load(path: ActivationFixture.path("k3_act_mlp.keras"))
        let index = try #require(model.layers.firstIndex { $0.name == "d1" })
        model.layers[index].config = .dense(units: 8, activation: .hardSigmoid, useBias: true)
        for (version, expected) in [("3.15.1", Activation.hardSigmoid), ("2.15.0", .hardSigmoidKeras2), ("1.2.2", .hardSigmoidKeras2),
                                    (nil, .hardSigmoid)] as [(String?, Activation)] {
            model.kerasVersion = version
            let mapped = try model.containerModel(sourcePath: "m.h5")
            if case .dense(_, _, let activation)? = ActivationFixture.operation(mapped, "d1") {
                #expect(activation == expected, "keras_version \(version ?? "absent")")
            } else { Issue.record("d1 is not a dense layer") }
            if expected == .hardSigmoidKeras2 {
                let error = #expect(throws: KerasExportError.self) { try KerasExportPlan(mapped, file: "x.keras") }
                #expect(error?.kind == .unsupportedActivation)
                #expect(error?.description.contains("hard_sigmoid_keras2") == true)
            }
        }
    }

    @Test("a ReLU with a negative slope has no Keras 3 layer: export refuses it in one line")
    func negativeSlopeExport() throws {
        var model = try KerasImporter.loadModel(path: ActivationFixture.path("k3_act_mlp.keras"))
        let index = try #require(model.layers.firstIndex { $0.name == "leaky" })
        model.layers[index].operation = .parametricActivation(.relu(negativeSlope: -0.5, threshold: 0, maxValue: .infinity), alphas: nil)
        let error = #expect(throws: KerasExportError.self) { try KerasExportPlan(model, file: "x.keras") }
        #expect(error?.kind == .unsupportedActivation)
        #expect(error?.description.contains("negative slope -0.5") == true)
    }
}
