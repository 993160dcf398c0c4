import Foundation
import LRMTestSupport
import Testing

/// A bad command line that only running the command finds reads as one `validate()` finds: one line ending in
/// `(see lrm COMMAND --help)`, exit 64. Other errors do not point to the help.
@Suite("Bad command lines found while running point to the command's help")
struct RunUsageErrorCLITests {
    @Test("an output that is an input, a report named like a model, --in-place on a Keras file, a --threshold the task does not take")
    func runTimeUsageErrors() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let cases: [(arguments: [String], subject: String)] = [
            (["convert", model, "-o", model], "the output is the input"),
            (["report", model, "-o", scratch.file("report.lrm")], "is the extension of a model file"),
            (["sweep", model, "--dataset", "mnist", "--csv", model], "the output is the model"),
            (["convert", samples + "housing_mlp.h5", "--in-place"], "--in-place replaces a .lrm input"),
            (["verify", samples + "housing_mlp.h5", "--inputs", samples + "housing_x.npy", "--labels", samples + "housing_y.npy", "--threshold", "0.7"],
             "--threshold applies to a binary classifier"),
        ]
        for (arguments, subject) in cases {
            let result = try ChildProcess.run(arguments)
            expectOneLineError(result, status: 64, naming: subject, "\(arguments)")
            #expect(result.stderr.hasSuffix(" (see lrm \(arguments[0]) --help)\n"), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("report.lrm")))
        // A missing input is no bad command line.
        let missing = try ChildProcess.run(["convert", scratch.file("nosuch.lrm"), "-o", scratch.file("out.lrm")])
        expectOneLineError(missing, status: 66, naming: "nosuch.lrm")
        #expect(!missing.stderr.contains("--help"), "\(missing.stderr)")
    }
}
