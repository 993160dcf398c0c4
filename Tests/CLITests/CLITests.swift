import Foundation
import LRMTestSupport
import LRMFormat
import LRMNumPy
import Testing

/// One line on stderr, `lrm: error: …`, naming `subject`.
func expectOneLineError(_ result: RunResult, status: Int32, naming subject: String, _ comment: Comment? = nil) {
    #expect(result.status == status, comment)
    let lines = result.stderr.split(separator: "\n")
    #expect(lines.count == 1, "stderr: \(result.stderr)")
    #expect(result.stderr.hasPrefix("lrm: error: ") || result.stderr.hasPrefix("Error: "), "stderr: \(result.stderr)")
    #expect(result.stderr.contains(subject), "stderr should name \(subject): \(result.stderr)")
}

/// `lrm predict MODEL` on the inputs `x` of the Keras outputs file `pred` (`NAME.pred.npz`: `x`, and Keras's `y`) gives
/// `y`'s shape and values within 1e-5; `label` names the case in the messages.
func expectPredictGivesKerasOutputs(_ model: String, pred: String, in scratch: Scratch, _ label: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let recorded = try NPZ.read(path: pred)
    let x = try #require(recorded["x"], sourceLocation: sourceLocation), y = try #require(recorded["y"], sourceLocation: sourceLocation)
    try NPY.write(x, to: scratch.file("keras_x.npy"))
    let run = try ChildProcess.run(["predict", model, "--input", scratch.file("keras_x.npy"), "-o", scratch.file("keras_p.npy")])
    #expect(run.status == 0, "\(label): \(run.stderr)", sourceLocation: sourceLocation)
    guard run.status == 0 else { return }
    let got = try NPY.read(path: scratch.file("keras_p.npy"))
    let worst = zip(got.floatValues(), y.floatValues()).map { abs($0 - $1) }.max() ?? .infinity
    #expect(got.shape == y.shape && worst <= 1e-5, "\(label): shape \(got.shape), Keras's \(y.shape), max |Δ| \(worst)",
            sourceLocation: sourceLocation)
}

@Suite("The lrm command line")
struct CLITests {
    @Test("help lists the commands and documents exit codes")
    func help() throws {
        let result = try ChildProcess.run(["--help"])
        #expect(result.status == 0)
        for command in ["convert", "import", "predict", "inspect", "example"] { #expect(result.stdout.contains(command)) }
        #expect(result.stdout.contains("Exit codes"))
        // The one-line summaries say what docs/CLI.md says: convert factorizes convolutions too, import folds
        // BatchNormalization, inspect describes Keras files too, and a missing data set is exit 66 as a missing
        // file is.
        let text = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("convert Factorize a model's dense layers and Conv2D kernels"))
        #expect(text.contains("BatchNormalization folded exactly"))
        #expect(text.contains("inspect Describe a .lrm file or a Keras model"))
        #expect(text.contains("66 an input file or data set is missing or unreadable"))
    }

