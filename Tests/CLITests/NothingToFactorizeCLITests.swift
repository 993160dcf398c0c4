import Foundation
import LRMTestSupport
import Testing

/// A conversion with nothing to factorize (`--exclude` matches every layer it could factorize, or the model has none):
/// a rank search and the options that act only on factorized layers are refused (exit 64, one line naming the model and
/// the exclusion, nothing written, no data read); a plain policy conversion says so on stderr and goes on.
@Suite("Conversions with nothing to factorize")
struct NothingToFactorizeCLITests {
    let samples = TestPackage.root + "/samples/"

    /// An empty data folder (whatever gets past the command line to the data stops there, exit 66), and an output path.
    func setUp(_ scratch: Scratch) throws -> (mnist: [String], output: String) {
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        return (["--dataset", "mnist", "--data", empty], scratch.file("out.lrm"))
    }

    @Test("a rank search whose layers are all excluded, or a model without hidden layers to search: refused before any data is read")
    func searches() throws {
        let scratch = try Scratch()
        let (mnist, output) = try setUp(scratch)
        let example = scratch.file("example.lrm")   // its one hidden layer is factorized already (searched from its factors)
        #expect(try ChildProcess.run(["example", "-o", example]).status == 0)
        let (mlp, cnn) = (samples + "mnist_mlp.h5", samples + "mnist_cnn.h5")
        let dense = "hidden dense layers (every dense layer but the output layer)"
        let refused: [(String, [String], String)] = [
            (mlp, ["--target-ratio", "0.5", "--exclude", "dense_*"], "--target-ratio searches the ranks of the \(dense); --exclude 'dense_*' matches every one of them"),
            (mlp, ["--target-accuracy-drop", "1", "--exclude", "dense_1", "--exclude", "dense_2"],
             "--target-accuracy-drop searches the ranks of the \(dense); --exclude 'dense_1', 'dense_2' match every one of them"),
            (mlp, ["--target-metric-drop", "1", "--exclude", "*"], "--target-metric-drop searches the ranks of the \(dense); --exclude '*' matches"),
            (cnn, ["--target-accuracy-drop", "1", "--exclude", "conv_*", "--exclude", "dense_1"],
             "--target-accuracy-drop searches the ranks of the hidden dense layers and convolutions; --exclude 'conv_*', 'dense_1' match every one of them"),
            (cnn, ["--target-accuracy-drop", "1", "--exclude", "dense_1", "--conv", "none"],
             "--target-accuracy-drop searches the ranks of the \(dense); --exclude 'dense_1' matches every one of them (and --conv none keeps the convolutions)"),
            (cnn, ["--target-ratio", "0.5", "--exclude", "dense_1"], "--target-ratio searches the ranks of the \(dense); --exclude 'dense_1' matches"),
            (example, ["--target-ratio", "0.5", "--exclude", "hidden"],
             "--target-ratio searches the ranks of the \(dense); --exclude 'hidden' matches every one of them: nothing to search"),
        ]
        for (model, arguments, saying) in refused {
            let result = try ChildProcess.run(["convert", model, "-o", output] + mnist + arguments)
            expectOneLineError(result, status: 64, naming: "\(model): \(saying)", "\(arguments)")
            #expect(result.stderr.contains("nothing to search (see lrm convert --help)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
        }
        // Something left to search (a convolution, a hidden layer), or a size search, which still chooses every dense layer's
        // storage: past the command line to the (missing) data.
        for (model, arguments) in [(cnn, ["--target-accuracy-drop", "1", "--exclude", "dense_1"]), (mlp, ["--target-ratio", "0.5", "--exclude", "dense_2"]),
                                   (mlp, ["--target-size", "1MB", "--exclude", "*"]), (mlp, ["--target-accuracy-drop", "1", "--minimize", "bytes", "--exclude", "dense_*"])] {
            let result = try ChildProcess.run(["convert", model, "-o", output] + mnist + arguments)
            #expect(result.status == 66 && result.stderr.contains("not found"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("a policy conversion with nothing to factorize refuses the options that act only on factorized layers, at any value")
    func policyOptions() throws {
        let scratch = try Scratch()
        let (mnist, output) = try setUp(scratch)
        let (mlp, cnn) = (samples + "mnist_mlp.h5", samples + "mnist_cnn.h5")
        let refused: [(String, [String], String)] = [
            (mlp, ["--factor-dtype", "i8"], "--factor-dtype i8"),
            (mlp, ["--factor-dtype", "f32"], "--factor-dtype f32"),
            (mlp, ["--factor-dtype", "i4", "--group-size", "16", "--all-kernels"], "--factor-dtype i4"),
            (mlp, ["--round-rank", "8"], "--round-rank 8"),
            (mlp, ["--all-kernels"], "--all-kernels"),
            (mlp, ["--svd", "exact"], "--svd exact"),
            (mlp, ["--seed", "7"], "--seed"),
            (mlp, ["--precision", "single"], "--precision single"),
            (mlp, ["--policy", "whitened:0.9"] + mnist, "--policy whitened:0.9"),
            (mlp, ["--metric", "activation-scaled", "--policy", "rank:4"] + mnist, "--metric activation-scaled"),
            (mlp, ["--finetune", "1"] + mnist, "--finetune"),
            (cnn, ["--conv", "channel"], "--conv channel"),
        ]
        for (model, arguments, flag) in refused {
            let excluding = ["--exclude", "*"]
            let result = try ChildProcess.run(["convert", model, "-o", output] + excluding + arguments)
            expectOneLineError(result, status: 64, naming: "\(model): \(flag) applies to the layers a conversion factorizes; --exclude '*' matches every dense",
                               "\(arguments)")
            #expect(result.stderr.contains("nothing is factorized (see lrm convert --help)"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
        }
        // With a layer left to factorize, they go on (past the command line to the missing data where they read it).
        for arguments in [["--factor-dtype", "i8", "--round-rank", "8", "--dry-run"], ["--svd", "exact", "--precision", "single", "--dry-run"],
                          ["--all-kernels", "--factor-dtype", "f16", "--dry-run"]] {
            let result = try ChildProcess.run(["convert", mlp, "--exclude", "dense_*"] + arguments)
            #expect(result.status == 0 && !result.stderr.contains("nothing is factorized"), "\(arguments): \(result.stderr)")
        }
        let calibrated = try ChildProcess.run(["convert", mlp, "--exclude", "dense_1", "--policy", "whitened:0.9", "-o", output] + mnist)
        #expect(calibrated.status == 66 && calibrated.stderr.contains("not found"), "\(calibrated.stderr)")
        // A .lrm input's factorized layer is truncated further by a policy: something to factorize, unless it is excluded too.
        let example = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", example]).status == 0)
        let further = try ChildProcess.run(["convert", example, "--exclude", "output", "--round-rank", "8", "--policy", "rank:8", "--dry-run"])
        #expect(further.status == 0 && !further.stderr.contains("nothing is factorized"), "\(further.stderr)")
        let none = try ChildProcess.run(["convert", example, "-o", output, "--exclude", "*", "--round-rank", "8"])
        expectOneLineError(none, status: 64, naming: "\(example): --round-rank 8 applies to the layers a conversion factorizes; "
                           + "--exclude '*' matches every dense layer (and factorized one): nothing is factorized")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("a plain policy conversion with nothing to factorize says so in one warning and writes the model as it is")
    func plainPolicyWarns() throws {
        let scratch = try Scratch()
        let (mlp, cnn) = (samples + "mnist_mlp.h5", samples + "mnist_cnn.h5")
        let cases: [(String, [String], String)] = [
            (mlp, ["--exclude", "*"], "--exclude '*' matches every dense layer; its layers stay as they are"),
            (mlp, ["--exclude", "dense_*", "--exclude", "out*", "--policy", "rank:4"], "--exclude 'dense_*', 'out*' match every dense layer;"),
            (cnn, ["--exclude", "*"], "--exclude '*' matches every dense and Conv2D layer;"),
            (cnn, ["--exclude", "dense_1", "--exclude", "output", "--conv", "none"],
             "--exclude 'dense_1', 'output' match every dense layer and --conv none keeps the convolutions;"),
        ]
        for (model, arguments, saying) in cases {
            let output = scratch.file("out.lrm")
            try? FileManager.default.removeItem(atPath: output)
            let result = try ChildProcess.run(["convert", model, "-o", output, "--json"] + arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasPrefix("lrm: warning: nothing is factorized in \(model): "), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(saying) && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            let inspect = try ChildProcess.run(["inspect", output])
            #expect(inspect.status == 0 && inspect.stdout.contains("compression 1.00×"), "\(arguments): \(inspect.stdout)")
        }
        // Where a layer is factorized: no word.
        let converted = try ChildProcess.run(["convert", mlp, "--exclude", "dense_*", "--dry-run"])
        #expect(converted.status == 0 && converted.stderr.isEmpty, "\(converted.stderr)")
    }
}
