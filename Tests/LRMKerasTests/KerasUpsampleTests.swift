import Foundation
import LRMFormat
import LRMNumPy
import LRMRuntime
import Testing
@testable import LRMKeras

/// The fixtures of `Fixtures/upsample` (written by `tools/make_upsample_fixtures.py` with Keras 3.15 on JAX), each with
/// Keras's own outputs in `NAME.pred.npz`.
enum UpsampleFixture {
    static let models = ["k3_up2d", "k3_up2d_channels_first", "k3_up1d", "k3_unet"]
    /// (1.5) Conv2DTranspose and Conv1DTranspose.
    static let transposed = ["k3_transpose2d", "k3_transpose2d_channels_first", "k3_transpose1d", "k3_unet_transpose"]

    static func path(_ name: String) -> String { TestData.fixture("upsample/\(name)") }

    /// The two full-model files, and the two weights-only files with the `.keras` archive's architecture.
    static func layouts(_ stem: String) -> [(file: String, architecture: String?)] {
        [(path("\(stem).keras"), nil), (path("\(stem).h5"), nil),
         (path("\(stem).weights.h5"), path("\(stem).keras")), (path("\(stem)_weights.h5"), path("\(stem).keras"))]
    }
}

@Suite("Keras UpSampling1D and UpSampling2D (format 1.5 upsample2d): import, predictions against Keras's own outputs, export")
struct KerasUpsampleTests {
    @Test("every upsampling fixture (nearest and bilinear, channels-last and -first, 1-D, a U-Net with a skip connection), in all four layouts, reproduces Keras's y within 1e-5 directly and through .lrm",
          arguments: UpsampleFixture.models + UpsampleFixture.transposed)
    func predictions(_ stem: String) throws {
        try expectLayoutsMatchKeras(UpsampleFixture.layouts(stem), pred: UpsampleFixture.path("\(stem).pred.npz"), tolerance: 1e-5)
    }

    @Test("UpSampling2D becomes one upsample2d with its factors and interpolation; UpSampling1D one over a height of 1, its class in source.keras_classes; the file is format 1.5")
    func layers() throws {
        let model = try KerasImporter.loadModel(path: UpsampleFixture.path("k3_up2d.keras"))
        let kinds = model.layers.map(\.operation.kindName)
        #expect(kinds == ["conv2d", "upsample2d", "conv2d", "upsample2d", "conv2d", "global_pool2d", "dense"])
        #expect(model.layers[1].operation == .upsample2D(Upsampling(factorH: 2, factorW: 2, interpolation: .nearest)))
        #expect(model.layers[3].operation == .upsample2D(Upsampling(factorH: 2, factorW: 3, interpolation: .bilinear)))
        let (_, header) = try model.plan()
        #expect(header.minorVersion == 5)

        let sequence = try KerasImporter.loadModel(path: UpsampleFixture.path("k3_up1d.keras"))
        let up = try #require(sequence.layers.first { $0.name == "up_a" })
        #expect(up.operation == .upsample2D(Upsampling(factorH: 1, factorW: 3, interpolation: .nearest)))
        #expect(sequence.metadata[MetadataKey.sourceKerasClasses]
                == .strings(["Conv1D:c1", "UpSampling1D:up_a", "Conv1D:c2", "UpSampling1D:up_b"]))
        #expect(try sequence.outputShape() == [3])
    }

    @Test("each fixture exports as Keras's own upsampling classes (UpSampling1D for the 1-D ones, the interpolation kept) and lrm reads the export back with the same outputs",
          arguments: UpsampleFixture.models + UpsampleFixture.transposed)
    func export(_ stem: String) throws {
        let model = try KerasImporter.loadModel(path: UpsampleFixture.path("\(stem).keras"))
        let plan = try KerasExportPlan(model, file: "x.keras")
        let classes = plan.layers.map(\.className)
        switch stem {
        case "k3_up1d":
            #expect(classes.filter { $0 == "UpSampling1D" }.count == 2 && !classes.contains("Reshape"), "\(classes)")
            #expect(KerasConv1DExportTests.setting(plan, "up_a", "size") == .int(3))
        case "k3_unet":
            #expect(KerasConv1DExportTests.setting(plan, "up", "interpolation") == .string("bilinear"))
        case "k3_transpose2d":
            #expect(classes.filter { $0 == "Conv2DTranspose" }.count == 5, "\(classes)")
            #expect(KerasConv1DExportTests.setting(plan, "t_valid", "padding") == .string("valid"))
            #expect(KerasConv1DExportTests.setting(plan, "t_valid", "output_padding") == .null)
            #expect(KerasConv1DExportTests.setting(plan, "t_outpad", "padding") == .string("same"))
            #expect(KerasConv1DExportTests.setting(plan, "t_outpad", "output_padding") == KerasConfigJSON([1, 0]))
            #expect(KerasConv1DExportTests.setting(plan, "t_wide", "output_padding") == KerasConfigJSON([2, 1]))
            #expect(KerasConv1DExportTests.setting(plan, "t_dilated", "dilation_rate") == KerasConfigJSON([2, 2]))
        case "k3_transpose1d":
            #expect(classes.filter { $0 == "Conv1DTranspose" }.count == 2 && !classes.contains("Reshape"), "\(classes)")
            #expect(KerasConv1DExportTests.setting(plan, "t2", "output_padding") == KerasConfigJSON([1]))
            #expect(plan.layers.first { $0.name == "t1" }?.weights.map(\.shape) == [[3, 3, 2], [3]])
        case "k3_transpose2d_channels_first", "k3_unet_transpose":
            #expect(classes.contains("Conv2DTranspose"), "\(classes)")
        default:
            #expect(classes.contains("UpSampling2D"), "\(classes)")
        }
        let arrays = try NPZ.read(path: UpsampleFixture.path("\(stem).pred.npz"))
        let x = try #require(arrays["x"])
        try KerasConv1DExportTests.expectRoundTrip(model, x: x.floatValues(), samples: x.shape[0], stem)
    }
}

