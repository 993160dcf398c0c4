import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// Too few calibration records for what the conversion asks of them: the one line says what to do.
@Suite("too few calibration records")
struct CalibrationShortfallCLITests {
    static let samples = TestPackage.root + "/samples/"

    @Test("--ridge 1e-300 with fewer calibration records than inputs: exit 64 blaming the option, saying what to do (it was exit 65, 'XᵀX + λI is not positive definite', blamed on the model)")
    func ridgeTooSmall() throws {
        let scratch = try Scratch()
        let out = scratch.file("r.lrm")
        let result = try ChildProcess.run(["convert", Self.samples + "churn_mlp.h5", "--inputs", Self.samples + "churn.csv", "--label-column", "churned",
                                           "--policy", "whitened:0.9", "--ridge", "1e-300", "--calibration-samples", "3", "--validation-samples", "3",
                                           "-o", out], timeout: 120)
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: out), "\(result)")
        let line = result.stderr
        #expect(line.hasPrefix("lrm: error: \(Self.samples)churn_mlp.h5: --ridge 1e-300 is too small (the default is 1e-06): layer 'dense_1': "), "\(line)")
        #expect(line.contains("only 3 calibration rows reach the layer's 10 inputs") && line.contains("give a larger --ridge or more calibration samples"),
                "\(line)")
    }
}
