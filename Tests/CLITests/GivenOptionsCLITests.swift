import Foundation
import LRMTestSupport
import Testing

/// An option refused where it does not apply is refused whenever it is given: at its default value too. The checks
/// once compared values with the defaults, so `--confidence 1 --target-ratio 0.5` or `--data-seed 1` without data
/// went through while any other value was refused, and a script looping over values failed on some only.
@Suite("An option is refused where it does not apply whatever its value, its default included")
struct GivenOptionsCLITests {
    let samples = TestPackage.root + "/samples/"

    /// A model made by `lrm example`, an output path, and an empty data folder (whatever gets past the command line
    /// to the data stops there, exit 66), in `scratch`.
    func setUp(_ scratch: Scratch) throws -> (model: String, output: String, empty: String) {
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        return (model, scratch.file("out.lrm"), empty)
    }

    /// `--test-inputs` and `--test-labels` files other than the `--inputs` and `--labels` ones (copies of them), in `scratch`.
    func separateTestSplit(_ scratch: Scratch) throws -> [String] {
        let (x, y) = (scratch.file("test_x.npy"), scratch.file("test_y.npy"))
        if !FileManager.default.fileExists(atPath: x) {
            try FileManager.default.copyItem(atPath: samples + "housing_x.npy", toPath: x)
            try FileManager.default.copyItem(atPath: samples + "housing_y.npy", toPath: y)
        }
        return ["--test-inputs", x, "--test-labels", y]
    }