extension KerasUpsampleTests {
    @Test("Conv2DTranspose becomes one conv2d_transpose: Keras's kernel [kh, kw, filters, cin] as it is, padding and output_padding resolved to a crop and an output size; Conv1DTranspose one over a height of 1")
    func transposedLayers() throws {
        let model = try KerasImporter.loadModel(path: UpsampleFixture.path("k3_transpose2d.keras"))
        #expect(Array(model.layers.map(\.operation.kindName).prefix(5)) == Array(repeating: "conv2d_transpose", count: 5))
        // [3, 2] → valid, strides 2, kernel 3: (n − 1)·2 + 3 → [7, 5], no crop.
        guard case let .conv2DTranspose(kernel, bias, activation, g) = model.layers[0].operation else {
            Issue.record("t_valid is not a conv2d_transpose"); return
        }
        #expect(kernel.shape == [3, 3, 3, 2] && bias?.shape == [3] && activation == .relu)
        #expect(g == TransposedGeometry(strideH: 2, strideW: 2, cropTop: 0, cropLeft: 0, outputH: 7, outputW: 5))
        // Same, strides (2, 3), kernel (3, 2): n·s → [14, 15]; no crop (Keras's left pad min(⌈(s + e − 2)/2⌉, e − 1) = e − 1).
        if case let .conv2DTranspose(_, bias, _, g) = model.layers[1].operation {
            #expect(bias == nil && g == TransposedGeometry(strideH: 2, strideW: 3, cropTop: 0, cropLeft: 0, outputH: 14, outputW: 15))
        } else { Issue.record("t_same is not a conv2d_transpose") }
        let (_, header) = try model.plan()
        #expect(header.minorVersion == 5)
        let sequence = try KerasImporter.loadModel(path: UpsampleFixture.path("k3_transpose1d.keras"))
        let t1 = try #require(sequence.layers.first { $0.name == "t1" })
        if case let .conv2DTranspose(kernel, _, _, g) = t1.operation {
            #expect(kernel.shape == [1, 3, 3, 2] && g.outputH == 1 && g.outputW == 11)
        } else { Issue.record("t1 is not a conv2d_transpose") }
        #expect(sequence.metadata[MetadataKey.sourceKerasClasses]
                == .strings(["Conv1DTranspose:t1", "Conv1D:c", "Conv1DTranspose:t2"]))
    }

    @Test("Keras's output size rule: valid gives (n − 1)·s + max(e, s), same n·s, and with output_padding p (n − 1)·s + e + p (valid) or + e mod 2 + p (same)")
    func kerasAxis() {
        #expect(TransposedGeometry.kerasAxis(length: 3, kernel: 2, stride: 3, dilation: 1, same: false, outputPadding: nil)! == (0, 9))
        #expect(TransposedGeometry.kerasAxis(length: 3, kernel: 3, stride: 2, dilation: 1, same: false, outputPadding: 1)! == (0, 8))
        #expect(TransposedGeometry.kerasAxis(length: 4, kernel: 4, stride: 2, dilation: 1, same: true, outputPadding: nil)! == (1, 8))
        #expect(TransposedGeometry.kerasAxis(length: 3, kernel: 3, stride: 2, dilation: 1, same: true, outputPadding: 1)! == (0, 6))
        #expect(TransposedGeometry.kerasAxis(length: 4, kernel: 3, stride: 1, dilation: 2, same: true, outputPadding: nil)! == (2, 4))
    }
}

