import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// `verify`, `report`, `convert` and `sweep` with the user's own data: an error found once the files have opened (data that do not fit
/// the model, a model that cannot run) names the model by the path the user gave, not by the name recorded in it.
/// Every model here lies under a file name unlike its recorded name, so that naming the one is not naming the other.
@Suite("Own-data errors name the model's file")
struct OwnDataErrorCLITests {
    let samples = TestPackage.root + "/samples/"

    /// One line on stderr, the exit status, the paths it must name, and no report written.
    func expectError(_ arguments: [String], status: Int32, naming paths: [String], scratch: Scratch) throws {
        let result = try ChildProcess.run(arguments)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
        for path in paths { #expect(result.stderr.contains(path), "\(arguments): stderr should name \(path): \(result.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("report.html")), "\(arguments) left a report")
    }

    @Test("data that do not fit the model: too few values per sample, a label beyond its classes, targets its outputs do not match")
    func dataThatDoNotFit() throws {
        let scratch = try Scratch()
        let model = scratch.file("my compressed.lrm")   // records the name "mnist_mlp"
        let convert = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--policy", "rank:8", "-o", model])
        #expect(convert.status == 0, "\(convert.stderr)")
        let report = ["-o", scratch.file("report.html")]
        // churn.csv has 10 values per record; the model takes 784.
        let churn = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        try expectError(["verify", model] + churn, status: 65, naming: [model, samples + "churn.csv"], scratch: scratch)
        try expectError(["report", model] + churn + report, status: 65, naming: [model, samples + "churn.csv"], scratch: scratch)
        // 64 MNIST images whose labels hold a 12: the model has 10 classes.
        let pred = try NPZ.read(path: samples + "mnist_mlp.pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        var labels = (0..<64).map { Float($0 % 10) }
        labels[5] = 12
        try NPY.write(try NumPyArray(shape: [64], float32: labels), to: scratch.file("y.npy"))
        let images = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
        try expectError(["verify", model] + images, status: 65, naming: [model, scratch.file("y.npy"), "found 12"], scratch: scratch)
        try expectError(["report", model] + images + report, status: 65, naming: [model, scratch.file("y.npy")], scratch: scratch)
        // Regression targets, 2 per record, for a classifier of 10 outputs.
        try NPY.write(try NumPyArray(shape: [64, 2], float32: labels + labels), to: scratch.file("t.npy"))
        try expectError(["verify", model, "--inputs", scratch.file("x.npy"), "--labels", scratch.file("t.npy"), "--task", "regression"],
                        status: 65, naming: [model, scratch.file("t.npy")], scratch: scratch)
    }

    @Test("convert and sweep with own data: errors start with the data file at fault and name the model by its path, not its recorded name")
    func convertAndSweepNameTheDataFile() throws {
        let scratch = try Scratch()
        // Imported, not converted: its dense layers are left to factorize and to search (a factorized model has none).
        let model = scratch.file("my compressed.lrm")   // records the name "mnist_mlp"
        let imported = try ChildProcess.run(["import", samples + "mnist_mlp.h5", "-o", model])
        #expect(imported.status == 0, "\(imported.stderr)")
        let regressor = scratch.file("my regressor.h5")   // records the name "housing_mlp"
        try FileManager.default.copyItem(atPath: samples + "housing_mlp.h5", toPath: regressor)
        let output = scratch.file("out.lrm")
        /// Exit 65, one line starting with `file`, naming the model by `path`, never by its recorded name.
        func expectDataError(_ arguments: [String], file: String, model path: String, saying text: String) throws {
            let result = try ChildProcess.run(arguments, timeout: 300)
            #expect(result.status == 65, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("lrm: error: \(file): ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("the model \(path)") && result.stderr.contains(text), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("'mnist_mlp'") && !result.stderr.contains("'housing_mlp'"), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments) wrote \(output)")
        }
        // churn.csv has 10 values per record; the model takes 784.
        let churn = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        for command in [["convert", model, "--policy", "rank:4", "-o", output], ["convert", model, "--target-accuracy-drop", "1", "-o", output],
                        ["sweep", model]] {
            try expectDataError(command + churn, file: samples + "churn.csv", model: model, saying: "takes 784")
        }
        // 64 MNIST images whose labels hold a 12; then 2 regression targets per record for 10 outputs.
        let pred = try NPZ.read(path: samples + "mnist_mlp.pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        var labels = (0..<64).map { Float($0 % 10) }
        labels[5] = 12
        try NPY.write(try NumPyArray(shape: [64], float32: labels), to: scratch.file("y.npy"))
        try NPY.write(try NumPyArray(shape: [64, 2], float32: labels + labels), to: scratch.file("t.npy"))
        let images = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
        try expectDataError(["convert", model, "--target-accuracy-drop", "1", "-o", output] + images, file: scratch.file("y.npy"), model: model,
                            saying: "found 12")
        try expectDataError(["sweep", model] + images, file: scratch.file("y.npy"), model: model, saying: "found 12")
        try expectDataError(["convert", model, "--policy", "rank:4", "--inputs", scratch.file("x.npy"), "--labels", scratch.file("t.npy"),
                             "--task", "regression", "-o", output], file: scratch.file("t.npy"), model: model, saying: "2 target(s)")
        // Finite inputs too large for float32 statistics (one value 3·10³⁸): the data file is at fault, not the model.
        var values = try NPY.read(path: samples + "housing_x.npy").floatValues()
        values[10 * 20 + 3] = 3e38
        try NPY.write(try NumPyArray(shape: [values.count / 20, 20], float32: values), to: scratch.file("huge.npy"))
        let huge = ["--inputs", scratch.file("huge.npy"), "--labels", samples + "housing_y.npy"]
        for command in [["convert", regressor, "--policy", "whitened:0.9", "-o", output], ["convert", regressor, "--target-metric-drop", "5", "-o", output],
                        ["sweep", regressor, "--fine"]] {
            try expectDataError(command + huge, file: scratch.file("huge.npy"), model: regressor, saying: "too large for float32")
        }
    }

    @Test("own data of another model's shape (housing's 20 features for the 784 of MNIST): one line from every command, starting with the data file, both sizes and the model's input shape")
    func dataOfAnotherShape() throws {
        let scratch = try Scratch()
        let model = scratch.file("mnist.lrm")
        #expect(try ChildProcess.run(["import", samples + "mnist_mlp.h5", "-o", model]).status == 0)
        let x = samples + "housing_x.npy"
        let data = ["--input-scale", "1/255", "--inputs", x, "--labels", samples + "housing_y.npy"]
        let output = scratch.file("out.lrm")
        for arguments in [["verify", samples + "mnist_mlp.h5"] + data, ["report", model, "--inputs", x, "--labels", samples + "housing_y.npy", "-o", scratch.file("report.html")],
                          ["sweep", samples + "mnist_mlp.h5"] + data, ["convert", samples + "mnist_mlp.h5", "-o", output] + data,
                          ["convert", samples + "mnist_mlp.h5", "--policy", "whitened:0.9", "-o", output] + data,
                          ["convert", samples + "mnist_mlp.h5", "--factor-dtype", "i8", "-o", output] + data,
                          ["convert", samples + "mnist_mlp.h5", "--target-ratio", "0.5", "-o", output] + data] {
            let result = try ChildProcess.run(arguments, timeout: 120)
            let errors = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("lrm: note: ") }
            #expect(result.status == 65, "\(arguments): \(result.stderr)")
            #expect(errors.count == 1 && errors[0].hasPrefix("lrm: error: \(x): samples have 20 values") && errors[0].contains("takes 784 (shape [28, 28])"),
                    "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output) && !FileManager.default.fileExists(atPath: scratch.file("report.html")), "\(arguments)")
        }
    }

    @Test("a model whose header opens but that cannot run (its pooling implies 1.8·10¹³ reads a sample), and one whose tensor is corrupt")
    func modelsThatCannotRun() throws {
        let scratch = try Scratch()
        // Records the name "pool-work"; takes one value a sample and gives one output.
        let model = scratch.file("pooling.lrm")
        try FileManager.default.copyItem(atPath: TestPackage.root + "/Tests/ReliabilityTests/Crafted/pool-window-work.lrm", toPath: model)
        try NPY.write(try NumPyArray(shape: [10, 1, 1, 1], float32: [Float](repeating: 1, count: 10)), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [10], float32: (0..<10).map { Float($0 % 2) }), to: scratch.file("y.npy"))
        let data = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"), "--task", "regression"]
        try expectError(["verify", model] + data, status: 65, naming: [model + ": ", "'pool'"], scratch: scratch)
        try expectError(["report", model] + data + ["-o", scratch.file("report.html")], status: 65, naming: [model + ": ", "'pool'"], scratch: scratch)
        // As the reference of a candidate that runs: a global max pool of the one value.
        let candidate = try scratch.write(try ContainerWriter.encode(Model(name: "tiny", input: InputSpec(shape: [1, 1, 1], layout: .hwc),
                                                                           layers: [Layer(name: "gap", operation: .globalPool2D(.max))])),
                                          to: "candidate.lrm")
        try expectError(["verify", candidate, "--reference", model] + data, status: 65, naming: [model + ": ", "'pool'"], scratch: scratch)

        // A housing model with one byte of its output kernel flipped: the checksum names the file (exit 65, as every command).
        let corrupt = scratch.file("damaged.lrm")
        let convert = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--policy", "rank:4", "-o", corrupt])
        #expect(convert.status == 0, "\(convert.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: corrupt)))
        bytes[bytes.count - 8] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let housing = ["--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy"]
        try expectError(["verify", corrupt] + housing, status: 65, naming: [corrupt + ": ", "checksum"], scratch: scratch)
        try expectError(["report", corrupt] + housing + ["-o", scratch.file("report.html")], status: 65, naming: [corrupt + ": ", "checksum"],
                        scratch: scratch)
    }
}
