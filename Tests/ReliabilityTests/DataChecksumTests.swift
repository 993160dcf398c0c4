import Foundation
import LRMDatasets
import LRMTestSupport
import Testing

/// Issue 19, item 8: a data folder whose SHA256SUMS does not match was used without a word.
@Suite("Data folder checksums")
struct DataChecksumTests {
    /// An MNIST test split of `count` images (all zero) and labels `labels` in the IDX format, uncompressed.
    static func writeMNISTTest(in root: URL, labels: [UInt8]) throws {
        let mnist = root.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: mnist, withIntermediateDirectories: true)
        func bigEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (24 - 8 * $0)) & 0xFF) } }
        let images = bigEndian(0x0803) + bigEndian(labels.count) + bigEndian(28) + bigEndian(28) + [UInt8](repeating: 0, count: labels.count * 784)
        try Data(images).write(to: mnist.appendingPathComponent("t10k-images-idx3-ubyte"))
        try Data(bigEndian(0x0801) + bigEndian(labels.count) + labels).write(to: mnist.appendingPathComponent("t10k-labels-idx1-ubyte"))
    }

    /// `<root>/SHA256SUMS` listing the MNIST test split's two files as they are now.
    static func writeChecksums(in root: URL) throws {
        var list = ""
        for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            list += "\(try SHA256.hexDigest(ofFileAt: root.appendingPathComponent("mnist/" + name)))  mnist/\(name)\n"
        }
        try list.write(to: root.appendingPathComponent("SHA256SUMS"), atomically: true, encoding: .utf8)
    }

    @Test("verify on a data folder whose SHA256SUMS lists another labels file: exit 65, naming the file; with the right list it runs")
    func changedLabels() throws {
        let scratch = try Scratch()
        let root = URL(fileURLWithPath: scratch.file("data"))
        try DataChecksumTests.writeMNISTTest(in: root, labels: [0, 1, 2, 3, 4, 5, 6, 7])
        let labels = root.appendingPathComponent("mnist/t10k-labels-idx1-ubyte")
        try DataChecksumTests.writeChecksums(in: root)
        let command = ["verify", TestPackage.root + "/samples/mnist_mlp.h5", "--dataset", "mnist", "--data", root.path, "--input-scale", "1/255"]
        let good = try ChildProcess.run(command)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("8 samples"), "\(good.stdout)")
        // Someone relabels a sample: the file still parses, but it is not the file the list was made for.
        try DataChecksumTests.writeMNISTTest(in: root, labels: [9, 1, 2, 3, 4, 5, 6, 7])
        let changed = try ChildProcess.run(command)
        #expect(changed.status == 65, "\(changed.stderr)")
        let errors = changed.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: error: ") }
        #expect(errors.count == 1 && errors[0].contains(labels.path) && errors[0].contains("SHA-256 differs"), "\(changed.stderr)")
        #expect(changed.stdout.isEmpty, "nothing evaluated: \(changed.stdout)")
    }
    @Test("a listed data file damaged so that it no longer parses (a cut labels file) is reported as the SHA-256 mismatch, not the reader's complaint")
    func damagedListedFile() throws {
        let scratch = try Scratch()
        let root = URL(fileURLWithPath: scratch.file("data"))
        try DataChecksumTests.writeMNISTTest(in: root, labels: [0, 1, 2, 3, 4, 5, 6, 7])
        let labels = root.appendingPathComponent("mnist/t10k-labels-idx1-ubyte")
        try DataChecksumTests.writeChecksums(in: root)
        let command = ["verify", TestPackage.root + "/samples/mnist_mlp.h5", "--dataset", "mnist", "--data", root.path, "--input-scale", "1/255"]
        #expect(try ChildProcess.run(command).status == 0)
        // Cut the labels file short: its header now claims more labels than it holds.
        let bytes = try Data(contentsOf: labels)
        try bytes.prefix(bytes.count - 3).write(to: labels)
        let damaged = try ChildProcess.run(command)
        #expect(damaged.status == 65, "\(damaged.stderr)")
        let errors = damaged.stderr.split(separator: "\n").filter { $0.hasPrefix("lrm: error: ") }
        #expect(errors.count == 1 && errors[0].contains(labels.path) && errors[0].contains("SHA-256 differs"), "\(damaged.stderr)")
        // Without a list, the reader's own message stands.
        try FileManager.default.removeItem(at: root.appendingPathComponent("SHA256SUMS"))
        let unlisted = try ChildProcess.run(command)
        #expect(unlisted.status == 65 && !unlisted.stderr.contains("SHA-256"), "\(unlisted.stderr)")
    }
}

