import Foundation
import LRMTestSupport
import Testing

/// The residual sample's `block2_conv1` (3×3, 32 → 64 channels, stride 2, on 14×14 inputs) at rank 63 in the spatial form
/// stores 288 fewer parameters but costs 31% more multiply-accumulates: its kh×1 half runs at the input's full width.
@Suite("Convolutions whose factors would cost more multiply-accumulates, on the command line")
struct ConvolutionMACsCLITests {
    let sample = TestPackage.root + "/samples/mnist_resnet.h5"

    /// Before: block2_conv1 was factorized (18,496 → 18,208 parameters, 903,168 → 1,185,408 MACs), without a word.
    @Test("--conv spatial keeps a layer whose spatial form would cost more MACs as a convolution, with a warning naming the counts")
    func explicitFormWarns() throws {
        let run = try ChildProcess.run(["convert", sample, "--conv", "spatial", "--policy", "rank:63", "--dry-run", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try jsonObject(run.stdout)
        let layers = try #require(report["layers"] as? [[String: Any]])
        let layer = try #require(layers.first { $0["name"] as? String == "block2_conv1" })
        #expect(layer["result"] as? String == "conv2d (does not pay)" && layer["parameters_after"] as? Int == 18_496, "\(layer)")
        #expect((layer["reason"] as? String)?.contains("cost 1185408 multiply-accumulates per sample instead of 903168") == true, "\(layer)")
        #expect(run.stderr.contains("lrm: warning: \(sample): --conv spatial kept block2_conv1 as a convolution: its factors would cost "
                                    + "1,185,408 multiply-accumulates per sample, more than its 903,168"), "\(run.stderr)")
        // block2_conv2 (stride 1) still pays in the spatial form, and the model's MACs go down.
        #expect(layers.first { $0["name"] as? String == "block2_conv2" }?["result"] as? String == "factorized")
        let before = try #require(report["macs_before"] as? Int), after = try #require(report["macs_after"] as? Int)
        #expect(after < before)
        // auto says nothing: it factorizes only in a form that saves both.
        let auto = try ChildProcess.run(["convert", sample, "--policy", "rank:63", "--dry-run", "--json"])
        #expect(auto.status == 0 && !auto.stderr.contains("multiply-accumulates"), "\(auto.stderr)")
    }
}
