import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// A Keras model with branches and merges (the residual CNN of `Tests/LRMKerasTests/Fixtures/dag`) through every command:
/// import, inspect, predict, convert with a plain and a data-aware policy and with fine-tuning, verify against the Keras
/// original, diff and report, and export to Keras.
@Suite("Models with branches and merges on the command line")
struct BranchesCLITests {
    let fixture = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/dag/k3_residual"

    /// 60 seeded images [60, 8, 8, 2] labelled with the classes the model predicts (the last 12 are the test split).
    func ownData(_ scratch: Scratch, model: String) throws -> [String] {
        var rng = SeededGenerator(seed: 11)
        let x = (0..<(60 * 128)).map { _ in Float.random(in: 0...1, using: &rng) }
        try NPY.write(try NumPyArray(shape: [60, 8, 8, 2], float32: x), to: scratch.file("x.npy"))
        let predicted = try ChildProcess.run(["predict", model, "--input", scratch.file("x.npy"), "-o", scratch.file("p.npy")])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let p = try NPY.read(path: scratch.file("p.npy")).floatValues()
        let labels = (0..<60).map { row in Int64((0..<5).max { p[row * 5 + $0] < p[row * 5 + $1] } ?? 0) }
        try NPY.write(try NumPyArray(shape: [60], storage: .int64(labels)), to: scratch.file("y.npy"))
        return ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
    }

    /// Before: "layer 'id_add' (Add): the layer merges several branches; only simple chains of layers are imported", exit 65.
    @Test("import, inspect, predict, convert --policy energy:0.9 (plain and whitened), verify --reference, diff and report")
    func endToEnd() throws {
        let scratch = try Scratch()
        let model = scratch.file("r.lrm")
        let imported = try ChildProcess.run(["import", fixture + ".keras", "-o", model])
        #expect(imported.status == 0, "\(imported.stderr)")
        let inspect = try ChildProcess.run(["inspect", model])
        #expect(inspect.stdout.contains("lrm format 1.4"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("merge [add slot 0]"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("store [→ slot 0]"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("merge [concatenate slot 0]"), "\(inspect.stdout)")
        // predict gives Keras's own outputs.
        try expectPredictGivesKerasOutputs(model, pred: fixture + ".pred.npz", in: scratch, fixture)
        let data = try ownData(scratch, model: model)
        for (name, extra) in [("plain.lrm", [String]()), ("whitened.lrm", ["--metric", "whitened"] + data)] {
            let output = scratch.file(name)
            let convert = try ChildProcess.run(["convert", model, "--policy", "energy:0.9", "-o", output] + extra)
            #expect(convert.status == 0, "\(convert.stderr)")
            let verify = try ChildProcess.run(["verify", output, "--reference", fixture + ".keras", "--max-accuracy-drop", "100", "--json"] + data)
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
            #expect(object["result"] as? String == "pass", "\(verify.stdout)")
            let layers = object["layers"] as? [[String: Any]] ?? []
            // Every convolution but possibly the small 1×1 one (which does not pay at the plain metric's rank) is factorized,
            // and each record agrees with the original.
            #expect(layers.filter { $0["kind"] as? String == "factorized_conv2d" }.count >= 6, "\(layers)")
            for layer in layers where layer["agrees_with_record"] != nil {
                #expect(layer["agrees_with_record"] as? Bool == true, "\(layer)")
            }
        }
        let diff = try ChildProcess.run(["diff", model, scratch.file("plain.lrm")])
        #expect(diff.stdout.contains("stem: conv2d, 76 parameters → factorized_conv2d rank"), "\(diff.stdout)")
        let report = try ChildProcess.run(["report", scratch.file("plain.lrm"), "-o", scratch.file("r.html")])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: scratch.file("r.html"), encoding: .utf8)
        #expect(html.contains("merge"))
        // The layer table says which slots each store, load and merge uses, as inspect does (before: the kind alone).
        let plainInspect = try ChildProcess.run(["inspect", scratch.file("plain.lrm")])
        let slotNotes = plainInspect.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let open = line.range(of: " ["), line.contains("slot"), let close = line.range(of: "]", range: open.upperBound..<line.endIndex)
            else { return nil }
            return String(line[open.upperBound..<close.lowerBound])
        }
        #expect(!slotNotes.isEmpty, "\(plainInspect.stdout)")
        for note in slotNotes {
            #expect(html.contains("[" + note + "]"), "report lacks [\(note)]")
        }
    }

    /// Before: "the model has branches (layer 'id_add' is a merge, format 1.4) and fine-tuning supports only plain chains of layers", exit 65.
    @Test("--finetune trains a model with branches: the file records it and verifies against the Keras original")
    func fineTuning() throws {
        let scratch = try Scratch()
        let model = scratch.file("r.lrm")
        #expect(try ChildProcess.run(["import", fixture + ".keras", "-o", model]).status == 0)
        let data = try ownData(scratch, model: model)
        let tuned = scratch.file("tuned.lrm")
        let finetune = try ChildProcess.run(["convert", model, "--policy", "energy:0.9", "--finetune", "2", "-o", tuned] + data)
        #expect(finetune.status == 0, "\(finetune.stderr)")
        let inspect = try ChildProcess.run(["inspect", tuned])
        #expect(inspect.stdout.contains("finetune.epochs"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("merge [add slot 0]"), "\(inspect.stdout)")
        let verify = try ChildProcess.run(["verify", tuned, "--reference", fixture + ".keras", "--max-accuracy-drop", "100", "--json"] + data)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
        #expect(object["result"] as? String == "pass", "\(verify.stdout)")
    }

    /// Before: "r.lrm: the model has branches (layer 'id_add' is a merge, format 1.4) and export to Keras supports only plain chains of layers", exit 65.
    @Test("export to Keras writes a model with branches, converted, as a Functional model whose predictions are the .lrm's")
    func export() throws {
        let scratch = try Scratch()
        let model = scratch.file("r.lrm"), converted = scratch.file("c.lrm")
        #expect(try ChildProcess.run(["import", fixture + ".keras", "-o", model]).status == 0)
        #expect(try ChildProcess.run(["convert", model, "--policy", "energy:0.9", "-o", converted]).status == 0)
        let pred = try NPZ.read(path: fixture + ".pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        let expected = try ChildProcess.run(["predict", converted, "--input", scratch.file("x.npy"), "-o", scratch.file("want.npy")])
        #expect(expected.status == 0, "\(expected.stderr)")
        let want = try NPY.read(path: scratch.file("want.npy")).floatValues()
        for name in ["e.h5", "e.keras"] {
            let exported = scratch.file(name)
            let export = try ChildProcess.run(["export", converted, "--to", "keras", "-o", exported])
            #expect(export.status == 0, "\(export.stderr)")
            #expect(export.stdout.contains("Keras Functional"), "\(export.stdout)")
            let predicted = try ChildProcess.run(["predict", exported, "--input", scratch.file("x.npy"), "-o", scratch.file("got.npy")])
            #expect(predicted.status == 0, "\(predicted.stderr)")
            let got = try NPY.read(path: scratch.file("got.npy")).floatValues()
            #expect(got.count == want.count && zip(got, want).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(name)")
        }
    }
}
