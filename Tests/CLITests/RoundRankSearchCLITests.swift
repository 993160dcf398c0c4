import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// `--round-rank N` in a rank search: the search counts the rounded ranks the file stores (it counted the ranks before
/// rounding, so that `--target-ratio` could be broken and the reported fraction was not the file's), and a
/// `--target-ratio` below the smallest fraction the rounding (and `--exclude`) allows is refused from the shapes,
/// before any data is read.
@Suite("--round-rank in a rank search")
struct RoundRankSearchCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("a --target-ratio below what every hidden layer at rank 1 (rounded up to the multiple, excluded layers dense) keeps is refused, naming that fraction")
    func unreachableRatio() throws {
        let scratch = try Scratch()
        let empty = scratch.file("no-data"), output = scratch.file("out.lrm")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let mlp = samples + "mnist_mlp.h5"
        let mnist = ["convert", mlp, "--dataset", "mnist", "--data", empty, "-o", output]
        // MNIST MLP: 784×512 and 512×256 hidden kernels, 532,480 parameters; rank r keeps r·(1296 + 768) of them.
        let refused: [([String], String)] = [
            (["--target-ratio", "0.1", "--round-rank", "64"], "--target-ratio 0.1 cannot be reached: even with every hidden layer at rank 1 "
                + "(rounded up to a multiple of 64 by --round-rank) the model keeps 0.248 of the hidden layers' kernel parameters; "
                + "give at least 0.249 or a smaller --round-rank"),
            (["--target-ratio", "0.001"], "--target-ratio 0.001 cannot be reached: even with every hidden layer at rank 1 the model keeps 0.004 "
                + "of the hidden layers' kernel parameters; give at least 0.004"),
            (["--target-ratio", "0.005", "--factor-dtype", "i4"], "at rank 1 (rounded up to a multiple of 2; i4 factors take an even rank) "
                + "the model keeps 0.008 of the hidden layers' kernel parameters"),
        ]
        for (arguments, saying) in refused {
            let result = try ChildProcess.run(mnist + arguments)
            expectOneLineError(result, status: 64, naming: saying, "\(arguments)")
            #expect(result.stderr.hasPrefix("lrm: error: \(mlp): --target-ratio "), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // At or above that fraction: past the shapes to the (missing) data.
        for arguments in [["--target-ratio", "0.25", "--round-rank", "64"], ["--target-ratio", "0.004"]] {
            let result = try ChildProcess.run(mnist + arguments)
            #expect(result.status == 66, "\(arguments): \(result.stderr)")
        }
        // With --exclude the floor has both: churn_mlp's dense_1 (10×128) dense, dense_2 (128×64) at rank 1 rounded up
        // to 32 (6,144 of its 8,192): 7,424 of 9,472 (without the rounding, 1,472).
        let churn = ["convert", samples + "churn_mlp.h5", "--dry-run", "--json", "--inputs", samples + "churn.csv", "--label-column", "churned"]
        let both = try ChildProcess.run(churn + ["--target-ratio", "0.5", "--exclude", "dense_1", "--round-rank", "32"])
        expectOneLineError(both, status: 64, naming: "--target-ratio 0.5 cannot be reached: the hidden layers excluded by --exclude (dense_1)")
        #expect(both.stderr.contains("rank 1 (rounded up to a multiple of 32 by --round-rank) the model keeps 0.784"), "\(both.stderr)")
    }

    @Test("the hidden fraction a ratio search reports with --round-rank is that of the model it makes, within --target-ratio, its ranks multiples")
    func reportedFractionIsTheModels() throws {
        let churn = ["convert", samples + "churn_mlp.h5", "--dry-run", "--json", "--inputs", samples + "churn.csv", "--label-column", "churned"]
        for (ratio, multiple) in [("0.5", 16), ("0.3", 8), ("0.9", 32)] {
            let result = try ChildProcess.run(churn + ["--target-ratio", ratio, "--round-rank", String(multiple)], timeout: 300)
            #expect(result.status == 0, "\(result.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let layers = try #require(report["layers"] as? [[String: Any]])
            let reported = try #require((report["search"] as? [String: Any])?["hidden_fraction"] as? Double)
            // dense_1 (10×128, bias 128) and dense_2 (128×64, bias 64): the kernel parameters each keeps.
            var kept = 0
            for (name, bias) in [("dense_1", 128), ("dense_2", 64)] {
                let layer = try #require(layers.first { $0["name"] as? String == name })
                kept += (layer["parameters_after"] as? Int ?? 0) - bias
                if let rank = layer["rank"] as? Int, layer["result"] as? String == "factorized" {
                    #expect(rank % multiple == 0 || rank == (name == "dense_1" ? 10 : 64), "\(name) rank \(rank) ×\(multiple)")
                }
            }
            #expect(abs(reported - Double(kept) / 9472) < 1e-9, "×\(multiple): reported \(reported), the model keeps \(Double(kept) / 9472)")
            #expect(reported <= Double(ratio)! + 1e-12, "×\(multiple): \(reported)")
        }
    }

    @Test("a fine-tuned search's search.finetune.tried lists the ranks as stored: multiples of --round-rank, the file's ranks")
    func finetuneTriedRanksAsStored() throws {
        let scratch = try Scratch()
        // 64 MNIST test images; the classes Keras predicts for them are the labels.
        let data = try writeKerasLabelledImages(in: scratch).options
        let result = try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255"] + data
                                          + ["--target-ratio", "0.3", "--round-rank", "64", "--finetune", "1", "--json", "-o", scratch.file("out.lrm")],
                                          timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(report["layers"] as? [[String: Any]])
        var stored: [String: Int] = [:]
        for layer in layers where layer["result"] as? String == "factorized" { stored[layer["name"] as? String ?? ""] = layer["rank"] as? Int }
        #expect(!stored.isEmpty && stored.values.allSatisfy { $0 % 64 == 0 }, "\(stored)")
        let finetune = try #require((report["search"] as? [String: Any])?["finetune"] as? [String: Any])
        let tried = try #require(finetune["tried"] as? [[String: Any]])
        #expect(tried.count == 1, "a ratio target fine-tunes its choice only")
        let ranks = try #require(tried.first?["ranks"] as? [String: Int])
        #expect(ranks == stored, "tried lists \(ranks), the file stores \(stored)")
    }
}
