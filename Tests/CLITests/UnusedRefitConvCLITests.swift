import Foundation
import LRMFormat
import LRMTestSupport
import Testing

/// `--no-refit` and `--conv` where the conversion asked for would not read them: refused, exit 64, one line naming the
/// option, nothing written; where they apply they go on.
@Suite("--no-refit where nothing refits, --conv where no convolution is factorized")
struct UnusedRefitConvCLITests {
    let samples = TestPackage.root + "/samples/"

    /// A model made by `lrm example` (dense layers only), an output path, and an empty data folder (whatever gets past
    /// the command line to the data stops there, exit 66), in `scratch`.
    func setUp(_ scratch: Scratch) throws -> (model: String, output: String, mnist: [String]) {
        let model = scratch.file("example.lrm")
        #expect(try ChildProcess.run(["example", "-o", model]).status == 0)
        let empty = scratch.file("no-data")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        return (model, scratch.file("out.lrm"), ["--dataset", "mnist", "--data", empty])
    }

    @Test("--no-refit: refused by a policy conversion in the plain metric; taken by a data-aware policy and every search, integer factors included")
    func noRefit() throws {
        let scratch = try Scratch()
        let (model, output, mnist) = try setUp(scratch)
        let mlp = samples + "mnist_mlp.h5"
        let refused: [([String], String)] = [
            ([model], "a policy conversion in the plain metric never refits"),
            ([model, "--policy", "rank:2", "--metric", "plain"] + mnist, "a policy conversion in the plain metric never refits"),
            ([model, "--factor-dtype", "i8"] + mnist, "a policy conversion in the plain metric never refits"),
            ([model, "--finetune", "1"] + mnist, "a policy conversion in the plain metric never refits"),
        ]
        for (arguments, saying) in refused {
            let result = try ChildProcess.run(["convert"] + arguments + ["--no-refit", "-o", output])
            expectOneLineError(result, status: 64, naming: "--no-refit turns off the least-squares refit", "\(arguments)")
            #expect(result.stderr.contains(saying) && result.stderr.contains("(see lrm convert --help)"), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments)")
        }
        // Where a refit follows, past the command line to the (missing) data.
        for arguments in [["--policy", "whitened:0.9"], ["--policy", "activation-scaled:0.9", "--factor-dtype", "i8"], ["--target-accuracy-drop", "1"],
                          ["--target-metric-drop", "1", "--metric", "plain"], ["--target-ratio", "0.5"], ["--target-size", "1MB"],
                          ["--target-accuracy-drop", "1", "--minimize", "bytes"], ["--target-accuracy-drop", "1", "--factor-dtype", "i8"],
                          ["--target-ratio", "0.5", "--factor-dtype", "i4"], ["--target-metric-drop", "1", "--factor-dtype", "i8"]] {
            let result = try ChildProcess.run(["convert", mlp, "--no-refit", "-o", output] + mnist + arguments)
            #expect(result.status == 66 && result.stderr.contains("not found"), "\(arguments): \(result.stderr)")
        }
    }