    @Test("command-line mistakes: unknown commands and options are named before any other complaint, exit 64")
    func commandLineMistakes() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        expectOneLineError(try ChildProcess.run(["nosuch"]), status: 64, naming: "unknown command 'nosuch'")
        let help = try ChildProcess.run(["help", "nosuch"])
        expectOneLineError(help, status: 64, naming: "unknown command 'nosuch'")
        #expect(help.stdout.isEmpty)
        #expect(try ChildProcess.run(["help", "convert"]).status == 0)
        // convert's own check (no -o) would fire first; the mistyped option is what the user needs to hear.
        expectOneLineError(try ChildProcess.run(["convert", "--bogus", model]), status: 64, naming: "'--bogus'")
        expectOneLineError(try ChildProcess.run(["verify", model, "--datset", "mnist"]), status: 64, naming: "'--datset'")
        // A negative value may follow --input-offset; one given with = still works.
        #expect(try ChildProcess.run(["convert", model, "--dry-run", "--input-offset", "-0.5"]).status == 0)
        #expect(try ChildProcess.run(["convert", model, "--dry-run", "--input-offset=-0.5", "--policy=rank:2"]).status == 0)
        // report: a reference without a data set would silently leave the verify section out.
        expectOneLineError(try ChildProcess.run(["report", model, "--reference", model, "-o", scratch.file("r.html")]),
                           status: 64, naming: "--dataset")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")))
        expectOneLineError(try ChildProcess.run(["convert", model, "--target-accuracy-drop", "0.5", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "need data to validate on")
        // Fine-tuning: no data to train on, no epochs, a learning rate that is not one, an estimate that does not exist.
        expectOneLineError(try ChildProcess.run(["convert", model, "--finetune", "3", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "--finetune needs training data")
        for bad in ["0", "-2"] {
            expectOneLineError(try ChildProcess.run(["convert", model, "--dataset", "mnist", "--finetune=\(bad)", "-o", scratch.file("x.lrm")]),
                               status: 64, naming: "--finetune must be at least 1 epoch")
        }
        expectOneLineError(try ChildProcess.run(["convert", model, "--dataset", "mnist", "--finetune", "2", "--finetune-lr", "nan", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "--finetune-lr must be positive")
        expectOneLineError(try ChildProcess.run(["convert", model, "--dataset", "mnist", "--finetune", "2", "--finetune-patience", "0", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "--finetune-patience must be at least 1 epoch")
        expectOneLineError(try ChildProcess.run(["convert", model, "--dataset", "mnist", "--finetune", "2", "--finetune-shift=-1", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "--finetune-shift must be between 0 and 64")
        for option in [["--finetune-flip"], ["--finetune-shift", "2"], ["--finetune-patience", "5"]] {
            expectOneLineError(try ChildProcess.run(["convert", model, "--dataset", "mnist"] + option + ["-o", scratch.file("x.lrm")]),
                               status: 64, naming: "\(option[0]) goes with --finetune")
        }
        expectOneLineError(try ChildProcess.run(["convert", model, "--estimate", "tested", "-o", scratch.file("x.lrm")]), status: 64, naming: "tested")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x.lrm")))
    }

    @Test("inspect describes a Keras file as import would store it, writing nothing; --verify is for .lrm files")
    func inspectKeras() throws {
        let sample = TestPackage.root + "/samples/mnist_mlp.h5"
        let text = try ChildProcess.run(["inspect", sample])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Keras model (keras-h5)") && text.stdout.contains("nothing written"))
        for name in ["dense_1/kernel", "784×512", "535,818"] { #expect(text.stdout.contains(name), "\(name) missing: \(text.stdout)") }
        #expect(!text.stdout.contains("crc32") && !text.stdout.contains("checksums"))
        let json = try jsonObject(try ChildProcess.run(["inspect", sample, "--json"]).stdout)
        #expect(json["source"] as? String == "keras")
        #expect(json["parameters_after"] as? Int == 535_818)
        #expect(json["checksums"] == nil && json["format_version"] == nil)
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.map { $0["name"] as? String } == ["flatten", "dense_1", "dense_2", "output"])
        // The same description as the imported file's, layer for layer.
        let scratch = try Scratch()
        #expect(try ChildProcess.run(["import", sample, "-o", scratch.file("m.lrm")]).status == 0)
        let imported = try jsonObject(try ChildProcess.run(["inspect", scratch.file("m.lrm"), "--json"]).stdout)
        #expect(imported["source"] as? String == "lrm")
        #expect(NSDictionary(dictionary: ["l": imported["layers"] as Any, "m": imported["model"] as Any])
                == NSDictionary(dictionary: ["l": json["layers"] as Any, "m": json["model"] as Any]))
        expectOneLineError(try ChildProcess.run(["inspect", sample, "--verify"]), status: 64, naming: "--verify")
        let weights = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/bf16.weights.h5"
        expectOneLineError(try ChildProcess.run(["inspect", weights]), status: 64, naming: "give it with --config FILE")
        // Not a Keras file either: the .lrm reader's message, as before.
        let junk = try scratch.write(Array("hello, world\n".utf8), to: "junk.lrm")
        expectOneLineError(try ChildProcess.run(["inspect", junk]), status: 65, naming: "not a .lrm file")
        #expect(scratch.contents().sorted() == ["junk.lrm", "m.lrm"])
    }

    @Test("a weights-only Keras file without its architecture: a missing option (64), and the error names it")
    func weightsOnlyNamesTheOption() throws {
        let weights = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/bf16.weights.h5"
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        expectOneLineError(try ChildProcess.run(["import", weights, "-o", scratch.file("w.lrm")]), status: 64, naming: "give it with --config FILE")
        expectOneLineError(try ChildProcess.run(["convert", weights, "-o", scratch.file("w.lrm")]), status: 64, naming: "give it with --config FILE")
        expectOneLineError(try ChildProcess.run(["verify", model, "--reference", weights, "--dataset", "mnist"]), status: 64,
                           naming: "give it with --reference-config FILE")
        expectOneLineError(try ChildProcess.run(["import", weights, "-o", scratch.file("w.lrm")], environment: ["LRM_KERAS_IN_PROCESS": "1"]),
                           status: 64, naming: "give it with --config FILE")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("w.lrm")))
    }

    @Test("a missing .lrm reads the same in every command: '<file>: no such file', exit 66 (before: inspect, report and diff said 'cannot open: No such file or directory')")
    func missingFileEveryCommand() throws {
        let scratch = try Scratch()
        let missing = scratch.file("nope.lrm"), present = scratch.file("e.lrm")
        #expect(try ChildProcess.run(["import", TestPackage.root + "/samples/churn_mlp.h5", "-o", present]).status == 0)
        for command in [["inspect", missing], ["report", missing, "-o", scratch.file("r.html")], ["diff", missing, present],
                        ["diff", present, missing], ["predict", missing, "--input", scratch.file("x.npy"), "-o", scratch.file("y.npy")],
                        ["convert", missing, "--policy", "rank:2", "-o", scratch.file("o.lrm")]] {
            expectOneLineError(try ChildProcess.run(command), status: 66, naming: "nope.lrm: no such file", "\(command[0])")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")) && !FileManager.default.fileExists(atPath: scratch.file("o.lrm")))
    }

    @Test("inspect: missing file 66, directory 66, invalid file 65 with the file named, checksum mismatch 65")
    func inspectErrors() throws {
        let scratch = try Scratch()
        expectOneLineError(try ChildProcess.run(["inspect", scratch.file("nope.lrm")]), status: 66, naming: "nope.lrm")
        expectOneLineError(try ChildProcess.run(["inspect", scratch.path]), status: 66, naming: scratch.path)
        let overlap = TestPackage.root + "/spec/vectors/invalid/tensor_overlap.lrm"
        expectOneLineError(try ChildProcess.run(["inspect", overlap]), status: 65, naming: "tensor_overlap.lrm")
        let flipped = TestPackage.root + "/spec/vectors/invalid/tensor_checksum.lrm"
        #expect(try ChildProcess.run(["inspect", flipped]).status == 0, "opening does not read the data")
        let verify = try ChildProcess.run(["inspect", "--verify", flipped])
        #expect(verify.status == 65 && verify.stderr.contains("checksum"))
        let empty = scratch.file("empty.lrm")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        expectOneLineError(try ChildProcess.run(["inspect", empty]), status: 65, naming: "empty.lrm")
    }

    @Test("inspect --json agrees with the file, and escapes control characters in text")
    func inspectJSON() throws {
        let vector = TestPackage.root + "/spec/vectors/valid/tiny.lrm"
        let result = try ChildProcess.run(["inspect", "--json", "--verify", vector])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["checksums"] as? String == "verified")
        #expect(object["tensor_count"] as? Int == 5)
        #expect(object["parameters_before"] as? Int == 9 + 8)  // fc1 2×3 + 3; fc2 as dense 3×2 + 2
        #expect(object["parameters_after"] as? Int == 9 + 3 + 2 + 2)  // fc1; fc2 us 3×1, vt 1×2, bias 2
        let image = try ChildProcess.run(["inspect", TestPackage.root + "/spec/vectors/valid/image.lrm"])
        #expect(image.stdout.contains("line\\tbreak") && image.stdout.contains("a\\nb"))
    }

    @Test("bad options exit 64 and write nothing")
    func badOptions() throws {
        let scratch = try Scratch()
        let example = scratch.file("e.lrm")
        _ = try ChildProcess.run(["example", "-o", example])
        for arguments in [["convert", example, "-o", scratch.file("o.lrm"), "--policy", "energy:1.5"],
                          ["convert", example, "-o", scratch.file("o.lrm"), "--policy", "magic"],
                          ["convert", example, "-o", scratch.file("o.lrm"), "--factor-dtype", "f8"],
                          ["convert", example, "-o", scratch.file("o.lrm"), "--round-rank", "0"],
                          ["convert", example],
                          ["convert", example, "-o", scratch.file("o.lrm"), "--input-scale", "1/0"]] {
            let result = try ChildProcess.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(!result.stderr.isEmpty)
        }
        #expect(scratch.contents() == ["e.lrm"])
    }

    @Test("convert: missing input 66, unwritable output 73, nothing left behind")
    func convertErrors() throws {
        let scratch = try Scratch()
        expectOneLineError(try ChildProcess.run(["convert", scratch.file("missing.h5"), "-o", scratch.file("o.lrm")]), status: 66, naming: "missing.h5")
        let example = scratch.file("e.lrm")
        _ = try ChildProcess.run(["example", "-o", example])
        let unwritable = try ChildProcess.run(["convert", example, "-o", scratch.file("no/such/dir/o.lrm"), "--policy", "rank:4"])
        #expect(unwritable.status == 73, "\(unwritable.stderr)")
        #expect(scratch.contents() == ["e.lrm"])
    }

    @Test("convert writes the report and a file inspect accepts; the same input gives the same bytes with 1 or 2 BLAS threads")
    func convertReproducible() throws {
        let scratch = try Scratch()
        let example = scratch.file("e.lrm")
        _ = try ChildProcess.run(["example", "-o", example])
        let one = try ChildProcess.run(["convert", example, "-o", scratch.file("a.lrm"), "--policy", "energy:0.9"], environment: ["OPENBLAS_NUM_THREADS": "1"])
        let two = try ChildProcess.run(["convert", example, "-o", scratch.file("b.lrm"), "--policy", "energy:0.9"], environment: ["OPENBLAS_NUM_THREADS": "2"])
        #expect(one.status == 0 && two.status == 0, "\(one.stderr) \(two.stderr)")
        #expect(one.stdout.contains("compression"))
        let a = try Data(contentsOf: URL(fileURLWithPath: scratch.file("a.lrm")))
        let b = try Data(contentsOf: URL(fileURLWithPath: scratch.file("b.lrm")))
        #expect(a == b)
        #expect(try ChildProcess.run(["inspect", "--verify", scratch.file("a.lrm")]).status == 0)
        let dry = try ChildProcess.run(["convert", example, "--dry-run", "--json", "--policy", "rank:4"])
        #expect(dry.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        #expect((report["compression_ratio"] as? Double ?? 0) > 1)
        #expect(!scratch.contents().contains("c.lrm"))
    }

    @Test("Keras-side bad input: a PNG renamed .h5, random bytes, an empty file, a truncated file, a directory")
    func kerasBadInput() throws {
        let scratch = try Scratch()
        let png = scratch.file("image.h5")
        _ = FileManager.default.createFile(atPath: png, contents: Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 100)))
        var rng = SeededGenerator(seed: 5)
        let random = scratch.file("random.h5")
        _ = FileManager.default.createFile(atPath: random, contents: Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
        let empty = scratch.file("empty.h5")
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        var cases: [(String, Int32)] = [(png, 65), (random, 65), (empty, 65), (scratch.path, 66), (scratch.file("missing.h5"), 66)]
        if let corpus {
            let whole = try Data(contentsOf: URL(fileURLWithPath: corpus + "/keras3/k3_nobias.h5"))
            let truncated = scratch.file("truncated.h5")
            _ = FileManager.default.createFile(atPath: truncated, contents: whole.prefix(whole.count / 2))
            cases.append((truncated, 65))
        }
        for (file, status) in cases {
            for command in ["import", "convert"] {
                let result = try ChildProcess.run([command, file, "-o", scratch.file("out.lrm")])
                expectOneLineError(result, status: status, naming: (file as NSString).lastPathComponent, "\(command) \(file)")
                #expect(!result.stderr.contains("HDF5-DIAG"))
            }
        }
        #expect(!scratch.contents().contains("out.lrm"))
    }

    @Test("real-data: import and predict reproduce Keras's outputs; a weights-only file without --config says what is missing",
          .enabled(if: corpus != nil))
    func importPredict() throws {
        let scratch = try Scratch()
        let model = corpus! + "/keras3/k3_nobias.h5"
        let pred = try NPZ.read(path: corpus! + "/keras3/k3_nobias.pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        #expect(try ChildProcess.run(["import", model, "-o", scratch.file("m.lrm")]).status == 0)
        for source in [model, scratch.file("m.lrm")] {
            let result = try ChildProcess.run(["predict", source, "--input", scratch.file("x.npy"), "-o", scratch.file("y.npy")])
            #expect(result.status == 0, "\(result.stderr)")
            let y = try NPY.read(path: scratch.file("y.npy")).floatValues()
            let want = try #require(pred["y"]).floatValues()
            #expect(zip(y, want).map { abs($0 - $1) }.max()! <= 1e-5)
        }
        let weightsOnly = try ChildProcess.run(["import", corpus! + "/keras3/k3_nobias.weights.h5", "-o", scratch.file("w.lrm")])
        #expect(weightsOnly.status == 64)  // a missing option
        #expect(weightsOnly.stderr.contains("architecture") || weightsOnly.stderr.contains("--config"))
        let withConfig = try ChildProcess.run(["import", corpus! + "/keras3/k3_nobias.weights.h5", "--config", corpus! + "/keras3/k3_nobias.keras",
                                      "-o", scratch.file("w.lrm")])
        #expect(withConfig.status == 0, "\(withConfig.stderr)")
        let conv = try ChildProcess.run(["import", corpus! + "/keras3/k3_conv.h5", "-o", scratch.file("c.lrm")])
        #expect(conv.status == 0, "\(conv.stderr)")
        let wrongShape = scratch.file("bad.npy")
        try NPY.write(try NumPyArray(shape: [2, 3], float32: [1, 2, 3, 4, 5, 6]), to: wrongShape)
        expectOneLineError(try ChildProcess.run(["predict", scratch.file("m.lrm"), "--input", wrongShape, "-o", scratch.file("z.npy")]),
                           status: 65, naming: "bad.npy")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("z.npy")))
    }
}
