import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The 1-D convolutional fixtures of `Fixtures/cnn` (`k3_conv1d_*`, written by `tools/make_conv1d_fixtures.py` with
/// Keras 3.15), each with Keras's own outputs in `NAME.pred.npz`.
enum Conv1DFixture {
    static let models = ["k3_conv1d_basic", "k3_conv1d_geometry", "k3_conv1d_separable", "k3_conv1d_mixed"]
}

@Suite("Keras 1-D layers (Conv1D, pooling, padding, global pooling): import and predictions against Keras's own outputs")
struct KerasConv1DTests {
    @Test("every Conv1D fixture, in every layout Keras 3 writes, reproduces Keras's y directly and through .lrm",
          arguments: Conv1DFixture.models)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(CNNFixture.layouts(stem), pred: CNNFixture.path("\(stem).pred.npz"), tolerance: KerasCNNTests.tolerance)
    }

    @Test("a model with an open number of steps (Input((None, 3))) is mapped for a given shape and reproduces Keras's y; without one, or with one that does not fit, it is refused in one line")
    func openSteps() throws {
        let stem = "k3_conv1d_open_steps"
        let pred = try NPZ.read(path: CNNFixture.path("\(stem).pred.npz"))
        let x = try #require(pred["x"]), y = try #require(pred["y"])
        for (file, architecture) in CNNFixture.layouts(stem) {
            let model = try KerasImporter.loadModel(path: file, architecture: architecture, inputShape: [15, 3])
            #expect(model.input.shape == [15, 3])
            let got = try InferenceModel(model).run(x.floatValues(), sampleCount: x.shape[0])
            let worst = zip(got, y.floatValues()).map { abs($0 - $1) }.max() ?? .infinity
            #expect(got.count == y.floatValues().count && worst <= KerasCNNTests.tolerance, "\((file as NSString).lastPathComponent): max |Δ| \(worst)")
            let open = #expect(throws: KerasImportError.self) { try KerasImporter.loadModel(path: file, architecture: architecture) }
            #expect(open?.location == "layer 'c' (Conv1D)")
            #expect(open?.message.contains("(None, 3) leaves the number of steps open; lrm runs a fixed shape: give it with --input-shape") == true,
                    "\(open?.message ?? "")")
            for wrong in [[15, 4], [15, 3, 1]] {
                let error = #expect(throws: KerasImportError.self) {
                    try KerasImporter.loadModel(path: file, architecture: architecture, inputShape: wrong)
                }
                #expect(error?.kind == .givenShapeMismatch)
                #expect(error?.message == "--input-shape \(wrong.map(String.init).joined(separator: ",")) does not fit the model's input shape (None, 3)")
            }
        }
        // A given shape the layers do not fit (a valid kernel of 3 over 2 steps) is the option's error too.
        var valid = try KerasImporter.load(path: CNNFixture.path("\(stem).keras"))
        let index = try #require(valid.layers.firstIndex { $0.name == "c" })
        guard case .sequence(.conv2D(var c), _) = valid.layers[index].config else { Issue.record("c is not a Conv1D"); return }
        c.padding = .valid
        valid.layers[index].config = .sequence(.conv2D(c), causalPadding: 0)
        let short = #expect(throws: KerasImportError.self) { try valid.containerModel(sourcePath: "v.keras", inputShape: [2, 3]) }
        #expect(short?.kind == .givenShapeMismatch)
        #expect(short?.message.hasPrefix("--input-shape 2,3 does not fit the model: ") == true, "\(short?.message ?? "")")
        #expect(try valid.containerModel(sourcePath: "v.keras", inputShape: [3, 3]).input.shape == [3, 3])
        // A model whose config gives its whole input shape keeps it, whatever is given.
        let fixed = try KerasImporter.loadModel(path: CNNFixture.path("k3_conv1d_basic.keras"), inputShape: [7, 7])
        #expect(fixed.input.shape == [20, 3])
    }

    @Test("a [steps, channels] sample runs as [1, steps, channels]: a reshape before the first 1-D layer, none before Flatten, 1×k kernels")
    func layout() throws {
        let model = try KerasImporter.loadModel(path: CNNFixture.path("k3_conv1d_basic.keras"))
        #expect(model.input.shape == [20, 3])
        #expect(model.input.layout == .features)
        // bn folded into c2 (linear); Flatten of [1, 5, 5] is Keras's flatten of [5, 5] (the same row-major order).
        #expect(model.layers.map(\.name) == ["c1/as_2d", "c1", "pool", "c2", "relu", "flat", "out"])
        if case .reshape(let shape) = model.layers[0].operation { #expect(shape == [1, 20, 3]) } else { Issue.record("c1/as_2d is not a reshape") }
        if case let .conv2D(kernel, _, activation, geometry) = model.layers[1].operation {
            #expect(kernel.shape == [1, 3, 3, 4] && activation == .relu && geometry == .unit)
        } else { Issue.record("c1 is not a conv2d") }
        if case let .conv2D(kernel, bias, _, geometry) = model.layers[3].operation {
            #expect(kernel.shape == [1, 3, 4, 5] && bias?.shape == [5])  // the folded BatchNormalization's bias
            #expect(geometry == ConvGeometry(strideH: 1, strideW: 2, dilationH: 1, dilationW: 1, padding: .same))
        } else { Issue.record("c2 is not a conv2d") }
        if case .pool2D(let p) = model.layers[2].operation {
            #expect(p == Pooling(mode: .max, poolH: 1, poolW: 2, strideH: 1, strideW: 2, padding: .valid))
        } else { Issue.record("pool is not a pool2d") }
        #expect(model.metadata[MetadataKey.sourceKerasClasses] == .strings(["Conv1D:c1", "MaxPooling1D:pool", "Conv1D:c2"]))
    }

    @Test("causal padding is (k − 1)·d zero steps on the left, then a valid convolution; Keras's [steps, channels] comes back before a Dense and at the end")
    func causalAndViews() throws {
        let mixed = try KerasImporter.loadModel(path: CNNFixture.path("k3_conv1d_mixed.keras"))
        #expect(mixed.layers.map(\.name) == ["c1/as_2d", "c1/causal_padding", "c1", "mix/as_1d", "mix", "c2/as_2d", "c2", "output/as_1d"])
        #expect(try mixed.outputShape() == [5, 3])
        if case .pad2D(let m) = mixed.layers[1].operation { #expect(m == Margins(top: 0, bottom: 0, left: 2, right: 0)) } else { Issue.record("no pad2d") }
        let geometry = try KerasImporter.loadModel(path: CNNFixture.path("k3_conv1d_geometry.keras"))
        let pad = try #require(geometry.layers.first { $0.name == "causal/causal_padding" })
        // kernel 3, dilation 2: (3 − 1)·2 = 4.
        if case .pad2D(let m) = pad.operation { #expect(m == Margins(top: 0, bottom: 0, left: 4, right: 0)) } else { Issue.record("no pad2d") }
        if case let .conv2D(_, _, _, g) = try #require(geometry.layers.first { $0.name == "causal" }).operation {
            #expect(g == ConvGeometry(strideH: 1, strideW: 1, dilationH: 1, dilationW: 2, padding: .valid))
        } else { Issue.record("causal is not a conv2d") }
        // GlobalMaxPooling1D(keepdims) gives Keras's [1, channels]: lrm's [1, 1, channels] until the Flatten.
        let separable = try KerasImporter.loadModel(path: CNNFixture.path("k3_conv1d_separable.keras"))
        #expect(separable.layers.map(\.name) == ["sep/as_2d", "sep/depthwise", "sep", "dw", "bn", "maxsame", "gmp", "gmp/keepdims", "flat", "out"])
    }
}

@Suite("Keras 1-D layer configs: parsing and refusals (JSON only)")
struct KerasConv1DConfigTests {
    static func json(_ layers: [String], input: String) -> String {
        let input = #"{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": \#(input)}}"#
        return #"{"class_name": "Sequential", "config": {"name": "s", "layers": [\#(([input] + layers).joined(separator: ", "))]}}"#
    }

    func parse(_ layers: [String], input: String = "[null, 16, 3]") throws(KerasImportError) -> [KerasLayerConfig] {
        let architecture = try KerasConfigParser.parse(Data(Self.json(layers, input: input).utf8), source: "config.json")
        return architecture.leaves.dropFirst().compactMap { node -> KerasLayerConfig? in
            if case .layer(let config) = node.content { return config }
            return nil
        }
    }

    /// The config mapped with stand-in weights, as an import would.
    func probe(_ layers: [String], input: String = "[null, 16, 3]") throws(KerasImportError) -> Model {
        try KerasImporter.probeConfig(Array(Self.json(layers, input: input).utf8))
    }

    @Test("Conv1D, pooling and margins settings: integer and one-element list forms, the older class names, Keras's defaults")
    func settings() throws {
        let configs = try parse([
            #"{"class_name": "Conv1D", "config": {"name": "a", "filters": 4, "kernel_size": 5}}"#,
            #"{"class_name": "Convolution1D", "config": {"name": "b", "filters": 2, "kernel_size": [3], "strides": [2], "padding": "same", "dilation_rate": 1, "use_bias": false, "activation": "relu"}}"#,
            #"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": [3], "dilation_rate": [4], "padding": "causal"}}"#,
            #"{"class_name": "MaxPool1D", "config": {"name": "p", "pool_size": [3], "strides": null}}"#,
            #"{"class_name": "AvgPool1D", "config": {"name": "q"}}"#,
            #"{"class_name": "ZeroPadding1D", "config": {"name": "z", "padding": 2}}"#,
            #"{"class_name": "Cropping1D", "config": {"name": "k"}}"#,
            #"{"class_name": "GlobalAvgPool1D", "config": {"name": "g", "keepdims": true}}"#,
            #"{"class_name": "SpatialDropout1D", "config": {"name": "d", "rate": 0.5}}"#,
        ])
        #expect(configs[0] == .sequence(.conv2D(KerasConvolution(filters: 4, kernelH: 1, kernelW: 5)), causalPadding: 0))
        #expect(configs[1] == .sequence(.conv2D(KerasConvolution(filters: 2, kernelH: 1, kernelW: 3, strideW: 2, padding: .same,
                                                                 activation: .relu, useBias: false)), causalPadding: 0))
        #expect(configs[2] == .sequence(.conv2D(KerasConvolution(filters: 2, kernelH: 1, kernelW: 3, dilationW: 4)), causalPadding: 8))
        #expect(configs[3] == .sequence(.pooling2D(KerasPooling(mode: .max, poolH: 1, poolW: 3, strideH: 1, strideW: 3, padding: .valid,
                                                                dataFormat: .channelsLast)), causalPadding: 0))
        #expect(configs[4] == .sequence(.pooling2D(KerasPooling(mode: .average, poolH: 1, poolW: 2, strideH: 1, strideW: 2, padding: .valid,
                                                                dataFormat: .channelsLast)), causalPadding: 0))
        #expect(configs[5] == .sequence(.margins2D(top: 0, bottom: 0, left: 2, right: 2, crop: false, dataFormat: .channelsLast), causalPadding: 0))
        #expect(configs[6] == .sequence(.margins2D(top: 0, bottom: 0, left: 1, right: 1, crop: true, dataFormat: .channelsLast), causalPadding: 0))
        #expect(configs[7] == .sequence(.globalPooling2D(mode: .average, dataFormat: .channelsLast, keepDims: true), causalPadding: 0))
        #expect(configs[8] == .dropout(rate: 0.5))
    }

    @Test("unsupported 1-D settings are refused in one line naming the layer and the setting",
          arguments: [(#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "data_format": "channels_first"}}"#,
                       "layer 'c' (Conv1D)", KerasImportError.Kind.unsupportedLayer, "channels_first"),
                      (#"{"class_name": "GlobalMaxPooling1D", "config": {"name": "g", "data_format": "channels_first"}}"#,
                       "layer 'g' (GlobalMaxPooling1D)", .unsupportedLayer, "channels_first"),
                      (#"{"class_name": "MaxPooling1D", "config": {"name": "p", "padding": "causal"}}"#,
                       "layer 'p' (MaxPooling1D)", .unsupportedLayer, "causal\" is not supported, expected 'valid' or 'same'"),
                      (#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3, "padding": "full"}}"#,
                       "layer 'c' (Conv1D)", .unsupportedLayer, "expected 'valid', 'same' or 'causal'"),
                      (#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3]}}"#,
                       "layer 'c' (Conv1D)", .invalidConfig, "kernel_size"),
                      (#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": 3, "groups": 2}}"#,
                       "layer 'c' (Conv1D)", .unsupportedLayer, "groups"),
                      (#"{"class_name": "SeparableConv1D", "config": {"name": "s", "filters": 4, "kernel_size": 3, "depth_multiplier": 0}}"#,
                       "layer 's' (SeparableConv1D)", .invalidConfig, "depth_multiplier"),
                      (#"{"class_name": "ZeroPadding1D", "config": {"name": "z", "padding": [1, 2, 3]}}"#,
                       "layer 'z' (ZeroPadding1D)", .invalidConfig, "padding"),
                      (#"{"class_name": "UpSampling1D", "config": {"name": "u", "size": 0}}"#,
                       "layer 'u' (UpSampling1D)", .invalidConfig, "config field 'size': expected a positive integer or a list of one from 1 to 65535")])
    func refused(_ layer: String, _ location: String, _ kind: KerasImportError.Kind, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) { try parse([layer]) }
        #expect(error?.kind == kind)
        #expect(error?.location == location)
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
        #expect(error.map { !"\($0)".contains("\n") } == true)
    }

    @Test("an open number of steps, a 1-D layer on an image and a 2-D layer on a sequence are refused naming the layer")
    func shapeRefusals() {
        let open = #expect(throws: KerasImportError.self) {
            try probe([#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3}}"#], input: "[null, null, 3]")
        }
        #expect(open?.location == "layer 'c' (Conv1D)")
        #expect(open?.message.contains("input shape (None, 3) leaves the number of steps open; lrm runs a fixed shape: give it with --input-shape (e.g. --input-shape 100,3)") == true,
                "\(open?.message ?? "")")
        // An image model with open height and width says so too (it said "takes images …, found a sample of shape [3]").
        let image2D = #expect(throws: KerasImportError.self) {
            try probe([#"{"class_name": "Conv2D", "config": {"name": "d", "filters": 2, "kernel_size": 3}}"#], input: "[null, null, null, 3]")
        }
        #expect(image2D?.location == "layer 'd' (Conv2D)")
        #expect(image2D?.message.contains("input shape (None, None, 3) leaves dimensions open; lrm runs a fixed shape: give it with --input-shape (e.g. --input-shape 32,32,3)") == true,
                "\(image2D?.message ?? "")")
        let image = #expect(throws: KerasImportError.self) {
            try probe([#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3}}"#], input: "[null, 8, 8, 3]")
        }
        #expect(image?.location == "layer 'c' (Conv1D)")
        #expect(image?.message.contains("takes sequences ([steps, channels]), found a sample of shape [8, 8, 3]") == true, "\(image?.message ?? "")")
        let planar = #expect(throws: KerasImportError.self) {
            try probe([#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 3}}"#,
                       #"{"class_name": "Conv2D", "config": {"name": "d", "filters": 2, "kernel_size": 3}}"#])
        }
        #expect(planar?.location == "layer 'd' (Conv2D)")
        #expect(planar?.message.contains("takes images") == true, "\(planar?.message ?? "")")
    }

    @Test("hostile sizes: a causal padding past the format's 65,535 margin, a window longer than the sequence, cropping it all, are refused in one line",
          arguments: [(#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 20000, "dilation_rate": 10, "padding": "causal"}}"#,
                       "layer 'c' (Conv1D): padding 'causal' adds (kernel − 1)·dilation = 199990 steps, more than the 65535 lrm pads"),
                      (#"{"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": 9, "dilation_rate": 2}}"#,
                       "layer 'c' (Conv1D): the kernel spans 17 steps (size 9, dilation 2), more than the 16 of its input (valid padding)"),
                      (#"{"class_name": "MaxPooling1D", "config": {"name": "p", "pool_size": 17}}"#,
                       "layer 'p' (MaxPooling1D): the pool window of 17 steps is longer than its input's 16 (valid padding)"),
                      (#"{"class_name": "Cropping1D", "config": {"name": "k", "cropping": [8, 8]}}"#,
                       "layer 'k' (Cropping1D): cropping 8+8 steps leaves nothing of its input's 16")])
    func hostileSizes(_ layer: String, _ message: String) {
        let error = #expect(throws: KerasImportError.self) { try probe([layer]) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text == "probe.json: " + message, "\(text)")
    }

    @Test("BatchNormalization after a Conv1D: axis -1 or 2 (Keras's channel axis) is taken, axis 1 (the steps) refused")
    func batchNormalizationAxis() throws {
        // 4 filters: the probe's stand-in BatchNormalization vectors have 4 entries.
        let conv = #"{"class_name": "Conv1D", "config": {"name": "c", "filters": 4, "kernel_size": 3, "activation": "relu"}}"#
        for axis in ["-1", "[2]"] {
            let model = try probe([conv, #"{"class_name": "BatchNormalization", "config": {"name": "bn", "axis": \#(axis)}}"#])
            #expect(model.layers.map(\.name) == ["c/as_2d", "c", "bn", "output/as_1d"])
        }
        let error = #expect(throws: KerasImportError.self) {
            try probe([conv, #"{"class_name": "BatchNormalization", "config": {"name": "bn", "axis": 1}}"#])
        }
        #expect(error?.location == "layer 'bn' (BatchNormalization)")
    }
}
