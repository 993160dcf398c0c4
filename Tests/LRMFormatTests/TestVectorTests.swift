import Foundation
import Testing
@testable import LRMFormat

/// The valid vectors of `spec/vectors/valid/`: a name, a model and how it is written.
enum ValidVector: String, CaseIterable {
    case tiny, example, allDTypes = "all_dtypes", image, noLayers = "no_layers", futureMinor = "future_minor"
    case alignment8 = "alignment_8", alignment4096 = "alignment_4096", alignment65536 = "alignment_65536"
    case chw, sharedTensor = "shared_tensor"
    case cnn
    case quantized
    case quantizedZeroPoints = "quantized_zero_points"
    case slots
    case branches
    case upsample
    case activations
    case conv2dTranspose = "conv2d_transpose"
    case layerNorm = "layer_norm"

    func bytes() throws -> [UInt8] {
        switch self {
        case .tiny: return try ContainerWriter.encode(TinyModel.make())
        case .example:
            return try ContainerWriter.encode(ExampleModel.make(seed: 5, inputFeatures: 12, hidden: 8, rank: 3, classes: 4))
        case .allDTypes:
            var model = TinyModel.make()
            let dtypes: [DType] = [.float16, .bfloat16, .float64, .float32]
            var counter = 0
            model.layers = model.layers.map { layer in
                Layer(name: layer.name, operation: layer.operation.map { tensor, _ in
                    defer { counter += 1 }
                    return tensor.converted(to: dtypes[counter % dtypes.count])
                })
            }
            return try ContainerWriter.encode(model)
        case .image:
            var rng = SeededGenerator(seed: 11)
            let values = { (n: Int) in (0..<n).map { _ in rng.nextSymmetricFloat() } }
            let layers: [Layer<Tensor>] = [
                Layer(name: "norm", operation: .scaleShift(scale: Tensor(shape: [3], floats: [2, 1, 0.5]), shift: nil)),
                Layer(name: "flatten", operation: .flatten),
                Layer(name: "dense", operation: .dense(kernel: Tensor(shape: [12, 4], floats: values(48)), bias: nil, activation: .gelu)),
                Layer(name: "reshape", operation: .reshape([2, 2])),
                Layer(name: "per_row", operation: .dense(kernel: Tensor(shape: [2, 3], floats: values(6)),
                                                          bias: Tensor(shape: [3], floats: values(3)), activation: .linear)),
                Layer(name: "flatten_out", operation: .flatten),
                Layer(name: "probabilities", operation: .activation(.softmax)),
            ]
            let model = Model(name: "image ✓", input: InputSpec(shape: [2, 2, 3], layout: .hwc, scale: [1.0 / 255.0],
                                                                 offset: [-0.5, -0.25, 0]),
                              classNames: ["a", "b", "c", "d", "e", "f"], layers: layers,
                              metadata: [MetadataKey.writer: .string("lrm 0.1.0"), "x.bool": .bool(true), "x.float": .float(-2.5),
                                         "x.floats": .floats([0.25, 1e-300]), "x.int": .int(-7), "x.ints": .ints([Int64.min, 0, Int64.max]),
                                         "x.strings": .strings(["", "δ"])],
                              userMetadata: ["author": "Ада", "line\tbreak": "a\nb"])
            return try ContainerWriter.encode(model)
        case .noLayers:
            return try ContainerWriter.encode(Model(name: "", input: InputSpec(shape: [5]), layers: []))
        case .futureMinor:
            var parts = try FileParts(try ContainerWriter.encode(TinyModel.make()))
            parts.minor = 7
            return parts.assemble()
        case .alignment8: return try ContainerWriter.encode(TinyModel.make(), alignment: 8)
        case .alignment65536:
            let model = Model(name: "one", input: InputSpec(shape: [2]), layers: [
                Layer(name: "only", operation: .dense(kernel: Tensor(shape: [2, 2], floats: [1, 2, 3, 4]), bias: nil, activation: .linear))])
            return try ContainerWriter.encode(model, alignment: 65536)
        case .chw:
            // CHW input with per-channel scale and per-element offset, a scale-shift without shift,
            // a dense layer without bias, empty model and class names, non-ASCII names.
            let model = Model(name: "", input: InputSpec(shape: [3, 1, 2], layout: .chw, scale: [1, 0.5, 0.25],
                                                          offset: [0, 1, 2, 3, 4, 5]),
                              classNames: ["", "ß", "猫"], layers: [
                Layer(name: "flatten", operation: .flatten),
                Layer(name: "größe", operation: .scaleShift(scale: Tensor(shape: [6], floats: [1, -1, 2, -2, 0.5, -0.5]), shift: nil)),
                Layer(name: "密集", operation: .dense(kernel: Tensor(shape: [6, 3], floats: (0..<18).map { Float($0) / 8 - 1 }),
                                                     bias: nil, activation: .sigmoid)),
            ], metadata: [MetadataKey.writer: .string("lrm 0.1.0")], userMetadata: ["ключ": "значение"])
            return try ContainerWriter.encode(model)
        case .sharedTensor:
            // Two layers refer to the same tensor (allowed: every tensor is used at least once).
            let tensors = [TensorInfo(name: "shared/kernel", dtype: .float32, shape: [2, 2], byteOffset: 0, byteCount: 16)]
            var header = ContainerHeader(alignment: 64, metadata: [:], userMetadata: [:], tensors: tensors, model: ModelDescription(
                name: "shared", input: InputSpec(shape: [2]), layers: [
                    Layer(name: "a", operation: .dense(kernel: 0, bias: nil, activation: .tanh)),
                    Layer(name: "b", operation: .dense(kernel: 0, bias: nil, activation: .linear))]))
            let data: [Float] = [0.5, -0.5, 0.25, 1]
            header.tensors[0].crc32 = data.withUnsafeBytes { CRC32.checksum($0) }
            let headerBytes = header.encode()
            var bytes = ContainerWriter.preamble(header: header, headerBytes: headerBytes) + headerBytes
            bytes += [UInt8](repeating: 0, count: alignUp(bytes.count, to: 64)! - bytes.count)
            data.withUnsafeBytes { bytes.append(contentsOf: $0) }
            return bytes
        case .alignment4096: return try ContainerWriter.encode(TinyModel.make(), alignment: 4096)
        case .cnn: return try ContainerWriter.encode(ConvModel.make())
        case .quantized: return try ContainerWriter.encode(QuantModel.make())
        case .quantizedZeroPoints: return try ContainerWriter.encode(ZeroPointModel.make())
        case .slots: return try ContainerWriter.encode(SlotModels.residual())
        case .upsample: return try ContainerWriter.encode(UpsampleModels.make())
        case .activations: return try ContainerWriter.encode(ActivationModel.make())
        case .conv2dTranspose: return try ContainerWriter.encode(TransposedModels.make())
        case .layerNorm: return try ContainerWriter.encode(LayerNormModels.make())
        case .branches:
            // Format 1.4: a model with branches as one list of layers (spec section 3.7): the input kept in slot
            // 65,535, two dense branches of it, every merge mode, slot 2 stored again, and a concatenation of
            // [2, 3], [2, 4] and [2, 4] samples on the last axis.
            var rng = SeededGenerator(seed: 14)
            let values = { (n: Int) in (0..<n).map { _ in rng.nextSymmetricFloat() } }
            let layers: [Layer<Tensor>] = [
                Layer(name: "input/store", operation: .store(slot: 65535)),
                Layer(name: "a", operation: .dense(kernel: Tensor(shape: [3, 4], floats: values(12)),
                                                   bias: Tensor(shape: [4], floats: values(4)), activation: .relu)),
                Layer(name: "a/store", operation: .store(slot: 1)),
                Layer(name: "b/load", operation: .load(slot: 65535)),
                Layer(name: "b", operation: .dense(kernel: Tensor(shape: [3, 4], floats: values(12)), bias: nil, activation: .tanh)),
                Layer(name: "b/store", operation: .store(slot: 2)),
                Layer(name: "difference", operation: .merge(.subtract, slots: [1], activation: .linear)),
                Layer(name: "mean", operation: .merge(.average, slots: [1, 2], activation: .linear)),
                Layer(name: "product", operation: .merge(.multiply, slots: [2], activation: .linear)),
                Layer(name: "most", operation: .merge(.maximum, slots: [1, 1], activation: .linear)),
                Layer(name: "least", operation: .merge(.minimum, slots: [2], activation: .linear)),
                Layer(name: "sum", operation: .merge(.add, slots: [1, 2], activation: .relu)),
                Layer(name: "sum/store", operation: .store(slot: 2)),
                Layer(name: "input/load", operation: .load(slot: 65535)),
                Layer(name: "join", operation: .merge(.concatenate, slots: [1, 2], activation: .linear)),
                Layer(name: "flatten", operation: .flatten),
                Layer(name: "out", operation: .dense(kernel: Tensor(shape: [22, 2], floats: values(44)),
                                                     bias: Tensor(shape: [2], floats: values(2)), activation: .softmax)),
            ]
            let model = Model(name: "branches", input: InputSpec(shape: [2, 3], scale: [0.5]), classNames: ["no", "yes"],
                              layers: layers, metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
            return try ContainerWriter.encode(model)
        }
    }
}

private let vectorsDirectory = packageRoot + "/spec/vectors"
private let regenerate = ProcessInfo.processInfo.environment["LRM_REGENERATE_VECTORS"] == "1"

private func invalidManifest() -> String {
    func entries<D: VectorDefect>(_ defects: D.Type) -> [JSONValue] {
        D.allCases.map { defect in
            .object([("file", .string(defect.fileName)), ("error", .string(defect.expectedKind.rawValue)),
                     ("stage", .string(defect.foundOnlyByVerify ? "verify" : "open")), ("description", .string(defect.summary))])
        }
    }
    let all = entries(Defect.self) + entries(ConvDefect.self) + entries(QuantDefect.self) + entries(ZeroPointDefect.self)
        + entries(SlotDefect.self) + entries(UpsampleDefect.self) + entries(ActivationDefect.self)
        + entries(TransposedDefect.self) + entries(LayerNormDefect.self)
    return JSONValue.array(all).serialized(indent: 2) + "\n"
}

/// Writes `bytes` when regenerating; otherwise checks the committed file is identical.
private func check(_ bytes: [UInt8], at path: String) throws {
    if regenerate {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    } else {
        let committed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(committed == bytes, "\(path) differs from what the generator makes; run with LRM_REGENERATE_VECTORS=1")
    }
}

@Suite("Test vectors")
struct TestVectorTests {
    @Test("valid vectors are what the writer makes, and decode to their JSON", arguments: ValidVector.allCases)
    func valid(_ vector: ValidVector) throws {
        let bytes = try vector.bytes()
        let path = "\(vectorsDirectory)/valid/\(vector.rawValue).lrm"
        try check(bytes, at: path)
        let file = try ContainerFile(path: path)
        try file.verifyAllChecksums()
        let json = file.contentJSON().serialized(indent: 2) + "\n"
        try check(Array(json.utf8), at: "\(vectorsDirectory)/valid/\(vector.rawValue).json")
    }

