import Foundation
import LRMTestSupport
import Testing

/// `--seed` seeds the randomized SVD: where no layer can be sketched it would change nothing.
@Suite("--seed where the randomized SVD does not run")
struct UnusedSeedCLITests {
    /// The warnings (`lrm: warning: …` lines) on `stderr`.
    func warnings(_ stderr: String) -> [Substring] { stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: warning: ") } }

    @Test("refused, at any value, with --svd exact or gram and with a search (which computes every spectrum exactly)")
    func seedRefused() throws {
        let scratch = try Scratch()
        let model = scratch.file("example.lrm"), output = scratch.file("out.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for arguments in [["--svd", "exact"], ["--svd", "gram"], ["--dataset", "mnist", "--data", empty, "--target-ratio", "0.5"],
                          ["--dataset", "mnist", "--data", empty, "--target-size", "1MB"]] {
            for seed in ["24301", "7"] {
                let result = try ChildProcess.run(["convert", model, "-o", output, "--seed", seed] + arguments)
                expectOneLineError(result, status: 64, naming: "--seed seeds the randomized SVD", "\(seed) \(arguments)")
                #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
            }
        }
    }

    @Test("a policy conversion whose layers all get an exact SVD says the seed is not used; where a layer is sketched, no word")
    func seedWarnings() throws {
        let scratch = try Scratch()
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        // --svd auto sketches only layers of 2048 and more: not the example's.
        let auto = try ChildProcess.run(["convert", model, "--seed", "7", "--dry-run"])
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect(warnings(auto.stderr).count == 1 && warnings(auto.stderr)[0].contains("--seed is not used"), "\(auto.stderr)")
        // erank gets the exact SVD: the --svd randomized warning says the seed is not used either.
        let erank = try ChildProcess.run(["convert", model, "--svd", "randomized", "--policy", "erank", "--seed", "7", "--dry-run"])
        #expect(erank.status == 0, "\(erank.stderr)")
        #expect(warnings(erank.stderr).count == 1 && warnings(erank.stderr)[0].contains("--policy erank")
                && warnings(erank.stderr)[0].contains("--seed is not used"), "\(erank.stderr)")
        let sketched = try ChildProcess.run(["convert", model, "--svd", "randomized", "--policy", "rank:2", "--seed", "7", "--dry-run"])
        #expect(sketched.status == 0 && warnings(sketched.stderr).isEmpty, "\(sketched.stderr)")
        let unseeded = try ChildProcess.run(["convert", model, "--dry-run"])
        #expect(unseeded.status == 0 && warnings(unseeded.stderr).isEmpty, "\(unseeded.stderr)")
    }
}

/// A `--layer` override with a policy that needs every singular value gets the exact SVD, as the whole-model
/// policy does; `--svd randomized` says so for it too.
@Suite("--svd randomized with a --layer erank or entropy policy")
struct LayerPolicySketchCLITests {
    @Test("warns once per such --layer, naming it, and the layers it matches get gesdd; a --layer rank policy is sketched without a word")
    func layerPolicyWarning() throws {
        let scratch = try Scratch()
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        /// Each layer's SVD method in the JSON report (the example's hidden layer is already factorized: its method is its record's).
        func methods(_ stdout: String) throws -> [String] {
            let report = try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any])
            return (report["layers"] as? [[String: Any]] ?? []).filter { $0["name"] as? String != "hidden" }.compactMap { $0["method"] as? String }
        }
        for layer in ["*=erank", "*=entropy:0.9"] {
            let result = try ChildProcess.run(["convert", model, "--svd", "randomized", "--policy", "rank:2", "--layer", layer, "--dry-run", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: warning: ") }
            #expect(warnings.count == 1 && warnings[0].contains("--svd randomized is not used by --layer \(layer)")
                    && warnings[0].contains("exact SVD (gesdd)"), "\(layer): \(result.stderr)")
            let used = try methods(result.stdout)
            #expect(!used.isEmpty && used.allSatisfy { $0.hasPrefix("gesdd") }, "\(layer): \(used)")
        }
        let sketched = try ChildProcess.run(["convert", model, "--svd", "randomized", "--layer", "*=rank:2", "--dry-run", "--json"])
        #expect(sketched.status == 0 && !sketched.stderr.contains("warning"), "\(sketched.stderr)")
        #expect(try methods(sketched.stdout).contains("randomized"), "\(sketched.stdout)")
    }
}
