import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// What a user expects of messages and checks that the review of 2026-12-07 found wrong (findings 9, 10, 13–15,
/// 17–19 of /work/coord/review.md): each test failed before its fix.
@Suite("lrm says what is wrong, where a user expects it")
struct UserExpectationCLITests {
    static let samples = TestPackage.root + "/samples/"
    static let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/"

    @Test("-o that is a data file: refused without the --in-place hint, which is only for the input model")
    func inPlaceHintOnlyForTheInput() throws {
        let scratch = try Scratch()
        let x = scratch.file("hx.npy"), y = scratch.file("hy.npy")
        try FileManager.default.copyItem(atPath: Self.samples + "housing_x.npy", toPath: x)
        try FileManager.default.copyItem(atPath: Self.samples + "housing_y.npy", toPath: y)
        let before = try Data(contentsOf: URL(fileURLWithPath: y))
        let clash = try ChildProcess.run(["convert", Self.samples + "housing_mlp.h5", "--inputs", x, "--labels", y, "--policy", "rank:2",
                                          "-o", y, "--force-extension"])
        expectOneLineError(clash, status: 64, naming: "--labels file")
        #expect(!clash.stderr.contains("--in-place"), "\(clash.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: y)) == before)
        // The input itself: there the hint is the point.
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        expectOneLineError(try ChildProcess.run(["convert", model, "--policy", "rank:2", "-o", model]), status: 64, naming: "--in-place")
    }