    @Test("invalid vectors are the corruption catalogue, each with its error kind", arguments: Defect.allCases)
    func invalid(_ defect: Defect) throws {
        let path = "\(vectorsDirectory)/invalid/\(defect.fileName)"
        try check(try defect.apply(), at: path)
        let directory = try TemporaryDirectory()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(openErrorKind(bytes, in: directory) == defect.expectedKind)
    }

    @Test("invalid format 1.1 vectors are the convolution defects, each with its error kind", arguments: ConvDefect.allCases)
    func invalidConvolution(_ defect: ConvDefect) throws {
        let path = "\(vectorsDirectory)/invalid/\(defect.fileName)"
        try check(try defect.apply(), at: path)
        let directory = try TemporaryDirectory()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(openErrorKind(bytes, in: directory) == defect.expectedKind)
    }

    @Test("a model without format 1.1 layers is written as 1.0, one with them as 1.1; a newer kind names the version")
    func versionFollowsLayerKinds() throws {
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(TinyModel.make())).minorVersion == 0)
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(ConvModel.make())).minorVersion == 1)
        do {
            _ = try ContainerFile.decodeForTests(ConvDefect.futureLayerKind.apply())
            Issue.record("a file with layer kind 200 opened")
        } catch let error as ContainerError {
            #expect(error.message.contains("unknown kind code 200"))
            #expect(error.message.contains("the file is format 1.99; this reader reads up to 1.5"))
        }
    }

    @Test("invalid format 1.2 vectors are the quantization defects, each with its error kind and stage", arguments: QuantDefect.allCases)
    func invalidQuantization(_ defect: QuantDefect) throws {
        try checkStaged(defect)
    }

    @Test("a model without quantized weights is written as 1.0, one with them as 1.2, one with zero points as 1.3")
    func versionFollowsQuantization() throws {
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(TinyModel.make())).minorVersion == 0)
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(QuantModel.make())).minorVersion == 2)
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(ZeroPointModel.make())).minorVersion == 3)
    }

    @Test("invalid format 1.3 vectors are the zero-point defects, each with its error kind and stage", arguments: ZeroPointDefect.allCases)
    func invalidZeroPoints(_ defect: ZeroPointDefect) throws {
        try checkStaged(defect)
    }

    @Test("invalid format 1.4 vectors are the slot defects, each with its error kind", arguments: SlotDefect.allCases)
    func invalidSlots(_ defect: SlotDefect) throws {
        try checkStaged(defect)
    }

    @Test("invalid format 1.5 vectors are the upsampling defects, each with its error kind", arguments: UpsampleDefect.allCases)
    func invalidUpsampling(_ defect: UpsampleDefect) throws {
        try checkStaged(defect)
    }

    @Test("invalid format 1.5 vectors are the activation defects, each with its error kind", arguments: ActivationDefect.allCases)
    func invalidActivations(_ defect: ActivationDefect) throws {
        try checkStaged(defect)
    }

    @Test("invalid format 1.5 vectors are the transposed convolution defects, each with its error kind", arguments: TransposedDefect.allCases)
    func invalidTransposed(_ defect: TransposedDefect) throws {
        try checkStaged(defect)
    }

    @Test("invalid format 1.5 vectors are the layer normalization defects, each with its error kind", arguments: LayerNormDefect.allCases)
    func invalidLayerNorm(_ defect: LayerNormDefect) throws {
        try checkStaged(defect)
    }

    /// A defect's vector is what its generator makes, and gives its error kind at its stage: when the file is
    /// opened, or only when checksums are verified, in which case loading the model (as the runtime does,
    /// checking scales and zero points) refuses it too.
    private func checkStaged(_ defect: some VectorDefect) throws {
        let path = "\(vectorsDirectory)/invalid/\(defect.fileName)"
        try check(try defect.apply(), at: path)
        let directory = try TemporaryDirectory()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(openErrorKind(bytes, in: directory, verify: false) == (defect.foundOnlyByVerify ? nil : defect.expectedKind))
        #expect(openErrorKind(bytes, in: directory) == defect.expectedKind)
        if defect.foundOnlyByVerify {
            let file = try ContainerFile(path: try directory.write(bytes, to: "load.lrm"))
            #expect(throws: ContainerError.self) { try file.loadModel(verifyChecksums: false) }
        }
    }

    @Test("the invalid manifest lists every defect")
    func manifest() throws {
        try check(Array(invalidManifest().utf8), at: "\(vectorsDirectory)/invalid/manifest.json")
    }

    @Test("spec/TINY.md shows the tiny file byte for byte")
    func tinyDocument() throws {
        let document = try TinyDocument.render()
        try check(Array(document.utf8), at: packageRoot + "/spec/TINY.md")
    }
}
