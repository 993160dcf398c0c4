import Foundation
import LRMTestSupport
import Testing

/// What `lrm convert` says of a convolution it keeps as it is.
@Suite("convert's table and reasons for the convolutions it keeps whole")
struct KeptWholeCLITests {
    static func fixture(_ name: String) -> String { TestPackage.root + "/Tests/LRMKerasTests/Fixtures/cnn/" + name }

    @Test("a depthwise convolution, and a convolution under --conv none, show 'KIND (kept whole)' and a reason line, as a transposed one does (they showed '-' and no reason), in the text and the JSON")
    func depthwiseAndConvNone() throws {
        let scratch = try Scratch()
        for (model, extra, kept) in [("k3_depthwise.h5", [String](), [("dw", "depthwise_conv2d", "depthwise convolutions are not factorized (one small kernel per channel)"),
                                                                     ("dw_nobias", "depthwise_conv2d", "depthwise convolutions are not factorized (one small kernel per channel)")]),
                                     ("k3_basic.h5", ["--conv", "none"], [("conv_a", "conv2d", "convolutions kept (--conv none)"),
                                                                          ("conv_b", "conv2d", "convolutions kept (--conv none)")])] {
            let args = ["convert", Self.fixture(model), "--policy", "energy:0.9", "--dry-run", "-o", scratch.file("o.lrm")] + extra
            let run = try ChildProcess.run(args)
            #expect(run.status == 0, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map(String.init)
            for (name, kind, reason) in kept {
                #expect(lines.contains { $0.hasPrefix(name + " ") && $0.hasSuffix("\(kind) (kept whole)") }, "\(model) \(name): \(run.stdout)")
                #expect(lines.contains("\(name): \(reason)"), "\(model) \(name): \(run.stdout)")
            }
            #expect(!lines.contains { line in line.hasSuffix(" -") && kept.contains { line.hasPrefix($0.0 + " ") } }, "\(run.stdout)")
            let json = try ChildProcess.run(args + ["--json"])
            #expect(json.status == 0, "\(json.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            let layers = try #require(report["layers"] as? [[String: Any]], "\(json.stdout)")
            for (name, kind, reason) in kept {
                let layer = try #require(layers.first { $0["name"] as? String == name }, "\(layers)")
                #expect(layer["result"] as? String == "\(kind) (kept whole)" && layer["reason"] as? String == reason, "\(layer)")
            }
        }
    }
}
