import Foundation
import LRMFormat
import LRMNumPy
import LRMTestSupport
import Testing

/// ../shared/datasets, when it holds MNIST.
private let sharedDatasets: String? = {
    let path = TestPackage.shared + "/datasets"
    return FileManager.default.fileExists(atPath: path + "/mnist") ? path : nil
}()

/// Runs `lrm arguments…` under `ulimit -v kilobytes` (through /bin/sh) and returns its exit status and stderr.
/// A crash shows as the shell's 128 + signal.
func runUnderMemoryLimit(_ arguments: [String], kilobytes: Int) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "ulimit -v \(kilobytes) && exec \"$0\" \"$@\"", TestPackage.lrm] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["SWIFT_BACKTRACE"] = "enable=no"
    process.environment = environment
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let data = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    return (status, String(decoding: data, as: UTF8.self))
}

/// Issue 19: crafted files and conditions from an outside review.
@Suite("Hostile files and conditions")
struct HostileConditionTests {
    /// A tiny `.lrm` (no tensors, one activation layer) whose input claims 2³¹−1 elements with one scale and
    /// offset: lrm used to expand the scale to one value per element (16 GiB) while preparing the model.
    static func hugeInputModel() -> Model {
        Model(name: "huge-input", input: InputSpec(shape: [Int(Int32.max)], scale: [0.5], offset: [1]),
              layers: [Layer(name: "act", operation: .activation(.relu))])
    }

