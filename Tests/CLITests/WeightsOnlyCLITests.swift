import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// Weights-only Keras files on every command that reads a model: verify's --config and report's
/// --reference-config, with own data.
@Suite("Weights-only files on the command line")
struct WeightsOnlyCLITests {
    let fixtures = TestPackage.root + "/Tests/LRMKerasTests/Fixtures/"

    @Test("verify --config and report --reference-config read a weights-only file; without them the error names the option")
    func configOptions() throws {
        let scratch = try Scratch()
        // 40 samples of the fixture MLP's 6 inputs, labels 0–2.
        var rng = SystemRandomNumberGenerator()
        try NPY.write(try NumPyArray(shape: [40, 6], float32: (0..<240).map { _ in Float.random(in: -1...1, using: &rng) }), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [40], float32: (0..<40).map { Float($0 % 3) }), to: scratch.file("y.npy"))
        let data = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
        let weights = fixtures + "mlp_weights.h5", architecture = fixtures + "mlp.keras"

        let verify = try ChildProcess.run(["verify", weights, "--config", architecture, "--reference", weights, "--reference-config", architecture,
                                           "--min-agreement", "1"] + data)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("pass  min-agreement"))
        expectOneLineError(try ChildProcess.run(["verify", weights] + data), status: 64, naming: "--config")

        let lrm = scratch.file("m.lrm")
        #expect(try ChildProcess.run(["import", weights, "--config", architecture, "-o", lrm]).status == 0)
        let report = try ChildProcess.run(["report", lrm, "--reference", weights, "--reference-config", architecture, "-o", scratch.file("r.html")] + data)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try String(contentsOfFile: scratch.file("r.html"), encoding: .utf8).contains("Agreement: 100.00% of top-1 predictions"))
        expectOneLineError(try ChildProcess.run(["report", lrm, "--reference", weights, "-o", scratch.file("r2.html")] + data),
                           status: 64, naming: "--reference-config")
    }

    @Test("export --config writes a weights-only file as Keras (its error pointed to --config, which export did not have)")
    func exportConfig() throws {
        let scratch = try Scratch()
        let weights = fixtures + "mlp_weights.h5", architecture = fixtures + "mlp.keras"
        var rng = SystemRandomNumberGenerator()
        try NPY.write(try NumPyArray(shape: [8, 6], float32: (0..<48).map { _ in Float.random(in: -1...1, using: &rng) }), to: scratch.file("x.npy"))
        expectOneLineError(try ChildProcess.run(["export", weights, "--to", "keras", "-o", scratch.file("none.h5")]), status: 64, naming: "--config")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("none.h5")))
        let exported = try ChildProcess.run(["export", weights, "--config", architecture, "--to", "keras", "-o", scratch.file("e.h5")])
        #expect(exported.status == 0, "\(exported)")
        // The exported file computes what the weights-only file with its architecture computes.
        for (model, extra, output) in [(weights, ["--config", architecture], "a.npy"), (scratch.file("e.h5"), [], "b.npy")] {
            let predicted = try ChildProcess.run(["predict", model, "--input", scratch.file("x.npy"), "-o", scratch.file(output)] + extra)
            #expect(predicted.status == 0, "\(predicted)")
        }
        let (a, b) = (try NPY.read(path: scratch.file("a.npy")).floatValues(), try NPY.read(path: scratch.file("b.npy")).floatValues())
        #expect(a.count == 24 && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(a) vs \(b)")
    }
}
