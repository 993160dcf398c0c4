import Foundation
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
}
