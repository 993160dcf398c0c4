import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

@Suite("Keras Conv1D models through the CLI: predict, convert, verify, inspect, export")
struct Conv1DCLITests {
    static func fixture(_ name: String) -> String { TestPackage.root + "/Tests/LRMKerasTests/Fixtures/cnn/" + name }
    static let basic = fixture("k3_conv1d_basic.keras")

    /// `count` (default 40) seeded [20, 3] sequences and random labels of 3 classes, as own data.
    static func data(_ scratch: Scratch, count: Int = 40) throws -> [String] {
        var state: UInt64 = 12_345
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        let x = (0..<(count * 20 * 3)).map { _ in next() }
        let y = (0..<count).map { _ in Float(Int(next() * 3) % 3) }
        try NPY.write(try NumPyArray(shape: [count, 20, 3], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [count], float32: y), to: scratch.file("y.npy"))
        return ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
    }

    @Test("predict takes a Conv1D model's samples as [N, steps, channels] or [N, steps·channels] and gives Keras's outputs")
    func predictShapes() throws {
        let scratch = try Scratch()
        for stem in ["k3_conv1d_basic", "k3_conv1d_mixed"] {
            let pred = try NPZ.read(path: Self.fixture("\(stem).pred.npz"))
            let x = try #require(pred["x"]), y = try #require(pred["y"])
            try NPY.write(x, to: scratch.file("x.npy"))
            try NPY.write(try NumPyArray(shape: [x.shape[0], x.shape[1] * x.shape[2]], float32: x.floatValues()), to: scratch.file("flat.npy"))
            for input in ["x.npy", "flat.npy"] {
                let run = try ChildProcess.run(["predict", Self.fixture("\(stem).keras"), "--input", scratch.file(input), "-o", scratch.file("p.npy")])
                #expect(run.status == 0, "\(run.stderr)")
                let got = try NPY.read(path: scratch.file("p.npy"))
                #expect(got.shape == y.shape, "\(stem) \(input): \(got.shape)")
                let worst = zip(got.floatValues(), y.floatValues()).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-5, "\(stem) \(input): max |Δ| \(worst)")
            }
        }
    }

    @Test("convert --policy rank:2 of a Conv1D model, then verify --reference on own data passes; the records agree")
    func convertAndVerify() throws {
        let scratch = try Scratch()
        let model = scratch.file("r2.lrm")
        let convert = try ChildProcess.run(["convert", Self.basic, "--policy", "rank:2", "-o", model])
        #expect(convert.status == 0, "\(convert.stderr)")
        let data = try Self.data(scratch)
        let verify = try ChildProcess.run(["verify", model, "--reference", Self.basic, "--min-energy", "0.6"] + data)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("result: PASS"), "\(verify.stdout)")
        for layer in ["c1", "c2"] {
            let row = verify.stdout.split(separator: "\n").first { $0.hasPrefix("  \(layer) ") }.map(String.init) ?? ""
            #expect(row.contains("factorized_conv2d") && row.hasSuffix("yes"), "\(row)")
        }
    }

    /// The parameter count after conversion, from convert's "parameters A → B" line.
    static func parametersAfter(_ output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("parameters ") }),
              let arrow = line.range(of: "→ ") else { return nil }
        return Int(line[arrow.upperBound...].prefix { $0.isNumber || $0 == "," }.filter(\.isNumber))
    }

    @Test("--conv auto on 1×k kernels stores no more than the channel and spatial forms do (the fewer of the two)")
    func autoForm() throws {
        var counts: [String: Int] = [:]
        for form in ["auto", "channel", "spatial"] {
            let run = try ChildProcess.run(["convert", Self.basic, "--policy", "rank:2", "--conv", form, "--exclude", "out", "--dry-run"])
            #expect(run.status == 0, "\(run.stderr)")
            counts[form] = Self.parametersAfter(run.stdout)
        }
        let auto = try #require(counts["auto"]), channel = try #require(counts["channel"]), spatial = try #require(counts["spatial"])
        #expect(channel != spatial, "the fixture should tell the forms apart: \(counts)")
        #expect(auto == min(channel, spatial), "\(counts)")
        // A 1×k kernel's spatial form is a 1×1 convolution (cin → k) then a 1×k one (k → cout): fewer parameters when
        // cout < cin, as for the geometry fixture's 'strided' (1×2, 4 → 3: spatial 4×6 stores 23, channel 8×3 25). But with
        // stride 2 its 1×1 half runs at all 9 input steps: 120 multiply-accumulates at rank 2, more than the layer's 96, so
        // auto takes the channel form (88).
        let geometry = try ChildProcess.run(["convert", Self.fixture("k3_conv1d_geometry.keras"), "--policy", "rank:2", "--dry-run"])
        #expect(geometry.status == 0, "\(geometry.stderr)")
        let rows = geometry.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.contains { $0.first == "strided" && $0[1] == "8×3" && $0.contains("25") && $0.last == "factorized" }, "\(geometry.stdout)")
        #expect(rows.contains { $0.first == "causal" && $0[1] == "6×4" && $0.last == "factorized" }, "\(geometry.stdout)")
    }

    @Test("inspect names each layer's Keras class ([Conv1D], JSON keras_class) with a note; the inserted reshapes have none")
    func inspectNamesClasses() throws {
        let text = try ChildProcess.run(["inspect", Self.basic])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains(" c1 ") && $0.contains("conv2d (relu) [Conv1D]") }, "\(text.stdout)")
        #expect(lines.contains { $0.contains(" pool ") && $0.contains("pool2d [MaxPooling1D]") }, "\(text.stdout)")
        #expect(lines.contains { $0.contains("c1/as_2d") && $0.contains("reshape") && !$0.contains("[") }, "\(text.stdout)")
        #expect(text.stdout.contains("[Class]: the Keras layer class it was imported from"))
        let json = try ChildProcess.run(["inspect", Self.basic, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let layers = try #require(try jsonObject(json.stdout)["layers"] as? [[String: Any]])
        let classes = Dictionary(uniqueKeysWithValues: layers.compactMap { layer in
            (layer["keras_class"] as? String).map { (layer["name"] as? String ?? "", $0) }
        })
        #expect(classes == ["c1": "Conv1D", "pool": "MaxPooling1D", "c2": "Conv1D"])
    }

    @Test("verify's and report's weights tables name each layer's Keras class as inspect does: text, JSON keras_class, JUnit and HTML; diff's layer lines too")
    func verifyAndReportNameClasses() throws {
        let scratch = try Scratch()
        let model = scratch.file("r2.lrm")
        #expect(try ChildProcess.run(["convert", Self.basic, "--policy", "rank:2", "-o", model]).status == 0)
        let data = try Self.data(scratch)
        let junit = scratch.file("v.xml")
        let text = try ChildProcess.run(["verify", model, "--reference", Self.basic, "--min-energy", "0.6", "--junit", junit] + data)
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        // The Weights table's row and the Size table's; the note once, under the Weights table (it was under both).
        let rows = lines.filter { $0.hasPrefix("  c1 ") }
        #expect(rows.count == 2 && rows.allSatisfy { $0.contains("factorized_conv2d [Conv1D]") }, "\(text.stdout)")
        #expect(lines.filter { $0.hasPrefix("  out ") }.allSatisfy { !$0.contains("[") }, "\(text.stdout)")
        let legend = "[Class]: the Keras layer class it was imported from"
        #expect(lines.filter { $0.contains(legend) }.count == 1, "\(text.stdout)")
        #expect((lines.firstIndex { $0.contains(legend) } ?? 0) < (lines.firstIndex { $0.hasPrefix("Size: ") } ?? 0), "\(text.stdout)")
        // Without a reference there is no Weights table: the note is under the Size table.
        let alone = try ChildProcess.run(["verify", model] + data)
        #expect(alone.status == 0 && alone.stdout.components(separatedBy: legend).count == 2, "\(alone.stdout)\(alone.stderr)")
        #expect(text.stdout.contains("min-energy c1: layer 'c1' [Conv1D] keeps"), "\(text.stdout)")
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("name=\"min-energy c1\"><system-out>layer &apos;c1&apos; [Conv1D] keeps"), "\(xml)")
        #expect(xml.contains("layer &apos;out&apos; keeps"), "\(xml)")

        let json = try ChildProcess.run(["verify", model, "--reference", Self.basic, "--json"] + data)
        #expect(json.status == 0, "\(json.stderr)")
        let report = try jsonObject(json.stdout)
        func classes(_ layers: [[String: Any]]?) -> [String: String] {
            Dictionary(uniqueKeysWithValues: (layers ?? []).compactMap { layer in
                (layer["keras_class"] as? String).map { (layer["name"] as? String ?? "", $0) }
            })
        }
        #expect(classes(report["layers"] as? [[String: Any]]) == ["c1": "Conv1D", "c2": "Conv1D"], "\(json.stdout)")
        #expect(classes((report["size"] as? [String: Any])?["layers"] as? [[String: Any]]) == ["c1": "Conv1D", "c2": "Conv1D"], "\(json.stdout)")

        // A check on the layer's operation names the class too (c1's relu taken away).
        var changed = try ContainerFile(path: model).loadModel()
        let index = try #require(changed.layers.firstIndex { $0.name == "c1" })
        changed.layers[index].operation = try #require(ConvolutionVerifyCLITests.withActivation(changed.layers[index].operation, .linear))
        let changedFile = scratch.file("changed.lrm")
        try ContainerWriter.write(changed, to: changedFile)
        let operation = try ChildProcess.run(["verify", changedFile, "--reference", Self.basic] + data)
        #expect(operation.status == 1 && operation.stdout.contains("FAIL  operation c1: layer 'c1' [Conv1D] does not compute what the reference's does"),
                "\(operation.stdout)")

        // diff's layer lines name it too.
        let imported = scratch.file("imported.lrm")
        #expect(try ChildProcess.run(["import", Self.basic, "-o", imported]).status == 0)
        let diff = try ChildProcess.run(["diff", imported, model])
        #expect(diff.status == 1 && diff.stdout.contains("  c1: conv2d [Conv1D], 40 parameters → factorized_conv2d [Conv1D] rank 2, 30 parameters"),
                "\(diff.stdout)")

        let page = scratch.file("r.html")
        let html = try ChildProcess.run(["report", model, "--reference", Self.basic, "-o", page] + data)
        #expect(html.status == 0, "\(html.stderr)")
        let content = try String(contentsOfFile: page, encoding: .utf8)
        // The Layers table (as inspect: kind, activation, class) and the Weights table (as verify).
        #expect(content.contains("<td class=\"l\">factorized_conv2d (relu) [Conv1D]</td>"), "\(content)")
        #expect(content.contains("<td class=\"l\">pool2d [MaxPooling1D]</td>"), "\(content)")
        #expect(content.components(separatedBy: "<td class=\"l\">factorized_conv2d [Conv1D]</td>").count == 4, "\(content)")
        #expect(content.components(separatedBy: "[Class]: the Keras layer class it was imported from").count == 3, "\(content)")
    }

    @Test("verify fails a Conv1D whose padding is causal where the reference's is not, or the other way round (the import's left padding of (k − 1)·d steps before a valid convolution; its weights and strides compare alike): 'padding valid, the reference's causal' (was: not told, NO CHECKS or PASS, exit 0); the same left padding under another name is causal too")
    func causalNotTheReferences() throws {
        let scratch = try Scratch()
        let geometry = Self.fixture("k3_conv1d_geometry.keras"), reference = scratch.file("ref.lrm")
        #expect(try ChildProcess.run(["import", geometry, "-o", reference]).status == 0)
        let model = try ContainerFile(path: reference).loadModel()
        let padIndex = try #require(model.layers.firstIndex { $0.name == "causal/causal_padding" })
        guard case .pad2D(let margins) = model.layers[padIndex].operation, margins.left == 4 else { Issue.record("\(model.layers[padIndex])"); return }
        var symmetric = model, renamed = model
        // The same shapes, the convolution now padded 2 and 2 (valid after a plain padding); or the causal padding renamed.
        symmetric.layers[padIndex].operation = .pad2D(Margins(top: 0, bottom: 0, left: 2, right: 2))
        renamed.layers[padIndex].name = "left_padding"
        try ContainerWriter.write(symmetric, to: scratch.file("symmetric.lrm"))
        try ContainerWriter.write(renamed, to: scratch.file("renamed.lrm"))
        var x: [Float] = [], y: [Float] = []
        for index in 0..<(24 * 17 * 2) { x.append(Float((index * 7) % 13) / 13 - 0.5) }
        for index in 0..<24 { y.append(Float(index % 3)) }
        try NPY.write(try NumPyArray(shape: [24, 17, 2], float32: x), to: scratch.file("gx.npy"))
        try NPY.write(try NumPyArray(shape: [24], float32: y), to: scratch.file("gy.npy"))
        let data = ["--inputs", scratch.file("gx.npy"), "--labels", scratch.file("gy.npy"), "--min-energy", "0.5"]
        for (candidate, against, difference) in [("symmetric.lrm", reference, "padding valid, the reference's causal"),
                                                 (reference, scratch.file("symmetric.lrm"), "padding causal, the reference's valid")] {
            let run = try ChildProcess.run(["verify", candidate.hasPrefix("/") ? candidate : scratch.file(candidate), "--reference", against] + data)
            #expect(run.status == 1 && run.stdout.contains("result: FAIL"), "\(run)")
            #expect(run.stdout.contains("  FAIL  operation causal: layer 'causal' [Conv1D] does not compute what the reference's does: \(difference)\n"),
                    "\(run.stdout)")
        }
        // A left padding of (k − 1)·d steps right before a valid convolution is causal whatever its name: nothing differs.
        let same = try ChildProcess.run(["verify", scratch.file("renamed.lrm"), "--reference", geometry] + data)
        #expect(same.status == 0 && same.stdout.contains("result: NO CHECKS") && !same.stdout.contains("operation"), "\(same)")
    }

    @Test("an open number of steps: predict, convert and verify (the reference mapped for the compressed model's shape) take --input-shape; without it, or with one that does not fit, one line")
    func openSteps() throws {
        let scratch = try Scratch()
        let keras = Self.fixture("k3_conv1d_open_steps.keras")
        let pred = try NPZ.read(path: Self.fixture("k3_conv1d_open_steps.pred.npz"))
        let x = try #require(pred["x"]), y = try #require(pred["y"])
        try NPY.write(x, to: scratch.file("x.npy"))
        let run = try ChildProcess.run(["predict", keras, "--input-shape", "15,3", "--input", scratch.file("x.npy"), "-o", scratch.file("p.npy")])
        #expect(run.status == 0, "\(run.stderr)")
        let got = try NPY.read(path: scratch.file("p.npy")).floatValues()
        #expect(zip(got, y.floatValues()).allSatisfy { abs($0 - $1) <= 1e-5 } && got.count == y.floatValues().count)
        let open = try ChildProcess.run(["predict", keras, "--input", scratch.file("x.npy"), "-o", scratch.file("q.npy")])
        #expect(open.status == 65 && open.stderr.split(separator: "\n").count == 1, "\(open.stderr)")
        #expect(open.stderr.contains("layer 'c' (Conv1D): the model's input shape (None, 3) leaves the number of steps open"), "\(open.stderr)")
        let wrong = try ChildProcess.run(["predict", keras, "--input-shape", "15,4", "--input", scratch.file("x.npy"), "-o", scratch.file("q.npy")])
        #expect(wrong.status == 64 && wrong.stderr.contains("--input-shape 15,4 does not fit the model's input shape (None, 3)"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("q.npy")))

        let model = scratch.file("r2.lrm")
        let convert = try ChildProcess.run(["convert", keras, "--input-shape", "15,3", "--policy", "rank:2", "-o", model])
        #expect(convert.status == 0, "\(convert.stderr)")
        let labels = (0..<y.shape[0]).map { row in Float(y.floatValues()[row * 2] < y.floatValues()[row * 2 + 1] ? 1 : 0) }
        try NPY.write(try NumPyArray(shape: [labels.count], float32: labels), to: scratch.file("y.npy"))
        let verify = try ChildProcess.run(["verify", model, "--reference", keras, "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"),
                                           "--min-energy", "0.5"])
        #expect(verify.status == 0 && verify.stdout.contains("result: PASS"), "\(verify.stdout)\(verify.stderr)")
    }

    @Test("inspect and export take --input-shape for a Keras model with an open number of steps, with convert's errors: a shape that does not fit, past the limits, or for a .lrm, one line, exit 64")
    func inspectAndExportOpenSteps() throws {
        let scratch = try Scratch()
        let keras = Self.fixture("k3_conv1d_open_steps.keras")
        let inspect = try ChildProcess.run(["inspect", keras, "--input-shape", "15,3"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("Model \"conv1d_open_steps\": input 15×3 features"), "\(inspect.stdout)")
        #expect(inspect.stdout.contains("conv2d (relu) [Conv1D]"), "\(inspect.stdout)")
        let json = try ChildProcess.run(["inspect", keras, "--input-shape", "15,3", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let input = ((try jsonObject(json.stdout)["model"] as? [String: Any])?["input"] as? [String: Any])?["shape"] as? [Int]
        #expect(input == [15, 3], "\(json.stdout)")
        // Without it: the refusal names the commands that take it, inspect and export among them.
        let open = try ChildProcess.run(["inspect", keras])
        #expect(open.status == 65 && open.stderr.split(separator: "\n").count == 1, "\(open.stderr)")
        #expect(open.stderr.contains("give it with --input-shape (e.g. --input-shape 100,3) to import, inspect, convert, predict, verify, sweep or export"),
                "\(open.stderr)")
        // The errors convert gives for the same values.
        let refusals: [([String], String)] = [
            (["inspect", keras, "--input-shape", "15,4"], "--input-shape 15,4 does not fit the model's input shape (None, 3)"),
            (["inspect", keras, "--input-shape", "3000000000,3"], "--input-shape 3000000000,3 is not a shape lrm can run"),
            (["inspect", keras, "--input-shape", "15,x"], "--input-shape must be positive whole numbers separated by commas, found '15,x'"),
            // A trailing or doubled comma is a typo, not 15,3 (it was taken as 15,3).
            (["inspect", keras, "--input-shape", "15,3,"], "--input-shape must be positive whole numbers separated by commas, found '15,3,'"),
            (["inspect", keras, "--input-shape", "15,,3"], "--input-shape must be positive whole numbers separated by commas, found '15,,3'"),
            (["inspect", Self.basic, "--input-shape", "21,3"], "the --input-* options do not fit the model: layer 'c1/as_2d' reshapes [21, 3]"),
            (["export", Self.fixture("k3_conv1d_open_steps.h5"), "--input-shape", "15,4", "--to", "keras", "-o", scratch.file("bad.keras")],
             "--input-shape 15,4 does not fit the model's input shape (None, 3)"),
        ]
        for (arguments, message) in refusals {
            let run = try ChildProcess.run(arguments)
            #expect(run.status == 64 && run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(message), "\(arguments): \(run.stderr)")
            if arguments.first != "export" {
                let convert = try ChildProcess.run(["convert"] + arguments.dropFirst() + ["--dry-run"])
                #expect(convert.status == 64 && convert.stderr.contains(message), "convert \(arguments): \(convert.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("bad.keras")))

        // Export maps the model for that shape and writes the steps open again: its Keras file gives Keras's outputs on 15 steps.
        let exported = scratch.file("e.keras")
        let export = try ChildProcess.run(["export", keras, "--input-shape", "15,3", "--to", "keras", "-o", exported])
        #expect(export.status == 0 && export.stdout.contains("input None×3"), "\(export.stdout)\(export.stderr)")
        let pred = try NPZ.read(path: Self.fixture("k3_conv1d_open_steps.pred.npz"))
        let x = try #require(pred["x"]), y = try #require(pred["y"])
        try NPY.write(x, to: scratch.file("x.npy"))
        let predict = try ChildProcess.run(["predict", exported, "--input-shape", "15,3", "--input", scratch.file("x.npy"), "-o", scratch.file("p.npy")])
        #expect(predict.status == 0, "\(predict.stderr)")
        let got = try NPY.read(path: scratch.file("p.npy")).floatValues()
        #expect(got.count == y.floatValues().count && zip(got, y.floatValues()).allSatisfy { abs($0 - $1) <= 1e-5 })

        // A .lrm records its input shape: nothing is open.
        let stored = scratch.file("open.lrm")
        #expect(try ChildProcess.run(["import", keras, "--input-shape", "15,3", "-o", stored]).status == 0)
        for arguments in [["inspect", stored], ["export", stored, "--to", "keras", "-o", scratch.file("s.keras")]] {
            let run = try ChildProcess.run(arguments + ["--input-shape", "15,3"])
            #expect(run.status == 64 && run.stderr.contains("is not a Keras file (a .lrm file records its input shape)"), "\(arguments): \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("s.keras")))
    }

    @Test("a .lrm converted from a model with an open number of steps records it (metadata source.open_input_dims [0], inspect shows it) and its Keras export leaves the steps open again: read back for another length it gives the source's outputs (the export wrote 15 steps, fixed)")
    func openStepsSurviveConversionAndExport() throws {
        let scratch = try Scratch()
        let keras = Self.fixture("k3_conv1d_open_steps.keras")
        let model = scratch.file("r2.lrm")
        let convert = try ChildProcess.run(["convert", keras, "--input-shape", "15,3", "--policy", "rank:2", "-o", model])
        #expect(convert.status == 0, "\(convert.stderr)")
        let header = try ContainerFile(path: model).header
        #expect(header.metadata[MetadataKey.sourceOpenInputDims] == .ints([0]), "\(header.metadata)")
        #expect(header.model.input.shape == [15, 3])
        let inspect = try ChildProcess.run(["inspect", model])
        #expect(inspect.stdout.contains("input 15×3 features (open in the source: None×3)"), "\(inspect.stdout)")

        // 24 steps: the same conversion for that length gives the outputs the export, read for 24 steps, must give.
        let x: [Float] = (0..<360).map { (index: Int) -> Float in Float((index * 37) % 101) / 50 - 1 }
        try NPY.write(try NumPyArray(shape: [5, 24, 3], float32: x), to: scratch.file("x.npy"))
        let converted = try ChildProcess.run(["convert", keras, "--input-shape", "24,3", "--policy", "rank:2", "-o", scratch.file("r24.lrm")])
        #expect(converted.status == 0, "\(converted.stderr)")
        let want = try ChildProcess.run(["predict", scratch.file("r24.lrm"), "--input", scratch.file("x.npy"), "-o", scratch.file("want.npy")])
        #expect(want.status == 0, "\(want.stderr)")
        for name in ["e.keras", "e.h5"] {
            let exported = scratch.file(name)
            let export = try ChildProcess.run(["export", model, "--to", "keras", "-o", exported])
            #expect(export.status == 0 && export.stdout.contains("input None×3,") && !export.stdout.contains("note:"), "\(export.stdout)\(export.stderr)")
            let open = try ChildProcess.run(["inspect", exported])
            #expect(open.status == 65 && open.stderr.contains("the model's input shape (None, 3) leaves the number of steps open"), "\(name): \(open.stderr)")
            let run = try ChildProcess.run(["predict", exported, "--input-shape", "24,3", "--input", scratch.file("x.npy"), "-o", scratch.file("got.npy")])
            #expect(run.status == 0, "\(name): \(run.stderr)")
            let got = try NPY.read(path: scratch.file("got.npy")).floatValues(), wanted = try NPY.read(path: scratch.file("want.npy")).floatValues()
            #expect(got.count == wanted.count && zip(got, wanted).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(name): \(got) \(wanted)")
        }
    }

    @Test("export writes a converted Conv1D model's 1-D layers as Keras 1-D layers (a factorized Conv1D as two), with no note; the Keras file gives the .lrm's outputs. A layer whose geometry has no 1-D form is written 2-D, and one note says so")
    func exportAsSequenceLayers() throws {
        let scratch = try Scratch()
        let model = scratch.file("r2.lrm")
        #expect(try ChildProcess.run(["convert", Self.basic, "--policy", "rank:2", "-o", model]).status == 0)
        let exported = scratch.file("m.keras")
        let export = try ChildProcess.run(["export", model, "--to", "keras", "-o", exported])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(!export.stdout.contains("note:"), "\(export.stdout)")
        #expect(export.stdout.contains("input 20×3, 9 layers (3 factorized layers split in two)"), "\(export.stdout)")
        // Read back, the Keras file's layers are 1-D ones again (lrm records their classes), the convolutions in two.
        let inspect = try ChildProcess.run(["inspect", exported])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let lines = inspect.stdout.split(separator: "\n").map(String.init)
        for (layer, kind) in [("c1_factor_u", "conv2d [Conv1D]"), ("c1", "conv2d (relu) [Conv1D]"), ("pool", "pool2d [MaxPooling1D]"),
                              ("c2_factor_u", "conv2d [Conv1D]"), ("c2", "conv2d [Conv1D]")] {
            #expect(lines.contains { $0.contains(" \(layer) ") && $0.contains(kind) }, "\(layer): \(inspect.stdout)")
        }
        let x = scratch.file("x.npy")
        _ = try Self.data(scratch, count: 16)
        var outputs: [[Float]] = []
        for file in [model, exported] {
            let run = try ChildProcess.run(["predict", file, "--input", x, "-o", scratch.file("p.npy")])
            #expect(run.status == 0, "\(run.stderr)")
            outputs.append(try NPY.read(path: scratch.file("p.npy")).floatValues())
        }
        #expect(outputs[0].count == 48 && zip(outputs[0], outputs[1]).allSatisfy { abs($0 - $1) <= 1e-5 })

        // A SeparableConv1D whose pointwise half was factorized is no longer one: its halves are other 1-D layers, said once.
        let separable = scratch.file("s.lrm")
        #expect(try ChildProcess.run(["convert", Self.fixture("k3_conv1d_separable.keras"), "--policy", "rank:2", "-o", separable]).status == 0)
        let split = try ChildProcess.run(["export", separable, "--to", "keras", "-o", scratch.file("s.keras")])
        #expect(split.status == 0, "\(split.stderr)")
        #expect(split.stdout.split(separator: "\n").filter { $0.hasPrefix("note: ") }
                    == ["note: the Keras 1-D layers (SeparableConv1D: 'sep/depthwise', 'sep') are written as other 1-D layers (Conv1D, DepthwiseConv1D): same outputs"],
                "\(split.stdout)")

        // A layer recorded as a Conv1D whose kernel is 2 high (a hand-made file) has no 1-D form.
        let count = 2 * 3 * 2 * 3
        let tall = Model(name: "tall", input: InputSpec(shape: [8, 2]), layers: [
            Layer(name: "tall/as_2d", operation: .reshape([1, 8, 2])),
            Layer(name: "tall", operation: .conv2D(kernel: Tensor(shape: [2, 3, 2, 3], floats: (0..<count).map { (index: Int) -> Float in Float(index) / 36 }),
                                                   bias: nil, activation: .linear, geometry: ConvGeometry(padding: .same))),
            Layer(name: "output/as_1d", operation: .reshape([8, 3])),
        ], metadata: [MetadataKey.sourceKerasClasses: .strings(["Conv1D:tall"])])
        let tallFile = scratch.file("tall.lrm")
        try ContainerWriter.write(tall, to: tallFile)
        let planar = try ChildProcess.run(["export", tallFile, "--to", "keras", "-o", scratch.file("t.h5")])
        #expect(planar.status == 0, "\(planar.stderr)")
        let notes = planar.stdout.split(separator: "\n").filter { $0.hasPrefix("note: ") }
        #expect(notes.count == 1 && notes.first?.contains("the Keras 1-D layers (Conv1D: 'tall') are written as 2-D layers over a height of 1, "
                                                         + "between Reshape layers ([steps, channels] ↔ [1, steps, channels]), their geometry having no 1-D form") == true,
                "\(planar.stdout)")
        // A model without 1-D layers gets no such note.
        let plain = try ChildProcess.run(["export", TestPackage.root + "/samples/churn_mlp.h5", "--to", "keras", "-o", scratch.file("c.h5")])
        #expect(plain.status == 0 && !plain.stdout.contains("note: the Keras 1-D layers"), "\(plain.stdout)\(plain.stderr)")
    }

    @Test("export's lines write control characters from the file (its model's name, a class in source.keras_classes) as \\u{…}, as inspect and the error lines do (they reached the terminal as they were)")
    func exportEscapesNamesAndClasses() throws {
        let scratch = try Scratch()
        let count = 2 * 3 * 2 * 3
        let tall = Model(name: "tall\u{1b}[2J", input: InputSpec(shape: [8, 2]), layers: [
            Layer(name: "tall/as_2d", operation: .reshape([1, 8, 2])),
            Layer(name: "tall", operation: .conv2D(kernel: Tensor(shape: [2, 3, 2, 3], floats: (0..<count).map { (index: Int) -> Float in Float(index) / 36 }),
                                                   bias: nil, activation: .linear, geometry: ConvGeometry(padding: .same))),
            Layer(name: "output/as_1d", operation: .reshape([8, 3])),
        ], metadata: [MetadataKey.sourceKerasClasses: .strings(["Conv1D\u{1b}[31m:tall"])])
        let file = scratch.file("tall.lrm")
        try ContainerWriter.write(tall, to: file)
        let run = try ChildProcess.run(["export", file, "--to", "keras", "-o", scratch.file("t.h5")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("\u{1b}"), "\(run.stdout)")
        #expect(run.stdout.contains("Keras Sequential 'tall\\u{1b}[2J'") && run.stdout.contains("(Conv1D\\u{1b}[31m: 'tall')"), "\(run.stdout)")
    }

    @Test("a rank search with --finetune and a sweep run on a Conv1D model with own data; the searched file's records agree with the Keras original")
    func searchFineTuneAndSweep() throws {
        let scratch = try Scratch()
        let data = try Self.data(scratch, count: 300)
        let model = scratch.file("s.lrm")
        let search = try ChildProcess.run(["convert", Self.basic, "--target-accuracy-drop", "5", "--finetune", "1", "--json", "-o", model] + data)
        #expect(search.status == 0, "\(search.stderr)")
        let report = try jsonObject(search.stdout)
        let searched = try #require(report["search"] as? [String: Any], "\(search.stdout)")
        let tried = (searched["finetune"] as? [String: Any])?["tried"] as? [[String: Any]] ?? []
        #expect(!tried.isEmpty, "fine-tuned candidates: \(search.stdout)")
        let header = try ContainerFile(path: model).header
        #expect(header.metadata["finetune.epochs"] != nil, "\(header.metadata.keys.sorted())")
        let verify = try ChildProcess.run(["verify", model, "--reference", Self.basic] + data)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(!verify.stdout.contains("FAIL"), "\(verify.stdout)")
        // The text says "samples" for own data, not "images" (before: "of 60 images" for these sequences).
        let text = try ChildProcess.run(["convert", Self.basic, "--target-accuracy-drop", "5", "--dry-run"] + data)
        #expect(text.status == 0, "\(text.stderr)")
        let testLine = text.stdout.split(separator: "\n").first { $0.contains("test accuracy") && $0.contains(" of ") }.map(String.init) ?? ""
        #expect(testLine.contains(" samples)") && !testLine.contains("images"), "\(text.stdout)")
        let sweep = try ChildProcess.run(["sweep", Self.basic, "--taus", "0.5,0.9", "--json"] + data)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let points = try #require(try jsonObject(sweep.stdout)["points"] as? [[String: Any]])
        #expect(points.count >= 4, "\(points.count)")
        #expect(points.allSatisfy { ($0["accuracy"] as? Double).map { (0...1).contains($0) } == true }, "\(sweep.stdout)")
    }
}
