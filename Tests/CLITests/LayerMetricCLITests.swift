import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// `--layer PATTERN=whitened:τ` (or `activation-scaled:τ`): the energy rule at τ in that metric, for the layers
/// the pattern matches. Every layer of a conversion is truncated in one metric, so it must be the conversion's.
@Suite("--layer with a data-aware policy")
struct LayerMetricCLITests {
    let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/"

    /// Each factorized layer's rank in a JSON report, by name.
    func ranks(_ stdout: String) throws -> [String: Int] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
        var ranks: [String: Int] = [:]
        for layer in report["layers"] as? [[String: Any]] ?? [] {
            if let name = layer["name"] as? String, let rank = layer["rank"] as? Int { ranks[name] = rank }
        }
        return ranks
    }

    @Test("taken in the conversion's metric as the energy rule at its τ; refused, naming the option, in another metric")
    func layerMetric() throws {
        let scratch = try Scratch()
        let x = scratch.file("x.npy"), y = scratch.file("y.npy")
        var state: UInt64 = 7
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
        try NPY.write(try NumPyArray(shape: [300, 6], float32: (0..<1800).map { _ in next() }), to: x)
        try NPY.write(try NumPyArray(shape: [300], float32: (0..<300).map { Float($0 % 3) }), to: y)
        let model = fixtures + "mlp.keras"
        func convert(_ options: [String]) throws -> RunResult {
            try ChildProcess.run(["convert", model, "--inputs", x, "--labels", y, "--dry-run", "--json"] + options)
        }
        let loose = try convert(["--policy", "whitened:0.6"]), tight = try convert(["--policy", "whitened:1"])
        let overridden = try convert(["--policy", "whitened:1", "--layer", "*=whitened:0.6"])
        let energy = try convert(["--policy", "whitened:1", "--layer", "*=energy:0.6"])
        for result in [loose, tight, overridden, energy] { #expect(result.status == 0, "\(result.stderr)") }
        let looseRanks = try ranks(loose.stdout), tightRanks = try ranks(tight.stdout)
        let overriddenRanks = try ranks(overridden.stdout), energyRanks = try ranks(energy.stdout)
        #expect(!looseRanks.isEmpty && looseRanks != tightRanks, "the two τ must differ for the test to mean anything: \(loose.stdout)")
        #expect(overriddenRanks == looseRanks)
        #expect(energyRanks == looseRanks, "whitened:τ in --layer is energy:τ in the conversion's metric")

        for options in [["--policy", "energy:0.9", "--layer", "*=whitened:0.6"], ["--policy", "whitened:0.9", "--layer", "*=activation-scaled:0.6"]] {
            let refused = try convert(options)
            #expect(refused.status == 64, "\(options): \(refused.stderr)")
            let errors = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: error: ") || $0.hasPrefix("Error: ") }
            #expect(errors.count == 1 && errors[0].contains("--layer \(options[3])") && errors[0].contains("one metric"), "\(refused.stderr)")
            #expect(!refused.stderr.contains("unknown policy"))
        }
    }
    @Test("a data-aware conversion calibrated on fewer records than a dense layer has inputs warns once, naming the layer; enough records, no warning")
    func fewCalibrationRecords() throws {
        let scratch = try Scratch()
        // The housing sample: 20 inputs, hidden layers of 128 and more. Own data: a fifth of the training records validate, the rest calibrate.
        let model = TestPackage.root + "/samples/housing_mlp.h5"
        func data(_ count: Int) throws -> [String] {
            let x = scratch.file("x\(count).npy"), y = scratch.file("y\(count).npy")
            try NPY.write(try NumPyArray(shape: [count, 20], float32: (0..<(count * 20)).map { Float(($0 * 7919) % 97) / 97 }), to: x)
            try NPY.write(try NumPyArray(shape: [count], float32: (0..<count).map { Float($0 % 5) }), to: y)
            return ["--inputs", x, "--labels", y]
        }
        let few = try ChildProcess.run(["convert", model, "--policy", "whitened:0.9", "--dry-run"] + (try data(12)))
        #expect(few.status == 0, "\(few.stderr)")
        let warnings = few.stderr.split(separator: "\n").filter { $0.contains("calibrated on") }
        #expect(warnings.count == 1 && warnings[0].hasPrefix("lrm: warning: the whitened metric was calibrated on ")
                && warnings[0].contains("fewer than the 128 inputs of dense_2 (and 2 more layers)") && warnings[0].contains("give more records"), "\(few.stderr)")
        let enough = try ChildProcess.run(["convert", model, "--policy", "whitened:0.9", "--dry-run"] + (try data(600)))
        #expect(enough.status == 0 && !enough.stderr.contains("calibrated on"), "\(enough.stderr)")
        let plain = try ChildProcess.run(["convert", model, "--policy", "energy:0.9", "--dry-run"] + (try data(12)))
        #expect(plain.status == 0 && !plain.stderr.contains("calibrated on"), "the plain metric is not calibrated: \(plain.stderr)")
    }
}
