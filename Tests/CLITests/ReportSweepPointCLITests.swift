import Foundation
import LRMTestSupport
import Testing

/// `lrm report --sweep` with `--reference` and a data set: the file itself is a point on the sweep's chart when verify
/// evaluated it on the sweep's records, and the page says why not otherwise. Before, the chart showed the sweep's
/// methods only, so a searched file (7.60×) was nowhere on a chart whose axis stopped near the sweep's largest ratio.
@Suite("report: the file on its sweep's chart")
struct ReportSweepPointCLITests {
    static let sample = TestPackage.root + "/samples/mnist_mlp.h5"

    @Test("the file is drawn at its compression ratio and verify's accuracy; a sweep of other records gets a note instead",
          .enabled(if: datasets != nil))
    func fileOnTheChart() throws {
        let scratch = try Scratch()
        let sweep = try ChildProcess.run(["sweep", Self.sample, "--input-scale", "1/255", "--dataset", "mnist", "--taus", "0.9", "--json"],
                                         timeout: 600)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let sweepFile = try scratch.write(Array(sweep.stdout.utf8), to: "sw.json")
        let model = scratch.file("r8.lrm")
        #expect(try ChildProcess.run(["convert", Self.sample, "--input-scale", "1/255", "--policy", "rank:8", "-o", model]).status == 0)
        // What the point must say: the file's compression ratio (inspect's) and its accuracy (verify's, on the test split).
        let inspected = try jsonObject(try ChildProcess.run(["inspect", model, "--json"]).stdout)
        let ratio = try #require(inspected["compression_ratio"] as? Double)
        let verified = try jsonObject(try ChildProcess.run(["verify", model, "--reference", Self.sample, "--dataset", "mnist", "--json"]).stdout)
        let accuracy = try #require((verified["compressed"] as? [String: Any])?["accuracy"] as? Double)
        let page = scratch.file("r.html")
        let report = try ChildProcess.run(["report", model, "--reference", Self.sample, "--dataset", "mnist", "--sweep", sweepFile, "-o", page])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let label = "this file (" + String(format: "%.2f×", ratio) + ", " + String(format: "%.2f%%", accuracy * 100) + ")"
        #expect(html.contains(label), "\(label) not in \(html.suffix(3000))")
        #expect(!html.contains("This file is not drawn"))

        // A sweep of other records (its data set description changed): no point, and the page says why.
        var object = try #require(try JSONSerialization.jsonObject(with: Data(sweep.stdout.utf8)) as? [String: Any])
        object["dataset"] = "mnist train: 60,000 samples"
        let other = try scratch.write(Array(try JSONSerialization.data(withJSONObject: object)), to: "other.json")
        let otherPage = scratch.file("o.html")
        #expect(try ChildProcess.run(["report", model, "--reference", Self.sample, "--dataset", "mnist", "--sweep", other, "-o", otherPage]).status == 0)
        let otherHTML = try String(contentsOfFile: otherPage, encoding: .utf8)
        #expect(!otherHTML.contains("this file ("))
        #expect(otherHTML.contains("This file is not drawn: verify evaluated it on mnist test"), "\(otherHTML.suffix(3000))")

        // Without a data set nothing was evaluated: no point and no note.
        let bare = scratch.file("b.html")
        #expect(try ChildProcess.run(["report", model, "--sweep", sweepFile, "-o", bare]).status == 0)
        let bareHTML = try String(contentsOfFile: bare, encoding: .utf8)
        #expect(!bareHTML.contains("this file (") && !bareHTML.contains("This file is not drawn"))
    }

