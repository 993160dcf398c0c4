import Foundation
import LRMTestSupport
import Testing

/// A bundled data set whose samples do not fit the model is the model file's problem for every command: one line that
/// starts with the model's path (not its recorded name), exit 65, nothing written.
@Suite("A model given a data set of another shape")
struct DataMismatchCLITests {
    @Test("convert refuses a data set whose samples do not fit the model before reading any, naming the model's file")
    func convertBeforeAnyData() throws {
        let scratch = try Scratch()
        let model = TestPackage.root + "/samples/housing_mlp.h5"
        let output = scratch.file("out.lrm")
        // An empty data folder: a refusal that came after reading the data would say they are missing.
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for arguments in [["convert", model, "--dataset", "mnist", "--data", empty, "--dry-run"],
                          ["convert", model, "--dataset", "mnist", "--data", empty, "--policy", "whitened:0.9", "-o", output]] {
            expectOneLineError(try ChildProcess.run(arguments), status: 65,
                               naming: "\(model): the model takes 20 values per sample (shape [20]); mnist samples have 784", "\(arguments)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
    }

    @Test("convert, verify, report and sweep say the same of a data set that does not fit the model (one check), before reading any")
    func oneCheckForEveryCommand() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        // An empty data folder: a refusal that came after reading the data would say they are missing.
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let housing = scratch.file("housing.lrm"), cifar100 = scratch.file("cifar100.lrm")  // report takes .lrm files
        #expect(try ChildProcess.run(["import", samples + "housing_mlp.h5", "-o", housing]).status == 0)
        #expect(try ChildProcess.run(["import", samples + "cifar100_mlp.h5", "-o", cifar100]).status == 0)
        let cases = [(housing, "mnist", "\(housing): the model takes 20 values per sample (shape [20]); mnist samples have 784 (28×28)"),
                     (cifar100, "cifar-10", "\(cifar100): the model has 100 outputs; cifar-10 has 10 classes")]
        for (model, dataset, message) in cases {
            for command in [["convert", model, "--dry-run"], ["verify", model], ["report", model, "-o", scratch.file("r.html")], ["sweep", model]] {
                let arguments = command + ["--dataset", dataset, "--data", empty]
                expectOneLineError(try ChildProcess.run(arguments), status: 65, naming: message, "\(arguments)")
            }
        }
        // A reference that does not fit is named by its own file.
        let reference = samples + "cifar100_mlp.h5"
        expectOneLineError(try ChildProcess.run(["verify", samples + "mnist_mlp.h5", "--reference", reference, "--dataset", "mnist", "--data", empty]),
                           status: 65, naming: "\(reference): the model takes 3072 values per sample (shape [32, 32, 3]); mnist samples have 784 (28×28)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")))
    }

    @Test("real-data: convert, verify and sweep name the model's file when the data set's samples do not fit it",
          .enabled(if: datasets != nil))
    func modelFileNamed() throws {
        let scratch = try Scratch()
        let model = TestPackage.root + "/samples/housing_mlp.h5"
        let output = scratch.file("out.lrm")
        for arguments in [["convert", model, "--dataset", "mnist", "--dry-run"],
                          ["convert", model, "--dataset", "mnist", "--policy", "whitened:0.9", "-o", output],
                          ["verify", model, "--dataset", "mnist"],
                          ["sweep", model, "--dataset", "mnist"]] {
            let result = try ChildProcess.run(arguments)
            expectOneLineError(result, status: 65, naming: "\(model): ", "\(arguments)")
            #expect(result.stderr.contains("20"), "the model's 20 inputs are stated: \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // Classes: a CIFAR-100 model given CIFAR-10 is refused before any work, naming its file.
        let cifar100 = TestPackage.root + "/samples/cifar100_mlp.h5"
        expectOneLineError(try ChildProcess.run(["convert", cifar100, "--dataset", "cifar-10", "--dry-run"]), status: 65,
                           naming: "\(cifar100): the model has 100 outputs; cifar-10 has 10 classes")
    }
}
