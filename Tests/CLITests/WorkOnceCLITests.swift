import Foundation
import LRMTestSupport
import Testing

/// Work a command needs once is done once, counted by test-only hooks that make lrm print at exit how many times it
/// ran models over a data set (`LRM_TEST_COUNT_EVALUATIONS=1`) and how many models it prepared to run
/// (`LRM_TEST_COUNT_PREPARED_MODELS=1`).
@Suite("Work done once")
struct WorkOnceCLITests {
    let samples = TestPackage.root + "/samples/"
    var churn: [String] { ["--inputs", samples + "churn.csv", "--label-column", "churned"] }

    /// The run of `lrm arguments` with both counters: its result, the data set evaluations and the models prepared.
    func counted(_ arguments: [String]) throws -> (result: RunResult, evaluations: Int?, prepared: Int?) {
        let result = try ChildProcess.run(arguments, environment: ["LRM_TEST_COUNT_EVALUATIONS": "1", "LRM_TEST_COUNT_PREPARED_MODELS": "1"],
                                          timeout: 300)
        func count(_ suffix: String) -> Int? {
            let prefix = "lrm: test: "
            return result.stderr.split(separator: "\n").last { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
                .flatMap { Int($0.dropFirst(prefix.count).dropLast(suffix.count)) }
        }
        return (result, count(" data set evaluations"), count(" models prepared to run"))
    }

    @Test("convert scores the test split once: a search's test figures and the report's test line are one run's")
    func testSplitScoredOnce() throws {
        for (target, searched) in [(["--target-accuracy-drop", "2"], true), (["--target-accuracy-drop", "2", "--minimize", "bytes"], true),
                                   (["--policy", "energy:0.9"], false)] {
            let run = try counted(["convert", samples + "churn_mlp.h5"] + churn + target + ["--dry-run", "--json"])
            #expect(run.result.status == 0, "\(target): \(run.result.stderr)")
            #expect(run.evaluations == 1, "\(target): \(run.evaluations.map(String.init) ?? "no count") evaluations")
            let report = try jsonObject(run.result.stdout)
            let test = try #require(report["test"] as? [String: Any], "\(target)")
            #expect(test["samples"] as? Int == 400 && test["accuracy"] is Double, "\(test)")
            guard searched else { continue }
            // The search's figures (a binary task's scores: `test`, `test_original`) and the test line: the same samples,
            // the same accuracies.
            let search = try #require(report["search"] as? [String: Any], "\(target)")
            let scores = try #require(search["test"] as? [String: Any]), original = try #require(search["test_original"] as? [String: Any])
            #expect(search["test_samples"] as? Int == test["samples"] as? Int, "\(search)")
            #expect(scores["accuracy"] as? Double == test["accuracy"] as? Double, "\(search) \(test)")
            #expect(original["accuracy"] as? Double == test["accuracy_original"] as? Double, "\(search) \(test)")
        }
    }

    @Test("sweep with own data prepares its model to run once (the data's task counts its outputs from its shapes), and each point once")
    func sweepPreparesTheModelOnce() throws {
        let run = try counted(["sweep", samples + "churn_mlp.h5"] + churn + ["--json"])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        let points = try #require(try jsonObject(run.result.stdout)["points"] as? [Any])
        #expect(!points.isEmpty)
        #expect(run.prepared == points.count + 1, "\(run.prepared.map(String.init) ?? "no count") models prepared for \(points.count) points")
    }
}
