import Foundation
import LRMTestSupport
import Testing

/// A rank search with `--exclude` (review finding 6): the excluded layers were called "output layer", and the hidden-parameter
/// fraction left them out, so `--target-ratio` was not the fraction of the hidden layers' kernel parameters docs/CLI.md says.
@Suite("Rank searches with --exclude")
struct ExcludeSearchCLITests {
    let samples = TestPackage.root + "/samples/"

    @Test("a rank search with --exclude: the excluded layer is named so and counted dense in the hidden fraction; an unreachable --target-ratio is refused (finding 6)")
    func excludeInRatioSearch() throws {
        let data = ["--inputs", samples + "churn.csv", "--label-column", "churned"]
        let convert = ["convert", samples + "churn_mlp.h5", "--dry-run", "--json"] + data
        // dense_2 (128×64) kept dense keeps 8,192 of the 9,472 hidden kernel parameters: 0.5 cannot be reached.
        let refused = try ChildProcess.run(convert + ["--target-ratio", "0.5", "--exclude", "dense_2"])
        expectOneLineError(refused, status: 64, naming: "--target-ratio 0.5 cannot be reached")
        #expect(refused.stderr.contains("dense_2") && refused.stderr.contains("0.879"), "\(refused.stderr)")
        // dense_1 (10×128) excluded: reachable, and the fraction counts it.
        let result = try ChildProcess.run(convert + ["--target-ratio", "0.5", "--exclude", "dense_1"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(report["layers"] as? [[String: Any]])
        let excluded = try #require(layers.first { $0["name"] as? String == "dense_1" })
        #expect((excluded["reason"] as? String)?.hasPrefix("excluded by --exclude") == true, "\(excluded)")
        let search = try #require(report["search"] as? [String: Any])
        let fraction = try #require(search["hidden_fraction"] as? Double)
        let dense2 = try #require(layers.first { $0["name"] as? String == "dense_2" })
        let kept = Double(dense2["parameters_after"] as? Int ?? 0) - 64  // its bias is not a kernel parameter
        #expect(abs(fraction - (1280 + kept) / 9472) < 1e-9, "fraction \(fraction), dense_2 keeps \(kept)")
        #expect(fraction <= 0.5 + 1e-12)
    }
}
