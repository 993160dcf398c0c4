import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// What a new user's review found unclear in messages and tables (session of 2026-12-07), each as it reads now.
@Suite("New user's findings: refusals that name the real cause, signed changes")
struct NewUserFindingsCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("--finetune of a model with a sigmoid output names the sigmoid, not 'a dense layer that is not a dense layer'")
    func sigmoidOutputNamed() throws {
        let scratch = try Scratch()
        let output = scratch.file("c.lrm")
        let run = try ChildProcess.run(["convert", samples + "churn_mlp.h5", "--inputs", samples + "churn.csv", "--label-column", "churned",
                                        "--policy", "rank:2", "--finetune", "2", "-o", output])
        #expect(run.status == 65, "\(run.stderr)")
        #expect(run.stderr.contains("'output' is a dense layer with a sigmoid activation"), "\(run.stderr)")
        #expect(!run.stderr.contains("is not a dense layer"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("--task binary on a model with 10 outputs blames the option (exit 64), not the labels file")
    func binaryTaskOnManyOutputs() throws {
        let scratch = try Scratch()
        let pred = try NPZ.read(path: samples + "mnist_mlp.pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [64], float32: (0..<64).map { Float($0 % 2) }), to: scratch.file("y.npy"))
        let run = try ChildProcess.run(["verify", samples + "mnist_mlp.h5", "--inputs", scratch.file("x.npy"),
                                        "--labels", scratch.file("y.npy"), "--task", "binary"])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--task binary needs a model with one output"), "\(run.stderr)")
        #expect(!run.stderr.contains("y.npy"), "\(run.stderr)")
    }

    @Test("verify's change column with own data and a reference has a sign on gains and losses alike")
    func ownDataChangeSigned() throws {
        let scratch = try Scratch()
        let output = scratch.file("ch.lrm")
        let own = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        #expect(try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + own + ["--policy", "rank:2", "-o", output, "--quiet"]).status == 0)
        let run = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + own)
        let rows = run.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("accuracy") || $0.hasPrefix("F1") || $0.hasPrefix("precision") || $0.hasPrefix("recall") }
        #expect(rows.count == 4, "\(run.stdout)")
        for row in rows {
            // "precision   76.47%   75.00%   -1.47 pp": the figure before the last "pp".
            let tokens = row.split(separator: " ")
            let unit = try #require(tokens.lastIndex(of: "pp"), "\(row)")
            let change = tokens[unit - 1]
            #expect(change.hasPrefix("+") || change.hasPrefix("-"), "\(row)")
        }
    }

    @Test("predict takes [N, 28, 28] for a 28×28×1 CNN, as --inputs does, with the same outputs as [N, 28, 28, 1]")
    func predictTakesSamplesOfAnyShapeWithTheRightCount() throws {
        let scratch = try Scratch()
        let pred = try NPZ.read(path: samples + "mnist_cnn.pred.npz")
        let x = try #require(pred["x"])
        let count = x.shape[0]
        try NPY.write(x, to: scratch.file("x4.npy"))
        try NPY.write(try NumPyArray(shape: [count, 28, 28], float32: x.floatValues()), to: scratch.file("x3.npy"))
        var outputs: [[Float]] = []
        for name in ["x4", "x3"] {
            let run = try ChildProcess.run(["predict", samples + "mnist_cnn.h5", "--input-scale", "1/255", "--input", scratch.file(name + ".npy"),
                                            "-o", scratch.file(name + "-y.npy")])
            #expect(run.status == 0, "\(name): \(run.stderr)")
            outputs.append(try NPY.read(path: scratch.file(name + "-y.npy")).floatValues())
        }
        #expect(outputs[0].count == count * 10 && outputs[0] == outputs[1])
    }

    @Test("predict given a .csv says it reads .npy, not 'expected magic 93 4E …'")
    func predictOnCSVSaysNPY() throws {
        let scratch = try Scratch()
        let run = try ChildProcess.run(["predict", samples + "churn_mlp.h5", "--input", samples + "churn.csv", "-o", scratch.file("y.npy")])
        #expect(run.status == 65, "\(run.stderr)")
        #expect(run.stderr.contains("churn.csv: predict reads one .npy array of inputs, not a .csv file"), "\(run.stderr)")
        #expect(!run.stderr.contains("magic") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("y.npy")))
    }

    @Test("verify's Weights table explains a (truncation's) mark under the table, as inspect and report do")
    func verifyExplainsTruncationsMark() throws {
        let scratch = try Scratch()
        let output = scratch.file("w.lrm")
        let own = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let convert = try ChildProcess.run(["convert", samples + "churn_mlp.h5"] + own + ["--policy", "whitened:0.9", "-o", output, "--quiet"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let run = try ChildProcess.run(["verify", output, "--reference", samples + "churn_mlp.h5"] + own)
        #expect(run.stdout.contains(" (truncation's)"), "\(run.stdout)")
        #expect(run.stdout.contains("(truncation's): the energy the file records is that of the truncation the stored factors started from"),
                "\(run.stdout)")
    }
}
