import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Format 1.5's `upsample2d` and `conv2d_transpose` through the CLI, on the fixtures of `Fixtures/upsample`.
@Suite("Keras UpSampling and transposed convolutions through the CLI: predict, import, inspect, convert, refusals")
struct UpsampleCLITests {
    static func fixture(_ name: String) -> String { TestPackage.root + "/Tests/LRMKerasTests/Fixtures/upsample/" + name }

    @Test("predict gives Keras's outputs for a U-Net with UpSampling2D and one with Conv2DTranspose; import writes format 1.5, inspect shows the kinds and the Keras classes")
    func predictImportInspect() throws {
        let scratch = try Scratch()
        for stem in ["k3_unet", "k3_unet_transpose", "k3_transpose1d"] {
            try expectPredictGivesKerasOutputs(Self.fixture("\(stem).keras"), pred: Self.fixture("\(stem).pred.npz"), in: scratch, stem)
            let imported = try ChildProcess.run(["import", Self.fixture("\(stem).h5"), "-o", scratch.file("\(stem).lrm")])
            #expect(imported.status == 0, "\(imported.stderr)")
            let inspect = try ChildProcess.run(["inspect", scratch.file("\(stem).lrm")])
            #expect(inspect.stdout.contains("lrm format 1.5"), "\(inspect.stdout)")
            switch stem {
            case "k3_unet": #expect(inspect.stdout.contains("upsample2d"))
            case "k3_transpose1d": #expect(inspect.stdout.contains("conv2d_transpose (relu; strides 1×2) [Conv1DTranspose]"), "\(inspect.stdout)")
            default: #expect(inspect.stdout.contains("conv2d_transpose"))
            }
        }
    }

    @Test("convert keeps a transposed convolution whole and says so")
    func convertKeepsWhole() throws {
        let scratch = try Scratch()
        let run = try ChildProcess.run(["convert", Self.fixture("k3_unet_transpose.keras"), "--policy", "energy:0.9", "-o", scratch.file("u.lrm")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("conv2d_transpose (kept whole)"), "\(run.stdout)")
        #expect(run.stdout.contains("up: transposed convolutions are kept whole (not factorized)"), "\(run.stdout)")
    }

    @Test("an unknown interpolation or a huge upsampling in the config is refused: one line naming the file and the layer, exit 65, nothing written")
    func refusals() throws {
        let scratch = try Scratch()
        let config = try String(contentsOfFile: Self.fixture("k3_up2d.keras.config.json"), encoding: .utf8)
        for (edit, phrase) in [(("\"interpolation\": \"bilinear\"", "\"interpolation\": \"bicubic\""), "interpolation \"bicubic\" is not supported"),
                               (("\"size\": [2, 3]", "\"size\": [60000, 60000]"), "makes samples of more than 2147483647 elements")] {
            #expect(config.contains(edit.0))
            try config.replacingOccurrences(of: edit.0, with: edit.1).write(toFile: scratch.file("bad.json"), atomically: true, encoding: .utf8)
            let out = scratch.file("bad.lrm")
            let run = try ChildProcess.run(["import", Self.fixture("k3_up2d.weights.h5"), "--config", scratch.file("bad.json"), "-o", out])
            #expect(run.status == 65, "\(run.stderr)")
            #expect(run.stderr.contains("layer 'up_bilinear' (UpSampling2D)") && run.stderr.contains(phrase), "\(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