    @Test("an output folder that is missing or not a folder is refused (73) before any data is read or searched")
    func outputFolderCheckedFirst() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        // An empty data folder: reading any data would fail with 66; the output is checked before that.
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: false)
        let missing = scratch.file("missing/out")
        let notFolder = try scratch.write(Array("x".utf8), to: "plain")
        let data = ["--dataset", "mnist", "--data", empty]
        let cases: [[String]] = [
            ["convert", model, "--target-accuracy-drop", "1", "-o", missing + ".lrm"] + data,
            ["convert", model, "--target-accuracy-drop", "1", "-o", notFolder + "/x.lrm"] + data,
            ["sweep", model, "--csv", missing + ".csv"] + data,
            ["verify", model, "--junit", missing + ".xml"] + data,
            ["report", model, "-o", missing + ".html"] + data,
        ]
        for arguments in cases {
            let result = try ChildProcess.run(arguments)
            expectOneLineError(result, status: 73, naming: "cannot write the", "\(arguments)")
            #expect(result.stderr.contains("does not exist") || result.stderr.contains("is not a folder"), "\(result.stderr)")
        }
        #expect(scratch.contents() == ["m.lrm", "no-data", "plain"])
    }

    @Test("predict --no-preprocess with --input-scale or --input-offset is refused (64); verify says an unused scale is not used")
    func noPreprocessWithScale() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let input = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [2, 784], float32: [Float](repeating: 0.5, count: 2 * 784)), to: input)
        for option in [["--input-scale", "0.001"], ["--input-offset", "1"]] {
            let result = try ChildProcess.run(["predict", model, "--input", input, "-o", scratch.file("y.npy"), "--no-preprocess"] + option)
            expectOneLineError(result, status: 64, naming: "\(option[0]) sets the preprocessing that --no-preprocess leaves out")
        }
        #expect(try ChildProcess.run(["predict", model, "--input", input, "-o", scratch.file("y.npy"), "--no-preprocess"]).status == 0)
        // verify runs a model that records its preprocessing with it: the note says the option was not used.
        let verify = try ChildProcess.run(["verify", model, "--dataset", "mnist", "--input-scale", "0.5", "--limit", "50"])
        #expect(verify.status == 0, "\(verify)")
        #expect(verify.stderr.contains("runs with it: --input-scale is not used for it"), "\(verify.stderr)")
    }

    @Test("--input-scale 0 is refused (64): every input would be the same; so is a scale float32 rounds to 0 (1e-50 was taken, every input the offset)")
    func zeroInputScale() throws {
        let scratch = try Scratch()
        for arguments in [["import", Self.samples + "mnist_mlp.h5", "-o", scratch.file("b.lrm")],
                          ["convert", Self.samples + "mnist_mlp.h5", "--dry-run"]] {
            for scale in ["0", "1/255,0,1/255"] {
                expectOneLineError(try ChildProcess.run(arguments + ["--input-scale", scale]), status: 64, naming: "a scale of 0")
            }
            expectOneLineError(try ChildProcess.run(arguments + ["--input-scale", "1e-50"]), status: 64, naming: "a scale of 0 (1e-50 is 0 in float32")
        }
        #expect(scratch.contents().isEmpty)
    }

    @Test("--match is refused where nothing is paired: without --config (64), and for a Keras 3 .weights.h5; a legacy weights-only file takes it")
    func matchWhereUsed() throws {
        let scratch = try Scratch()
        expectOneLineError(try ChildProcess.run(["convert", Self.samples + "mnist_mlp.h5", "--dry-run", "--match", "name"]), status: 64,
                           naming: "--match name pairs a legacy weights-only .h5")
        expectOneLineError(try ChildProcess.run(["inspect", Self.fixtures + "mlp.keras", "--match", "order"]), status: 64, naming: "--match")
        expectOneLineError(try ChildProcess.run(["verify", Self.fixtures + "mlp.keras", "--dataset", "mnist", "--match", "name"]), status: 64,
                           naming: "--config or --reference-config")
        // A Keras 3 weights file is read by path: --match would not be read.
        expectOneLineError(try ChildProcess.run(["inspect", Self.fixtures + "mlp.weights.h5", "--config", Self.fixtures + "mlp.keras",
                                                 "--match", "order"]), status: 64, naming: "Keras 3 .weights.h5")
        expectOneLineError(try ChildProcess.run(["import", Self.fixtures + "mlp.weights.h5", "--config", Self.fixtures + "mlp.keras",
                                                 "--match", "order", "-o", scratch.file("w.lrm")]), status: 64, naming: "Keras 3 .weights.h5")
        // A legacy weights-only file with its architecture: --match pairs it.
        let legacy = try ChildProcess.run(["import", Self.fixtures + "mlp_weights.h5", "--config", Self.fixtures + "mlp.keras",
                                           "--match", "order", "-o", scratch.file("l.lrm")])
        #expect(legacy.status == 0, "\(legacy)")
        #expect(scratch.contents() == ["l.lrm"])
    }

    @Test("diff and report of a Keras file: one line saying what it is and to lrm import it (65)")
    func kerasFileForLRMOnlyCommands() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        for (keras, kind) in [(Self.samples + "mnist_mlp.h5", "a Keras HDF5 (.h5) file"), (Self.fixtures + "mlp.keras", "a Keras .keras archive")] {
            for arguments in [["diff", keras, model], ["diff", model, keras], ["report", keras, "-o", scratch.file("r.html")]] {
                let result = try ChildProcess.run(arguments)
                expectOneLineError(result, status: 65, naming: "\(keras): is \(kind)")
                #expect(result.stderr.contains("lrm import") && !result.stderr.contains("89 48 44 46"), "\(result.stderr)")
            }
        }
        #expect(scratch.contents() == ["m.lrm"])
    }

    @Test("diff of an i4 and an i8 file compares dequantized values, says so, and gives the differences as numbers in JSON")
    func diffDequantized() throws {
        let scratch = try Scratch()
        let (i4, i8) = (scratch.file("i4.lrm"), scratch.file("i8.lrm"))
        for (dtype, path) in [("i4", i4), ("i8", i8)] {
            let result = try ChildProcess.run(["convert", Self.samples + "mnist_mlp.h5", "--input-scale", "1/255", "--policy", "rank:16",
                                               "--factor-dtype", dtype, "-o", path])
            #expect(result.status == 0, "\(result)")
        }
        let text = try ChildProcess.run(["diff", i4, i8])
        #expect(text.status == 1)
        #expect(text.stdout.contains("dense_1/us 784×16: i4 → i8, max |Δ| ") && text.stdout.contains("(dequantized)"), "\(text.stdout)")
        #expect(text.stdout.contains("compared as their dequantized values"), "\(text.stdout)")
        let json = try jsonObject(try ChildProcess.run(["diff", i4, i8, "--json"]).stdout)
        // Codes of i4 and i8 differ by up to ~120; the weights they stand for by far less than 1.
        let largest = try #require(json["max_abs_difference"] as? Double)
        #expect(largest > 0 && largest < 1, "\(json)")
        let tensors = try #require(json["tensor_differences"] as? [[String: Any]])
        let us = try #require(tensors.first { $0["name"] as? String == "dense_1/us" })
        #expect(us["dequantized"] as? Bool == true)
        #expect((us["first"] as? [String: Any])?["dtype"] as? String == "i4" && (us["second"] as? [String: Any])?["dtype"] as? String == "i8")
        #expect(((us["first"] as? [String: Any])?["shape"] as? [Int]) == [784, 16])
        #expect((us["max_abs_difference"] as? Double ?? 1) < 1, "\(us)")
        let metadata = try #require(json["metadata_differences"] as? [[String: Any]])
        #expect(metadata.contains { $0["key"] as? String == "conversion.factor_dtype" }, "\(metadata)")
        // The text lines are kept for existing readers.
        #expect((json["tensors"] as? [String])?.contains { $0.hasPrefix("dense_1/us 784×16: i4 → i8") } == true)
    }

    @Test("report --sweep of another model is refused (64); a sweep of the model's original is shown with its model and data set")
    func sweepOfAnotherModel() throws {
        let scratch = try Scratch()
        let example = scratch.file("ex.lrm")
        #expect(try ChildProcess.run(["example", "-o", example]).status == 0)
        let housing = Self.samples + "housing_mlp.h5"
        let data = ["--inputs", Self.samples + "housing_x.npy", "--labels", Self.samples + "housing_y.npy"]
        let sweep = try ChildProcess.run(["sweep", housing, "--taus", "0.9"] + data + ["--json"], timeout: 300)
        #expect(sweep.status == 0, "\(sweep)")
        let sweepFile = try scratch.write(Array(sweep.stdout.utf8), to: "sw.json")
        let refused = try ChildProcess.run(["report", example, "--sweep", sweepFile, "-o", scratch.file("r.html")])
        expectOneLineError(refused, status: 64, naming: "sw.json: is the sweep of \(housing)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")))
        // The model the sweep is of, converted: accepted, and the page names the sweep's model and data set.
        let converted = scratch.file("h.lrm")
        #expect(try ChildProcess.run(["convert", housing, "--policy", "rank:4", "-o", converted]).status == 0)
        let page = scratch.file("h.html")
        let report = try ChildProcess.run(["report", converted, "--sweep", sweepFile, "-o", page])
        #expect(report.status == 0, "\(report)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("Sweep of \(housing) on "), "\(html.suffix(2000))")
    }

    @Test("--progress json: warnings and errors on stderr are JSON objects too, one a line")
    func progressJSONDiagnostics() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        func lines(_ result: RunResult) throws -> [[String: Any]] {
            try result.stderr.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            }
        }
        // A warning (a --layer pattern matching nothing) among the progress events.
        let warned = try ChildProcess.run(["convert", model, "--policy", "rank:2", "--layer", "nosuch=rank:1", "--dry-run", "--progress", "json"])
        #expect(warned.status == 0, "\(warned)")
        let events = try lines(warned)
        #expect(events.contains { ($0["warning"] as? [String: Any])?["message"] as? String != nil }, "\(warned.stderr)")
        #expect(events.contains { $0["progress"] != nil }, "\(warned.stderr)")
        // Errors: one found while running (66) and a bad command line (64), with their exit status.
        for (arguments, status) in [(["convert", scratch.file("nope.lrm"), "--dry-run", "--progress=json"], 66),
                                    (["convert", model, "--dry-run", "--progress", "json", "--round-rank", "0"], 64)] {
            let failed = try ChildProcess.run(arguments)
            #expect(failed.status == Int32(status))
            let error = try #require(try lines(failed).first?["error"] as? [String: Any], "\(failed.stderr)")
            #expect(error["exit_status"] as? Int == status && (error["message"] as? String)?.isEmpty == false)
        }
        // Without it, the text lines as before.
        let text = try ChildProcess.run(["convert", model, "--policy", "rank:2", "--layer", "nosuch=rank:1", "--dry-run"])
        #expect(text.stderr.hasPrefix("lrm: warning: --layer 'nosuch' matches no layer"), "\(text.stderr)")
    }

    @Test("an .npz holding labels and --labels too: refused (64) rather than one silently chosen")
    func npzLabelsAndLabelsOption() throws {
        let scratch = try Scratch()
        let x = try NPY.read(path: Self.samples + "housing_x.npy"), y = try NPY.read(path: Self.samples + "housing_y.npy")
        let xy = scratch.file("xy.npz")
        try NPZ.write(["x": x, "y": y], to: xy)
        let shifted = scratch.file("y10.npy")
        try NPY.write(try NumPyArray(shape: y.shape, float32: y.floatValues().map { $0 + 10 }), to: shifted)
        let both = try ChildProcess.run(["verify", Self.samples + "housing_mlp.h5", "--inputs", xy, "--labels", shifted])
        expectOneLineError(both, status: 64, naming: "y10.npy: --labels given for \(xy), which holds its own labels (an array named y")
        #expect(try ChildProcess.run(["verify", Self.samples + "housing_mlp.h5", "--inputs", xy]).status == 0)
    }

    @Test("--data naming a data set's own folder: the hint says to give its parent, not to fetch into it")
    func dataSetOwnFolder() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let folder = scratch.file("mnist")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        _ = try scratch.write([0], to: "mnist/t10k-images-idx3-ubyte.gz")
        let result = try ChildProcess.run(["verify", model, "--dataset", "mnist", "--data", folder])
        expectOneLineError(result, status: 66, naming: "is the mnist folder itself")
        #expect(result.stderr.contains("give --data \(scratch.path)") && !result.stderr.contains("fetch_datasets"), "\(result.stderr)")
    }
}
