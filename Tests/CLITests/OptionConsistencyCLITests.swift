import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// Options that cannot mean anything with the others given are refused on the command line (exit 64, one line
/// naming the option, nothing written) before any data is read or any calibration or search runs, instead of
/// being ignored without a word or refused only after the expensive work.
/// The error lines on stderr: `lrm: error: …`, or with `--progress json` the message of each `{"error": …}` object.
func errorLines(_ stderr: String) -> [String] {
    stderr.split(separator: "\n").compactMap { line in
        if line.hasPrefix("lrm: error: ") { return String(line) }
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return ((object?["error"] as? [String: Any])?["message"] as? String).map { "lrm: error: " + $0 }
    }
}

@Suite("Options refused up front when they cannot apply")
struct OptionConsistencyCLITests {
    let samples = TestPackage.root + "/samples/"
    let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/"

    /// `count` records of the fixture MLP's 6 inputs (seeded), labels 0–2, as `name`_x.npy and `name`_y.npy.
    func fixtureData(_ scratch: Scratch, _ name: String, count: Int, seed: UInt64) throws -> (x: String, y: String) {
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        let x = scratch.file("\(name)_x.npy"), y = scratch.file("\(name)_y.npy")
        try NPY.write(try NumPyArray(shape: [count, 6], float32: (0..<(count * 6)).map { _ in next() }), to: x)
        try NPY.write(try NumPyArray(shape: [count], float32: (0..<count).map { Float($0 % 3) }), to: y)
        return (x, y)
    }

