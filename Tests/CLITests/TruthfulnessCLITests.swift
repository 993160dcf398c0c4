import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// What CI sees: verify never passes without a check, JUnit is written when an error stops the run,
/// --exclude wins over --layer, and a pattern that matches nothing is a warning.
@Suite("CI truthfulness")
struct TruthfulnessCLITests {
    let samples = TestPackage.root + "/samples/"
    var churn: [String] { ["--inputs", samples + "churn.csv", "--label-column", "churned"] }

    @Test("verify without thresholds says nothing was checked (text and JSON), not PASS; with one it passes")
    func noChecksIsNotPass() throws {
        let plain = try ChildProcess.run(["verify", samples + "churn_mlp.h5"] + churn)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("result: NO CHECKS") && !plain.stdout.contains("PASS"), "\(plain.stdout)")
        let json = try jsonObject(try ChildProcess.run(["verify", samples + "churn_mlp.h5"] + churn + ["--json"]).stdout)
        #expect(json["result"] as? String == "no_checks")
        let checked = try ChildProcess.run(["verify", samples + "churn_mlp.h5", "--reference", samples + "churn_mlp.h5"] + churn
                                           + ["--max-accuracy-drop", "0"])
        #expect(checked.status == 0 && checked.stdout.contains("result: PASS"), "\(checked.stdout)\(checked.stderr)")
    }

    @Test("verify --reference without a threshold says NO CHECKS naming the task's thresholds, shows the weights' agreement with their record, and fails on a disagreement; a PASS has its check in text, JSON and JUnit")
    func referenceAloneIsNoPass() throws {
        let scratch = try Scratch()
        let regression = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let rank4 = scratch.file("h4.lrm"), rank8 = scratch.file("h8.lrm")
        #expect(try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "rank:4", "-o", rank4]).status == 0)
        #expect(try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "rank:8", "-o", rank8]).status == 0)
        // Was: result PASS with an empty check list (RMSE +133%), and the hint named the classifiers' thresholds.
        let plain = try ChildProcess.run(["verify", rank4, "--reference", samples + "housing_mlp.h5"] + regression)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("result: NO CHECKS (no threshold was given; give --max-metric-drop or --min-energy with --reference)"),
                "\(plain.stdout)")
        #expect(!plain.stdout.contains("PASS") && !plain.stdout.contains("--max-accuracy-drop"), "\(plain.stdout)")
        // The own-data report shows the weights against their record too (was: no Weights table on own data).
        #expect(plain.stdout.contains("Weights (e = ‖Ŵ − W‖/‖W‖") && plain.stdout.contains("agrees"), "\(plain.stdout)")
        let json = try jsonObject(try ChildProcess.run(["verify", rank4, "--reference", samples + "housing_mlp.h5", "--json"] + regression).stdout)
        #expect(json["result"] as? String == "no_checks" && (json["checks"] as? [Any])?.isEmpty == true, "\(json)")
        #expect((json["layers"] as? [[String: Any]])?.contains { $0["agrees_with_record"] as? Bool == true } == true)
        // A threshold gives the PASS something to rest on, in text, JSON and JUnit.
        let junit = scratch.file("v.xml")
        let checked = try ChildProcess.run(["verify", rank4, "--reference", samples + "housing_mlp.h5", "--max-metric-drop", "1000",
                                            "--junit", junit] + regression)
        #expect(checked.status == 0 && checked.stdout.contains("pass  max-metric-drop: RMSE") && checked.stdout.contains("result: PASS"),
                "\(checked.stdout)")
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("name=\"max-metric-drop\"") && xml.contains("tests=\"2\""), "\(xml)")
        // A reference that is itself compressed (rank 8 of the original) is not the W the records describe: they are not
        // checked, and without a threshold the result is NO CHECKS (before: a metadata failure for each, exit 1).
        let sibling = try ChildProcess.run(["verify", rank4, "--reference", rank8, "--json"] + regression)
        #expect(sibling.status == 0, "\(sibling.stdout)\(sibling.stderr)")
        let unchecked = try jsonObject(sibling.stdout)
        #expect(unchecked["result"] as? String == "no_checks" && (unchecked["checks"] as? [Any])?.isEmpty == true, "\(unchecked)")
        let siblingLayers = (unchecked["layers"] as? [[String: Any]] ?? []).filter { $0["recorded_relative_error"] != nil }
        #expect(!siblingLayers.isEmpty && siblingLayers.allSatisfy { $0["record_check"] as? String == "not_checked" }, "\(siblingLayers)")
        // A record that disagrees with the weights (its error changed, the factors as they were) fails against the original
        // without any threshold.
        var model = try ContainerFile(path: rank4).loadModel()
        let index = try #require(model.layers.firstIndex { if case .factorizedDense = $0.operation { true } else { false } })
        guard case let .factorizedDense(us, vt, bias, activation, f) = model.layers[index].operation else { return }
        var record = f
        record.relativeError *= 1.5
        model.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
        let tampered = scratch.file("tampered.lrm")
        try ContainerWriter.write(model, to: tampered)
        let wrong = try ChildProcess.run(["verify", tampered, "--reference", samples + "housing_mlp.h5", "--json"] + regression)
        #expect(wrong.status == 1, "\(wrong.stdout)\(wrong.stderr)")
        let failed = try jsonObject(wrong.stdout)
        #expect(failed["result"] as? String == "fail", "\(failed)")
        #expect((failed["checks"] as? [[String: Any]])?.contains { ($0["name"] as? String ?? "").hasPrefix("metadata ") && $0["passed"] as? Bool == false } == true)
    }

    @Test("a threshold of the other task is refused (64) by verify on a bundled data set and by convert, as is a convert limit without data (was: ignored, exit 0)")
    func limitsOfTheOtherTaskAreRefused() throws {
        let scratch = try Scratch()
        let output = scratch.file("x.lrm")
        expectOneLineError(try ChildProcess.run(["verify", samples + "mnist_mlp.h5", "--reference", samples + "mnist_mlp.h5", "--dataset", "mnist",
                                                 "--max-metric-drop", "1"]), status: 64, naming: "--max-metric-drop")
        let runs: [([String], String)] = [
            (["convert", samples + "mnist_mlp.h5", "--policy", "rank:2", "--max-accuracy-drop", "0.01", "-o", output], "no data"),
            (["convert", samples + "housing_mlp.h5", "--policy", "rank:2", "--max-metric-drop", "5", "-o", output], "no data"),
            (["convert", samples + "mnist_mlp.h5", "--policy", "rank:2", "--dataset", "mnist", "--max-metric-drop", "1", "-o", output],
             "classification data set"),
            (["convert", samples + "housing_mlp.h5", "--policy", "rank:2", "--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy",
              "--max-accuracy-drop", "0.01", "-o", output], "--max-metric-drop"),
            (["convert", samples + "churn_mlp.h5", "--policy", "rank:1", "--max-metric-drop", "0.01", "-o", output] + churn, "binary classifier"),
        ]
        for (arguments, subject) in runs {
            let run = try ChildProcess.run(arguments)
            expectOneLineError(run, status: 64, naming: subject, "\(arguments)")
            #expect(run.stderr.hasSuffix("(see lrm \(arguments[0]) --help)\n"), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    @Test("a ratio search has no budget: no acceptance rule in its text, no confidence in its JSON or file")
    func ratioSearchHasNoBudget() throws {
        let scratch = try Scratch()
        let output = scratch.file("r.lrm")
        let regression = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let text = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--target-ratio", "0.5", "-o", output] + regression)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("validation RMSE") && !text.stdout.contains("accepted when"), "\(text.stdout)")
        let json = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--target-ratio", "0.5", "--dry-run", "--json"] + regression)
        let search = try #require(try jsonObject(json.stdout)["search"] as? [String: Any])
        #expect(search["confidence"] is NSNull, "\(search)")
        let inspect = try jsonObject(try ChildProcess.run(["inspect", output, "--json"]).stdout)
        let metadata = try #require(inspect["metadata"] as? [String: Any])
        #expect(metadata["search.confidence"] == nil && metadata["search.validation_score"] != nil, "\(metadata.keys.sorted())")
        // A budgeted search still states its rule and confidence.
        let budgeted = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--target-metric-drop", "5", "--dry-run", "--json"] + regression)
        #expect((try jsonObject(budgeted.stdout)["search"] as? [String: Any])?["confidence"] as? Double == 1, "\(budgeted.stdout)")
    }

    @Test("an error that stops verify is written to the JUnit file as an error case with the message")
    func junitOnError() throws {
        let scratch = try Scratch()
        let junit = scratch.file("verify.xml")
        let run = try ChildProcess.run(["verify", samples + "churn_mlp.h5", "--inputs", scratch.file("missing.csv"), "--label-column", "churned",
                                        "--junit", junit])
        expectOneLineError(run, status: 66, naming: "missing.csv")
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("errors=\"1\"") && xml.contains("<error message=\"lrm: error: ") && xml.contains("missing.csv"), "\(xml)")
    }

    @Test("--exclude wins over a --layer pattern matching the same layer; a pattern matching nothing is a warning")
    func excludeWins() throws {
        let model = samples + "housing_mlp.h5"
        let run = try ChildProcess.run(["convert", model, "--exclude", "dense_2", "--layer", "dense_*=rank:4", "--exclude", "dense_9",
                                        "--dry-run", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let layers = try #require(try jsonObject(run.stdout)["layers"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: layers.compactMap { layer in (layer["name"] as? String).map { ($0, layer) } })
        #expect(byName["dense_1"]?["rank"] as? Int == 4, "\(byName)")
        #expect(byName["dense_2"]?["rank"] == nil, "dense_2 was excluded: \(byName["dense_2"] ?? [:])")
        #expect(run.stderr.contains("lrm: warning: --exclude 'dense_9' matches no layer"), "\(run.stderr)")
        #expect(!run.stderr.contains("'dense_2' matches no layer"))
    }

    @Test("convert with data reports the test split before → after; past the default limit a warning suggests the search; a limit given and missed exits 1")
    func convertReportsWhatYouGot() throws {
        let scratch = try Scratch()
        let plain = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + churn + ["--policy", "rank:1", "--dry-run"])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout.contains("test split (400 samples, not used to convert): accuracy 78.50% → "), "\(plain.stdout)")
        #expect(plain.stdout.contains("agreement"))
        #expect(plain.stderr.contains("lrm: warning: accuracy on the test split dropped") && plain.stderr.contains("--target-accuracy-drop"),
                "\(plain.stderr)")
        let json = try jsonObject(try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + churn + ["--policy", "rank:1", "--dry-run", "--json"]).stdout)
        let test = try #require(json["test"] as? [String: Any])
        #expect(test["accuracy_original"] as? Double == 0.785 && test["samples"] as? Int == 400)

        let output = scratch.file("h.lrm")
        let regression = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let missed = try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + regression + ["--policy", "rank:2", "--max-metric-drop", "10", "-o", output])
        #expect(missed.status == 1, "\(missed.stdout)\(missed.stderr)")
        // The failed check names the file it is about, as every other message does (was: no file named).
        #expect(missed.stdout.contains("RMSE 0.437496 → ") && missed.stderr.contains("lrm: check failed: \(output): the test split's RMSE grew"),
                "\(missed.stderr)")
        #expect(missed.stderr.contains("limit --max-metric-drop 10.00%"), "\(missed.stderr)")
        #expect(FileManager.default.fileExists(atPath: output), "the file is written so that it can be looked at")
        // --json carries the limit and its outcome (was: the JSON had no pass/fail field, only the exit code told).
        let missedJSON = try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + regression + ["--policy", "rank:2", "--max-metric-drop", "10",
                                                                                                     "--dry-run", "--json"])
        #expect(missedJSON.status == 1 && missedJSON.stderr.contains("lrm: check failed: \(samples)housing_mlp.h5: "), "\(missedJSON.stderr)")
        let limit = try #require((try jsonObject(missedJSON.stdout)["test"] as? [String: Any])?["limit"] as? [String: Any])
        #expect(limit["option"] as? String == "--max-metric-drop" && limit["value"] as? Double == 10 && limit["given"] as? Bool == true
                && limit["passed"] as? Bool == false, "\(limit)")
        let met = try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + regression + ["--policy", "energy:0.999", "--max-metric-drop", "10", "--dry-run"])
        #expect(met.status == 0 && !met.stderr.contains("warning"), "\(met.stdout)\(met.stderr)")
        let metJSON = try ChildProcess.run(["convert", samples + "housing_mlp.h5"] + regression + ["--policy", "energy:0.999", "--max-metric-drop", "10",
                                                                                                 "--dry-run", "--json"])
        let metLimit = try #require((try jsonObject(metJSON.stdout)["test"] as? [String: Any])?["limit"] as? [String: Any])
        #expect(metJSON.status == 0 && metLimit["given"] as? Bool == true && metLimit["passed"] as? Bool == true, "\(metLimit)")
        // Without a limit given, the default warning limit is what `passed` refers to.
        let defaultLimit = try #require(test["limit"] as? [String: Any])
        #expect(defaultLimit["option"] as? String == "--max-accuracy-drop" && defaultLimit["given"] as? Bool == false
                && defaultLimit["value"] as? Double == 1 && defaultLimit["passed"] as? Bool == false, "\(defaultLimit)")
        // Without data nothing is evaluated and nothing is claimed.
        let noData = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "rank:2", "--dry-run"])
        #expect(noData.status == 0 && !noData.stdout.contains("test split"))
    }
}
