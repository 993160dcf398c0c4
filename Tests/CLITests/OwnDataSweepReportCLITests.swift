import Foundation
import LRMTestSupport
import Testing

/// `lrm sweep` and `lrm report` on the own-data samples: a binary classifier (samples/churn*) and a
/// regressor (samples/housing*), scored as their task (before, both commands refused anything but
/// multi-class accuracy).
@Suite("Own data in sweep and report")
struct OwnDataSweepReportCLITests {
    let samples = TestPackage.root + "/samples/"
    var churn: [String] { ["--inputs", samples + "churn.csv", "--label-column", "churned"] }
    var housing: [String] { ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"] }

    func kerasRecord(_ key: String) throws -> [String: Any] {
        let all = try jsonObject(try String(contentsOfFile: samples + "tabular_samples.json", encoding: .utf8))
        return try #require(all[key] as? [String: Any])
    }

    /// The sweep's points by method and parameter.
    func point(_ points: [[String: Any]], _ method: String, _ parameter: Double) -> [String: Any]? {
        points.first { $0["method"] as? String == method && abs(($0["parameter"] as? Double ?? -1) - parameter) < 1e-12 }
    }

    @Test("sweep of a binary classifier: accuracy at the threshold (Keras's on the original), F1, ROC AUC, decision agreement")
    func binarySweep() throws {
        let scratch = try Scratch()
        let run = try ChildProcess.run(["sweep", samples + "churn_mlp.h5"] + churn + ["--taus", "0.5,0.9,0.99", "--json", "--csv", scratch.file("s.csv")])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try jsonObject(run.stdout)
        #expect(report["task"] as? String == "binary")
        let original = try #require(report["original"] as? [String: Any])
        #expect(abs((original["accuracy"] as? Double ?? -1) - (try kerasRecord("churn")["test_accuracy"] as? Double ?? 9)) < 1e-9)
        #expect(original["samples"] as? Int == 400)
        #expect(original["threshold"] as? Double == 0.5)
        #expect((original["roc_auc"] as? Double ?? 0) > 0.7)
        let points = try #require(report["points"] as? [[String: Any]])
        #expect(points.count == 18)
        // At τ = 0.99 every layer stays dense: the original's scores exactly, every decision the same.
        let dense = try #require(point(points, "energy", 0.99))
        #expect(dense["accuracy"] as? Double == original["accuracy"] as? Double)
        #expect(dense["roc_auc"] as? Double == original["roc_auc"] as? Double)
        #expect(dense["agreement"] as? Double == 1)
        // At τ = 0.5 layers are cut: fewer parameters, and decisions that are no longer all the same.
        let cut = try #require(point(points, "energy", 0.5))
        #expect((cut["hidden_fraction"] as? Double ?? 1) < 0.5)
        #expect((cut["agreement"] as? Double ?? 1) < 1)
        for p in points {
            #expect(p["f1"] is Double && p["correct"] is Int && p["f1_macro"] == nil, "\(p)")
        }
        let csv = try String(contentsOfFile: scratch.file("s.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("method,parameter,ranks,parameters,compression_ratio,hidden_fraction,accuracy,correct,f1,roc_auc,agreement,"))
        #expect(csv.split(separator: "\n").count == 19)

        let text = try ChildProcess.run(["sweep", samples + "churn_mlp.h5"] + churn + ["--taus", "0.9"])
        #expect(text.status == 0, "\(text.stderr)")
        for expected in ["original: accuracy 78.50% (output ≥ 0.5)", "ROC AUC", "F1", "agree"] {
            #expect(text.stdout.contains(expected), "\(expected) missing: \(text.stdout)")
        }
    }

    @Test("sweep of a regressor: RMSE (Keras's on the original), its change in percent, MAE, R²; --fine's summary within 1% and 5% of RMSE")
    func regressionSweep() throws {
        let run = try ChildProcess.run(["sweep", samples + "housing_mlp.h5"] + housing + ["--taus", "0.5,0.999", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try jsonObject(run.stdout)
        #expect(report["task"] as? String == "regression")
        let original = try #require(report["original"] as? [String: Any])
        let keras = try kerasRecord("housing")
        for (ours, theirs) in [("rmse", "test_rmse"), ("mae", "test_mae"), ("r2", "test_r2")] {
            let a = original[ours] as? Double ?? .nan, b = keras[theirs] as? Double ?? .nan
            #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "\(ours) \(a) vs Keras \(b)")
        }
        let points = try #require(report["points"] as? [[String: Any]])
        let cut = try #require(point(points, "energy", 0.5))
        let rmse = cut["rmse"] as? Double ?? .nan, base = original["rmse"] as? Double ?? .nan
        // The change is (RMSE − RMSE₀)/RMSE₀ in percent, the unit of --target-metric-drop.
        #expect(abs((cut["rmse_change_percent"] as? Double ?? .nan) - (rmse - base) / base * 100) < 1e-9)
        #expect(rmse > base, "a rank cut at τ = 0.5 should cost some RMSE: \(cut)")
        for p in points { #expect(p["accuracy"] == nil && p["agreement"] == nil && p["mae"] is Double, "\(p)") }

        let fine = try ChildProcess.run(["sweep", samples + "housing_mlp.h5"] + housing + ["--fine"])
        #expect(fine.status == 0, "\(fine.stderr)")
        for expected in ["original: RMSE", "Δ RMSE", "R²", "within an RMSE increase of", "≤ 1%", "≤ 5%", "whitened"] {
            #expect(fine.stdout.contains(expected), "\(expected) missing: \(fine.stdout)")
        }
    }

    @Test("report on own data: the binary and regression metrics of both models, and a regression sweep plotted as RMSE")
    func reports() throws {
        let scratch = try Scratch()
        // A compressed regressor, its sweep, and the page.
        let lrm = scratch.file("housing.lrm")
        let convert = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "energy:0.9", "-o", lrm])
        #expect(convert.status == 0, "\(convert.stderr)")
        let sweep = try ChildProcess.run(["sweep", samples + "housing_mlp.h5"] + housing + ["--taus", "0.9", "--json"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        try sweep.stdout.write(toFile: scratch.file("sweep.json"), atomically: true, encoding: .utf8)
        let verify = try jsonObject(try ChildProcess.run(["verify", lrm, "--reference", samples + "housing_mlp.h5"] + housing + ["--json"]).stdout)
        let compressed = try #require(verify["compressed"] as? [String: Any])
        let html = scratch.file("housing.html")
        let report = try ChildProcess.run(["report", lrm, "-o", html, "--reference", samples + "housing_mlp.h5", "--sweep", scratch.file("sweep.json")] + housing)
        #expect(report.status == 0, "\(report.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        // The page shows the RMSE verify measured, and plots the sweep's RMSE rather than an accuracy of 0%.
        let rmse = String(format: "%.6g", compressed["rmse"] as? Double ?? .nan)
        for expected in ["Task: regression, 400 samples", "<td class=\"l\">RMSE</td>", "<td>\(rmse)</td>", "RMSE against compression ratio"] {
            #expect(page.contains(expected), "\(expected) missing from the page")
        }
        #expect(!page.contains("Accuracy against compression ratio"))

        // A binary classifier's page: accuracy at the threshold and ROC AUC for both models.
        let churnLRM = scratch.file("churn.lrm")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "energy:0.9", "-o", churnLRM]).status == 0)
        let churnHTML = scratch.file("churn.html")
        let binary = try ChildProcess.run(["report", churnLRM, "-o", churnHTML, "--reference", samples + "churn_mlp.h5"] + churn)
        #expect(binary.status == 0, "\(binary.stderr)")
        let churnPage = try String(contentsOfFile: churnHTML, encoding: .utf8)
        for expected in ["Task: binary classification, 400 samples", "accuracy (output ≥ 0.5)", "ROC AUC", "<th>reference</th>", "Agreement:",
                         "<td>78.50%</td>"] {
            #expect(churnPage.contains(expected), "\(expected) missing from the page")
        }
    }

    /// The numeric tick labels of the chart titled `title` in `page`: along the x axis (centred under their ticks) and the y axis
    /// (right-aligned beside them).
    func tickLabels(_ page: String, chart title: String) throws -> (x: [Double], y: [Double]) {
        let svg = try #require(page.components(separatedBy: "<svg").first { $0.contains(title) }, "no chart \(title)")
        func labels(_ anchor: String) -> [Double] {
            svg.components(separatedBy: "text-anchor=\"\(anchor)\">").dropFirst().compactMap { Double($0.prefix { $0 != "<" }) }
        }
        return (labels("middle"), labels("end"))
    }

    /// Before: a log axis was given the ticks 1, 2 and 5 of each decade that fell inside it, so the sweep's ratios (1 to
    /// 1.42 on churn) had one tick, "1"; and the singular values' axis (whole decades) one per decade.
    @Test("report's log axes have readable ticks: a sweep's narrow ratio range gets even steps, a one-decade axis 1, 2, 5, 10")
    func logAxisTicks() throws {
        let scratch = try Scratch()
        let sweep = try ChildProcess.run(["sweep", samples + "churn_mlp.h5"] + churn + ["--json"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        try sweep.stdout.write(toFile: scratch.file("sweep.json"), atomically: true, encoding: .utf8)
        let ratios = try #require(try jsonObject(sweep.stdout)["points"] as? [[String: Any]]).compactMap { $0["compression_ratio"] as? Double }
        let (low, high) = (try #require(ratios.min()), try #require(ratios.max()))
        #expect(low >= 1 && high < 2, "the churn sweep's ratios are \(low)…\(high)")
        let lrm = scratch.file("churn.lrm"), html = scratch.file("churn.html")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "energy:0.9", "-o", lrm]).status == 0)
        let report = try ChildProcess.run(["report", lrm, "-o", html, "--sweep", scratch.file("sweep.json")])
        #expect(report.status == 0, "\(report.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let ratioTicks = try tickLabels(page, chart: "Accuracy against compression ratio").x
        #expect(ratioTicks.count >= 4 && ratioTicks == ratioTicks.sorted(), "\(ratioTicks)")
        // Evenly spaced in value, within the range plotted.
        let steps = zip(ratioTicks.dropFirst(), ratioTicks).map { $0 - $1 }
        #expect(steps.allSatisfy { abs($0 - steps[0]) < 1e-9 }, "\(ratioTicks)")
        #expect(ratioTicks.allSatisfy { $0 >= low - 1e-9 && $0 <= high + 1e-9 }, "\(ratioTicks) outside \(low)…\(high)")
        // dense_1's singular values span one decade on churn (its σ from 1 to 10): 1, 2, 5 and 10, not just the decade's ends.
        let singular = try tickLabels(page, chart: "Singular values").y
        #expect(Array(singular.prefix(4)) == [1, 2, 5, 10], "\(singular)")

        // The sweep's points keep clear of the plot's edges (before: the loosest points, near 1×, sat on the left edge,
        // and the best and worst accuracies on the top and bottom ones).
        let chart = try #require(page.components(separatedBy: "<svg").first { $0.contains("Accuracy against compression ratio") })
        func number(_ text: Substring, after key: String) -> Double? {
            text.components(separatedBy: key + "=\"").dropFirst().first.flatMap { Double($0.prefix { $0 != "\"" }) }
        }
        let rect = try #require(chart.components(separatedBy: "<rect ").dropFirst().first.map { Substring($0) })
        let (x, y) = (try #require(number(rect, after: "x")), try #require(number(rect, after: "y")))
        let (width, height) = (try #require(number(rect, after: "width")), try #require(number(rect, after: "height")))
        let circles = chart.components(separatedBy: "<circle ").dropFirst().map { Substring($0) }
        let centres = circles.compactMap { c in number(c, after: "cx").flatMap { cx in number(c, after: "cy").map { (cx, $0) } } }
        #expect(centres.count == ratios.count, "\(centres.count) points plotted of \(ratios.count)")
        for (cx, cy) in centres {
            #expect(cx >= x + 8 && cx <= x + width - 8 && cy >= y + 8 && cy <= y + height - 8,
                    "point (\(cx), \(cy)) within 8 px of the plot's edges (\(x), \(y), \(width)×\(height))")
        }
    }
}