    @Test("a tiny .lrm whose input claims 2³¹−1 elements: predict and verify end in a one-line error, exit 65, under ulimit -v 1 GiB")
    func hugeInputUnderMemoryLimit() throws {
        let scratch = try Scratch()
        let bytes = try ContainerWriter.encode(Self.hugeInputModel())
        #expect(bytes.count < 512, "\(bytes.count) bytes")
        let model = try scratch.write(bytes, to: "huge-input.lrm")
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [2, 4], float32: [Float](repeating: 1, count: 8)), to: inputs)
        var runs: [[String]] = [["predict", model, "--input", inputs, "-o", scratch.file("y.npy")],
                                ["predict", model, "--input", inputs, "-o", scratch.file("y.npy"), "--no-preprocess"]]
        if let sharedDatasets { runs.append(["verify", model, "--dataset", "mnist", "--data", sharedDatasets, "--limit", "10"]) }
        for arguments in runs {
            let result = try runUnderMemoryLimit(arguments, kilobytes: 1 << 20)
            #expect(result.status == 65, "\(arguments.first ?? ""): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
    }

    /// A tiny `.lrm` whose one zero-padding layer turns a 1×1×1 input into 46,339×46,339×1 samples
    /// (2,147,302,921 elements, under the format's 2³¹−1 per shape): 8 GiB per sample from one input value.
    static func paddingBlowUpModel() -> Model {
        Model(name: "padding", input: InputSpec(shape: [1, 1, 1], layout: .hwc),
              layers: [Layer(name: "pad", operation: .pad2D(Margins(top: 23169, bottom: 23169, left: 23169, right: 23169))),
                       Layer(name: "flat", operation: .flatten)])
    }

    @Test("a tiny .lrm whose padding claims 8 GiB per sample: predict ends in a one-line error, exit 65, under ulimit -v 1 GiB")
    func paddingBlowUpUnderMemoryLimit() throws {
        let scratch = try Scratch()
        let bytes = try ContainerWriter.encode(Self.paddingBlowUpModel())
        #expect(bytes.count < 1024, "\(bytes.count) bytes")
        let model = try scratch.write(bytes, to: "padding.lrm")
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 1, 1, 1], float32: [1]), to: inputs)
        let result = try runUnderMemoryLimit(["predict", model, "--input", inputs, "-o", scratch.file("y.npy")], kilobytes: 1 << 20)
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("padding.lrm") && result.stderr.contains("'pad'"), "\(result.stderr)")
    }

    /// A tiny `.lrm` with no tensors whose padding makes a 2049×2049 map of one input value and whose
    /// 2049×2049 average pooling ('same', stride 1) then reads 2049⁴ ≈ 1.8·10¹³ values per sample: hours of
    /// work from 300 bytes, in 16 MiB of memory.
    static func poolWorkModel() -> Model {
        Model(name: "pool-work", input: InputSpec(shape: [1, 1, 1], layout: .hwc),
              layers: [Layer(name: "pad", operation: .pad2D(Margins(top: 1024, bottom: 1024, left: 1024, right: 1024))),
                       Layer(name: "pool", operation: .pool2D(Pooling(mode: .average, poolH: 2049, poolW: 2049, strideH: 1, strideW: 1,
                                                                      padding: .same))),
                       Layer(name: "gap", operation: .globalPool2D(.max))])
    }

    @Test("a tiny .lrm whose pooling claims 1.8·10¹³ reads per sample: predict refuses it at once (exit 65, one line naming the layer)")
    func poolWorkIsRefused() throws {
        let scratch = try Scratch()
        let bytes = try ContainerWriter.encode(Self.poolWorkModel())
        #expect(bytes.count < 1024, "\(bytes.count) bytes")
        let model = try scratch.write(bytes, to: "pool.lrm")
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 1, 1, 1], float32: [1]), to: inputs)
        let result = try ChildProcess.run(["predict", model, "--input", inputs, "-o", scratch.file("y.npy")], timeout: 60)
        #expect(result.isCleanError && result.status == 65, "\(result)")
        #expect(result.stderr.contains("pool.lrm") && result.stderr.contains("'pool'") && result.stderr.contains("2³⁶"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("y.npy")))
    }

    @Test("predict refuses NaN or infinite inputs naming the first (sample, feature), --allow-non-finite-inputs runs them; overflow is reported")
    func nonFiniteInputs() throws {
        let scratch = try Scratch()
        let model = scratch.file("m.lrm")
        try ContainerWriter.write(ExampleModel.make(seed: 3), to: model)
        var values = [Float](repeating: 0.5, count: 3 * 784)
        values[784 + 12] = .nan
        values[2 * 784 + 5] = -.infinity
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [3, 784], float32: values), to: inputs)
        let output = scratch.file("y.npy")
        let refused = try ChildProcess.run(["predict", model, "--input", inputs, "-o", output], timeout: 60)
        #expect(refused.isCleanError && refused.status == 65, "\(refused)")
        #expect(refused.stderr.contains("x.npy") && refused.stderr.contains("2 of 2352") && refused.stderr.contains("sample 1, feature 12"),
                "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let allowed = try ChildProcess.run(["predict", model, "--input", inputs, "-o", output, "--allow-non-finite-inputs"], timeout: 60)
        #expect(allowed.status == 0 && allowed.stderr.contains("warning") && allowed.stderr.contains("non-finite"), "\(allowed)")

        // Finite inputs that overflow: an identity model scaling by 1e30 twice.
        let overflow = scratch.file("overflow.lrm")
        try ContainerWriter.write(Model(name: "overflow", input: InputSpec(shape: [2], scale: [1e30]),
                                        layers: [Layer(name: "s", operation: .scaleShift(scale: Tensor(shape: [2], floats: [1e30, 1]), shift: nil))]),
                                  to: overflow)
        let small = scratch.file("small.npy")
        try NPY.write(try NumPyArray(shape: [1, 2], float32: [10, 1]), to: small)
        let reported = try ChildProcess.run(["predict", overflow, "--input", small, "-o", scratch.file("o.npy")], timeout: 60)
        #expect(reported.status == 0 && reported.stderr.contains("from finite inputs") && reported.stderr.contains("output 0"), "\(reported)")
    }

    @Test("per-channel preprocessing is broadcast at run time: HWC and CHW, one value, per element")
    func preprocessingBroadcast() throws {
        let scratch = try Scratch()
        // An identity model on a 2×2×3 (HWC) or 3×2×2 (CHW) input: outputs are the preprocessed inputs.
        let cases: [(InputSpec, [Float])] = [
            (InputSpec(shape: [2, 2, 3], layout: .hwc, scale: [1, 10, 100], offset: [0, 0, 1]),
             (0..<12).map { i in Float(i + 1) * [1, 10, 100][i % 3] + [0, 0, 1][i % 3] }),
            (InputSpec(shape: [3, 2, 2], layout: .chw, scale: [1, 10, 100], offset: [0, 0, 1]),
             (0..<12).map { i in Float(i + 1) * [1, 10, 100][i / 4] + [0, 0, 1][i / 4] }),
            (InputSpec(shape: [12], scale: [2]), (0..<12).map { Float($0 + 1) * 2 }),
            (InputSpec(shape: [12], offset: (0..<12).map(Double.init)), (0..<12).map { Float($0 + 1) + Float($0) }),
        ]
        for (index, (input, expected)) in cases.enumerated() {
            let model = scratch.file("m\(index).lrm")
            try ContainerWriter.write(Model(name: "identity", input: input, layers: [Layer(name: "id", operation: .activation(.linear))]), to: model)
            let inputs = scratch.file("x\(index).npy")
            try NPY.write(try NumPyArray(shape: [1] + input.shape, float32: (0..<12).map { Float($0 + 1) }), to: inputs)
            let result = try ChildProcess.run(["predict", model, "--input", inputs, "-o", scratch.file("y\(index).npy")], timeout: 60)
            #expect(result.status == 0, "\(result)")
            let outputs = try NPY.read(path: scratch.file("y\(index).npy")).floatValues()
            #expect(outputs == expected, "case \(index): \(outputs) vs \(expected)")
        }
    }

    @Test("real-data: verify runs each model with its own preprocessing; a candidate imported with --input-scale 1e-6 fails against the good one",
          .enabled(if: sharedDatasets != nil))
    func verifyGateBypass() throws {
        let scratch = try Scratch()
        let keras = TestPackage.root + "/samples/mnist_mlp.h5"
        let bad = scratch.file("bad.lrm"), good = scratch.file("good.lrm")
        // A scale of 0 is refused now; 1e-6 makes the inputs about as useless (every pixel ≈ 0).
        #expect(try ChildProcess.run(["import", keras, "--input-scale", "1e-6", "-o", bad]).status == 0)
        #expect(try ChildProcess.run(["import", keras, "--input-scale", "1/255", "-o", good]).status == 0)
        let data = try #require(sharedDatasets)
        let common = ["--dataset", "mnist", "--data", data, "--limit", "500", "--max-accuracy-drop", "1"]
        // The issue's bypass: both used to run with the candidate's scale 0 (8.92 % each, PASS).
        let againstGood = try ChildProcess.run(["verify", bad, "--reference", good] + common, timeout: 120)
        #expect(againstGood.status == 1, "\(againstGood)")
        #expect(againstGood.stdout.contains("record different preprocessing"), "\(againstGood.stdout)")
        // A Keras reference records none: the command line's scale is its, and the candidate keeps its own.
        let againstKeras = try ChildProcess.run(["verify", bad, "--reference", keras, "--input-scale", "1/255"] + common, timeout: 120)
        #expect(againstKeras.status == 1, "\(againstKeras)")
        #expect(againstKeras.stderr.contains("records its own preprocessing"), "\(againstKeras.stderr)")
        // The ordinary case still passes: the Keras reference runs with the good model's recorded scale, and says so.
        let ordinary = try ChildProcess.run(["verify", good, "--reference", keras] + common, timeout: 120)
        #expect(ordinary.status == 0, "\(ordinary)")
        #expect(ordinary.stdout.contains("records no preprocessing; it runs with the compressed model's"), "\(ordinary.stdout)")
    }

    /// A `.lrm` whose `layers` dense layers all use one n×n identity kernel (tensor 0) and one zero bias
    /// (tensor 1): the spec lets layers share a tensor, so the file holds it once.
    static func sharedKernelFile(n: Int, layers: Int, to path: String) throws {
        let kernel = (0..<(n * n)).map { $0 / n == $0 % n ? Float(1) : 0 }
        let bias = [Float](repeating: 0, count: n)
        let tensors = [TensorInfo(name: "shared/kernel", dtype: .float32, shape: [n, n], byteOffset: 0, byteCount: 4 * n * n),
                       TensorInfo(name: "shared/bias", dtype: .float32, shape: [n], byteOffset: 4 * n * n, byteCount: 4 * n)]
        let described = (0..<layers).map { Layer<Int>(name: "d\($0)", operation: .dense(kernel: 0, bias: 1, activation: .linear)) }
        let header = ContainerHeader(alignment: 64, metadata: [:], userMetadata: [:], tensors: tensors,
                                     model: ModelDescription(name: "shared", input: InputSpec(shape: [n]), layers: described))
        try ContainerWriter.write(header: header, to: path) { index, emit in
            try (index == 0 ? kernel : bias).withUnsafeBytes { try emit($0) }
        }
    }

    @Test("one 1024×1024 kernel shared by 1,000 layers (a 4 MB file): inspect counts it once, predict runs under ulimit -v 1.5 GiB")
    func sharedKernelDecodedOnce() throws {
        let scratch = try Scratch()
        let model = scratch.file("shared.lrm")
        try Self.sharedKernelFile(n: 1024, layers: 1000, to: model)
        let inspected = try ChildProcess.run(["inspect", model, "--json"])
        #expect(inspected.status == 0, "\(inspected)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])
        #expect(object["parameters_after"] as? Int == 1024 * 1024 + 1024, "\(inspected.stdout.prefix(600))")
        // Decoded per layer, the kernel took 4.1 GB; decoded once it is 4 MB.
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [2, 1024], float32: (0..<2048).map { Float($0 % 7) }), to: inputs)
        let result = try runUnderMemoryLimit(["predict", model, "--input", inputs, "-o", scratch.file("y.npy")], kilobytes: 3 << 19)
        #expect(result.status == 0, "\(result)")
        let outputs = try NPY.read(path: scratch.file("y.npy"))
        #expect(outputs.shape == [2, 1024])
        #expect(outputs.floatValues() == (0..<2048).map { Float($0 % 7) })   // identity, 1,000 times
    }

    @Test("a shared kernel used by more layers than the work limit allows: predict, report and export refuse it in one line, exit 65")
    func sharedKernelWorkLimit() throws {
        let scratch = try Scratch()
        let model = scratch.file("many.lrm")
        // 2¹⁶ + 1 layers of 1024 × 1024 multiply-adds: just over the 2³⁶ per sample the runtime accepts.
        try Self.sharedKernelFile(n: 1024, layers: (1 << 16) + 1, to: model)
        let inputs = scratch.file("x.npy")
        try NPY.write(try NumPyArray(shape: [1, 1024], float32: [Float](repeating: 1, count: 1024)), to: inputs)
        // report runs nothing: it describes the file within the limit (it used to abort).
        let report = try runUnderMemoryLimit(["report", model, "-o", scratch.file("r.html")], kilobytes: 3 << 19)
        #expect(report.status == 0, "\(report)")
        try FileManager.default.removeItem(atPath: scratch.file("r.html"))
        let runs: [[String]] = [["predict", model, "--input", inputs, "-o", scratch.file("y.npy")],
                                ["export", model, "--to", "keras", "-o", scratch.file("m.h5")]]
        for arguments in runs {
            let result = try runUnderMemoryLimit(arguments, kilobytes: 3 << 19)
            #expect(result.status == 65, "\(arguments.first ?? ""): \(result)")
            #expect(result.stderr.hasPrefix("lrm: error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        }
        #expect(scratch.contents() == ["many.lrm", "x.npy"])
    }

    @Test("own data with finite values too large for float32 statistics: the error says the data is at fault, not a failed factorization")
    func hugeFiniteInputs() throws {
        let scratch = try Scratch()
        let samples = TestPackage.root + "/samples/"
        var values = try NPY.read(path: samples + "housing_x.npy").floatValues()
        values[10 * 20 + 3] = 3e38   // finite, but its square overflows XᵀX in float
        try NPY.write(try NumPyArray(shape: [values.count / 20, 20], float32: values), to: scratch.file("x.npy"))
        let result = try ChildProcess.run(["convert", samples + "housing_mlp.h5", "--inputs", scratch.file("x.npy"), "--labels", samples + "housing_y.npy",
                                           "--policy", "whitened:0.9", "-o", scratch.file("o.lrm")], timeout: 120)
        #expect(result.isCleanError && result.status == 65, "\(result)")
        #expect(result.stderr.contains("too large for float32") && result.stderr.contains("--input-scale") && !result.stderr.contains("Cholesky"),
                "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("o.lrm")))
    }
}