    @Test("--svd randomized: refused with a search (it needs every singular value); with a data-aware metric or erank a warning that gesdd is used; a plain rank policy sketches")
    func randomizedSVD() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let convert = ["convert", samples + "churn_mlp.h5", "--svd", "randomized"]
        for search in [["--target-ratio", "0.5"], ["--target-accuracy-drop", "2", "--metric", "plain"]] {
            let result = try ChildProcess.run(convert + search + data + ["-o", output])
            expectOneLineError(result, status: 64, naming: "--svd randomized", "\(search)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(search)")
        }
        /// The method each factorized or kept layer's decision names in the JSON report.
        func methods(_ stdout: String) throws -> [String] {
            let report = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
            return (report["layers"] as? [[String: Any]] ?? []).compactMap { $0["method"] as? String }
        }
        for (policy, warning, method) in [("whitened:0.9", "not used for the layers truncated in the whitened metric", "whitened gesdd-f32"),
                                          ("erank", "not used by --policy erank, which needs every singular value", "gesdd-f32")] {
            let result = try ChildProcess.run(convert + ["--policy", policy, "--dry-run", "--json"] + data, timeout: 120)
            #expect(result.status == 0, "\(policy): \(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: warning: --svd") }
            #expect(warnings.count == 1 && warnings[0].contains(warning) && warnings[0].contains("exact SVD (gesdd)"), "\(policy): \(result.stderr)")
            let used = try methods(result.stdout)
            #expect(!used.isEmpty && used.allSatisfy { $0 == method }, "\(policy): \(used)")
        }
        // Where it applies it is used, without a word.
        let sketched = try ChildProcess.run(convert + ["--policy", "rank:4", "--dry-run", "--json"] + data, timeout: 120)
        #expect(sketched.status == 0 && !sketched.stderr.contains("--svd"), "\(sketched.stderr)")
        #expect(try methods(sketched.stdout).contains("randomized"), "\(sketched.stdout)")
    }

    @Test("--estimate is refused where no rank search reads it: a policy conversion (with or without data) and a size search")
    func estimateWithoutRankSearch() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        for (model, arguments) in [("mnist_mlp.h5", ["--estimate", "test-half"]),
                                   ("housing_mlp.h5", ["--estimate", "test-half"] + housing),
                                   ("mnist_mlp.h5", ["--estimate", "shifted", "--dataset", "mnist", "--target-size", "100KiB"]),
                                   ("mnist_mlp.h5", ["--estimate", "held-out", "--dataset", "mnist", "--target-accuracy-drop", "1", "--minimize", "bytes"])] {
            let result = try ChildProcess.run(["convert", samples + model, "-o", output] + arguments)
            expectOneLineError(result, status: 64, naming: "--estimate", "\(arguments)")
            #expect(result.stderr.contains("rank search"), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
        }
    }

    @Test("an option whose conversion, metric or storage is not the one asked for is refused, naming it; where it applies it is accepted")
    func optionsThisConversionDoesNotRead() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        for (option, value, others) in [("--confidence", "2", [String]()), ("--confirm-fraction", "0", []),
                                        ("--confidence", "0", ["--dataset", "mnist", "--target-ratio", "0.5"]),
                                        ("--confirm-fraction", "0.3", ["--dataset", "mnist", "--target-size", "100KiB"]),
                                        ("--ridge", "1e-3", []), ("--ridge", "1e-3", ["--policy", "activation-scaled:0.9", "--dataset", "mnist"]),
                                        ("--alpha", "1", []), ("--alpha", "1", ["--dataset", "mnist", "--target-ratio", "0.5"]),
                                        ("--scale-dtype", "f32", []), ("--scale-dtype", "f32", ["--factor-dtype", "f16"]),
                                        ("--finetune-lr", "0.01", []), ("--finetune-seed", "3", []), ("--finetune-schedule", "constant", []),
                                        ("--finetune", "2", ["--dataset", "mnist", "--target-size", "100KiB"]),
                                        ("--finetune", "2", ["--dataset", "mnist", "--target-accuracy-drop", "1", "--minimize", "bytes"]),
                                        ("--all-kernels", "--dry-run", ["--factor-dtype", "f16", "--dataset", "mnist", "--target-ratio", "0.5"])] {
            // (--all-kernels is a flag: its "value" is another option.)
            let result = try ChildProcess.run(["convert", model, "-o", output, option, value] + others)
            expectOneLineError(result, status: 64, naming: "\(option) ", "\(option) \(value) \(others)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(option) \(others)")
        }
        let churn = ["--inputs", samples + "churn.csv", "--label-column", "churned", "--dry-run"]
        // --all-kernels with f32 storage changes nothing, and is accepted: scripts give it to every --factor-dtype they loop over.
        for arguments in [[model, "--factor-dtype", "i8", "--scale-dtype", "f32", "--all-kernels", "--dry-run"], [model, "--all-kernels", "--dry-run"],
                          [model, "--factor-dtype", "f32", "--all-kernels", "--dry-run"],
                          [samples + "churn_mlp.h5", "--policy", "whitened:0.9", "--ridge", "1e-3"] + churn,
                          [samples + "churn_mlp.h5", "--metric", "activation-scaled", "--alpha", "1"] + churn,
                          [samples + "churn_mlp.h5", "--target-accuracy-drop", "5", "--confidence", "0", "--confirm-fraction", "0.3"] + churn] {
            let result = try ChildProcess.run(["convert"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
    }

    @Test("options choosing training records (or the data folder and layout) where the conversion reads none are refused; where it calibrates they go on")
    func trainingRecordOptions() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        // An empty data folder: whatever goes on to the data stops there (exit 66), after the command line was accepted.
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let tested = ["--dataset", "mnist", "--data", empty]  // a plain float conversion only tests on its data
        for (option, arguments) in [("--calibration-samples", ["--calibration-samples", "100"]), ("--validation-samples", ["--validation-samples", "100"] + tested),
                                    ("--validation", ["--validation", "random"] + tested), ("--data-seed", ["--data-seed", "7"]),
                                    ("--data", ["--data", empty]), ("--data-layout", ["--data-layout", "hwc"])] {
            let result = try ChildProcess.run(["convert", model, "-o", output] + arguments)
            expectOneLineError(result, status: 64, naming: "\(option) ", "\(arguments)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
        }
        // (On the MNIST MLP: the example model's one hidden layer is factorized, which a data-aware metric or a search refuses,
        // and with it excluded it has nothing to factorize, which they refuse too.)
        let mlp = TestPackage.root + "/samples/mnist_mlp.h5"
        for arguments in [["--calibration-samples", "100", "--policy", "whitened:0.9"], ["--data-seed", "7", "--factor-dtype", "i8"],
                          ["--validation-samples", "100", "--target-ratio", "0.5"]] {
            let result = try ChildProcess.run(["convert", mlp, "-o", output] + arguments + tested)
            #expect(result.status == 66 && result.stderr.contains("not found"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("--estimate test-half in a search on a binary or regression task is refused before calibration, naming the task")
    func estimateOnOtherTasks() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        for (model, arguments) in [("churn_mlp.h5", ["--inputs", samples + "churn.csv", "--label-column", "churned", "--target-accuracy-drop", "2"]),
                                   ("housing_mlp.h5", ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
                                                       "--target-metric-drop", "5"])] {
            let result = try ChildProcess.run(["convert", samples + model, "-o", output, "--estimate", "test-half", "--progress", "json"] + arguments)
            #expect(result.status == 64, "\(model): \(result.stderr)")
            let errors = errorLines(result.stderr)
            #expect(errors.count == 1 && errors[0].contains("--estimate test-half is for multi-class classifiers"), "\(model): \(result.stderr)")
            #expect(!result.stderr.contains("\"calibration\""), "\(model): refused only after calibrating: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    @Test("--estimate shifted on own data (images or not), which are never shifted, is refused at once, saying so (was: after calibration, 'these samples are not [images]')")
    func estimateShiftedOnOwnData() throws {
        let scratch = try Scratch()
        // 28×28×1 images for the MNIST CNN sample: images, yet own data are not shifted.
        let x = scratch.file("x.npy"), y = scratch.file("y.npy")
        try NPY.write(try NumPyArray(shape: [60, 28, 28, 1], float32: (0..<(60 * 784)).map { Float(($0 * 7919) % 256) }), to: x)
        try NPY.write(try NumPyArray(shape: [60], float32: (0..<60).map { Float($0 % 10) }), to: y)
        let output = scratch.file("out.lrm")
        let result = try ChildProcess.run(["convert", samples + "mnist_cnn.h5", "--inputs", x, "--labels", y, "--target-accuracy-drop", "1",
                                           "--estimate", "shifted", "--progress", "json", "-o", output])
        #expect(result.status == 64, "\(result.stderr)")
        let errors = errorLines(result.stderr)
        #expect(errors.count == 1 && errors[0].contains("--estimate shifted") && errors[0].contains("own data (--inputs) are never shifted"),
                "\(result.stderr)")
        #expect(!result.stderr.contains("\"calibration\""), "refused only after calibrating: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // --estimate auto, where the records look seen: the note says why there is no shifted proxy, truly.
        let train = try fixtureData(scratch, "train", count: 200, seed: 3)
        let auto = try ChildProcess.run(["convert", fixtures + "mlp.keras", "--inputs", train.x, "--labels", train.y, "--target-accuracy-drop", "5", "--dry-run"])
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(auto.stdout.contains("may have been seen in training") && auto.stdout.contains("own data (--inputs) are never shifted, so there is no shifted proxy"),
                "\(auto.stdout)")
    }

    @Test("own data: --estimate test-half selects on the first half of the own test split; convert's test line and verify --test-half second use the other half")
    func estimateTestHalfOnOwnData() throws {
        let scratch = try Scratch()
        let train = try fixtureData(scratch, "train", count: 200, seed: 1), test = try fixtureData(scratch, "test", count: 40, seed: 2)
        let model = fixtures + "mlp.keras", output = scratch.file("half.lrm")
        let data = ["--inputs", train.x, "--labels", train.y, "--test-inputs", test.x, "--test-labels", test.y]
        let convert = try ChildProcess.run(["convert", model, "--target-accuracy-drop", "5", "--estimate", "test-half", "--json", "-o", output] + data)
        #expect(convert.status == 0, "\(convert.stderr)")
        let report = try jsonObject(convert.stdout)
        let search = try #require(report["search"] as? [String: Any])
        #expect(search["estimate"] as? String == "test-half")
        #expect(search["test_first_sample"] as? Int == 20 && search["test_samples"] as? Int == 20, "\(search)")
        // The test line is the half nothing was selected on, not the whole split (half of which chose the model).
        let line = try #require(report["test"] as? [String: Any])
        #expect(line["samples"] as? Int == 20 && line["first_sample"] as? Int == 20, "\(line)")
        #expect(line["accuracy"] as? Double == search["test_accuracy"] as? Double, "\(line) \(search)")
        let text = try ChildProcess.run(["convert", model, "--target-accuracy-drop", "5", "--estimate", "test-half", "--dry-run"] + data)
        #expect(text.status == 0 && text.stdout.contains("test split, samples 20–39 (20 samples, the half not selected on)"), "\(text.stdout)")
        // verify --test-half second measures the same half of the own test split.
        let verify = try ChildProcess.run(["verify", output, "--reference", model, "--test-half", "second", "--json"] + data)
        #expect(verify.status == 0, "\(verify.stderr)")
        let checked = try jsonObject(verify.stdout)
        #expect(checked["samples"] as? Int == 20, "verify --test-half was ignored on own data: \(checked["samples"] ?? "none")")
        let compressed = try #require(checked["compressed"] as? [String: Any])
        #expect(compressed["accuracy"] as? Double == search["test_accuracy"] as? Double)
    }
}

/// Own-data options that contradict each other, on every command that takes own data.
@Suite("Own-data options refused up front")
struct OwnDataOptionCLITests {
    let samples = TestPackage.root + "/samples/"

    /// Each command that takes own data, with its output (nil: none) in `scratch`; report's model is a .lrm imported there.
    func commands(_ scratch: Scratch, model: String) throws -> [(arguments: [String], output: String?)] {
        let imported = scratch.file("model.lrm")
        if !FileManager.default.fileExists(atPath: imported) {
            let result = try ChildProcess.run(["import", samples + model, "-o", imported])
            #expect(result.status == 0, "\(result.stderr)")
        }
        return [(["convert", samples + model, "-o", scratch.file("out.lrm")], scratch.file("out.lrm")),
                (["verify", samples + model, "--junit", scratch.file("verify.xml")], scratch.file("verify.xml")),
                (["sweep", samples + model, "--csv", scratch.file("sweep.csv")], scratch.file("sweep.csv")),
                (["report", imported, "--reference", samples + model, "-o", scratch.file("report.html")], scratch.file("report.html"))]
    }

    @Test("--label-column where no CSV holds the labels (.npy data, or a CSV of inputs with .npy labels) is refused; with a CSV of labels it applies")
    func labelColumnWithoutCSV() throws {
        let scratch = try Scratch()
        // The churn features as a CSV without the label column, its labels as .npy.
        let table = try String(contentsOfFile: samples + "churn.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(table[0].firstIndex(of: "churned"))
        let features = scratch.file("features.csv"), labels = scratch.file("labels.npy")
        try table.map { row in row.enumerated().filter { $0.offset != column }.map { String($0.element) }.joined(separator: ",") }
            .joined(separator: "\n").write(toFile: features, atomically: true, encoding: .utf8)
        try NPY.write(try NumPyArray(shape: [table.count - 1], float32: table.dropFirst().map { Float(String($0[column])) ?? -1 }), to: labels)
        for (model, data) in [("housing_mlp.h5", ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]),
                              ("churn_mlp.h5", ["--inputs", features, "--labels", labels])] {
            for (arguments, output) in try commands(scratch, model: model) {
                let result = try ChildProcess.run(arguments + data + ["--label-column", "churned"])
                expectOneLineError(result, status: 64, naming: "--label-column 'churned'", "\(arguments)")
                #expect(result.stderr.contains("CSV"), "\(result.stderr)")
                if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
            }
            try FileManager.default.removeItem(atPath: scratch.file("model.lrm"))
        }
        // Where a CSV holds the labels the column is read: the labels as a two-column CSV.
        let labelTable = scratch.file("labels.csv")
        try (["id,churned"] + table.dropFirst().enumerated().map { "\($0.offset),\($0.element[column])" }).joined(separator: "\n")
            .write(toFile: labelTable, atomically: true, encoding: .utf8)
        let applies = try ChildProcess.run(["verify", samples + "churn_mlp.h5", "--inputs", features, "--labels", labelTable, "--label-column", "churned"])
        #expect(applies.status == 0, "\(applies.stderr)")
    }

    @Test("--test-fraction with --test-inputs, and --data with --inputs, would not be read: refused on every command")
    func ownDataOptionsNotRead() throws {
        let scratch = try Scratch()
        let (testX, testY) = (scratch.file("test_x.npy"), scratch.file("test_y.npy"))
        try FileManager.default.copyItem(atPath: samples + "housing_x.npy", toPath: testX)
        try FileManager.default.copyItem(atPath: samples + "housing_y.npy", toPath: testY)
        let data = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        for (option, extra) in [("--test-fraction", ["--test-fraction", "0.5", "--test-inputs", testX, "--test-labels", testY]),
                                ("--data", ["--data", scratch.path])] {
            for (arguments, output) in try commands(scratch, model: "housing_mlp.h5") {
                let result = try ChildProcess.run(arguments + data + extra)
                expectOneLineError(result, status: 64, naming: option, "\(arguments) \(extra)")
                if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
            }
        }
    }

    @Test("--threshold for a model whose task on the labels is not binary (a regressor, a multi-class classifier) is refused before calibration; a binary one takes it")
    func thresholdNotBinary() throws {
        let scratch = try Scratch()
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy", "--threshold", "0.7"]
        for (arguments, output) in try commands(scratch, model: "housing_mlp.h5") {
            let result = try ChildProcess.run(arguments + housing + (arguments[0] == "report" ? [] : ["--progress", "json"]))
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            let errors = errorLines(result.stderr)
            #expect(errors.count == 1 && errors[0].contains("--threshold applies to a binary classifier") && errors[0].contains("is regression"),
                    "\(arguments): \(result.stderr)")
            // Before any calibration, and before a plain policy factorizes any layer.
            #expect(!result.stderr.contains("\"calibration\"") && !result.stderr.contains("\"factorize\""), "\(result.stderr)")
            guard let output else { continue }
            if arguments[0] == "verify" {
                // An error that stops verify is written to its JUnit file as an error case, for CI.
                #expect(try String(contentsOfFile: output, encoding: .utf8).contains("--threshold applies"))
            } else {
                #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
            }
        }
        let binary = try ChildProcess.run(["verify", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv", "--label-column", "churned",
                                           "--threshold", "0.7", "--json"])
        #expect(binary.status == 0, "\(binary.stderr)")
    }

    @Test("--data-layout with own data, which are fed as stored (the layout was not read: hwc, chw and features scored alike), is refused on every command")
    func dataLayoutWithOwnData() throws {
        let scratch = try Scratch()
        let data = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy", "--data-layout", "chw"]
        for (arguments, output) in try commands(scratch, model: "housing_mlp.h5") {
            let result = try ChildProcess.run(arguments + data)
            expectOneLineError(result, status: 64, naming: "--data-layout", "\(arguments)")
            #expect(result.stderr.contains("fed as stored"), "\(arguments): \(result.stderr)")
            if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
        }
    }

    @Test("--test-inputs naming the --inputs file (another spelling, a symbolic link) is refused on every command: the test would be the training records; so is --test-labels naming the --labels file")
    func testInputsAreInputs() throws {
        let scratch = try Scratch()
        let link = scratch.file("same.npy")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: samples + "housing_x.npy")
        try FileManager.default.createSymbolicLink(atPath: scratch.file("same_y.npy"), withDestinationPath: samples + "housing_y.npy")
        for test in [TestPackage.root + "/samples/../samples/housing_x.npy", link] {
            for (arguments, output) in try commands(scratch, model: "housing_mlp.h5") {
                let result = try ChildProcess.run(arguments + ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
                                                               "--test-inputs", test, "--test-labels", samples + "housing_y.npy"])
                expectOneLineError(result, status: 64, naming: "--test-inputs", "\(arguments)")
                #expect(result.stderr.contains("training records"), "\(result.stderr)")
                if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
            }
        }
        // Test records of their own scored against the training records' labels.
        let testX = scratch.file("test_x.npy")
        try FileManager.default.copyItem(atPath: samples + "housing_x.npy", toPath: testX)
        for (arguments, output) in try commands(scratch, model: "housing_mlp.h5") {
            let result = try ChildProcess.run(arguments + ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
                                                           "--test-inputs", testX, "--test-labels", scratch.file("same_y.npy")])
            expectOneLineError(result, status: 64, naming: "--test-labels", "\(arguments)")
            #expect(result.stderr.contains("the training records' labels"), "\(result.stderr)")
            if let output { #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)") }
        }
    }
}