@Suite("Keras upsampling configs: parsing and refusals (JSON only)")
struct KerasUpsampleConfigTests {
    func probe(_ layer: String, input: String) throws(KerasImportError) -> Model {
        try KerasImporter.probeConfig(Array(KerasConv1DConfigTests.json([layer], input: input).utf8))
    }

    @Test("settings: an integer or a pair, Keras's defaults (2, nearest), the interpolation in any case")
    func settings() throws {
        let a = try probe(#"{"class_name": "UpSampling2D", "config": {"name": "u"}}"#, input: "[null, 3, 4, 2]")
        #expect(a.layers.map(\.operation) == [.upsample2D(Upsampling(factorH: 2, factorW: 2))])
        let b = try probe(#"{"class_name": "UpSampling2D", "config": {"name": "u", "size": [3, 1], "interpolation": "BILINEAR"}}"#,
                          input: "[null, 3, 4, 2]")
        #expect(b.layers.map(\.operation) == [.upsample2D(Upsampling(factorH: 3, factorW: 1, interpolation: .bilinear))])
        #expect(try b.outputShape() == [9, 4, 2])
        let c = try probe(#"{"class_name": "UpSampling1D", "config": {"name": "u", "size": [4]}}"#, input: "[null, 5, 2]")
        #expect(try c.outputShape() == [20, 2])
    }

    @Test("unknown interpolations, factors of 0 or above 65,535 and samples past lrm's limit are refused in one line naming the layer",
          arguments: [
              (#"{"class_name": "UpSampling2D", "config": {"name": "u", "interpolation": "bicubic"}}"#, "[null, 3, 4, 2]",
               KerasImportError.Kind.unsupportedLayer, "interpolation \"bicubic\" is not supported, expected 'nearest' or 'bilinear'"),
              (#"{"class_name": "UpSampling2D", "config": {"name": "u", "interpolation": "lanczos3"}}"#, "[null, 3, 4, 2]",
               .unsupportedLayer, "lanczos3"),
              (#"{"class_name": "UpSampling2D", "config": {"name": "u", "size": [0, 2]}}"#, "[null, 3, 4, 2]",
               .invalidConfig, "config field 'size': expected a positive integer or a list of two from 1 to 65535"),
              (#"{"class_name": "UpSampling2D", "config": {"name": "u", "size": 70000}}"#, "[null, 3, 4, 2]", .invalidConfig, "size"),
              (#"{"class_name": "UpSampling2D", "config": {"name": "u", "size": [65535, 65535]}}"#, "[null, 3, 4, 2]",
               .shapeMismatch, "makes samples of more than 2147483647 elements"),
              (#"{"class_name": "UpSampling1D", "config": {"name": "u", "size": 65535}}"#, "[null, 40000, 2]",
               .shapeMismatch, "upsampling its 40000 steps by 65535"),
              (#"{"class_name": "UpSampling2D", "config": {"name": "u"}}"#, "[null, 16, 3]", .shapeMismatch, "takes images"),
              (#"{"class_name": "Conv2DTranspose", "config": {"name": "u", "filters": 2, "kernel_size": 3, "output_padding": [1]}}"#,
               "[null, 3, 4, 2]", .invalidConfig, "config field 'output_padding': expected null, or an integer or a list of 2 from 0 to 65535"),
              (#"{"class_name": "Conv2DTranspose", "config": {"name": "u", "filters": 2, "kernel_size": 3, "output_padding": -1}}"#,
               "[null, 3, 4, 2]", .invalidConfig, "output_padding"),
              (#"{"class_name": "Conv2DTranspose", "config": {"name": "u", "filters": 0, "kernel_size": 3}}"#,
               "[null, 3, 4, 2]", .invalidConfig, "filters"),
              (#"{"class_name": "Conv2DTranspose", "config": {"name": "u", "filters": 2, "kernel_size": 3, "padding": "full"}}"#,
               "[null, 3, 4, 2]", .unsupportedLayer, "expected 'valid' or 'same'"),
              (#"{"class_name": "Conv2DTranspose", "config": {"name": "u", "filters": 60000, "kernel_size": 1, "strides": 65535}}"#,
               "[null, 3, 4, 2]", .shapeMismatch, "output is more than 2147483647 elements"),
              (#"{"class_name": "Conv1DTranspose", "config": {"name": "u", "filters": 2, "kernel_size": 3, "padding": "causal"}}"#,
               "[null, 5, 2]", .unsupportedLayer, "causal"),
          ])
    func refused(_ layer: String, _ input: String, _ kind: KerasImportError.Kind, _ phrase: String) {
        let error = #expect(throws: KerasImportError.self) { try probe(layer, input: input) }
        #expect(error?.kind == kind)
        #expect(error?.location.hasPrefix("layer 'u' (") == true, "\(error?.location ?? "")")
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
        #expect(error.map { !"\($0)".contains("\n") } == true)
    }
}

@Suite("Keras transposed convolutions with inconsistent weights")
struct KerasTransposedWeightTests {
    static func layer(_ config: KerasLayerConfig, className: String, kernel: [Int], bias: [Int]?) -> KerasLayer {
        func weight(_ name: String, _ shape: [Int]) -> KerasWeight {
            KerasWeight(name: name, shape: shape, values: [Float](repeating: 0.5, count: shape.reduce(1, *)), sourceDType: .float32,
                        sourcePath: "/t/\(name)")
        }
        return KerasLayer(name: "t", className: className, config: config,
                          weights: [weight("kernel", kernel)] + (bias.map { [weight("bias", $0)] } ?? []))
    }

    @Test("a kernel that is not [kh, kw, filters, cin] ([k, filters, cin] for Conv1DTranspose), or a bias not [filters], is refused in one line naming the layer and the weight",
          arguments: [([3, 3, 4, 2], [3]), ([3, 2, 2, 2], [2]), ([3, 3, 2, 2, 1], [2])])
    func inconsistent(_ kernel: [Int], _ bias: [Int]) {
        let config = KerasLayerConfig.convTranspose2D(KerasConvTranspose(filters: 2, kernelH: 3, kernelW: 3))
        let error = #expect(throws: KerasImportError.self) {
            try KerasWeightValidator.validate(Self.layer(config, className: "Conv2DTranspose", kernel: kernel, bias: bias), source: "m.keras")
        }
        #expect(error?.kind == .shapeMismatch)
        #expect(error?.location == "layer 't' (Conv2DTranspose)")
        #expect(error.map { !"\($0)".contains("\n") } == true)
        let sequence = KerasLayerConfig.sequence(.convTranspose2D(KerasConvTranspose(filters: 2, kernelH: 1, kernelW: 3)), causalPadding: 0)
        #expect(throws: KerasImportError.self) {
            try KerasWeightValidator.validate(Self.layer(sequence, className: "Conv1DTranspose", kernel: [3, 4, 2], bias: [2]), source: "m.keras")
        }
        // The consistent ones pass.
        #expect(throws: Never.self) {
            try KerasWeightValidator.validate(Self.layer(config, className: "Conv2DTranspose", kernel: [3, 3, 2, 5], bias: [2]), source: "m.keras")
            try KerasWeightValidator.validate(Self.layer(sequence, className: "Conv1DTranspose", kernel: [3, 2, 5], bias: [2]), source: "m.keras")
        }
    }
}
