import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// Before: every Keras 1-D layer was exported as its 2-D layer over a height of 1 between Reshape layers.
@Suite("Export of Keras 1-D layers as Keras 1-D layers, with the 2-D form where the geometry has no 1-D one")
struct KerasConv1DExportTests {
    /// The classes the export writes for each fixture (after the InputLayer), and settings of some of its layers.
    static let expected: [String: [String]] = [
        "k3_conv1d_basic": ["Conv1D", "MaxPooling1D", "Conv1D", "Activation", "Flatten", "Dense"],
        "k3_conv1d_geometry": ["ZeroPadding1D", "Conv1D", "AveragePooling1D", "Cropping1D", "Conv1D", "Conv1D", "BatchNormalization",
                               "GlobalAveragePooling1D", "Dense"],
        "k3_conv1d_separable": ["SeparableConv1D", "DepthwiseConv1D", "BatchNormalization", "MaxPooling1D", "GlobalMaxPooling1D",
                                "Flatten", "Dense"],
        "k3_conv1d_mixed": ["Conv1D", "Dense", "Conv1D"],
        "k3_residual1d": ["Conv1D", "Activation", "Conv1D", "Add", "Conv1D", "Conv1D", "Concatenate", "GlobalAveragePooling1D", "Dense"],
    ]

    static func path(_ stem: String) -> String {
        stem == "k3_residual1d" ? GraphFixture.path("\(stem).keras") : CNNFixture.path("\(stem).keras")
    }

    static func setting(_ plan: KerasExportPlan, _ layer: String, _ key: String) -> KerasConfigJSON? {
        plan.layers.first { $0.name == layer }?.settings.first { $0.0 == key }?.1
    }

    /// Writes `model` to .h5 and .keras, reads each back with lrm's importer and compares its outputs on `x` with `model`'s.
    static func expectRoundTrip(_ model: Model, x: [Float], samples: Int, _ label: String) throws {
        let want = try InferenceModel(model).run(x, sampleCount: samples)
        let directory = try TestData.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["exported.h5", "exported.keras"] {
            let path = directory.appendingPathComponent(name).path
            _ = name.hasSuffix(".keras") ? try KerasExporter.writeArchive(model, to: path) : try KerasExporter.write(model, to: path)
            let reimported = try KerasImporter.loadModel(path: path)
            #expect(reimported.input.shape == model.input.shape, "\(label) \(name)")
            let got = try InferenceModel(reimported).run(x, sampleCount: samples)
            let worst = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.count == want.count && worst <= 1e-5, "\(label) \(name): max |Δ| = \(worst)")
        }
    }

    @Test("each Conv1D fixture exports as its Keras 1-D classes, with no reshapes (causal padding as Conv1D's 'causal', a SeparableConv1D whole, keepdims kept), and lrm reads it back with Keras's outputs",
          arguments: Conv1DFixture.models + ["k3_residual1d"])
    func fixtures(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: Self.path(stem))
        let plan = try KerasExportPlan(model, file: "x.keras")
        #expect(plan.layers.map(\.className) == Self.expected[stem], "\(stem): \(plan.layers.map(\.className))")
        switch stem {
        case "k3_conv1d_geometry":
            #expect(Self.setting(plan, "causal", "padding") == .string("causal"))
            #expect(Self.setting(plan, "causal", "dilation_rate") == KerasConfigJSON([2]))
            #expect(Self.setting(plan, "pad", "padding") == KerasConfigJSON([1, 2]))
            #expect(Self.setting(plan, "avg", "strides") == KerasConfigJSON([2]))
        case "k3_conv1d_separable":
            #expect(Self.setting(plan, "sep", "depth_multiplier") == .int(2))
            #expect(plan.layers.first?.weights.map(\.shape) == [[3, 3, 2], [1, 6, 5], [5]])
            #expect(Self.setting(plan, "gmp", "keepdims") == .bool(true))
        case "k3_conv1d_mixed":
            #expect(Self.setting(plan, "c1", "padding") == .string("causal") && Self.setting(plan, "c1", "strides") == KerasConfigJSON([2]))
        case "k3_residual1d":
            #expect(plan.layers.first { $0.name == "join" }?.outputShape == [6, 10], "Keras's [steps, channels]")
        default:
            break
        }
        let pred = try NPZ.read(path: stem == "k3_residual1d" ? GraphFixture.path("\(stem).pred.npz") : CNNFixture.path("\(stem).pred.npz"))
        let x = try #require(pred["x"])
        try Self.expectRoundTrip(model, x: x.floatValues(), samples: x.shape[0], stem)
    }

    /// A [steps, channels] model of `middle` between the import's reshapes, every layer recorded as a Conv1D.
    static func sequenceModel(_ middle: [Layer<Tensor>], steps: Int = 8, channels: Int = 2, end: [Int]?) -> Model {
        let layers = [Layer(name: "first/as_2d", operation: LayerOperation<Tensor>.reshape([1, steps, channels]))] + middle
            + (end.map { [Layer(name: "output/as_1d", operation: .reshape($0))] } ?? [])
        return Model(name: "m", input: InputSpec(shape: [steps, channels]), layers: layers,
                     metadata: [MetadataKey.sourceKerasClasses: .strings(middle.map { "Conv1D:\($0.name)" })])
    }

    static func convolution(_ name: String, height: Int = 1, width: Int = 3, cin: Int = 2, cout: Int = 3, padding: WindowPadding = .same) -> Layer<Tensor> {
        let count = height * width * cin * cout
        return Layer(name: name, operation: .conv2D(
            kernel: Tensor(shape: [height, width, cin, cout], floats: (0..<count).map { (index: Int) -> Float in Float((index * 7) % 11) / 11 - 0.4 }),
            bias: Tensor(shape: [cout], floats: (0..<cout).map { (index: Int) -> Float in Float(index) / 10 }), activation: .tanh,
            geometry: ConvGeometry(padding: padding)))
    }

    @Test("a layer recorded as Conv1D whose kernel has a height of 2 has no 1-D form: Conv2D between reshapes (after a Conv1D, a Reshape back first); a model that ends in the sequence view gets lrm's shape back")
    func fallback() throws {
        let x: [Float] = (0..<48).map { (index: Int) -> Float in Float((index * 5) % 13) / 13 - 0.5 }
        let tall = Self.sequenceModel([Self.convolution("tall", height: 2)], end: [8, 3])
        #expect(try KerasExportPlan(tall, file: "x").layers.map(\.className) == ["Reshape", "Conv2D", "Reshape"])
        try Self.expectRoundTrip(tall, x: x, samples: 3, "tall")

        let mixed = Self.sequenceModel([Self.convolution("flat"), Self.convolution("tall", height: 2, cin: 3)], end: [8, 3])
        let plan = try KerasExportPlan(mixed, file: "x")
        #expect(plan.layers.map(\.className) == ["Conv1D", "Reshape", "Conv2D", "Reshape"])
        #expect(plan.layers[1].settings.first?.1 == KerasConfigJSON([1, 8, 3]))
        try Self.expectRoundTrip(mixed, x: x, samples: 3, "mixed")

        let open = Self.sequenceModel([Self.convolution("flat", padding: .valid)], end: nil)
        let ending = try KerasExportPlan(open, file: "x")
        #expect(ending.layers.map(\.className) == ["Conv1D", "Reshape"])
        #expect(ending.layers.last?.settings.first?.1 == KerasConfigJSON([1, 6, 3]))
        try Self.expectRoundTrip(open, x: x, samples: 3, "open")
    }
}