    @Test("own data: a regressor is drawn at its RMSE, a binary classifier at its accuracy, each in verify's evaluation")
    func ownDataOnTheChart() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let cases: [(model: String, data: [String], regression: Bool)] = [
            ("housing_mlp.h5", ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"], true),
            ("churn_mlp.h5", ["--inputs", samples + "churn.csv", "--label-column", "churned"], false),
        ]
        for (name, data, regression) in cases {
            let original = samples + name
            let sweep = try ChildProcess.run(["sweep", original, "--taus", "0.9", "--json"] + data, timeout: 300)
            #expect(sweep.status == 0, "\(sweep.stderr)")
            let sweepFile = try scratch.write(Array(sweep.stdout.utf8), to: name + ".json")
            let model = scratch.file(name + ".lrm")
            #expect(try ChildProcess.run(["convert", original, "--policy", "rank:4", "-o", model]).status == 0)
            let ratio = try #require(try jsonObject(try ChildProcess.run(["inspect", model, "--json"]).stdout)["compression_ratio"] as? Double)
            let verified = try jsonObject(try ChildProcess.run(["verify", model, "--reference", original, "--json"] + data).stdout)
            let scores = try #require(verified["compressed"] as? [String: Any], "\(verified)")
            let label = regression
                ? "this file (" + String(format: "%.2f×", ratio) + ", RMSE " + String(format: "%.4g", try #require(scores["rmse"] as? Double)) + ")"
                : "this file (" + String(format: "%.2f×", ratio) + ", " + String(format: "%.2f%%", try #require(scores["accuracy"] as? Double) * 100) + ")"
            let page = scratch.file(name + ".html")
            let report = try ChildProcess.run(["report", model, "--reference", original, "--sweep", sweepFile, "-o", page] + data)
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.contains(label), "\(label) not in \(html.suffix(3000))")
        }
    }

    @Test("a sweep none of whose points can be drawn (a regression sweep's JSON without its task: no point has an accuracy) is refused, exit 65, one line, nothing written (the page had no chart, unsaid); a sweep of the same records scored otherwise says so under the chart (it said the same records twice as the reason)")
    func undrawableSweeps() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let sweep = try ChildProcess.run(["sweep", samples + "housing_mlp.h5", "--taus", "0.9", "--json"] + housing, timeout: 300)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(sweep.stdout.utf8)) as? [String: Any])
        object["task"] = nil
        let untasked = try scratch.write(Array(try JSONSerialization.data(withJSONObject: object)), to: "untasked.json")
        let model = scratch.file("h.lrm")
        #expect(try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "rank:4", "-o", model]).status == 0)
        let page = scratch.file("h.html")
        let refused = try ChildProcess.run(["report", model, "--sweep", untasked, "-o", page])
        #expect(refused.status == 65 && refused.stderr.split(separator: "\n").count == 1
                && refused.stderr.contains("untasked.json: not the JSON of `lrm sweep --json`: none of its"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: page))

        // The churn sweep (accuracy) relabelled a regression, each point given an RMSE: the same records, scored otherwise.
        let churn = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let churnSweep = try ChildProcess.run(["sweep", samples + "churn_mlp.h5", "--taus", "0.9", "--json"] + churn, timeout: 300)
        #expect(churnSweep.status == 0, "\(churnSweep.stderr)")
        var relabelled = try #require(try JSONSerialization.jsonObject(with: Data(churnSweep.stdout.utf8)) as? [String: Any])
        relabelled["task"] = "regression"
        relabelled["original"] = ["rmse": 0.5]
        relabelled["points"] = (relabelled["points"] as? [[String: Any]] ?? []).map { point in point.merging(["rmse": 0.5]) { $1 } }
        let other = try scratch.write(Array(try JSONSerialization.data(withJSONObject: relabelled)), to: "relabelled.json")
        let churnModel = scratch.file("c.lrm"), churnPage = scratch.file("c.html")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:4", "-o", churnModel]).status == 0)
        let report = try ChildProcess.run(["report", churnModel, "--reference", samples + "churn_mlp.h5", "--sweep", other, "-o", churnPage] + churn)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: churnPage, encoding: .utf8)
        #expect(!html.contains("this file ("))
        #expect(html.contains("This file is not drawn: the sweep scores its original by RMSE, verify evaluated it by accuracy (a classifier&#39;s task)."
                              ) || html.contains("This file is not drawn: the sweep scores its original by RMSE, verify evaluated it by accuracy (a classifier's task)."),
                "\(html.suffix(2000))")
    }

    @Test("the file is drawn only when verify fed it as the sweep fed its original: a sweep without --input-scale 1/255 gets a note, not the point (it drew a 1/255 file on a raw-pixel chart); a sweep JSON without \"preprocessing\" draws it with a note; a malformed one is refused",
          .enabled(if: datasets != nil))
    func preprocessingMustAgree() throws {
        let scratch = try Scratch()
        let sweep = try ChildProcess.run(["sweep", Self.sample, "--dataset", "mnist", "--taus", "0.9", "--json", "--quiet"], timeout: 600)
        #expect(sweep.status == 0, "\(sweep.stderr)")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(sweep.stdout.utf8)) as? [String: Any])
        let recorded = object["preprocessing"] as? [String: Any]
        #expect((recorded?["scale"] as? [Double]) == [] && (recorded?["offset"] as? [Double]) == [] && recorded?["layout"] as? String == "features",
                "\(object.keys)")
        let rawSweep = try scratch.write(Array(sweep.stdout.utf8), to: "raw.json")
        let model = scratch.file("r8.lrm")
        #expect(try ChildProcess.run(["convert", Self.sample, "--input-scale", "1/255", "--policy", "rank:8", "-o", model]).status == 0)
        let page = scratch.file("p.html")
        let report = try ChildProcess.run(["report", model, "--reference", Self.sample, "--dataset", "mnist", "--sweep", rawSweep, "-o", page])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(!html.contains("this file ("), "\(html.suffix(2000))")
        #expect(html.contains("This file is not drawn: verify fed it inputs × 1/255 + 0 (layout features), the sweep its original inputs × 1 + 0 "
                              + "(layout features): they ran with other --input-scale, --input-offset or --input-layout."), "\(html.suffix(2000))")

        // The same sweep as written before sweeps recorded their preprocessing: drawn, with a note that it could not be checked.
        object["preprocessing"] = nil
        let old = try scratch.write(Array(try JSONSerialization.data(withJSONObject: object)), to: "old.json")
        let oldPage = scratch.file("o.html")
        #expect(try ChildProcess.run(["report", model, "--reference", Self.sample, "--dataset", "mnist", "--sweep", old, "-o", oldPage]).status == 0)
        let oldHTML = try String(contentsOfFile: oldPage, encoding: .utf8)
        #expect(oldHTML.contains("this file ("))
        #expect(oldHTML.contains("The sweep does not record the preprocessing it ran with"), "\(oldHTML.suffix(2000))")

        // A "preprocessing" that is not a sweep's: refused, exit 65, one line, nothing written.
        object["preprocessing"] = ["scale": "1/255", "offset": [], "layout": "features"]
        let bad = try scratch.write(Array(try JSONSerialization.data(withJSONObject: object)), to: "bad.json")
        let badPage = scratch.file("b.html")
        let refused = try ChildProcess.run(["report", model, "--sweep", bad, "-o", badPage])
        #expect(refused.status == 65 && refused.stderr.split(separator: "\n").count == 1
                && refused.stderr.contains("bad.json: not the JSON of `lrm sweep --json`: its \"preprocessing\""), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: badPage))
    }
}
