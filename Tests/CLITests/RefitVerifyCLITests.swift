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
}
