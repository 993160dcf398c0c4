import Foundation
import LRMNumPy
import LRMTestSupport
import Testing

/// A `.lrm` file whose tensor data no longer matches its checksums is invalid input: exit 65 from every command
/// that reads the data, never 1, which CI reads as "the model ran and missed its threshold".
@Suite("Corrupt tensor data")
struct CorruptFileCLITests {
    @Test("a tensor checksum mismatch is exit 65 with one line naming the file, from every command that reads the data; nothing written")
    func checksumMismatchIsInvalidInput() throws {
        let scratch = try Scratch()
        let good = scratch.file("good.lrm")
        #expect(try ChildProcess.run(["example", "-o", good]).status == 0)
        // One bit of the last tensor (output/bias) flipped: the file opens, its data does not check.
        let corrupt = scratch.file("corrupt.lrm")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        bytes[bytes.count - 8] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        #expect(try ChildProcess.run(["inspect", corrupt]).status == 0, "opening does not read the data")

        let x = scratch.file("x.npy"), y = scratch.file("y.npy")
        try NPY.write(try NumPyArray(shape: [20, 784], float32: (0..<(20 * 784)).map { Float($0 % 251) }), to: x)
        try NPY.write(try NumPyArray(shape: [20], float32: (0..<20).map { Float($0 % 10) }), to: y)
        let data = ["--inputs", x, "--labels", y]
        let output = scratch.file("out")
        let runs: [[String]] = [
            ["inspect", "--verify", corrupt],
            ["inspect", "--json", "--verify", corrupt],
            ["verify", corrupt, "--reference", good] + data,
            ["verify", good, "--reference", corrupt] + data,
            ["verify", corrupt] + data + ["--junit", output + ".xml"],
            ["predict", corrupt, "--input", x, "-o", output + ".npy"],
            ["report", corrupt, "-o", output + ".html"],
            ["report", good, "--reference", corrupt] + data + ["-o", output + ".html"],
            ["diff", corrupt, good],
            ["diff", good, corrupt],
            ["export", corrupt, "--to", "keras", "-o", output + ".h5"],
            ["extract", corrupt, "output/bias", "-o", output + ".npy"],
            ["convert", corrupt, "--policy", "rank:4", "-o", output + ".lrm"],
            ["sweep", corrupt, "--taus", "0.9", "--csv", output + ".csv"] + data,
            ["import", corrupt, "-o", output + ".lrm"],
        ]
        for arguments in runs {
            let result = try ChildProcess.run(arguments)
            #expect(result.status == 65, "\(arguments): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("lrm: error: \(corrupt): "), "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("checksum"), "\(arguments): \(result.stderr)")
            for suffix in [".npy", ".html", ".h5", ".lrm", ".csv"] {
                #expect(!FileManager.default.fileExists(atPath: output + suffix), "\(arguments) wrote \(output + suffix)")
            }
        }
        // verify --junit still records the error for CI, as an error case (not a failed check).
        let junit = try String(contentsOfFile: output + ".xml", encoding: .utf8)
        #expect(junit.contains("<error") && !junit.contains("<failure") && junit.contains("checksum"), "\(junit)")
    }
}
