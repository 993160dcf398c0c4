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
        // Issue 12's layer kinds: sizes a Keras config may claim for convolutions, pooling and padding.
        let convFilters = #"{"class_name": "Sequential", "config": {"name": "filters", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, 28, 28, 1]}}, "#
            + #"{"class_name": "Conv2D", "config": {"name": "conv", "filters": 2147483647, "kernel_size": [65535, 65535], "#
            + #""strides": [1, 1], "padding": "same", "dilation_rate": [65535, 65535], "activation": "relu", "use_bias": true}}]}}"#
        let poolPadding = #"{"class_name": "Sequential", "config": {"name": "pool", "layers": ["#
            + #"{"class_name": "InputLayer", "config": {"name": "input", "batch_shape": [null, 8, 8, 3]}}, "#
            + #"{"class_name": "ZeroPadding2D", "config": {"name": "pad", "padding": [[-9, 2], [1, 1]]}}, "#
            + #"{"class_name": "Cropping2D", "config": {"name": "crop", "cropping": [[4, 5], [0, 0]]}}, "#
            + #"{"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [64, 64], "strides": [0, 1], "padding": "valid"}}, "#
            + #"{"class_name": "Flatten", "config": {"name": "flat"}}]}}"#
        return [
            ("huge-input-scale.lrm", try ContainerWriter.encode(HostileConditionTests.hugeInputModel())),
            ("padding-8gib-per-sample.lrm", try ContainerWriter.encode(HostileConditionTests.paddingBlowUpModel())),
            ("pool-window-work.lrm", try ContainerWriter.encode(HostileConditionTests.poolWorkModel())),
            ("huge-input.keras-config.json", Array(hugeInputConfig.utf8)),
            ("escape-names.keras-config.json", Array(escapeNames.utf8)),
            ("conv-huge-sizes.keras-config.json", Array(convFilters.utf8)),
            ("pool-padding-sizes.keras-config.json", Array(poolPadding.utf8)),
        ]
    }

    /// `spec/vectors/invalid/` files of the format 1.1 kinds (ConvDefect in LRMFormatTests).
    static let invalidSpatialVectors = [
        "conv_kernel_channels.lrm", "conv_window_too_large.lrm", "conv_zero_stride.lrm", "conv_unknown_padding.lrm",
        "conv_on_flat_input.lrm", "pool_window_too_large.lrm", "pool_unknown_mode.lrm", "crop_everything.lrm", "pad_absurd.lrm",
        "depthwise_bias_wrong_shape.lrm", "factorized_record_mismatch.lrm", "factorized_unknown_form.lrm",
        "factorized_second_wrong_shape.lrm", "permute_not_permutation.lrm", "future_layer_kind.lrm",
    ]

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

    @Test("own data on a model whose padding claims 8 GiB per sample: sweep, report and verify refuse it by the runtime's limit (exit 65, one line naming the file and the layer) before sizing anything by its 2³¹ outputs")
    func ownDataOnPaddingBlowUp() throws {
        let scratch = try Scratch()
        let model = Self.folder + "/padding-8gib-per-sample.lrm"
        let inputs = scratch.file("x.npy"), labels = scratch.file("y.npy")
        try NPY.write(try NumPyArray(shape: [40, 1, 1, 1], float32: (0..<40).map { Float($0 % 10) / 10 }), to: inputs)
        try NPY.write(try NumPyArray(shape: [40], float32: (0..<40).map { Float($0 % 2) }), to: labels)
        let data = ["--inputs", inputs, "--labels", labels]
        for arguments in [["sweep", model] + data, ["report", model, "-o", scratch.file("r.html")] + data, ["verify", model] + data] {
            let result = try runUnderMemoryLimit(arguments, kilobytes: 1 << 20)
            #expect(result.status == 65, "\(arguments): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("padding-8gib-per-sample.lrm") && result.stderr.contains("'pad'")
                    && result.stderr.contains("per sample"), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")), "\(scratch.contents())")
    }

    @Test("sweep of a model that cannot run (pooling work over the limit) on own data: the error names the file (exit 65, one line)")
    func sweepRunnerErrorNamesTheFile() throws {
        let scratch = try Scratch()
        let model = Self.folder + "/pool-window-work.lrm"
        let inputs = scratch.file("x.npy"), labels = scratch.file("y.npy")
        try NPY.write(try NumPyArray(shape: [40, 1, 1, 1], float32: (0..<40).map { Float($0) / 40 }), to: inputs)
        try NPY.write(try NumPyArray(shape: [40], float32: (0..<40).map { Float($0) / 7 }), to: labels)
        let result = try runUnderMemoryLimit(["sweep", model, "--inputs", inputs, "--labels", labels, "--task", "regression"], kilobytes: 1 << 20)
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("pool-window-work.lrm") && result.stderr.contains("'pool'"), "\(result.stderr)")
    }

    @Test("every crafted file, and every invalid vector of the spatial layer kinds, through every command, under ulimit -v 1 GiB: success or a one-line error, exit 64-66, never a crash")
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
        // The invalid vectors of the format 1.1 layer kinds (convolutions, factorized convolutions, pooling,
        // padding, cropping, permutes): every command refuses each with one line naming the file, exit 65.
        for name in Self.invalidSpatialVectors {
            let path = TestPackage.root + "/spec/vectors/invalid/" + name
            for arguments in [["inspect", path], ["inspect", "--json", "--verify", path], ["report", path, "-o", scratch.file("r.html")],
                              ["export", path, "--to", "keras", "-o", scratch.file("e.h5")],
                              ["predict", path, "--input", inputs, "-o", scratch.file("y.npy")],
                              ["convert", path, "--policy", "rank:1", "-o", scratch.file("c.lrm")]] {
                let result = try runUnderMemoryLimit(arguments, kilobytes: 1 << 20)
                let clean = result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1
                #expect(result.status == 65 && clean && result.stderr.contains(name), "\(arguments): \(result)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r.html")) && !FileManager.default.fileExists(atPath: scratch.file("e.h5"))
                && !FileManager.default.fileExists(atPath: scratch.file("c.lrm")) && !FileManager.default.fileExists(atPath: scratch.file("y.npy")),
                "an invalid file left an output: \(scratch.contents())")
        for arguments in runs {
            let result = try runUnderMemoryLimit(arguments, kilobytes: 1 << 20)
            let clean = result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1
            #expect(result.status == 0 || ((64...66).contains(result.status) && clean), "\(arguments): \(result)")
            #expect(!result.stderr.unicodeScalars.contains { $0.value == 0x1B }, "\(arguments): raw ESC in \(result.stderr.debugDescription)")
        }
    }
}