    @Test("real-data: a rank search with --factor-dtype i8 refits its candidates and records it; --no-refit rounds them without the refit, at the same ranks",
          .enabled(if: datasets != nil))
    func noRefitIntegerRankSearch() throws {
        let scratch = try Scratch()
        let arguments = ["convert", samples + "mnist_mlp.h5", "--input-scale", "1/255", "--dataset", "mnist", "--target-ratio", "0.2",
                         "--factor-dtype", "i8", "--calibration-samples", "1000", "--validation-samples", "600"]
        let (refitted, plain) = (scratch.file("refitted.lrm"), scratch.file("plain.lrm"))
        let first = try ChildProcess.run(arguments + ["-o", refitted], timeout: 300)
        let second = try ChildProcess.run(arguments + ["--no-refit", "-o", plain], timeout: 300)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr) \(second.stderr)")
        let (a, b) = (try ContainerFile(path: refitted).header, try ContainerFile(path: plain).header)
        #expect(a.metadata[MetadataKey.conversionRefit] == .bool(true) && a.metadata[MetadataKey.refitCount] == .int(1000), "\(a.metadata)")
        #expect(b.metadata[MetadataKey.conversionRefit] == nil && b.metadata[MetadataKey.refitCount] == nil, "\(b.metadata)")
        #expect(a.metadata[MetadataKey.conversionFactorDType] == .string("i8") && b.metadata[MetadataKey.conversionFactorDType] == .string("i8"))
        // The same tensors (a ratio's ranks do not depend on the scores), other values.
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name) && a.tensors.map(\.shape) == b.tensors.map(\.shape))
        #expect(a.tensors.contains { $0.dtype == .int8 })
        #expect(try Data(contentsOf: URL(fileURLWithPath: refitted)) != Data(contentsOf: URL(fileURLWithPath: plain)))
    }

    @Test("--conv: refused, at any value, by --target-ratio, --target-size and --minimize bytes, and once read on a model without Conv2D layers")
    func conv() throws {
        let scratch = try Scratch()
        let (model, output, mnist) = try setUp(scratch)
        let cnn = samples + "mnist_cnn.h5"
        for form in ["auto", "none", "channel"] {
            for (arguments, saying) in [(["--target-ratio", "0.5"], "--target-ratio keeps them as they are"),
                                        (["--target-size", "1MB"], "--target-size and --minimize bytes keep them as they are"),
                                        (["--target-accuracy-drop", "1", "--minimize", "bytes"], "--target-size and --minimize bytes keep")] {
                let result = try ChildProcess.run(["convert", cnn, "--conv", form, "-o", output] + mnist + arguments)
                expectOneLineError(result, status: 64, naming: "--conv chooses how a policy conversion or a search", "\(form) \(arguments)")
                #expect(result.stderr.contains(saying), "\(result.stderr)")
            }
            // A model without convolutions (a .lrm, and a Keras file): named, before anything is factorized or any data read.
            for (dense, arguments) in [(model, ["--dry-run"]), (model, ["-o", output]), (samples + "mnist_mlp.h5", ["-o", output, "--target-accuracy-drop", "1"] + mnist)] {
                let result = try ChildProcess.run(["convert", dense, "--conv", form] + arguments)
                expectOneLineError(result, status: 64, naming: "\(dense): --conv \(form) chooses how Conv2D and Conv1D kernels are factorized; the model has none",
                                   "\(dense) \(form) \(arguments)")
                #expect(result.stdout.isEmpty && result.stderr.contains("(see lrm convert --help)"), "\(result.stdout)")
            }
            #expect(!FileManager.default.fileExists(atPath: output))
        }
        // A model whose only convolution is depthwise: it has convolutions, none that --conv acts on, and the line says why
        // (it said "the model has no convolutions").
        let depthwise = scratch.file("depthwise.lrm")
        try ContainerWriter.write(Self.depthwiseModel(), to: depthwise)
        let onlyDepthwise = try ChildProcess.run(["convert", depthwise, "--conv", "channel", "--policy", "rank:1", "-o", output])
        expectOneLineError(onlyDepthwise, status: 64, naming: "\(depthwise): --conv channel chooses how Conv2D and Conv1D kernels are factorized; "
                           + "the model has none (depthwise and transposed convolutions are never factorized)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // Where convolutions are factorized: a policy conversion of the CNN, and an accuracy or metric budget search.
        let policy = try ChildProcess.run(["convert", cnn, "--conv", "spatial", "--policy", "rank:4", "--dry-run", "--json"])
        #expect(policy.status == 0 && policy.stdout.contains("spatial form 48×96: rank 4 chose k = 4"), "\(policy.stderr)")
        for arguments in [["--target-accuracy-drop", "1"], ["--target-metric-drop", "1"]] {
            let result = try ChildProcess.run(["convert", cnn, "--conv", "channel", "-o", output] + mnist + arguments)
            #expect(result.status == 66 && result.stderr.contains("not found"), "\(arguments): \(result.stderr)")
        }
    }

    /// An 8×8×2 image through a depthwise convolution, global pooling and a dense softmax: convolutions, none factorizable.
    static func depthwiseModel() -> Model {
        let kernel = (0..<18).map { Float($0 % 5) / 5 - 0.3 }, dense = (0..<6).map { Float($0) / 6 - 0.4 }
        return Model(name: "depthwise", input: InputSpec(shape: [8, 8, 2], layout: .hwc), layers: [
            Layer(name: "dw", operation: .depthwiseConv2D(kernel: Tensor(shape: [3, 3, 2, 1], floats: kernel), bias: nil, activation: .relu,
                                                          geometry: ConvGeometry(strideH: 1, strideW: 1, dilationH: 1, dilationW: 1, padding: .same))),
            Layer(name: "gap", operation: .globalPool2D(.average)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [2, 3], floats: dense), bias: nil, activation: .softmax)),
        ])
    }
}
