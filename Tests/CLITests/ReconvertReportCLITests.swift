import Foundation
import LRMTestSupport
import Testing

/// What `lrm convert`'s report says of the factorized layers of a `.lrm` input.
@Suite("The report of a re-conversion")
struct ReconvertReportCLITests {
    let samples = TestPackage.root + "/samples/"

    /// Before: the report explained every factorized layer whose method string held `+retruncated`, so a layer only
    /// re-stored got a line when an earlier conversion had truncated it (r4.lrm's layers), and none otherwise (r8.lrm's).
    @Test("the report explains a layer truncated in this conversion, not one only re-stored at its rank, whatever its history")
    func explainsThisConversionsTruncation() throws {
        let scratch = try Scratch()
        let eight = scratch.file("r8.lrm"), four = scratch.file("r4.lrm")
        #expect(try ChildProcess.run(["convert", samples + "mnist_mlp.h5", "--policy", "rank:8", "-o", eight]).status == 0)
        let truncated = try ChildProcess.run(["convert", eight, "--policy", "rank:4", "-o", four])
        #expect(truncated.status == 0, "\(truncated.stderr)")
        #expect(truncated.stdout.contains("dense_1: rank 4 chose k = 4 of 512: truncated from the stored rank 8"), "\(truncated.stdout)")
        for (input, rank) in [(eight, 8), (four, 4)] {
            let arguments = ["convert", input, "--policy", "rank:\(rank)", "--factor-dtype", "f16", "--dry-run"]
            let json = try jsonObject(try ChildProcess.run(arguments + ["--json"]).stdout)
            let reasons = (json["layers"] as? [[String: Any]] ?? []).compactMap { $0["reason"] as? String }
            #expect(reasons.contains { $0.hasSuffix("kept; factors re-stored as f16") }, "\(input): \(reasons)")
            let text = try ChildProcess.run(arguments)
            #expect(text.status == 0, "\(text.stderr)")
            #expect(!text.stdout.contains("re-stored as f16"), "\(input): \(text.stdout)")
        }
    }
}
