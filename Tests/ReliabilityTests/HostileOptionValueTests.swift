import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// Option values at the ends of their types' ranges (Int.max, UInt64.max) that passed the command line's checks
/// and then overflowed in arithmetic: a crash (exit 132) instead of a one-line refusal.
@Suite("Hostile option values: Int.max and UInt64.max")
struct HostileOptionValueTests {
    /// 300 records of 784 values in 0…1 and labels 0…9, for the MNIST MLP sample.
    static func ownData(in scratch: Scratch) throws -> [String] {
        var rng = SeededGenerator(seed: 11)
        let count = 300
        let x = (0..<(count * 784)).map { _ in Float(rng.next() % 256) / 255 }
        let y = (0..<count).map { _ in Int64(rng.next() % 10) }
        try NPY.write(try NumPyArray(shape: [count, 784], float32: x), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [count], storage: .int64(y)), to: scratch.file("y.npy"))
        return ["--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy")]
    }

    @Test("--finetune 9223372036854775807 is refused (exit 64, one line naming the option) instead of trapping on the step count; nothing written")
    func finetuneEpochs() throws {
        let scratch = try Scratch()
        let data = try Self.ownData(in: scratch)
        let out = scratch.file("o.lrm")
        for epochs in ["9223372036854775807", "100001"] {
            let result = try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_mlp.h5", "--policy", "rank:8",
                                               "--finetune", epochs] + data + ["-o", out], timeout: 300)
            #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1
                    && result.stderr.contains("--finetune must be at most 100000 epochs"), "\(epochs): \(result)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

extension HostileOptionValueTests {
    @Test("--calibration-samples or --validation-samples 9223372036854775807 is the training split's too few samples (exit 64, one line), not an overflow trap")
    func sampleCounts() throws {
        let scratch = try Scratch()
        let data = try Self.ownData(in: scratch)
        let out = scratch.file("o.lrm")
        let mlp = TestPackage.root + "/samples/mnist_mlp.h5"
        for arguments in [["convert", mlp, "--policy", "whitened:0.9", "--calibration-samples", "9223372036854775807", "-o", out],
                          ["convert", mlp, "--target-ratio", "0.5", "--validation-samples", "9223372036854775807", "-o", out],
                          ["sweep", mlp, "--fine", "--calibration-samples", "9223372036854775807"]] {
            let result = try ChildProcess.run(arguments + data, timeout: 300)
            #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1
                    && result.stderr.contains("fewer than --calibration-samples ") && result.stderr.contains(" + --validation-samples "), "\(arguments): \(result)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}

extension HostileOptionValueTests {
    @Test("example --seed 18446744073709551615 writes the model (it trapped converting the seed to the metadata's Int64), recorded as convert records a seed: its bit pattern")
    func exampleSeed() throws {
        let scratch = try Scratch()
        let out = scratch.file("e.lrm")
        let result = try ChildProcess.run(["example", "-o", out, "--seed", "18446744073709551615"], timeout: 60)
        #expect(result.status == 0, "\(result)")
        let model = try ContainerFile(path: out).loadModel()
        #expect(model.metadata[MetadataKey.conversionSeed] == .int(-1))
        #expect(model.layers == ExampleModel.make(seed: .max).layers)
    }
}

@Suite("Fine-tuning on too few own records")
struct FineTuneTooFewRecordsTests {
    @Test("3 own records (2 for training, 1 to validate, 1 to watch early stopping): the refusal names the inputs file and the counts, exit 64, one line; it named nothing")
    func namesTheFile() throws {
        let scratch = try Scratch()
        try NPY.write(try NumPyArray(shape: [3, 784], float32: [Float](repeating: 0.5, count: 3 * 784)), to: scratch.file("x.npy"))
        try NPY.write(try NumPyArray(shape: [3], storage: .int64([1, 2, 3])), to: scratch.file("y.npy"))
        let out = scratch.file("o.lrm")
        let result = try ChildProcess.run(["convert", TestPackage.root + "/samples/mnist_mlp.h5", "--policy", "rank:8", "--finetune", "1",
                                           "--inputs", scratch.file("x.npy"), "--labels", scratch.file("y.npy"), "-o", out], timeout: 120)
        #expect(result.status == 64 && result.stderr.split(separator: "\n").count == 1, "\(result)")
        #expect(result.stderr.contains("\(scratch.file("x.npy")): the training split's 2 records leave none to fine-tune on"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
