import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// The own-data samples (samples/churn*, samples/housing*) through convert and verify, as docs/CLI.md ("Your own data") shows them.
@Suite("Own data on the command line")
struct OwnDataCLITests {
    let samples = TestPackage.root + "/samples/"

    /// The Keras-measured test metrics recorded by tools/make_tabular_samples.py.
    func kerasRecord() throws -> [String: Any] {
        try jsonObject(try String(contentsOfFile: samples + "tabular_samples.json", encoding: .utf8))
    }

    @Test("convert's test line: an unchanged accuracy is a change of +0.00 pp, never -0.00")
    func unchangedAccuracyIsNotNegative() throws {
        let scratch = try Scratch()
        // energy:0.9 keeps the churn sample's test accuracy exactly (78.50% → 78.50%).
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv", "--label-column", "churned",
                                            "--policy", "energy:0.9", "-o", scratch.file("c.lrm"), "--quiet"])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("accuracy 78.50% → 78.50% (+0.00 pp)") && !convert.stdout.contains("-0.00"), "\(convert.stdout)")
    }

    @Test("--target-size on own data: the size search runs (it was refused, 'give --dataset', though --inputs was given) and the file fits")
    func sizeSearchOnOwnData() throws {
        let scratch = try Scratch()
        let output = scratch.file("s.lrm")
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv", "--label-column", "churned",
                                            "--target-size", "20KiB", "-o", output, "--quiet"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? nil
        #expect(size.map { $0 <= 20 * 1024 } == true, "\(String(describing: size)) bytes")
        // Without any data it is still refused, naming both ways to give it.
        let bare = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--target-size", "20KiB", "-o", scratch.file("t.lrm")])
        #expect(bare.status == 64 && bare.stderr.contains("--inputs"), "\(bare)")
    }

    @Test("convert --help: the searches and --finetune say they take own data too, not '--dataset' alone")
    func helpNamesOwnData() throws {
        let help = try ChildProcess.run(["convert", "--help"])
        #expect(help.status == 0)
        let lines = help.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(!lines.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ").contains("Needs --dataset."))
        for option in ["--target-accuracy-drop <X>", "--target-ratio <R>", "--target-size <size>", "--finetune <epochs>"] {
            // The option's entry: its line and the indented lines that follow it, up to the next option.
            let first = try #require(lines.firstIndex { $0.hasPrefix("  " + option) }, "\(option)")
            var entry = [lines[first]]
            for line in lines[(first + 1)...] {
                if line.hasPrefix("  -") || line.isEmpty { break }
                entry.append(line)
            }
            let text = entry.joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(text.contains("Needs --dataset or your own data (--inputs)."), "\(option): \(text)")
        }
    }

    @Test("a binary classifier on a CSV: verify matches Keras's test accuracy; a search converts it; verify checks it with JUnit")
    func binaryClassifier() throws {
        let scratch = try Scratch()
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // The original, scored on the held-out last 20%: the accuracy Keras measured on the same records.
        let original = try ChildProcess.run(["verify", samples + "churn_mlp.h5"] + data + ["--json"])
        #expect(original.status == 0, "\(original.stderr)")
        let report = try jsonObject(original.stdout)
        #expect(report["task"] as? String == "binary")
        #expect(report["samples"] as? Int == 400)
        let keras = try #require(try kerasRecord()["churn"] as? [String: Any])
        let compressed = try #require(report["compressed"] as? [String: Any])
        #expect(abs((compressed["accuracy"] as? Double ?? -1) - (keras["test_accuracy"] as? Double ?? 9)) < 1e-9)
        #expect((compressed["roc_auc"] as? Double ?? 0) > 0.7)

        let output = scratch.file("churn.lrm")
        // 2 points: the 320 validation records split into 160 that select and 160 that confirm, where one record is 0.6
        // points and the drop's standard error about 2 points, so a 1-point budget is never confirmed (the original is kept).
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + data + ["--target-accuracy-drop", "2", "-o", output, "--json"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let search = try #require(try jsonObject(convert.stdout)["search"] as? [String: Any])
        #expect(search["task"] as? String == "binary")
        #expect(search["test_samples"] as? Int == 400)
        #expect((search["hidden_fraction"] as? Double ?? 1) < 1, "the search should find a smaller model: \(search)")
        let confirmation = try #require(search["confirmation"] as? [String: Any])
        #expect(confirmation["selection_samples"] as? Int == 160 && confirmation["confirmation_samples"] as? Int == 160, "\(confirmation)")
        #expect(search["validation_samples"] as? Int == 160)
        #expect(search["test"] is [String: Any] && search["test_original"] is [String: Any])

        let junit = scratch.file("verify.xml")
        let verify = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data
                                          + ["--max-accuracy-drop", "5", "--min-agreement", "0.8", "--junit", junit])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        for text in ["binary classification", "ROC AUC", "agreement", "pass  max-accuracy-drop", "result: PASS"] {
            #expect(verify.stdout.contains(text), "\(text) missing: \(verify.stdout)")
        }
        #expect(try String(contentsOfFile: junit, encoding: .utf8).contains("max-accuracy-drop"))
        // A regression threshold on a classifier is a usage error.
        let wrong = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + data + ["--max-metric-drop", "5"])
        expectOneLineError(wrong, status: 64, naming: "--max-metric-drop")
    }

    @Test("a regressor on .npy files: verify matches Keras's RMSE; --target-metric-drop searches; --max-metric-drop checks")
    func regressor() throws {
        let scratch = try Scratch()
        let data = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let original = try jsonObject(try ChildProcess.run(["verify", samples + "housing_mlp.h5"] + data + ["--json"]).stdout)
        #expect(original["task"] as? String == "regression")
        let keras = try #require(try kerasRecord()["housing"] as? [String: Any])
        let metrics = try #require(original["compressed"] as? [String: Any])
        for (ours, theirs) in [("rmse", "test_rmse"), ("mae", "test_mae"), ("r2", "test_r2")] {
            let a = metrics[ours] as? Double ?? .nan, b = keras[theirs] as? Double ?? .nan
            #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(ours) \(a) vs Keras \(b)")
        }

        let output = scratch.file("housing.lrm")
        let convert = try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + data + ["--target-metric-drop", "5", "-o", output])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("validation RMSE") && convert.stdout.contains("test (400 samples): RMSE"))
        let pass = try ChildProcess.run(["verify", output, "--reference", samples + "housing_mlp.h5"] + data + ["--max-metric-drop", "50"])
        #expect(pass.status == 0, "\(pass.stdout)\(pass.stderr)")
        #expect(pass.stdout.contains("pass  max-metric-drop: RMSE"))
        // A budget of 0% fails as soon as the compressed model's RMSE is any higher.
        let fail = try ChildProcess.run(["verify", output, "--reference", samples + "housing_mlp.h5"] + data + ["--max-metric-drop", "0"])
        #expect(fail.status == 1, "\(fail.stdout)")
        #expect(fail.stdout.contains("FAIL  max-metric-drop"))

        expectOneLineError(try ChildProcess.run(["verify", output, "--reference", samples + "housing_mlp.h5"] + data + ["--max-accuracy-drop", "1"]),
                           status: 64, naming: "regression model has no accuracy")
        expectOneLineError(try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + data + ["--target-accuracy-drop", "1", "-o", scratch.file("x.lrm")]),
                           status: 64, naming: "--target-metric-drop")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x.lrm")))
    }

    @Test("lrm's outputs on the held-out records match the outputs Keras recorded, sample by sample")
    func outputsMatchKeras() throws {
        let scratch = try Scratch()
        let recorded = try NPZ.read(path: samples + "tabular_samples.pred.npz")
        // housing: the last 400 rows of housing_x.npy.
        let x = try NPY.read(path: samples + "housing_x.npy")
        #expect(x.shape == [2000, 20])
        let rows = Array(x.floatValues()[(1600 * 20)...])
        try NPY.write(try NumPyArray(shape: [400, 20], float32: rows), to: scratch.file("hx.npy"))
        // churn: the last 400 rows of churn.csv without the label column (the last one).
        let lines = try String(contentsOfFile: samples + "churn.csv", encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(lines.count == 2000)
        let churnRows = lines.suffix(400).flatMap { $0.split(separator: ",").dropLast().map { Float(String($0))! } }
        try NPY.write(try NumPyArray(shape: [400, 10], float32: churnRows), to: scratch.file("cx.npy"))
        for (model, input, key) in [("housing_mlp.h5", "hx.npy", "housing"), ("churn_mlp.h5", "cx.npy", "churn")] {
            let run = try ChildProcess.run(["predict", samples + model, "--input", scratch.file(input), "-o", scratch.file(key + ".npy")])
            #expect(run.status == 0, "\(run.stderr)")
            let ours = try NPY.read(path: scratch.file(key + ".npy")).floatValues()
            let keras = try #require(recorded[key] ?? recorded[key + ".npy"]).floatValues()
            #expect(ours.count == 400 && keras.count == 400)
            let worst = zip(ours, keras).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-4, "\(model): largest |lrm − Keras| \(worst)")
        }
    }

    @Test("own-data mistakes: both data sources, labels without inputs, a missing file, a CSV without its label column")
    func mistakes() throws {
        let model = samples + "churn_mlp.h5"
        expectOneLineError(try ChildProcess.run(["verify", model, "--dataset", "mnist", "--inputs", samples + "churn.csv"]),
                           status: 64, naming: "not both")
        expectOneLineError(try ChildProcess.run(["verify", model, "--labels", samples + "housing_y.npy"]), status: 64, naming: "--inputs")
        expectOneLineError(try ChildProcess.run(["verify", model, "--inputs", "/nonexistent/x.csv", "--label-column", "y"]),
                           status: 66, naming: "/nonexistent/x.csv")
        expectOneLineError(try ChildProcess.run(["verify", model, "--inputs", samples + "churn.csv"]), status: 64, naming: "--label-column")
        expectOneLineError(try ChildProcess.run(["verify", model, "--inputs", samples + "churn.csv", "--label-column", "churnd"]),
                           status: 64, naming: "did you mean 'churned'?")
        expectOneLineError(try ChildProcess.run(["verify", model, "--inputs", samples + "churn.csv", "--label-column", "age"]),
                           status: 65, naming: "binary task needs labels 0 and 1")
    }

    @Test("--finetune on the user's own images, shifted: the file records it, and lrm verify against the original passes")
    func finetuneOwnImages() throws {
        let scratch = try Scratch()
        // 64 MNIST test images (raw 0–255); the classes Keras predicts for them are the labels.
        let (data, images) = try writeKerasLabelledImages(in: scratch)
        let out = scratch.file("tuned.lrm")
        let convert = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255", "--policy", "whitened:0.6",
                                            "--finetune", "2", "--finetune-shift", "1", "--json", "--progress", "text"] + data + ["-o", out])
        #expect(convert.status == 0, "\(convert.stderr)")
        let report = try #require(try jsonObject(convert.stdout)["finetune"] as? [String: Any])
        #expect(report["augmentation"] as? String == "shift ≤ 1 px")
        #expect(report["patience"] as? Int == 2)
        #expect(convert.stderr.contains("fine-tuning epoch 1/2"), "\(convert.stderr)")
        let inspect = try jsonObject(try ChildProcess.run(["inspect", out, "--json"]).stdout)
        let metadata = try #require(inspect["metadata"] as? [String: Any])
        func value(_ key: String) -> String? { (metadata[key] as? [String: Any])?["value"] as? String }
        #expect(value("finetune.augmentation") == "shift ≤ 1 px")
        #expect(value("finetune.data") == "own data train")
        // Its weights agree with its record (no "NO" in the Weights table), and the threshold makes it a PASS.
        let verify = try ChildProcess.run(["verify", out, "--reference", samples + "mnist_mlp.h5", "--max-accuracy-drop", "100"] + data)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("result: PASS") && !verify.stdout.contains("NO"), "\(verify.stdout)")
        // A search with fine-tuning, end to end on the same 64 images: the refinement's fine-tuned candidates are judged,
        // the file records both, and it passes verify against the original.
        let searched = scratch.file("searched.lrm")
        let search = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255", "--target-accuracy-drop", "5",
                                           "--finetune", "1", "--progress", "json", "--json"] + data + ["-o", searched])
        #expect(search.status == 0, "\(search.stderr)")
        let outcome = try #require(try jsonObject(search.stdout)["search"] as? [String: Any])
        let tunedCandidates = (outcome["finetune"] as? [String: Any])?["candidates"] as? Int ?? 0
        #expect(tunedCandidates > 1, "\(outcome)")
        // Progress tells each fine-tuned candidate's validation score, and the confirmation's re-judging of them.
        let events = search.stderr.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["progress"] as? [String: Any]
        }
        let refined = events.filter { $0["phase"] as? String == "refine" }.compactMap { $0["message"] as? String }
        #expect(refined.count == tunedCandidates && refined.allSatisfy { $0.hasPrefix("fine-tuned, hidden fraction ") && $0.contains("validation score") },
                "\(refined)")
        #expect(events.contains { $0["phase"] as? String == "confirm" && ($0["message"] as? String ?? "").hasPrefix("fine-tuned, hidden fraction ") },
                "\(search.stderr)")
        // The JSON lists every fine-tuned candidate: as many as were fine-tuned, the search's choice first and in the
        // sequence, each in the sequence only when it kept the budget on the selection records (or was the choice), and
        // the kept one's confirmation score is the search's reported validation score.
        let tried = try #require((outcome["finetune"] as? [String: Any])?["tried"] as? [[String: Any]])
        #expect(tried.count == tunedCandidates)
        #expect(tried.first?["in_sequence"] as? Bool == true)
        for trial in tried.dropFirst() {
            #expect((trial["in_sequence"] as? Bool) == (trial["selection_within_budget"] as? Bool), "\(trial)")
            #expect(trial["in_sequence"] as? Bool == true || trial["confirmation_accuracy"] is NSNull, "\(trial)")
        }
        let fraction = try #require(outcome["hidden_fraction"] as? Double)
        let keptTrial = try #require(tried.first { abs(($0["hidden_fraction"] as? Double ?? -1) - fraction) < 1e-12 && $0["in_sequence"] as? Bool == true })
        #expect(keptTrial["confirmation_within_budget"] as? Bool == true && keptTrial["confirmation_accuracy"] as? Double == outcome["validation_accuracy"] as? Double,
                "\(keptTrial) \(outcome)")
        #expect(outcome["confirmation"] is [String: Any])
        let searchedMetadata = try #require(try jsonObject(try ChildProcess.run(["inspect", searched, "--json"]).stdout)["metadata"] as? [String: Any])
        #expect(searchedMetadata["finetune.epochs"] != nil && searchedMetadata["search.estimate"] != nil)
        let verifySearched = try ChildProcess.run(["verify", searched, "--reference", samples + "mnist_mlp.h5", "--max-accuracy-drop", "100"] + data)
        #expect(verifySearched.status == 0 && verifySearched.stdout.contains("result: PASS"), "\(verifySearched.stdout)")
        // Samples that are not images cannot be shifted or flipped: a model of 784 plain features, 784 → 32 → 10, dense (a .lrm
        // with a factorized layer, such as lrm example's, is refused --finetune first: its records could not stay true).
        var rng = SeededGenerator(seed: 5)
        let flatModel = Model(name: "flat", input: InputSpec(shape: [784]), layers: [
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [784, 32], floats: (0..<(784 * 32)).map { _ in rng.nextSymmetricFloat() * 0.05 }),
                                                    bias: nil, activation: .relu)),
            Layer(name: "output", operation: .dense(kernel: Tensor(shape: [32, 10], floats: (0..<320).map { _ in rng.nextSymmetricFloat() }),
                                                    bias: nil, activation: .softmax)),
        ])
        let example = scratch.file("flat.lrm")
        try ContainerWriter.write(flatModel, to: example)
        let flat = images.floatValues(), count = images.shape[0]
        try NPY.write(try NumPyArray(shape: [count, flat.count / count], float32: flat), to: scratch.file("flat.npy"))
        expectOneLineError(try ChildProcess.run(["convert", example, "--policy", "energy:0.9", "--finetune", "1", "--finetune-flip",
                                                 "--inputs", scratch.file("flat.npy"), "--labels", scratch.file("y.npy"), "-o", scratch.file("e.lrm")]),
                           status: 64, naming: "needs images")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("e.lrm")))
    }
}
