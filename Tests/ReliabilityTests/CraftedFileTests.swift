import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// The crafted files of issue 19, kept in `Tests/ReliabilityTests/Crafted/`: seeds for the fuzzers
/// (`tools/fuzz.sh` adds the `.lrm` files to the container target's seeds and the `.json` files to the
/// Keras-config target's) and the inputs of the sweep below. Each is built here from code; run with
/// `LRM_UPDATE_CRAFTED=1` to rewrite them after a deliberate change.
@Suite("Crafted hostile files: committed seeds, every command under a memory limit")
struct CraftedFileTests {
    static let folder = TestPackage.root + "/Tests/ReliabilityTests/Crafted"

    /// Name and bytes of every crafted file.
    static func files() throws -> [(name: String, bytes: [UInt8])] {
        let hugeInputConfig = #"{"class_name": "Sequential", "config": {"name": "huge", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, 2147483647]}}, "#
            + #"{"class_name": "Activation", "config": {"name": "act", "activation": "relu"}}]}}"#
        let escapeNames = #"{"class_name": "Sequential", "config": {"name": "m\u001b]0;title\u0007", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "input\u001b[2J", "batch_shape": [null, 4]}}, "#
            + #"{"class_name": "Dense", "config": {"name": "d\u001b[31m", "units": 3, "activation": "\u001b[2Jx", "use_bias": true}}]}}"#
        return [
            ("huge-input-scale.lrm", try ContainerWriter.encode(HostileConditionTests.hugeInputModel())),
            ("padding-8gib-per-sample.lrm", try ContainerWriter.encode(HostileConditionTests.paddingBlowUpModel())),
            ("huge-input.keras-config.json", Array(hugeInputConfig.utf8)),
            ("escape-names.keras-config.json", Array(escapeNames.utf8)),
        ]
    }

    @Test("the committed crafted files are the ones the code builds (LRM_UPDATE_CRAFTED=1 rewrites them)")
    func upToDate() throws {
        let update = ProcessInfo.processInfo.environment["LRM_UPDATE_CRAFTED"] == "1"
        for (name, bytes) in try Self.files() {
            let path = Self.folder + "/" + name
            if update {
                try FileManager.default.createDirectory(atPath: Self.folder, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }
            let stored = try Data(contentsOf: URL(fileURLWithPath: path))
            #expect(Array(stored) == bytes, "\(name) differs from what the code builds")
            #expect(stored.count < 1024, "\(name): \(stored.count) bytes")
        }
    }

    @Test("every crafted file through every command, under ulimit -v 1 GiB: success or a one-line error, exit 64-66, never a crash")
    func sweep() throws {
        let scratch = try Scratch()
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 4], float32: [1, 2, 3, 4]), to: inputs)
        var runs: [[String]] = []
        for (name, _) in try Self.files() {
            let path = Self.folder + "/" + name
            if name.hasSuffix(".lrm") {
                runs += [["inspect", path], ["inspect", "--json", "--verify", path], ["report", path, "-o", scratch.file("r.html")],
                         ["export", path, "--to", "keras", "-o", scratch.file("e.h5")],
                         ["predict", path, "--input", inputs, "-o", scratch.file("y.npy")],
                         ["predict", path, "--input", inputs, "-o", scratch.file("y.npy"), "--no-preprocess"],
                         ["convert", path, "--policy", "rank:1", "-o", scratch.file("c.lrm")]]
            } else {
                let weights = Fixtures.path("mlp.weights.h5")
                runs += [["inspect", weights, "--config", path], ["import", weights, "--config", path, "-o", scratch.file("i.lrm")]]
            }
        }
        for arguments in runs {
            let result = try runUnderMemoryLimit(arguments, kilobytes: 1 << 20)
            let clean = result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1
            #expect(result.status == 0 || ((64...66).contains(result.status) && clean), "\(arguments): \(result)")
            #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B }, "\(arguments): raw ESC in \(result.stderr.debugDescription)")
        }
    }
}