    @Test("convert: each refusal takes the option at its default value as at another; where the option applies, the default goes on")
    func convertRefusesDefaults() throws {
        let scratch = try Scratch()
        let (model, output, empty) = try setUp(scratch)
        let mnist = ["--dataset", "mnist", "--data", empty]
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let testSplit = try separateTestSplit(scratch)
        // (option, its default, another value, the other arguments that make it not apply)
        let cases: [(String, String, String, [String])] = [
            ("--confidence", "1", "2", mnist + ["--target-ratio", "0.5"]),
            ("--confirm-fraction", "0.5", "0.3", mnist + ["--target-ratio", "0.5"]),
            ("--ridge", "1e-06", "1e-3", []),
            ("--alpha", "0.5", "1", mnist + ["--policy", "whitened:0.9"]),
            ("--scale-dtype", "f16", "f32", ["--factor-dtype", "f16"]),
            ("--quant-scheme", "symmetric", "asymmetric", []),
            ("--factor-dtype", "f32", "f16", mnist + ["--target-size", "1MB"]),
            ("--minimize", "parameters", "bytes", []),
            ("--estimate", "auto", "held-out", mnist),
            ("--finetune-lr", "0.0005", "0.01", []),
            ("--finetune-seed", "1", "3", []),
            ("--finetune-schedule", "cosine", "constant", []),
            ("--finetune-shift", "0", "2", mnist),
            ("--validation", "last", "random", mnist),
            ("--data-seed", "1", "7", []),
            ("--test-fraction", "0.2", "0.3", housing + testSplit),
            ("--test-fraction", "0.2", "0.3", mnist),
            ("--threshold", "0.5", "0.7", mnist),
        ]
        for (option, defaultValue, other, arguments) in cases {
            for value in [defaultValue, other] {
                let result = try ChildProcess.run(["convert", model, "-o", output, option, value] + arguments)
                expectOneLineError(result, status: 64, naming: "\(option) ", "\(option) \(value) \(arguments)")
                #expect(!FileManager.default.fileExists(atPath: output), "\(option) \(value) \(arguments)")
            }
        }
        // Where they apply, the defaults given go past the command line to the (missing) data. (On the MNIST MLP: the example
        // model's one hidden layer is factorized, which a search, a data-aware metric or fine-tuning refuses, and with it
        // excluded it has nothing to factorize, which they refuse too.)
        let mlp = samples + "mnist_mlp.h5"
        for arguments in [["--confidence", "1", "--confirm-fraction", "0.5", "--target-accuracy-drop", "1", "--estimate", "auto",
                           "--minimize", "parameters", "--validation", "last", "--data-seed", "1"],
                          ["--policy", "whitened:0.9", "--ridge", "1e-06"], ["--factor-dtype", "i8", "--scale-dtype", "f16", "--quant-scheme", "symmetric"],
                          ["--finetune", "1", "--finetune-lr", "0.0005", "--finetune-seed", "1", "--finetune-schedule", "cosine", "--finetune-shift", "0"]] {
            let result = try ChildProcess.run(["convert", mlp, "-o", output] + mnist + arguments)
            #expect(result.status == 66 && result.stderr.contains("not found"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("verify, sweep and report: --threshold and --test-fraction without own data, and --test-fraction with --test-inputs, at their defaults too")
    func ownDataOptionsOnEveryCommand() throws {
        let scratch = try Scratch()
        let (model, _, empty) = try setUp(scratch)
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        let commands: [[String]] = [["verify", model], ["sweep", model], ["report", model, "--reference", model, "-o", scratch.file("r.html")]]
        for command in commands {
            for (option, value, arguments) in [("--threshold", "0.5", ["--dataset", "mnist", "--data", empty]),
                                               ("--test-fraction", "0.2", ["--dataset", "mnist", "--data", empty]),
                                               ("--test-fraction", "0.2", housing + (try separateTestSplit(scratch)))] {
                let result = try ChildProcess.run(command + [option, value] + arguments)
                expectOneLineError(result, status: 64, naming: "\(option) ", "\(command) \(option) \(value) \(arguments)")
                #expect(result.stderr.contains("(see lrm \(command[0]) --help)"), "\(result.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")))
    }

    @Test("sweep: the training-record options without --fine (which alone calibrates on them) are refused at any value; with --fine they go on")
    func sweepSamplingWithoutFine() throws {
        let scratch = try Scratch()
        let (_, _, empty) = try setUp(scratch)
        // A dense model: the sweep truncates original kernels (the example's factorized layer is refused).
        let model = scratch.file("mlp.lrm")
        #expect(try ChildProcess.run(["import", samples + "mnist_mlp.h5", "--input-scale", "1/255", "-o", model]).status == 0)
        let mnist = ["--dataset", "mnist", "--data", empty]
        let cases = [("--calibration-samples", ["1000", "5000"]), ("--validation-samples", ["6000", "5000"]),
                     ("--validation", ["last", "random"]), ("--data-seed", ["1", "7"])]
        for (option, values) in cases {
            for value in values {
                let result = try ChildProcess.run(["sweep", model, option, value, "--taus", "0.9"] + mnist)
                expectOneLineError(result, status: 64, naming: "\(option) chooses the training records", "\(option) \(value)")
                #expect(result.stderr.contains("without --fine") && result.stderr.contains("(see lrm sweep --help)"), "\(result.stderr)")
            }
        }
        // With --fine they shape its calibration: past the command line to the (missing) data.
        let fine = try ChildProcess.run(["sweep", model, "--fine", "--calibration-samples", "1000", "--validation-samples", "6000",
                                         "--validation", "random", "--data-seed", "7"] + mnist)
        #expect(fine.status == 66 && fine.stderr.contains("not found"), "\(fine.stderr)")
    }

    @Test("--threshold 0.5 (the default, given) for a regressor is refused as 0.7 is")
    func thresholdAtItsDefault() throws {
        let scratch = try Scratch()
        let output = scratch.file("out.lrm")
        for value in ["0.5", "0.7"] {
            let result = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--inputs", samples + "housing_x.npy", "--labels",
                                               samples + "housing_y.npy", "--threshold", value, "-o", output])
            expectOneLineError(result, status: 64, naming: "--threshold applies to a binary classifier", "\(value)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }
}
