import Foundation
import LRMFormat
import LRMVerify

/// The page `lrm report` writes.
struct HTMLReport {
    var file: ContainerFile
    /// The model's name (the file's header).
    var name: String
    var verification: VerificationReport?
    var sweep: [(method: String, ratio: Double, accuracy: Double)]
    var sweepBaseline: Double?
    var reference: String?
    /// The verify section of a binary or regression model (own data).
    var taskVerification: TaskReport?
    /// Whether the sweep's values are RMSE (a regression sweep) rather than accuracy (0–1).
    var sweepRegression = false
    /// Which model and data set the sweep is of, and its file (shown above its chart).
    var sweepSource: String?
    /// This file on the sweep's chart: its compression ratio and its accuracy (a regression's RMSE) in verify's evaluation, when that
    /// evaluation is the sweep's (the same data set, split and records); nil otherwise.
    var sweepFilePoint: (ratio: Double, accuracy: Double)?
    /// Why this file is not on the sweep's chart (shown under it), when verify ran on other records than the sweep, scored or
    /// fed them otherwise; or, with the point, that the sweep does not record its preprocessing.
    var sweepFileNote: String?

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    func e(_ text: String) -> String { SVGChart.escape(text) }

    func render() -> String {
        let summary = ModelSummary(header: file.header)
        var body = ""
        body += "<h1>\(e(name.isEmpty ? (file.path as NSString).lastPathComponent : name))</h1>"
        body += "<p class=\"sub\">\(e(file.path)) · lrm format \(file.majorVersion).\(file.minorVersion) · \(Format.bytes(file.fileByteCount)) · "
            + "\(Format.count(summary.parametersAfter)) parameters stored of \(Format.count(summary.parametersBefore)) "
            + "(compression \(Format.ratio(summary.compressionRatio)))</p>"
        body += layerTable(summary)
        for row in summary.layers {
            guard let f = row.factorization else { continue }
            let what = row.convolutionForm.map { "convolution \(HTMLReport.shape(row)), \($0.name) form \(f.inFeatures)×\(f.outFeatures)" }
                ?? "\(f.inFeatures)×\(f.outFeatures)"
            body += "<section><h2>Layer \(e(row.name)): \(what) → rank \(f.rank)</h2>"
            body += "<p>policy \(e(f.policy)) \(e(InspectReport.shortNumber(f.policyParameter))), \(e(f.method)); retained energy "
                + "\(Format.fixed(f.retainedEnergy, 4))\(HTMLReport.energyIsTruncations(row) ? " (truncation's)" : ""), relative error \(Format.fixed(f.relativeError, 4)); parameters "
                + "\(Format.count(row.parametersBefore)) → \(Format.count(row.parametersAfter)) (\(Format.ratio(row.compressionRatio)))</p>"
            body += "<div class=\"charts\">" + spectrumChart(f) + energyChart(f) + "</div></section>"
        }
        if let verification { body += verifySection(verification) }
        if let taskVerification { body += taskVerifySection(taskVerification) }
        if !sweep.isEmpty { body += sweepSection() }
        body += "<p class=\"foot\">Made by lrm \(LRM.version). Compression ratio = original parameters ÷ stored parameters, every weight and bias counted.</p>"
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>lrm report: \(e(name))</title>
            <style>
            body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px 32px; color: #222; max-width: 1300px; }
            h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 16px; margin: 22px 0 4px; }
            .sub, .foot { color: #666; font-size: 13px; } table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
            th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; } th { background: #f2f2f2; }
            td.l, th.l { text-align: left; } .charts { display: flex; flex-wrap: wrap; gap: 12px; }
            .pass { color: #2ca02c; font-weight: bold; } .fail { color: #d62728; font-weight: bold; }
            </style></head><body>
            \(body)
            </body></html>

            """
    }

    /// A layer's weights for people: "784→128" for a dense layer, "3×3×16→32" for a convolution (kh×kw×cin→cout),
    /// "3×3×16 depthwise, ×1" for a depthwise one; empty for layers without weights.
    static func shape(_ row: ModelSummary.LayerRow) -> String {
        if let k = row.kernelShape, k.count == 4 {
            return row.kind == "depthwise_conv2d" ? "\(k[0])×\(k[1])×\(k[2]) depthwise, ×\(k[3])" : "\(k[0])×\(k[1])×\(k[2])→\(k[3])"
        }
        return row.inFeatures.map { "\($0)→\(row.outFeatures ?? 0)" } ?? ""
    }

    func layerTable(_ summary: ModelSummary) -> String {
        var html = "<h2>Layers</h2><p class=\"sub\">input \(summary.inputShape.map(String.init).joined(separator: "×")); "
            + "a convolution's kernel is kh×kw×cin→cout; its form is how it was factorized (channel: a kh×kw convolution then a 1×1 one; "
            + "spatial: kh×1 then 1×kw) and the matrix that was split; MACs are multiply-accumulates per sample</p>"
        html += "<table><tr><th class=\"l\">layer</th><th class=\"l\">kind</th><th>weights</th><th class=\"l\">form (matrix)</th>"
            + "<th>output</th><th>rank</th><th>energy</th><th>rel. error</th><th>params before</th><th>params after</th><th>ratio</th>"
            + "<th>MACs before</th><th>MACs after</th><th>bytes</th><th>bits/param</th></tr>"
        for row in summary.layers {
            let f = row.factorization
            let form = row.convolutionForm.map { "\($0.name) \(f.map { "\($0.inFeatures)×\($0.outFeatures)" } ?? "")" } ?? ""
            html += "<tr><td class=\"l\">\(e(row.name))</td><td class=\"l\">\(e(row.kind))\(row.activation.map { $0 == .linear ? "" : " (\($0.name))" } ?? "")\(row.parametricActivation.map { " (\(e($0.summary)))" } ?? "")\(row.epsilon.map { " (epsilon \($0))" } ?? "")\(row.kerasClass.map { " [\(e($0))]" } ?? "")\(row.slots.map { " [\(e($0))]" } ?? "")</td>"
                + "<td>\(HTMLReport.shape(row))</td><td class=\"l\">\(form)</td><td>\(row.outputShape.map(String.init).joined(separator: "×"))</td>"
                + "<td>\(f.map { String($0.rank) } ?? "")</td>"
                + "<td>\(f.map { Format.fixed($0.retainedEnergy, 4) + (HTMLReport.energyIsTruncations(row) ? " (truncation's)" : "") } ?? "")</td><td>\(f.map { Format.fixed($0.relativeError, 4) } ?? "")</td>"
                + "<td>\(row.parametersBefore == 0 ? "" : Format.count(row.parametersBefore))</td>"
                + "<td>\(row.parametersAfter == 0 ? "" : Format.count(row.parametersAfter))</td>"
                + "<td>\(row.parametersBefore == 0 ? "" : Format.ratio(row.compressionRatio))</td>"
                + "<td>\(row.macsBefore == 0 ? "" : Format.count(row.macsBefore))</td><td>\(row.macsAfter == 0 ? "" : Format.count(row.macsAfter))</td>"
                + "<td>\(row.storedBytes == 0 ? "" : Format.count(row.storedBytes))</td>"
                + "<td>\(row.bitsPerParameter.map { String(format: "%.2f", $0) } ?? "")</td></tr>"
        }
        html += "<tr><th class=\"l\">total</th><th></th><th></th><th></th><th></th><th></th><th></th><th></th><th>\(Format.count(summary.parametersBefore))</th>"
            + "<th>\(Format.count(summary.parametersAfter))</th><th>\(Format.ratio(summary.compressionRatio))</th>"
            + "<th>\(summary.macsBefore == 0 ? "" : Format.count(summary.macsBefore))</th><th>\(summary.macsAfter == 0 ? "" : Format.count(summary.macsAfter))</th>"
            + "<th>\(Format.count(summary.storedBytes))</th><th>\(summary.bitsPerParameter.map { String(format: "%.2f", $0) } ?? "")</th></tr></table>"
        if summary.layers.contains(where: HTMLReport.energyIsTruncations) {
            html += "<p class=\"sub\">" + e(HTMLReport.truncationsEnergyNote) + "</p>"
        }
        if summary.layers.contains(where: { $0.kerasClass != nil }) { html += "<p class=\"sub\">" + e(sourceKerasClassNote) + "</p>" }
        return html
    }

    /// Whether a layer's recorded energy is the truncation's its stored factors started from, not theirs: they were refitted
    /// or fine-tuned since (`+refit`, `+finetune`) or rounded to integer codes (as verify's Weights table and inspect say it).
    static func energyIsTruncations(_ row: ModelSummary.LayerRow) -> Bool { row.energyIsTruncations }

    static let truncationsEnergyNote = "An energy marked (truncation's) is that of the truncation the stored factors started from: "
        + "they were refitted, fine-tuned or rounded to integer codes since, so it is not their own 1 − e² "
        + "(lrm verify --reference measures that)."

    func spectrumChart(_ f: Factorization) -> String {
        let points = f.singularValues.enumerated().map { (x: Double($0.offset + 1), y: $0.element) }
        var chart = SVGChart(title: "Singular values\(metricSuffix(f)) (log scale)", xLabel: "index i", yLabel: "σᵢ",
                             series: [.init(name: "σ", points: points, color: HTMLReport.palette[0])], logY: true)
        chart.verticalMarkers = [(Double(f.rank), "cut k = \(f.rank)")]
        return chart.render()
    }

    /// " of Lᵀ·W (whitened)" and the like, when the spectrum is not W's own.
    func metricSuffix(_ f: Factorization) -> String {
        if f.method.hasPrefix("whitened") { return " of Lᵀ·W (whitened)" }
        if f.method.hasPrefix("activation-scaled") { return " of S·W (activation-scaled)" }
        return ""
    }

    func energyChart(_ f: Factorization) -> String {
        let total = f.singularValues.reduce(0) { $0 + $1 * $1 }
        var cumulative = 0.0
        let points = f.singularValues.enumerated().map { index, sigma -> (x: Double, y: Double) in
            cumulative += sigma * sigma
            return (Double(index + 1), total > 0 ? cumulative / total : 0)
        }
        var chart = SVGChart(title: "Cumulative energy Σᵢ≤ₖ σᵢ² / Σ σᵢ²\(metricSuffix(f))", xLabel: "rank k", yLabel: "energy kept",
                             series: [.init(name: "energy", points: points, color: HTMLReport.palette[2])], yRange: 0...1)
        chart.markerLabelsAtBottom = true
        chart.verticalMarkers = [(Double(f.rank), "k = \(f.rank)")]
        if f.policy == "energy" || f.policy == "error" {
            let tau = f.policy == "energy" ? f.policyParameter : 1 - f.policyParameter * f.policyParameter
            chart.horizontalMarkers = [(tau, "τ = \(InspectReport.shortNumber(tau))")]
        } else {
            chart.horizontalMarkers = [(f.retainedEnergy, "kept \(Format.fixed(f.retainedEnergy, 3))")]
        }
        return chart.render()
    }

    /// The verification's result line, as verify's result for the same files (any task): a report checks no thresholds, only
    /// that each layer's weights agree with the file's record and compute what the reference's do (with a reference), so it
    /// says PASS only where verify would, and a FAIL's reasons.
    func resultLine(_ result: VerificationResult, layers: [LayerFidelity], checks: [VerificationCheck]) -> String {
        let outcome: String
        switch result {
        case .fail:
            let reasons = (layers.contains { $0.agreesWithRecord == false } ? ["a layer's weights disagree with the file's record"] : [])
                + (layers.contains { $0.operationMismatch != nil } ? ["a layer's activation or convolution geometry is not the reference's"] : [])
                + (checks.contains { check in !check.passed && check.name.hasPrefix("operation ") && !layers.contains { "operation " + $0.name == check.name } }
                   ? ["a layer without weights (an activation, pooling, padding, merge, …) does not compute what the reference's does"] : [])
            outcome = "<span class=\"fail\">FAIL</span>: " + reasons.joined(separator: "; ")
        case .pass: outcome = "<span class=\"pass\">PASS</span>"
        case .noChecks:
            // Where some records were not checked, the agreement is said of the layers checked only, and the others counted.
            let agreeing = layers.filter { $0.agreesWithRecord == true }.count, unchecked = layers.filter { $0.recordNotChecked != nil }.count
            var records = ""
            if agreeing > 0 {
                records = unchecked == 0 ? "<span class=\"pass\">weights agree with the file's record</span>"
                    : "<span class=\"pass\">\(agreeing == 1 ? "1 layer's weights agree" : "\(agreeing) layers' weights agree") with the file's record</span>"
            }
            if unchecked > 0 {
                records += (records.isEmpty ? "" : ", ") + (unchecked == 1 ? "1 layer's record is" : "\(unchecked) layers' records are")
                    + " not checked (the Weights table says why)"
            }
            outcome = (records.isEmpty ? "" : records + "; ") + "no thresholds checked (<code>lrm verify</code> checks them)"
        }
        return "<p>Result: \(outcome)" + (reference.map { " — compared with \(e($0))" } ?? "") + "</p>"
    }

    func verifySection(_ r: VerificationReport) -> String {
        var html = "<h2>Verification on \(e(r.dataset))</h2>"
        html += resultLine(r.result, layers: r.layers, checks: r.checks)
        html += "<table><tr><th class=\"l\">metric</th>\(r.reference == nil ? "" : "<th>reference</th>")<th>compressed</th></tr>"
        func row(_ name: String, _ pick: (ClassificationMetrics) -> Double?) {
            guard let value = pick(r.candidate) else { return }
            html += "<tr><td class=\"l\">\(name)</td>" + (r.reference.flatMap(pick).map { "<td>\(Format.fixed($0 * 100, 2))%</td>" } ?? "")
                + "<td>\(Format.fixed(value * 100, 2))%</td></tr>"
        }
        row("accuracy") { $0.accuracy }
        row("macro-F1") { $0.macroF1 }
        row("weighted-F1") { $0.weightedF1 }
        row("top-5 accuracy") { $0.top5Accuracy }
        html += "</table>"
        if let c = r.comparison {
            html += "<p>Agreement: \(Format.fixed(Double(c.agreementCount) / Double(max(1, c.sampleCount)) * 100, 2))% of top-1 predictions "
                + "identical (\(Format.count(c.agreementCount)) of \(Format.count(c.sampleCount))); largest |Δ output| "
                + "\(String(format: "%.3g", c.maxAbsoluteDifference)).</p>"
        }
        return html + weightsTable(r.layers)
    }

    /// The per-layer comparison with the reference (empty without one): verify's Weights table, with its columns (the
    /// "file says" cell as verify writes it) and the notes below it.
    func weightsTable(_ layers: [LayerFidelity]) -> String {
        var html = ""
        if !layers.isEmpty {
            html += "<table><tr><th class=\"l\">layer</th><th class=\"l\">kind</th><th>weights</th><th class=\"l\">form (matrix)</th><th>rank</th>"
                + "<th>rel. error</th><th>energy (measured)</th><th>bytes</th><th class=\"l\">file says</th><th>agrees with file</th></tr>"
            for l in layers {
                html += "<tr><td class=\"l\">\(e(l.name))</td><td class=\"l\">\(e(kindText(l.kind, kerasClass: l.kerasClass, escape: { $0 })))</td><td>\(e(l.shapeText))</td><td class=\"l\">\(e(l.formText))</td>"
                    + "<td>\(l.rank.map(String.init) ?? "")</td><td>\(e(l.measuredErrorText))</td>"
                    + "<td>\(e(l.measuredEnergyText))</td><td>\(Format.count(l.storedBytes))</td>"
                    + "<td class=\"l\">\(e(VerifyText.recordText(l)))</td><td>\(e(l.recordCheckText))</td></tr>"
            }
            html += "</table>"
            for note in VerifyText.weightsNotes(layers) { html += "<p class=\"sub\">\(e(note)).</p>" }
        }
        return html
    }

    /// The verification of a binary classifier or a regressor: the task's metrics for each model.
    func taskVerifySection(_ r: TaskReport) -> String {
        var html = "<h2>Verification on \(e(r.dataset))</h2>"
        html += resultLine(r.result, layers: r.layers, checks: r.checks)
        html += "<p>Task: \(r.task == .binary ? "binary classification" : "regression"), \(Format.count(r.sampleCount)) samples</p>"
        html += "<table><tr><th class=\"l\">metric</th>\(r.reference == nil ? "" : "<th>reference</th>")<th>compressed</th></tr>"
        func row(_ name: String, _ candidate: Double?, _ reference: Double?, percent: Bool) {
            func show(_ value: Double?) -> String {
                guard let value else { return "n/a" }
                return percent ? Format.fixed(value * 100, 2) + "%" : String(format: "%.6g", value)
            }
            html += "<tr><td class=\"l\">\(e(name))</td>" + (r.reference == nil ? "" : "<td>\(show(reference))</td>") + "<td>\(show(candidate))</td></tr>"
        }
        switch (r.candidate, r.reference) {
        case (.binary(let c), let base):
            var b: BinaryMetrics?
            if case .binary(let m)? = base { b = m }
            row(String(format: "accuracy (output ≥ %g)", c.threshold), c.accuracy, b?.accuracy, percent: true)
            row("F1 (positive class)", c.f1, b?.f1, percent: true)
            row("precision", c.precision, b?.precision, percent: true)
            row("recall", c.recall, b?.recall, percent: true)
            row("ROC AUC", c.rocAUC, b?.rocAUC, percent: false)
        case (.regression(let c), let base):
            var b: RegressionMetrics?
            if case .regression(let m)? = base { b = m }
            row("MAE", c.meanAbsoluteError, b?.meanAbsoluteError, percent: false)
            row("RMSE", c.rootMeanSquaredError, b?.rootMeanSquaredError, percent: false)
            row("R²", c.r2, b?.r2, percent: false)
        }
        html += "</table>"
        if r.reference != nil {
            var comparison = "Largest |Δ output| \(String(format: "%.3g", r.maxAbsoluteDifference)), mean \(String(format: "%.3g", r.meanAbsoluteDifference))"
            if let agreeing = r.agreeingSamples {
                comparison = "Agreement: \(Format.fixed(Double(agreeing) / Double(max(1, r.sampleCount)) * 100, 2))% of decisions identical "
                    + "(\(Format.count(agreeing)) of \(Format.count(r.sampleCount))); " + comparison.prefix(1).lowercased() + comparison.dropFirst()
            }
            html += "<p>\(comparison).</p>"
        }
        return html + weightsTable(r.layers)
    }

    func sweepSection() -> String {
        var methods: [String] = []
        for p in sweep where !methods.contains(p.method) { methods.append(p.method) }
        // Accuracy is plotted in percent; a regression sweep's RMSE as it is.
        let factor = sweepRegression ? 1.0 : 100
        var series = methods.enumerated().map { index, method in
            SVGChart.Series(name: method, points: sweep.filter { $0.method == method }.map { (x: $0.ratio, y: $0.accuracy * factor) }
                .sorted { $0.x < $1.x }, color: HTMLReport.palette[index % HTMLReport.palette.count], markers: true)
        }
        if let point = sweepFilePoint {
            // One black point, no line: where this file sits among the sweep's methods.
            let score = sweepRegression ? "RMSE " + String(format: "%.4g", point.accuracy) : "\(Format.fixed(point.accuracy * 100, 2))%"
            series.append(SVGChart.Series(name: "this file (\(Format.ratio(point.ratio)), \(score))",
                                          points: [(x: point.ratio, y: point.accuracy * factor)], color: "#000000", markers: true, line: false))
        }
        var chart = SVGChart(title: "\(sweepRegression ? "RMSE" : "Accuracy") against compression ratio (log scale)",
                             xLabel: "compression ratio (original ÷ stored parameters)",
                             yLabel: sweepRegression ? "RMSE" : "accuracy (%)", series: series, logX: true, width: 860, height: 400)
        // The first and last points (the loosest sweep point is near 1×) would sit on the plot's edges.
        chart.xMargin = 0.04
        chart.yMargin = 0.05
        if let sweepBaseline {
            let label = sweepRegression ? String(format: "original %.4g", sweepBaseline) : "original \(Format.fixed(sweepBaseline * 100, 2))%"
            chart.horizontalMarkers = [(sweepBaseline * factor, label)]
        }
        return "<h2>Sweep</h2>" + (sweepSource.map { "<p class=\"sub\">\(e($0))</p>" } ?? "") + chart.render()
            + (sweepFileNote.map { "<p class=\"sub\">\(e($0))</p>" } ?? "")
    }
}
