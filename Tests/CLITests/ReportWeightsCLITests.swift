import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// The weights table of `lrm report --reference`: verify's Weights table, in HTML.
@Suite("The report's weights table")
struct ReportWeightsCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("report's weights table has verify's 'file says' column, each cell as verify's text writes it ('e ≈…', '(truncation's)'), and verify's notes below it (was: no such column, and neither the '(truncation's)' nor the '≈' note)")
    func fileSaysColumn() throws {
        let scratch = try Scratch()
        let codes = scratch.file("i4.lrm"), output = scratch.file("re.lrm"), page = scratch.file("r.html")
        // i4 codes re-truncated in float: dense_1's error is an estimate (e ≈) and its energy the truncation's.
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--factor-dtype", "i4", "-o", codes]).status == 0)
        let second = try ChildProcess.run(["convert", codes, "--policy", "rank:4", "-o", output])
        #expect(second.status == 0, "\(second.stderr)")
        let data = ["--reference", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv", "--label-column", "churned"]
        let verify = try ChildProcess.run(["verify", output] + data + ["--max-accuracy-drop", "100"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let report = try ChildProcess.run(["report", output, "-o", page] + data)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("<th class=\"l\">file says</th><th>agrees with file</th>"), "\(html)")

        // Each factorized layer's cell, as verify's table has it.
        let cell = try NSRegularExpression(pattern: #"e ≈?[0-9]\.[0-9]{4}, energy [0-9]\.[0-9]{4}( \([a-z-]+\))?( \(truncation's\))?"#)
        var cells: [String] = []
        for line in verify.stdout.split(separator: "\n").map(String.init) where line.hasPrefix("  dense_") {
            if let match = cell.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), let range = Range(match.range, in: line) {
                cells.append(String(line[range]))
            }
        }
        #expect(cells.count == 2 && cells.contains { $0.hasPrefix("e ≈") && $0.hasSuffix("(truncation's)") }, "\(verify.stdout)")
        for text in cells {
            #expect(html.contains("<td class=\"l\">\(text)</td>"), "\(text) not in the report")
        }
        // The notes under verify's table, under the report's.
        for note in ["(truncation's): the energy the file records is that of the truncation", "≈ the file's error is its re-truncation's estimate"] {
            #expect(verify.stdout.contains(note), "\(note)")
            #expect(html.contains("<p class=\"sub\">" + note), "\(note) not in the report")
        }
    }

    @Test("report --reference with own data for a regressor and a binary classifier: the verification section has verify's result line, with the reason for a FAIL (the binary and regression sections had none; only multi-class data did)")
    func taskResultLine() throws {
        let scratch = try Scratch()
        let cases = [("housing_mlp.h5", ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]),
                     ("churn_mlp.h5", ["--inputs", samples + "churn.csv", "--label-column", "churned"])]
        for (sample, data) in cases {
            let converted = scratch.file("\(sample).lrm"), changed = scratch.file("\(sample)-linear.lrm")
            let convert = try ChildProcess.run(["convert", samples + sample, "--policy", "energy:0.9", "-o", converted])
            #expect(convert.status == 0, "\(convert.stderr)")
            // The first hidden layer's relu made linear: verify fails it (operation mismatch), the weights as recorded.
            var model = try ContainerFile(path: converted).loadModel()
            let index = try #require(model.layers.firstIndex {
                switch $0.operation {
                case .dense(_, _, .relu), .factorizedDense(_, _, _, .relu, _): true
                default: false
                }
            })
            switch model.layers[index].operation {
            case let .dense(kernel, bias, _): model.layers[index].operation = .dense(kernel: kernel, bias: bias, activation: .linear)
            case let .factorizedDense(us, vt, bias, _, f): model.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: .linear, factorization: f)
            default: Issue.record("not a dense layer")
            }
            try ContainerWriter.write(model, to: changed)
            let verify = try ChildProcess.run(["verify", changed, "--reference", samples + sample] + data)
            #expect(verify.status == 1 && verify.stdout.contains("result: FAIL"), "\(sample): \(verify)")

            for (file, expected) in [(converted, "Result: <span class=\"pass\">weights agree with the file's record</span>; no thresholds checked (<code>lrm verify</code> checks them)"),
                                     (changed, "Result: <span class=\"fail\">FAIL</span>: a layer's activation or convolution geometry is not the reference's")] {
                let page = scratch.file("\(sample)-r.html")
                let report = try ChildProcess.run(["report", file, "--reference", samples + sample, "-o", page] + data)
                #expect(report.status == 0, "\(report.stderr)")
                let html = try String(contentsOfFile: page, encoding: .utf8)
                #expect(html.contains(expected + " — compared with \(samples + sample)</p>"), "\(sample): \(html)")
                #expect(!html.contains(">PASS<"))
            }
        }
    }

    @Test("report's result line says the weights agree with the file's record only of the layers whose record was checked, and counts those not checked (it said 'weights agree with the file's record' when one layer's was not checked)")
    func resultLineCountsUncheckedRecords() throws {
        let scratch = try Scratch()
        let codes = scratch.file("codes.lrm"), converted = scratch.file("re.lrm"), unrecorded = scratch.file("unrecorded.lrm")
        // dense_2 kept whole as i8 codes, then factorized by a re-conversion: its record is checked against the original
        // through the recorded SHA-256 of the kernel it started from; without that digest it is not checked.
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "--layer", "dense_2=rank:64", "--all-kernels",
                                      "--factor-dtype", "i8", "-o", codes]).status == 0)
        #expect(try ChildProcess.run(["convert", codes, "--policy", "rank:16", "-o", converted]).status == 0)
        var model = try ContainerFile(path: converted).loadModel()
        #expect(model.metadata.removeValue(forKey: MetadataKey.conversionFromStoredSHA256) != nil)
        model.metadata.removeValue(forKey: MetadataKey.conversionFromStoredRounding)
        try ContainerWriter.write(model, to: unrecorded)
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        for (file, expected) in [(converted, "Result: <span class=\"pass\">weights agree with the file's record</span>; no thresholds checked"),
                                 (unrecorded, "Result: <span class=\"pass\">1 layer's weights agree with the file's record</span>, 1 layer's record is not "
                                  + "checked (the Weights table says why); no thresholds checked")] {
            let page = scratch.file("r.html")
            let report = try ChildProcess.run(["report", file, "--reference", samples + "churn_mlp.h5", "-o", page] + data)
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.contains(expected), "\(file): \(html)")
        }
    }
}
