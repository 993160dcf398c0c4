import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

@Suite("verify and report show convolutions layer by layer")
struct ConvolutionVerifyCLITests {
    /// The 64 test images of samples/mnist_cnn.pred.npz with Keras's predicted classes as labels.
    static func data(_ scratch: Scratch) throws -> [String] {
        let pred = try NPZ.read(path: TestPackage.root + "/samples/mnist_cnn.pred.npz")
        let x = try #require(pred["x"]), y = try #require(pred["y"])
        let outputs = y.floatValues(), classes = y.shape[1]
        let labels = (0..<y.shape[0]).map { row in
            Float((0..<classes).max { outputs[row * classes + $0] < outputs[row * classes + $1] } ?? 0)
        }
        try NPY.write(x, to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [labels.count], float32: labels), to: scratch.file("y.npy"))
        return ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
    }

    @Test("--factor-dtype i4 on a CNN: convert says below its table that a factorized convolution keeps f32 factors (integer codes are for dense layers)")
    func integerCodesNoteForConvolutions() throws {
        let result = try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_cnn.h5", "--input-scale", "1/255", "--policy", "energy:0.9",
                                           "--factor-dtype", "i4", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        let row = try #require(lines.first { $0.hasPrefix("conv_2 ") }, "\(result.stdout)")
        #expect(row.contains("factorized") && row.contains("32.00"), "\(row)")
        #expect(lines.contains("conv_2: factors stored in f32 (integer codes are for dense layers only)"), "\(result.stdout)")
        #expect(!lines.contains { $0.hasPrefix("dense_1: factors stored") }, "\(result.stdout)")
    }

    @Test("the MNIST CNN with conv_2 in the spatial form at rank 8: verify's table, its JSON and the HTML report give form, rank, energy and bytes")
    func spatialConvolution() throws {
        let scratch = try Scratch()
        let sample = TestPackage.root + "/samples/mnist_cnn.h5", model = scratch.file("m.lrm")
        let convert = try ChildProcess.run(["convert", sample, "--input-scale", "1/255", "--policy", "rank:8", "--conv", "spatial",
                                            "--exclude", "dense_1", "--exclude", "output", "-o", model])
        #expect(convert.status == 0, "\(convert.stderr)")
        let data = try Self.data(scratch)

        let text = try ChildProcess.run(["verify", model, "--reference", sample, "--min-energy", "0.2"] + data)
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        let conv2 = text.stdout.split(separator: "\n").first { $0.hasPrefix("  conv_2 ") }.map(String.init) ?? ""
        for part in ["factorized_conv2d", "3×3×16→32", "spatial 48×96", " 8 ", "4,736", "yes"] {
            #expect(conv2.contains(part), "conv_2's row \(conv2) lacks \(part)")
        }
        let conv1 = text.stdout.split(separator: "\n").first { $0.hasPrefix("  conv_1 ") }.map(String.init) ?? ""
        #expect(conv1.contains("conv2d") && conv1.contains("3×3×1→16") && conv1.contains("0.0000  1.0000"), "\(conv1)")
        #expect(text.stdout.contains("pass  min-energy conv_2"))

        let json = try ChildProcess.run(["verify", model, "--reference", sample, "--json"] + data)
        #expect(json.status == 0, "\(json.stderr)")
        let layers = try #require(try jsonObject(json.stdout)["layers"] as? [[String: Any]])
        #expect(layers.compactMap { $0["name"] as? String } == ["conv_1", "conv_2", "dense_1", "output"])
        let layer = try #require(layers.first { $0["name"] as? String == "conv_2" })
        #expect(layer["kind"] as? String == "factorized_conv2d" && layer["form"] as? String == "spatial" && layer["rank"] as? Int == 8)
        #expect(layer["kernel_shape"] as? [Int] == [3, 3, 16, 32] && layer["in_features"] as? Int == 48 && layer["out_features"] as? Int == 96)
        // first [3, 1, 16, 8], second [1, 3, 8, 32] and the bias, in float32.
        #expect(layer["stored_bytes"] as? Int == 4 * (3 * 16 * 8 + 3 * 8 * 32 + 32))
        #expect(layer["agrees_with_record"] as? Bool == true)
        let energy = try #require(layer["retained_energy"] as? Double), recorded = try #require(layer["recorded_retained_energy"] as? Double)
        #expect(energy > 0.2 && energy < 1 && abs(energy - recorded) < 1e-3)

        let report = try ChildProcess.run(["report", model, "--reference", sample, "-o", scratch.file("r.html")] + data)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: scratch.file("r.html"), encoding: .utf8)
        #expect(html.contains("Layer conv_2: convolution 3×3×16→32, spatial form 48×96 → rank 8"))
        #expect(html.contains("<td>3×3×16→32</td><td class=\"l\">spatial 48×96</td><td>14×14×32</td><td>8</td>"))
        #expect(html.contains("<td class=\"l\">factorized_conv2d</td><td>3×3×16→32</td><td class=\"l\">spatial 48×96</td><td>8</td>"))
        // A report checks no threshold: it says the records agree, never PASS (as verify without one says NO CHECKS).
        #expect(html.contains("Result: <span class=\"pass\">weights agree with the file's record</span>; no thresholds checked"), "\(html)")
        #expect(!html.contains(">PASS<"))
    }
    /// `operation` with `activation` instead of its own (a convolution, factorized or not), nil for any other kind.
    static func withActivation(_ operation: LayerOperation<Tensor>, _ activation: Activation) -> LayerOperation<Tensor>? {
        switch operation {
        case let .conv2D(kernel, bias, _, geometry): .conv2D(kernel: kernel, bias: bias, activation: activation, geometry: geometry)
        case let .factorizedConv2D(first, second, bias, _, form, geometry, f):
            .factorizedConv2D(first: first, second: second, bias: bias, activation: activation, form: form, geometry: geometry, factorization: f)
        default: nil
        }
    }

    @Test("a .lrm converted from the MNIST CNN whose first convolution was rewritten with a linear activation (the reference's is relu): verify fails the layer, exit 1, naming both activations in the check, its JSON row and the note under the Weights table (it said NO CHECKS, exit 0: its weights agree with the reference's and their record)")
    func activationNotTheReferences() throws {
        let scratch = try Scratch()
        let cnn = TestPackage.root + "/samples/mnist_cnn.h5", converted = scratch.file("c.lrm"), changed = scratch.file("changed.lrm")
        let convert = try ChildProcess.run(["convert", cnn, "--policy", "energy:0.9", "-o", converted])
        #expect(convert.status == 0, "\(convert.stderr)")
        var model = try ContainerFile(path: converted).loadModel()
        let index = try #require(model.layers.firstIndex { Self.withActivation($0.operation, .linear) != nil })
        let name = model.layers[index].name
        model.layers[index].operation = try #require(Self.withActivation(model.layers[index].operation, .linear))
        try ContainerWriter.write(model, to: changed)
        let data = try Self.data(scratch)
        // The file as converted: nothing differs, nothing fails (no threshold: NO CHECKS).
        let unchanged = try ChildProcess.run(["verify", converted, "--reference", cnn] + data)
        #expect(unchanged.status == 0 && unchanged.stdout.contains("result: NO CHECKS") && !unchanged.stdout.contains("operation"), "\(unchanged)")
        let text = try ChildProcess.run(["verify", changed, "--reference", cnn] + data)
        #expect(text.status == 1 && text.stdout.contains("result: FAIL"), "\(text)")
        #expect(text.stdout.contains("  FAIL  operation \(name): layer '\(name)' does not compute what the reference's does: activation linear, the reference's relu"),
                "\(text.stdout)")
        #expect(text.stdout.contains("  \(name): NOT the reference's operation: activation linear, the reference's relu"), "\(text.stdout)")
        let json = try ChildProcess.run(["verify", changed, "--reference", cnn, "--json"] + data)
        #expect(json.status == 1, "\(json)")
        let report = try jsonObject(json.stdout)
        #expect(report["result"] as? String == "fail")
        let rows = try #require(report["layers"] as? [[String: Any]])
        #expect(rows.first { $0["name"] as? String == name }?["operation_mismatch"] as? String == "activation linear, the reference's relu", "\(rows)")
        #expect(rows.filter { $0["operation_mismatch"] != nil }.count == 1, "\(rows)")
    }

    @Test("a .lrm of the residual MNIST sample whose activation layer (stem_relu) was made linear and whose pooling (stem_pool) average where the reference's are relu and max: verify fails each, exit 1, saying what differs (text, JSON checks), and report's result line gives the reason; with --min-energy it said PASS, the model at chance")
    func layersWithoutWeightsNotTheReferences() throws {
        let scratch = try Scratch()
        let resnet = TestPackage.root + "/samples/mnist_resnet.h5", converted = scratch.file("c.lrm"), changed = scratch.file("changed.lrm")
        let convert = try ChildProcess.run(["convert", resnet, "--input-scale", "1/255", "--policy", "energy:0.95", "-o", converted])
        #expect(convert.status == 0, "\(convert.stderr)")
        var model = try ContainerFile(path: converted).loadModel()
        let relu = try #require(model.layers.firstIndex { $0.name == "stem_relu" }), pool = try #require(model.layers.firstIndex { $0.name == "stem_pool" })
        guard case .activation(.relu) = model.layers[relu].operation, case .pool2D(var pooling) = model.layers[pool].operation, pooling.mode == .max else {
            Issue.record("stem_relu or stem_pool is not what the sample has"); return
        }
        model.layers[relu].operation = .activation(.linear)
        pooling.mode = .average
        model.layers[pool].operation = .pool2D(pooling)
        try ContainerWriter.write(model, to: changed)
        let data = try Self.data(scratch) + ["--min-energy", "0.5"]
        let unchanged = try ChildProcess.run(["verify", converted, "--reference", resnet] + data)
        #expect(unchanged.status == 0 && unchanged.stdout.contains("result: PASS") && !unchanged.stdout.contains("operation"), "\(unchanged)")
        let text = try ChildProcess.run(["verify", changed, "--reference", resnet] + data)
        #expect(text.status == 1 && text.stdout.contains("result: FAIL"), "\(text)")
        #expect(text.stdout.contains("  FAIL  operation stem_relu: layer 'stem_relu' does not compute what the reference's does: activation linear, "
                                     + "the reference's activation relu\n"), "\(text.stdout)")
        #expect(text.stdout.contains("  FAIL  operation stem_pool: layer 'stem_pool' does not compute what the reference's does: average pooling 2×2, "
                                     + "strides 2×2, padding valid, the reference's max pooling 2×2, strides 2×2, padding valid\n"), "\(text.stdout)")
        let json = try ChildProcess.run(["verify", changed, "--reference", resnet, "--json"] + data)
        let report = try jsonObject(json.stdout)
        let failed = (report["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }.compactMap { $0["name"] as? String }
        #expect(json.status == 1 && report["result"] as? String == "fail" && failed == ["operation stem_relu", "operation stem_pool"], "\(json.stdout)")
        // As a weighted layer's (activationNotTheReferences): JSON layers[].operation_mismatch, a note under the Weights
        // table, and the failed check in JUnit.
        let rows = report["layers"] as? [[String: Any]] ?? []
        let mismatched = rows.filter { $0["operation_mismatch"] != nil }
        #expect(mismatched.map { $0["name"] as? String ?? "" } == ["stem_relu", "stem_pool"], "\(rows)")
        #expect(mismatched.map { $0["kind"] as? String ?? "" } == ["activation", "pool2d"] && mismatched.allSatisfy { $0["weights"] as? Bool == false }, "\(mismatched)")
        #expect(mismatched.first?["operation_mismatch"] as? String == "activation linear, the reference's activation relu", "\(mismatched)")
        #expect(rows.filter { $0["weights"] == nil }.allSatisfy { $0["relative_error"] != nil }, "\(rows)")
        #expect(text.stdout.contains("  stem_relu (no weights): NOT the reference's operation: activation linear, the reference's activation relu\n"), "\(text.stdout)")
        #expect(text.stdout.contains("  stem_pool (no weights): NOT the reference's operation: average pooling 2×2, strides 2×2, padding valid, "
                                     + "the reference's max pooling 2×2, strides 2×2, padding valid\n"), "\(text.stdout)")
        let junit = scratch.file("v.xml")
        #expect(try ChildProcess.run(["verify", changed, "--reference", resnet, "--junit", junit] + data).status == 1)
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("name=\"operation stem_relu\"><failure message=\"layer &apos;stem_relu&apos; does not compute what the reference&apos;s does: "
                             + "activation linear, the reference&apos;s activation relu\""), "\(xml)")
        let page = scratch.file("r.html")
        #expect(try ChildProcess.run(["report", changed, "--reference", resnet, "-o", page] + Self.data(scratch)).status == 0)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<span class=\"fail\">FAIL</span>: a layer without weights (an activation, pooling, padding, merge, …) does not compute "
                              + "what the reference&#39;s does") || html.contains("<span class=\"fail\">FAIL</span>: a layer without weights (an activation, "
                              + "pooling, padding, merge, …) does not compute what the reference's does"), "\(html)")
    }

    /// A .lrm verified against its own Keras export (which writes a factorized layer as two, 'c_factor_u' then 'c')
    /// says the reference looks like an lrm export, where it said only that the shapes differ.
    @Test
    func againstItsOwnExport() throws {
        let scratch = try Scratch()
        let sample = TestPackage.root + "/samples/mnist_cnn.h5", converted = scratch.file("c.lrm"), exported = scratch.file("c.h5")
        let convert = try ChildProcess.run(["convert", sample, "--input-scale", "1/255", "--policy", "energy:0.9", "-o", converted])
        #expect(convert.status == 0, "\(convert.stderr)")
        let factorized = try ContainerFile(path: converted).loadModel().layers.first { layer in
            if case .factorizedConv2D = layer.operation { return true }
            if case .factorizedDense = layer.operation { return true }
            return false
        }
        let name = try #require(factorized?.name)
        let export = try ChildProcess.run(["export", converted, "--to", "keras", "-o", exported])
        #expect(export.status == 0, "\(export.stderr)")
        let verify = try ChildProcess.run(["verify", converted, "--reference", exported] + Self.data(scratch) + ["--min-energy", "0.5"])
        #expect(verify.status == 65 && verify.stdout.isEmpty, "\(verify)")
        let lines = verify.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("layer '\(name)' is [") && lines[0].contains("but the reference's is [")
                && lines[0].hasSuffix(" — the reference looks like an lrm export, which writes a factorized layer as two ('\(name)_factor_u' "
                                      + "then '\(name)'); verify against the original model"), "\(verify.stderr)")
        // Against the original, as before.
        let original = try ChildProcess.run(["verify", converted, "--reference", sample] + Self.data(scratch) + ["--min-energy", "0.5"])
        #expect(original.status == 0, "\(original)")
    }

    /// 8×8×1 → 3×3 convolution to 2 channels ('same' padding, so any stride chains) → global average → 3 outputs.
    static func stridedModel(stride: Int = 1, padding: WindowPadding = .same, dilation: Int = 1) -> Model {
        let kernel = (0..<18).map { Float($0 % 5) / 5 - 0.3 }, dense = (0..<6).map { Float($0) / 6 - 0.4 }
        return Model(name: "strided", input: InputSpec(shape: [8, 8, 1], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 1, 2], floats: kernel), bias: nil, activation: .relu,
                                                   geometry: ConvGeometry(strideH: stride, strideW: stride, dilationH: dilation, dilationW: dilation,
                                                                          padding: padding))),
            Layer(name: "gap", operation: .globalPool2D(.average)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [2, 3], floats: dense), bias: nil, activation: .softmax)),
        ])
    }

    @Test("a convolution whose strides, padding or dilation are not the reference's, its weights the same: verify fails the layer, exit 1, saying what differs (it said NO CHECKS, exit 0)")
    func geometryNotTheReferences() throws {
        let scratch = try Scratch()
        let reference = scratch.file("r.lrm")
        try ContainerWriter.write(Self.stridedModel(), to: reference)
        let x = (0..<(12 * 64)).map { Float(($0 * 7) % 11) / 11 }
        try NPY.write(try NumPyArray(shape: [12, 8, 8, 1], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [12], float32: (0..<12).map { Float($0 % 3) }), to: scratch.file("y.npy"))
        let data = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"), "--test-fraction", "0.5"]
        let cases: [(Model, String)] = [
            (Self.stridedModel(stride: 2), "strides 2×2, the reference's 1×1"),
            (Self.stridedModel(stride: 2, padding: .valid), "strides 2×2, the reference's 1×1; padding valid, the reference's same"),
            (Self.stridedModel(dilation: 2), "dilation 2×2, the reference's 1×1"),
        ]
        for (index, (model, difference)) in cases.enumerated() {
            let candidate = scratch.file("c\(index).lrm")
            try ContainerWriter.write(model, to: candidate)
            let result = try ChildProcess.run(["verify", candidate, "--reference", reference] + data)
            #expect(result.status == 1 && result.stdout.contains("result: FAIL"), "\(difference): \(result)")
            #expect(result.stdout.contains("  FAIL  operation conv: layer 'conv' does not compute what the reference's does: \(difference)\n"),
                    "\(result.stdout)")
        }
        // The reference against itself: nothing differs.
        let same = try ChildProcess.run(["verify", reference, "--reference", reference] + data)
        #expect(same.status == 0 && same.stdout.contains("result: NO CHECKS"), "\(same)")
    }
}
