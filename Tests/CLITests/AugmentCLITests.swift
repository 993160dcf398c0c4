import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Keras models with layers that are the identity at inference (the augmentation fixtures of
/// `Tests/LRMKerasTests/Fixtures/augment`) on the command line: each command that reads the Keras model or the .lrm made
/// from it says once which layers were dropped (metadata `source.dropped_layers`); the export says they are not written back.
@Suite("Layers dropped as the identity at inference, on the command line")
struct AugmentCLITests {
    let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/augment/"
    static let cnnDropped = "5 layers of the source, the identity at inference, dropped at import: RandomFlip 'flip', "
        + "RandomRotation 'rotate', RandomZoom 'zoom', RandomTranslation 'shift', RandomContrast 'contrast'"

    /// Before: "layer 'flip' (RandomFlip): layer class 'RandomFlip' is not supported, …", exit 65.
    @Test("import says which layers it dropped, once; inspect shows them; predict gives Keras's outputs; export writes the model without them and says so")
    func importInspectPredictExport() throws {
        let scratch = try Scratch()
        let model = scratch.file("cnn.lrm")
        let imported = try ChildProcess.run(["import", fixtures + "k3_augment_cnn.h5", "-o", model])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.components(separatedBy: "\n").filter { $0.contains("dropped at import") } == ["note: " + Self.cnnDropped],
                "\(imported.stdout)")
        let inspect = try ChildProcess.run(["inspect", model])
        #expect(inspect.stdout.contains("  note: " + Self.cnnDropped), "\(inspect.stdout)")
        try expectPredictGivesKerasOutputs(model, pred: fixtures + "k3_augment_cnn.pred.npz", in: scratch, "k3_augment_cnn")
        for name in ["back.keras", "back.h5"] {
            let export = try ChildProcess.run(["export", model, "--to", "keras", "-o", scratch.file(name)])
            #expect(export.status == 0, "\(export.stderr)")
            #expect(export.stdout.contains("note: " + Self.cnnDropped + "; they are not written back"), "\(export.stdout)")
            // The export reads back as the same model, with nothing dropped this time.
            let again = try ChildProcess.run(["import", scratch.file(name), "-o", scratch.file(name + ".lrm")])
            #expect(again.status == 0 && !again.stdout.contains("dropped"), "\(again.stdout)\(again.stderr)")
        }
    }

    @Test("convert from the Keras file says it once, not again from the .lrm it wrote; verify against the Keras original (which has the layers) passes")
    func convertAndVerify() throws {
        let scratch = try Scratch()
        let pred = try NPZ.read(path: fixtures + "k3_augment_mlp.pred.npz")
        let x = try #require(pred["x"]), y = try #require(pred["y"]).floatValues()
        try NPY.write(x, to: scratch.file("x.npy"))
        let labels = (0..<x.shape[0]).map { Int64(y[$0 * 2] < y[$0 * 2 + 1] ? 1 : 0) }
        try NPY.write(try NumPyArray(shape: [labels.count], storage: .int64(labels)), to: scratch.file("labels.npy"))
        let converted = scratch.file("mlp.lrm")
        let convert = try ChildProcess.run(["convert", fixtures + "k3_augment_mlp.weights.h5", "--config", fixtures + "k3_augment_mlp.keras",
                                            "--policy", "rank:1", "-o", converted])
        #expect(convert.status == 0, "\(convert.stderr)")
        let notes = convert.stdout.components(separatedBy: "\n").filter { $0.contains("dropped at import") }
        #expect(notes == ["note: 5 layers of the source, the identity at inference, dropped at import: GaussianNoise 'noise', "
                          + "ActivityRegularization 'actreg', GaussianDropout 'gdrop', GaussianNoise 'noise2', AlphaDropout 'adrop'"],
                "\(convert.stdout)")
        let again = try ChildProcess.run(["convert", converted, "--policy", "rank:1", "-o", scratch.file("again.lrm")])
        #expect(again.status == 0 && !again.stdout.contains("dropped at import"), "\(again.stdout)\(again.stderr)")
        let verify = try ChildProcess.run(["verify", converted, "--reference", fixtures + "k3_augment_mlp.keras",
                                           "--inputs", scratch.file("x.npy"), "--labels", scratch.file("labels.npy"),
                                           "--max-accuracy-drop", "100", "--json"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
        #expect(object["result"] as? String == "pass", "\(verify.stdout)")
        let layers = object["layers"] as? [[String: Any]] ?? []
        #expect(layers.filter { $0["kind"] as? String == "factorized_dense" }.count == 3, "\(layers)")
    }

    @Test("a RandomCrop is refused: one line naming the file, the layer and why, exit 65, nothing written")
    func randomCropRefused() throws {
        let scratch = try Scratch()
        let config = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 8, 8, 3]}}, {"class_name": "RandomCrop", "config": {"name": "crop", "height": 6, "width": 6}}, {"class_name": "Flatten", "config": {"name": "f"}}]}}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: scratch.file("crop.json")))
        let output = scratch.file("crop.lrm")
        let run = try ChildProcess.run(["import", fixtures + "k3_augment_cnn_weights.h5", "--config", scratch.file("crop.json"), "-o", output])
        #expect(run.status == 65, "\(run)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("crop.json") && lines[0].contains("layer 'crop' (RandomCrop): RandomCrop declares a cropped output"),
                "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("names from the file are shown with control characters escaped")
    func escapedNames() throws {
        var metadata: [String: MetadataValue] = [MetadataKey.sourceDroppedLayers: .strings(["RandomFlip:fl\u{1b}[2Jip", "odd"])]
        #expect(MetadataKey.droppedLayersText(in: metadata)
                == "2 layers of the source, the identity at inference, dropped at import: RandomFlip 'fl\\u{1b}[2Jip', odd")
        metadata[MetadataKey.sourceDroppedLayers] = .string("RandomFlip:x")
        #expect(MetadataKey.droppedLayersText(in: metadata) == nil)
    }
}
