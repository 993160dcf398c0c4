import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The convolutional fixtures of `Fixtures/cnn` (written by `tools/make_cnn_fixtures.py` with Keras 3.15 and
/// tf-keras 2.21), each with Keras's own outputs in `NAME.pred.npz`.
enum CNNFixture {
    static let models = ["basic", "geometry", "depthwise", "channels_first", "channels_first_flatten"]
    static let lines = ["k3_", "tfk_"]

    static func path(_ name: String) -> String { TestData.fixture("cnn/\(name)") }

    /// Every (file, architecture source) the library wrote for `stem`.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        var result: [(String, String?)] = [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil)]
        for file in ["\(stem).weights.h5", "\(stem)_weights.h5"] where FileManager.default.fileExists(atPath: path(file)) {
            result.append((path(file), path("\(stem).keras")))
        }
        return result
    }
}

@Suite("Convolutional Keras models: import and predictions against Keras's own outputs")
struct KerasCNNTests {
    /// Float32 models: Keras and lrm sum the same products in different orders; 1e-5 absolute is the issue's
    /// bound and holds with outputs of magnitude up to ~10 (float32 ulp there is ~1e-6).
    static let tolerance: Float = 1e-5

    @Test("every CNN fixture, in every layout Keras 3 and tf-keras write, reproduces Keras's y directly and through .lrm",
          arguments: CNNFixture.lines.flatMap { line in CNNFixture.models.map { line + $0 } })
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(CNNFixture.layouts(stem), pred: CNNFixture.path("\(stem).pred.npz"), tolerance: Self.tolerance)
    }

    @Test("BatchNormalization after a linear convolution is folded into it; after an activation it stays a per-channel scale-shift")
    func batchNormalizationFolding() throws {
        let basic = try KerasImporter.loadModel(path: CNNFixture.path("k3_basic.keras"))
        #expect(!basic.layers.contains { $0.name == "bn_b" })
        let depthwise = try KerasImporter.loadModel(path: CNNFixture.path("k3_depthwise.keras"))
        // bn_dw follows a relu depthwise convolution: kept; bn_sep follows the separable's linear pointwise half: folded.
        #expect(depthwise.layers.map(\.name) == ["dw", "bn_dw", "sep/depthwise", "sep", "relu", "dw_nobias", "maxsame", "gmp", "out"])
        if case .scaleShift(let scale, _) = depthwise.layers[1].operation { #expect(scale.shape == [6]) } else { Issue.record("bn_dw is not a scale-shift") }
    }

    @Test("channels-first models get lrm's [h, w, c] through permutes, and Keras's CHW order back before a channels-last Flatten")
    func channelsFirst() throws {
        let model = try KerasImporter.loadModel(path: CNNFixture.path("k3_channels_first.keras"))
        #expect(model.input.shape == [2, 9, 8])
        #expect(model.input.layout == .chw)
        #expect(model.layers.map(\.name) == ["conv/channels_last", "conv", "relu", "pool", "pad", "flat/channels_first", "flat", "out"])
        let flattenFirst = try KerasImporter.loadModel(path: CNNFixture.path("k3_channels_first_flatten.keras"))
        // Flatten(data_format="channels_first") flattens [h, w, c]: no permute back.
        #expect(flattenFirst.layers.map(\.name) == ["conv/channels_last", "conv", "avg", "crop", "flat", "out"])
    }

    @Test("a Keras 2.0-era file (Sequential config as a bare list, batch_input_shape on the first Conv2D) keeps its 8×8×1 input")
    func keras20InputShape() throws {
        let model = try KerasImporter.loadModel(path: CNNFixture.path("tfk_keras20.h5"))
        #expect(model.input.shape == [8, 8, 1])
        #expect(model.input.layout == .hwc)
        let (got, want) = try LRMKerasTests.predictions(CNNFixture.path("tfk_keras20.h5"), architecture: nil,
                                                        pred: CNNFixture.path("tfk_keras20.pred.npz"), throughContainer: true)
        #expect(got.count == want.count && zip(got, want).allSatisfy { abs($0 - $1) <= Self.tolerance })
    }
}