@Suite("A --config that is not a Keras model config")
struct ConfigFileCLITests {
    let samples = TestPackage.root + "/samples/"
    let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/"

    @Test("text that is not JSON, JSON cut short, and JSON that is no Keras config: one line naming the file and what is wrong, exit 65, nothing written")
    func notAConfig() throws {
        let scratch = try Scratch()
        let weights = fixtures + "mlp_weights.h5"
        let cases: [(name: String, text: String, reason: String)] = [
            ("notes.json", "hello, this is not JSON\n", "it is not JSON (it begins with 'hello, this ', a config begins with '{')"),
            ("cut.json", "{\"class_name\": \"Sequential\",\n \"config\": {\"layers\": [}}", "the JSON is malformed at line 2, column 24"),
            ("meta.json", try String(contentsOfFile: samples + "mnist_mlp.json", encoding: .utf8), "it has no 'class_name' at the top (it is an object of 'architecture',")]
        for (name, text, reason) in cases {
            let config = scratch.file(name)
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let output = scratch.file("out.lrm")
            for arguments in [["convert", weights, "--config", config, "-o", output],
                              ["import", weights, "--config", config, "-o", output],
                              ["inspect", weights, "--config", config],
                              ["verify", samples + "churn_mlp.h5", "--reference", weights, "--reference-config", config,
                               "--inputs", samples + "churn.csv", "--label-column", "churned"]] {
                let result = try ChildProcess.run(arguments)
                expectOneLineError(result, status: 65, naming: "\(config): not a Keras model config: \(reason)", "\(arguments)")
                #expect(!result.stderr.contains("DecodingError") && !result.stderr.contains("Data was corrupted"), "\(result.stderr)")
                #expect(!FileManager.default.fileExists(atPath: output))
            }
        }
    }
}

