import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Too few calibration records for what the conversion asks of them: the one line says what to do.
@Suite("too few calibration records")
struct CalibrationShortfallCLITests {
    static let samples = TestPackage.root + "/samples/"

    /// The first `count` records of the housing sample, as x.npy and y.npy in `scratch`.
    static func housing(_ count: Int, in scratch: Scratch) throws -> (inputs: String, labels: String) {
        let x = try NPY.readFloat32(path: samples + "housing_x.npy"), y = try NPY.readFloat32(path: samples + "housing_y.npy")
        let width = x.shape[1]
        let inputs = scratch.file("x.npy"), labels = scratch.file("y.npy")
        try NPY.write(try NumPyArray(shape: [count, width], float32: Array(x.values.prefix(count * width))), to: inputs)
        try NPY.write(try NumPyArray(shape: [count], float32: Array(y.values.prefix(count))), to: labels)
        return (inputs, labels)
    }

    /// A rank search of the housing sample on `inputs`/`labels` with the size options `sizes`: it runs, its validation
    /// records (those that select plus those that confirm) number `validation`, and the file records `calibration`.
    static func expectSizes(_ sizes: [String], validation: Int, calibration: Int, inputs: String, labels: String, in scratch: Scratch) throws {
        let out = scratch.file("w.lrm")
        let result = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--inputs", inputs, "--labels", labels,
                                           "--target-metric-drop", "5"] + sizes + ["-o", out, "--json"], timeout: 300)
        #expect(result.status == 0, "\(result)")
        let search = try #require(try jsonObject(result.stdout)["search"] as? [String: Any])
        let confirmation = try #require(search["confirmation"] as? [String: Any])
        #expect((confirmation["selection_samples"] as? Int ?? 0) + (confirmation["confirmation_samples"] as? Int ?? 0) == validation, "\(confirmation)")
        #expect(try ContainerFile(path: out).header.metadata["calibration.count"] == .int(Int64(calibration)))
    }

    /// The same search with `sizes` that do not fit: exit 64, one line, nothing written; the result, for its message.
    static func expectRefused(_ sizes: [String], inputs: String, labels: String, in scratch: Scratch) throws -> RunResult {
        let tooMany = scratch.file("t.lrm")
        let refused = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--inputs", inputs, "--labels", labels,
                                            "--target-metric-drop", "5"] + sizes + ["-o", tooMany], timeout: 120)
        #expect(refused.status == 64 && refused.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: tooMany), "\(refused)")
        return refused
    }

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

    @Test("own data whose training split has 1 record, the sizes not given: the line names the inputs file and what the sizes default to (it said 'fewer than --calibration-samples + --validation-samples (1 + 1)', options never given, no file)")
    func oneTrainingRecord() throws {
        let scratch = try Scratch()
        let (inputs, labels) = try Self.housing(3, in: scratch)
        let out = scratch.file("w.lrm")
        let result = try ChildProcess.run(["convert", Self.samples + "housing_mlp.h5", "--inputs", inputs, "--labels", labels, "--test-fraction", "0.5",
                                           "--target-metric-drop", "5", "-o", out], timeout: 120)
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: out), "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: \(inputs): the training split has 1 record, fewer than the 2 that calibration and validation need: "
                                        + "without --calibration-samples and --validation-samples a fifth of the training records (at least 1) validate"),
                "\(result.stderr)")
        #expect(result.stderr.contains("here 1 + 1; give more records or a smaller --test-fraction"), "\(result.stderr)")
    }
    @Test("--dataset with --calibration-samples too large for the training split: the line says which size was given and which is the default (it said 'fewer than --calibration-samples + --validation-samples (58000 + 5000)')")
    func datasetSizesGivenAndDefault() throws {
        let scratch = try Scratch()
        let out = scratch.file("w.lrm")
        let result = try ChildProcess.run(["convert", Self.samples + "mnist_mlp.h5", "--input-scale", "1/255", "--dataset", "mnist", "--policy", "whitened:0.9",
                                           "--calibration-samples", "58000", "-o", out], timeout: 300)
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1 && !FileManager.default.fileExists(atPath: out), "\(result)")
        #expect(result.stderr == "lrm: error: the training split has 60000 samples, fewer than --calibration-samples 58000 (given) + "
                + "--validation-samples 5000 (the default): give smaller sizes with --calibration-samples and --validation-samples (see lrm convert --help)\n", "\(result.stderr)")
    }

    @Test("own data with only --calibration-samples: validation is a fifth of the training records, and sizes that do not fit name that default (validation was 5000, so 'fewer than --calibration-samples 2 (given) + --validation-samples 5000' on 16 records)")
    func ownDataOneSizeGiven() throws {
        let scratch = try Scratch()
        let (inputs, labels) = try Self.housing(100, in: scratch)
        // 80 training records: 16 validate, 10 calibrate.
        try Self.expectSizes(["--calibration-samples", "10"], validation: 16, calibration: 10, inputs: inputs, labels: labels, in: scratch)
        // 70 + 16 do not fit in 80.
        let refused = try Self.expectRefused(["--calibration-samples", "70"], inputs: inputs, labels: labels, in: scratch)
        #expect(refused.stderr == "lrm: error: \(inputs): the training split has 80 records, fewer than --calibration-samples 70 (given) + "
                + "--validation-samples 16 (a fifth of the training records, at least 1, the default with --inputs): give smaller sizes with "
                + "--calibration-samples and --validation-samples, or more records (see lrm convert --help)\n", "\(refused.stderr)")
        // One training record: a fifth of it is 0, so 1 validates; the line says why (it said 'a fifth of the training records', of 1 record).
        let (one, oneLabels) = try Self.housing(2, in: scratch)
        let single = try ChildProcess.run(["convert", Self.samples + "housing_mlp.h5", "--inputs", one, "--labels", oneLabels, "--test-fraction", "0.5",
                                           "--calibration-samples", "1", "--target-metric-drop", "5", "-o", scratch.file("one.lrm")], timeout: 120)
        #expect(single.status == 64 && single.stderr.contains("the training split has 1 record, fewer than --calibration-samples 1 (given) + "
                                                              + "--validation-samples 1 (a fifth of the training records, at least 1, the default with --inputs)"),
                "\(single.stderr)")
    }

    @Test("own data with only --validation-samples: calibration is every training record not validating, and a validation size that leaves none names that default (calibration was 5000)")
    func ownDataValidationOnly() throws {
        let scratch = try Scratch()
        let (inputs, labels) = try Self.housing(100, in: scratch)
        // 80 training records: 30 validate, the other 50 calibrate.
        try Self.expectSizes(["--validation-samples", "30"], validation: 30, calibration: 50, inputs: inputs, labels: labels, in: scratch)
        let refused = try Self.expectRefused(["--validation-samples", "80"], inputs: inputs, labels: labels, in: scratch)
        #expect(refused.stderr == "lrm: error: \(inputs): the training split has 80 records, fewer than --calibration-samples 1 (the training records "
                + "not validating, at least 1, the default with --inputs) + --validation-samples 80 (given): give smaller sizes with --calibration-samples and "
                + "--validation-samples, or more records (see lrm convert --help)\n", "\(refused.stderr)")
    }
}