@Suite("Convolutional configs: parsing and refusals (JSON only)")
struct KerasCNNConfigTests {
    func parse(_ layers: [String], input: String = "[null, 8, 8, 3]") throws(KerasImportError) -> KerasArchitecture {
        let input = #"{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": \#(input)}}"#
        let json = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [\#(([input] + layers).joined(separator: ", "))]}}"#
        return try KerasConfigParser.parse(Data(json.utf8), source: "config.json")
    }

    @Test("Conv2D settings: integer and pair forms, the older class names, and Keras's defaults")
    func convolutionSettings() throws {
        let architecture = try parse([
            #"{"class_name": "Conv2D", "config": {"name": "a", "filters": 4, "kernel_size": 3}}"#,
            #"{"class_name": "Convolution2D", "config": {"name": "b", "filters": 2, "kernel_size": [3, 1], "strides": [2, 1], "padding": "same", "dilation_rate": 1, "use_bias": false, "activation": "relu"}}"#,
            #"{"class_name": "MaxPool2D", "config": {"name": "p", "pool_size": [2, 3], "strides": null}}"#,
        ])
        let configs = architecture.leaves.compactMap { node -> KerasLayerConfig? in
            if case .layer(let config) = node.content { return config }
            return nil
        }
        #expect(configs[1] == .conv2D(KerasConvolution(filters: 4, kernelH: 3, kernelW: 3)))
        #expect(configs[2] == .conv2D(KerasConvolution(filters: 2, kernelH: 3, kernelW: 1, strideH: 2, strideW: 1, padding: .same,
                                                       activation: .relu, useBias: false)))
        #expect(configs[3] == .pooling2D(KerasPooling(mode: .max, poolH: 2, poolW: 3, strideH: 2, strideW: 3, padding: .valid,
                                                      dataFormat: .channelsLast)))
    }

    @Test("layers without an exact lrm counterpart are refused naming the layer and its class",
          arguments: [("Conv3DTranspose", "up"), ("Conv3D", "c3"), ("LSTM", "rnn"), ("UpSampling3D", "up3"),
                      ("LocallyConnected2D", "lc")])
    func refusedClasses(_ className: String, _ name: String) {
        let error = #expect(throws: KerasImportError.self) {
            try parse([#"{"class_name": "\#(className)", "config": {"name": "\#(name)", "filters": 2, "kernel_size": 3}}"#])
        }
        #expect(error?.kind == .unsupportedLayer)
        #expect(error?.location == "layer '\(name)' (\(className))")
    }

    @Test("grouped convolutions, unknown paddings and bad sizes are refused naming the field",
          arguments: [(#""groups": 2"#, KerasImportError.Kind.unsupportedLayer, "groups"),
                      (#""padding": "causal""#, .unsupportedLayer, "causal"),
                      (#""strides": [0, 1]"#, .invalidConfig, "strides"),
                      (#""dilation_rate": [1, 2, 3]"#, .invalidConfig, "dilation_rate"),
                      (#""kernel_size": 70000"#, .invalidConfig, "kernel_size"),
                      (#""data_format": "nchw""#, .invalidConfig, "data_format")])
    func refusedSettings(_ field: String, _ kind: KerasImportError.Kind, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) {
            // The field comes first: with a repeated key the parser keeps the first.
            try parse([#"{"class_name": "Conv2D", "config": {\#(field), "name": "c", "filters": 2, "kernel_size": 3}}"#])
        }
        #expect(error?.kind == kind)
        #expect(error?.location == "layer 'c' (Conv2D)")
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
    }

    @Test("a merge (Add) of two convolution branches is read as a graph: the Add takes the convolution's output and the input")
    func branches() throws {
        let json = #"""
        {"class_name": "Functional", "config": {"name": "res", "input_layers": [["x", 0, 0]], "output_layers": [["add", 0, 0]], "layers": [
          {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_input_shape": [null, 8, 8, 3]}, "inbound_nodes": []},
          {"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 3, "kernel_size": 3, "padding": "same"}, "inbound_nodes": [[["x", 0, 0, {}]]]},
          {"class_name": "Add", "name": "add", "config": {"name": "add"}, "inbound_nodes": [[["c", 0, 0, {}], ["x", 0, 0, {}]]]}]}}
        """#
        let architecture = try KerasConfigParser.parse(Data(json.utf8), source: "config.json")
        #expect(architecture.graph == KerasGraph(inputs: [[], [0], [1, 0]], output: 2))
    }
}
