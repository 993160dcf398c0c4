import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// What the outputs call a layer agree across commands: verify's and report's Weights tables name the file's kind as
/// inspect does.
@Suite("what verify, report and inspect say of a layer, alike")
struct FileKindCLITests {
    static let samples = TestPackage.root + "/samples/"
    static let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]

    /// The text of `lrm verify`'s Weights table: from its title to the first blank line.
    static func weightsTable(_ text: String) -> String {
        let lines = text.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Weights (") }) else { return "" }
        return lines[start...].prefix { !$0.isEmpty }.joined(separator: "\n")
    }

    @Test("verify's Weights table (text, JSON) and report's name an i8 layer quantized_factorized_dense, as inspect does (before: factorized_dense)")
    func quantizedKind() throws {
        let scratch = try Scratch()
        let quantized = scratch.file("q.lrm")
        let convert = try ChildProcess.run(["convert", Self.samples + "churn_mlp.h5", "--policy", "rank:8", "--factor-dtype", "i8", "-o", quantized])
        #expect(convert.status == 0, "\(convert.stderr)")
        let inspect = try ChildProcess.run(["inspect", quantized, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let fileKinds = Dictionary(uniqueKeysWithValues: try #require(try jsonObject(inspect.stdout)["layers"] as? [[String: Any]]).compactMap { layer in
            (layer["name"] as? String).map { ($0, layer["kind"] as? String ?? "") }
        })
        #expect(fileKinds.values.contains("quantized_factorized_dense"), "\(fileKinds)")

        let verify = ["verify", quantized, "--reference", Self.samples + "churn_mlp.h5"] + Self.data + ["--max-accuracy-drop", "100"]
        let json = try ChildProcess.run(verify + ["--json"])
        #expect(json.status == 0, "\(json.stdout)\(json.stderr)")
        let layers = try #require(try jsonObject(json.stdout)["layers"] as? [[String: Any]])
        #expect(layers.contains { $0["kind"] as? String == "quantized_factorized_dense" }, "\(layers)")
        for layer in layers {
            let name = layer["name"] as? String ?? ""
            #expect(layer["kind"] as? String == fileKinds[name], "\(name): verify says \(layer["kind"] ?? "nil"), inspect \(fileKinds[name] ?? "nil")")
        }

        let text = try ChildProcess.run(verify)
        #expect(text.status == 0, "\(text.stdout)\(text.stderr)")
        let table = Self.weightsTable(text.stdout)
        #expect(table.contains(" quantized_factorized_dense "), "\(table)")
        #expect(!table.contains(" factorized_dense "), "\(table)")

        let page = scratch.file("r.html")
        let report = try ChildProcess.run(["report", quantized, "--reference", Self.samples + "churn_mlp.h5", "-o", page] + Self.data)
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        // Verify's Weights table on the page: the one with the measured energy.
        let start = try #require(html.range(of: "<th>energy (measured)</th>"))
        let weights = html[start.upperBound...]
        let end = weights.range(of: "</table>")?.lowerBound ?? weights.endIndex
        let section = weights[..<end]
        #expect(section.contains("<td class=\"l\">quantized_factorized_dense</td>"), "\(section)")
        #expect(!section.contains("<td class=\"l\">factorized_dense</td>"), "\(section)")
    }
}
