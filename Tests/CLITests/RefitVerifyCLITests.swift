import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `lrm verify --reference` on layers refitted after their truncation (a rank search refits its candidates): their
/// recorded energy and singular values are the truncation's, which verify checks against the reference kernel's own
/// spectrum and the Eckart–Young bound, so a genuine file passes and a record whose spectrum was changed fails.
@Suite("verify --reference on refitted layers")
struct RefitVerifyCLITests {
    @Test("a refitted file passes verify --reference; its records with the singular values or the energy changed fail it, exit 1 (was: not checked)")
    func tamperedRefitRecord() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", converted = scratch.file("c.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // --metric plain: a search with data truncates in the whitened metric by default, whose spectrum verify cannot check.
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--target-ratio", "0.5", "--metric", "plain", "-o", converted] + data,
                                           timeout: 300)
        #expect(convert.status == 0, "\(convert.stderr)")
        let verify = ["--reference", samples + "churn_mlp.h5"] + data + ["--max-accuracy-drop", "100", "--json"]
        let genuine = try ChildProcess.run(["verify", converted] + verify)
        #expect(genuine.status == 0, "\(genuine.stdout)\(genuine.stderr)")
        let layers = try #require(try jsonObject(genuine.stdout)["layers"] as? [[String: Any]])
        let refitted = layers.filter { $0["recorded_energy_is_truncations"] as? Bool == true }
        #expect(refitted.count == 2 && refitted.allSatisfy { $0["agrees_with_record"] as? Bool == true && $0["recorded_metric"] as? String == "plain" },
                "\(layers)")

        // The same file with one refitted layer's record changed, its factors as they were.
        let model = try ContainerFile(path: converted).loadModel()
        let index = try #require(model.layers.firstIndex { layer in
            if case let .factorizedDense(_, _, _, _, f) = layer.operation { f.method.contains("+refit") } else { false }
        })
        guard case let .factorizedDense(us, vt, bias, activation, f) = model.layers[index].operation else { return }
        let name = model.layers[index].name
        var tampers: [(String, Factorization)] = []
        var scaled = f
        scaled.singularValues = f.singularValues.map { $0 * 1.05 }
        scaled.retainedEnergy = min(1, f.retainedEnergy * 1.05 * 1.05)
        tampers.append(("singular values and energy scaled together", scaled))
        var spread = f
        spread.singularValues[0] *= 1.01
        tampers.append(("σ1 raised 1%", spread))
        var understated = f
        understated.retainedEnergy = max(0, (1 - f.relativeError * f.relativeError) - 0.05)
        tampers.append(("energy below 1 − e²", understated))
        for (what, record) in tampers {
            var tampered = model
            tampered.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
            let path = scratch.file("tampered.lrm")
            try ContainerWriter.write(tampered, to: path)
            let run = try ChildProcess.run(["verify", path] + verify)
            #expect(run.status == 1, "\(what): \(run.stdout)\(run.stderr)")
            let json = try jsonObject(run.stdout)
            let checks = json["checks"] as? [[String: Any]] ?? []
            #expect(checks.contains { $0["name"] as? String == "metadata \(name)" && $0["passed"] as? Bool == false }, "\(what): \(checks)")
        }
    }

    @Test("lrm report marks a refitted layer's recorded energy (truncation's), in the layers table and its section, as verify's table does; a plain truncation's is not marked (before: unmarked)")
    func reportMarksTruncationsEnergy() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/", refitted = scratch.file("w.lrm"), plain = scratch.file("p.lrm")
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        // A data-aware policy refits its factors after the truncation (+refit).
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "whitened:0.9", "-o", refitted] + data)
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--policy", "rank:8", "-o", plain]).status == 0)
        let model = try ContainerFile(path: refitted).loadModel()
        var moved: [(String, Double)] = []
        for layer in model.layers {
            if case let .factorizedDense(_, _, _, _, f) = layer.operation, f.movedAfterTruncation { moved.append((layer.name, f.retainedEnergy)) }
        }
        #expect(!moved.isEmpty, "the whitened conversion refitted no layer")
        for (file, marked) in [(refitted, true), (plain, false)] {
            let page = scratch.file("r.html")
            let report = try ChildProcess.run(["report", file, "-o", page])
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.contains("An energy marked (truncation's) is that of the truncation") == marked, "\(file)")
            for (name, energy) in marked ? moved : [] {
                let value = String(format: "%.4f", energy)
                #expect(html.contains("<td>\(value) (truncation's)</td>"), "\(name): table cell")
                #expect(html.contains("retained energy \(value) (truncation's), relative error"), "\(name): its section")
            }
            #expect(html.contains("(truncation's)") == marked, "\(file)")
        }
    }
}
