import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// verify and report check every tensor's checksum of the candidate and of the reference exactly once: as each
/// model is prepared to run; the per-layer comparison then reads checked tensors. Counted by the test-only
/// `LRM_TEST_COUNT_CHECKSUMS=1`, which makes lrm print how many checksums it computed.
@Suite("Each checksum computed once")
struct ChecksumOnceCLITests {
    /// The exit status and the number of checksums computed by `lrm arguments`.
    func run(_ arguments: [String]) throws -> (status: Int32?, checksums: Int?, stderr: String) {
        let result = try ChildProcess.run(arguments, environment: ["LRM_TEST_COUNT_CHECKSUMS": "1"])
        let prefix = "lrm: test: ", suffix = " tensor checksums computed"
        let line = result.stderr.split(separator: "\n").last { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
        return (result.status, line.flatMap { Int($0.dropFirst(prefix.count).dropLast(suffix.count)) }, result.stderr)
    }

    @Test("verify (bundled data when present, own data) and report: candidate's and reference's checksums, each once")
    func once() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        let reference = scratch.file("reference.lrm"), candidate = scratch.file("candidate.lrm")
        #expect(try ChildProcess.run(["import", samples + "mnist_mlp.h5", "--input-scale", "1/255", "-o", reference]).status == 0)
        #expect(try ChildProcess.run(["convert", reference, "--policy", "rank:8", "-o", candidate]).status == 0)
        let referenceTensors = try ContainerFile(path: reference).header.tensors.count
        let candidateTensors = try ContainerFile(path: candidate).header.tensors.count
        #expect(referenceTensors == 6 && candidateTensors == 9)
        let pred = try NPZ.read(path: samples + "mnist_mlp.pred.npz")
        try NPY.write(try #require(pred["x"]), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [64], float32: (0..<64).map { Float($0 % 10) }), to: scratch.file("y.npy"))
        let own = ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]

        var runs: [([String], Int)] = [
            (["verify", candidate] + own, candidateTensors),
            (["verify", candidate, "--reference", reference] + own, candidateTensors + referenceTensors),
            // A Keras reference is mapped from the reader child's scratch file: its tensors are checked once too.
            (["verify", candidate, "--reference", samples + "mnist_mlp.h5"] + own, candidateTensors + referenceTensors),
            (["report", candidate, "--reference", reference] + own + ["-o", scratch.file("r.html")], candidateTensors + referenceTensors),
        ]
        if datasets != nil {
            runs += [(["verify", candidate, "--dataset", "mnist", "--limit", "100"], candidateTensors),
                     (["verify", candidate, "--reference", reference, "--dataset", "mnist", "--limit", "100", "--json"],
                      candidateTensors + referenceTensors),
                     (["verify", candidate, "--reference", samples + "mnist_mlp.h5", "--dataset", "mnist", "--limit", "100"],
                      candidateTensors + referenceTensors)]
        }
        for (arguments, expected) in runs {
            let result = try run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(result.checksums == expected, "\(arguments): \(result.checksums.map(String.init) ?? "no count") checksums, expected \(expected)")
        }
        // Each once still means each: a corrupt reference is refused, as before.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: reference)))
        bytes[bytes.count - 100] ^= 0x01
        let corrupt = try scratch.write(bytes, to: "corrupt.lrm")
        let refused = try run(["verify", candidate, "--reference", corrupt] + own)
        #expect(refused.status == 65 && refused.stderr.contains("\(corrupt): ") && refused.stderr.contains("checksum"), "\(refused.stderr)")
    }
}