@Suite("A --target-size no model can meet")
struct TargetSizeFloorCLITests {
    let samples = TestPackage.root + "/samples/"

    /// N in "… is at least N bytes …".
    func floor(in message: String) -> Int? {
        guard let start = message.range(of: "is at least ")?.upperBound else { return nil }
        return Int(message[start...].prefix { $0.isNumber })
    }

    @Test("is refused from the model's shapes before any data is read or calibrated on, stating the smallest reachable size; a reachable one goes on to the data")
    func refusedUpFront() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        // An empty data folder: a refusal that needs no data says so; one that went on to the data would say the data are missing.
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        // (Each with the data set it fits: one of another shape is refused before the size is looked at.)
        let mnist = ["--dataset", "mnist", "--data", empty]
        for (model, size, data) in [("mnist_mlp.h5", "10", mnist), ("mnist_cnn.h5", "2KiB", mnist),
                                    ("cifar10_mlp.h5", "100", ["--dataset", "cifar-10", "--data", empty])] {
            let result = try ChildProcess.run(["convert", samples + model] + data + ["--target-size", size, "-o", output])
            expectOneLineError(result, status: 64, naming: "no model of at most", "\(model)")
            #expect(result.stderr.contains(samples + model), "\(result.stderr)")
            let smallest = try #require(floor(in: result.stderr), "no smallest size stated: \(result.stderr)")
            #expect(smallest > 1000, "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        let reachable = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--dataset", "mnist", "--data", empty, "--target-size", "1MB", "-o", output])
        #expect(reachable.status == 66 && reachable.stderr.contains("not found"), "\(reachable.stderr)")
    }

    @Test("real-data: the size stated up front is a lower bound of the exact smallest file the search then finds",
          .enabled(if: datasets != nil))
    func floorIsALowerBound() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        let model = samples + "mnist_mlp.h5"
        let early = try ChildProcess.run(["convert", model, "--dataset", "mnist", "--target-size", "10", "-o", output])
        let smallest = try #require(floor(in: early.stderr), "\(early.stderr)")
        // At that size the up-front check lets the search run; its own exact floor (after calibration) is no smaller.
        let late = try ChildProcess.run(["convert", model, "--input-scale", "1/255", "--dataset", "mnist", "--target-size", "\(smallest)",
                                         "--calibration-samples", "500", "--validation-samples", "500", "-o", output], timeout: 300)
        if late.status == 0 {
            #expect(try #require(FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) <= smallest)
        } else {
            expectOneLineError(late, status: 64, naming: "the smallest lrm can make of this one is ")
            let start = try #require(late.stderr.range(of: "of this one is ")?.upperBound)
            let exact = try #require(Int(late.stderr[start...].prefix { $0.isNumber }), "\(late.stderr)")
            #expect(exact >= smallest, "the up-front floor \(smallest) is above the search's exact smallest file \(exact)")
        }
    }
}
