import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// What the outputs call a layer and its recorded energy agree across commands: verify's and report's Weights tables name
/// the file's kind as inspect does, and inspect marks a recorded energy that is the truncation's as verify and report do.
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

    @Test("inspect marks a refitted, integer-coded or once-coded layer's energy (truncation's) with the note, JSON retained_energy_is_truncations, and the report a once-coded one; a plain truncation's not (before: unmarked)")
    func inspectMarksTruncationsEnergy() throws {
        let scratch = try Scratch()
        let original = Self.samples + "churn_mlp.h5"
        let refitted = scratch.file("w.lrm"), coded = scratch.file("q.lrm"), restored = scratch.file("f.lrm"), plain = scratch.file("p.lrm")
        // whitened: refitted after the truncation (+refit); i4: integer codes; i4 then f32: re-stored in float after rounding.
        for (arguments, output) in [(["--policy", "whitened:0.9"] + Self.data, refitted), (["--policy", "rank:8", "--factor-dtype", "i4"], coded),
                                    (["--policy", "rank:8"], plain)] {
            let convert = try ChildProcess.run(["convert", original, "-o", output] + arguments)
            #expect(convert.status == 0, "\(output): \(convert.stderr)")
        }
        let restore = try ChildProcess.run(["convert", coded, "--policy", "rank:8", "--factor-dtype", "f32", "-o", restored])
        #expect(restore.status == 0, "\(restore.stderr)")

        for (file, marked) in [(refitted, true), (coded, true), (restored, true), (plain, false)] {
            let model = try ContainerFile(path: file)
            let factorized = model.header.model.layers.compactMap { layer -> (String, Factorization, Bool)? in
                if case let .factorizedDense(_, _, _, _, f) = layer.operation { return (layer.name, f, layer.isQuantized) }
                return nil
            }
            #expect(!factorized.isEmpty, "\(file)")
            let text = try ChildProcess.run(["inspect", file])
            #expect(text.status == 0, "\(text.stderr)")
            #expect(text.stdout.contains("An energy marked (truncation's) is that of the truncation") == marked, "\(file): \(text.stdout)")
            #expect(text.stdout.contains("(truncation's)") == marked, "\(file)")
            let json = try ChildProcess.run(["inspect", file, "--json"])
            let layers = try #require(try jsonObject(json.stdout)["layers"] as? [[String: Any]])
            for (name, f, quantized) in factorized {
                let moved = f.movedAfterTruncation || f.roundedBefore || quantized
                #expect(text.stdout.contains(Format4.fixed(f.retainedEnergy) + " (truncation's)") == moved, "\(file) \(name)")
                let layer = layers.first { $0["name"] as? String == name }
                #expect(layer?["retained_energy_is_truncations"] as? Bool == moved, "\(file) \(name): \(layer ?? [:])")
            }
            #expect(factorized.contains { $0.1.movedAfterTruncation || $0.1.roundedBefore || $0.2 } == marked, "\(file)")
        }
        // The report marks the same records: the factors re-stored in float after their codes too (before: unmarked there).
        let page = scratch.file("r.html")
        let report = try ChildProcess.run(["report", restored, "-o", page])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try String(contentsOfFile: page, encoding: .utf8).contains("An energy marked (truncation's) is that of the truncation"))
    }
}

private enum Format4 {
    static func fixed(_ value: Double) -> String { String(format: "%.4f", value) }
}
