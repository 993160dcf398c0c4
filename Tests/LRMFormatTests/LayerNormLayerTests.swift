import Testing
@testable import LRMFormat

/// Format 1.5: the `layer_norm` kind (26), layer normalization over the last axis (spec section 3.9).
enum LayerNormModels {
    /// input [2, 3] → `ln` layer_norm (gamma, beta, ε 1e-3) → `plain` layer_norm (neither, ε 1e-5) → flatten
    /// → `out` dense [6 → 2].
    static func make() -> Model {
        Model(name: "layer_norm", input: InputSpec(shape: [2, 3]), classNames: ["a", "b"], layers: [
            Layer(name: "ln", operation: .layerNorm(gamma: Tensor(shape: [3], floats: [1.5, -0.5, 0.25]),
                                                    beta: Tensor(shape: [3], floats: [0.1, 0, -0.2]), epsilon: 1e-3)),
            Layer(name: "plain", operation: .layerNorm(gamma: nil, beta: nil, epsilon: 1e-5)),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [6, 2], floats: (0..<12).map { Float($0 % 5) * 0.2 - 0.4 }),
                                                 bias: Tensor(shape: [2], floats: [0.5, -0.5]), activation: .softmax)),
        ], metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }

    /// The file of ``make()`` with its header edited (checksums kept), written as 1.5.
    static func hostile(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        try FileParts.hostile(make(), minor: 5, edit)
    }

    /// Sets the epsilon of layer `index`, keeping its tensors.
    static func setEpsilon(_ header: inout ContainerHeader, _ index: Int, _ epsilon: Double) {
        guard case let .layerNorm(gamma, beta, _) = header.model.layers[index].operation else { return }
        header.model.layers[index].operation = .layerNorm(gamma: gamma, beta: beta, epsilon: epsilon)
    }
}

@Suite("Layer normalization (format 1.5)")
struct LayerNormLayerTests {
    @Test("a model with layer_norm is written as 1.5 (kind 26: gamma, beta, f64 epsilon) and reads back the same")
    func roundTrip() throws {
        let model = LayerNormModels.make()
        let bytes = try ContainerWriter.encode(model)
        let file = try ContainerFile.decodeForTests(bytes)
        #expect(file.minorVersion == 5)
        #expect(try file.loadModel() == model)
        #expect(try file.header.layerOutputShapes() == [[2, 3], [2, 3], [6], [2]])
        // The record of 'plain': length 1 + 4 + 5 + 4 + 4 + 8 = 26, kind 26, the name, no gamma, no beta, ε 1e-5.
        let record: [UInt8] = [26, 0, 0, 0, 26, 5, 0, 0, 0] + Array("plain".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
            + withUnsafeBytes(of: (1e-5 as Double).bitPattern.littleEndian, Array.init)
        #expect((0...(bytes.count - record.count)).contains { Array(bytes[$0..<($0 + record.count)]) == record })
        guard case .array(let layers)? = file.contentJSON(includeValues: false)["model"]?["layers"], layers.count == 4 else {
            Issue.record("no layers in the file's JSON")
            return
        }
        #expect(layers[0]["kind"] == .string("layer_norm"))
        #expect(layers[0]["epsilon"] == .number(1e-3))
        #expect(layers[1]["gamma"] == .null && layers[1]["beta"] == .null)
        #expect(LayerOperation<Int>.layerNorm(gamma: nil, beta: nil, epsilon: 0).minimumMinorVersion == 5)
        // Parameters: gamma and beta (6), none for the plain one.
        let summary = ModelSummary(header: file.header)
        #expect(Array(summary.layers.map(\.parametersAfter).prefix(2)) == [6, 0])
    }

    nonisolated(unsafe) static let hostileCases: [(String, String, (inout ContainerHeader) -> Void)] = [
        ("gamma of another length", "layer 'ln' has gamma of shape [3], expected [4]", { $0.model.input.shape = [2, 4] }),
        ("negative epsilon", "layer 'plain' has epsilon -0.001, expected a finite number of 0 or more", { LayerNormModels.setEpsilon(&$0, 1, -1e-3) }),
        ("NaN epsilon", "layer 'ln' has epsilon nan", { LayerNormModels.setEpsilon(&$0, 0, .nan) }),
        ("infinite epsilon", "layer 'ln' has epsilon inf", { LayerNormModels.setEpsilon(&$0, 0, .infinity) }),
        ("beta as gamma's matrix", "has beta of shape", {
            guard case let .layerNorm(gamma, _, epsilon) = $0.model.layers[0].operation else { return }
            $0.model.layers[0].operation = .layerNorm(gamma: gamma, beta: 2, epsilon: epsilon)  // the dense kernel [6, 2]
        }),
    ]

    @Test("hostile layer_norm records are one-line bad_model errors naming the layer", arguments: 0..<hostileCases.count)
    func hostileFiles(_ index: Int) throws {
        let (what, message, edit) = Self.hostileCases[index]
        let bytes = try LayerNormModels.hostile(edit)
        try expectOneLineBadModel(bytes, containing: message, what)
    }
}

/// The invalid format 1.5 vectors of the layer normalization model (``LayerNormModels/make()``).
enum LayerNormDefect: String, CaseIterable, VectorDefect {
    case layerNormGammaShape, layerNormNegativeEpsilon, layerNormNanEpsilon

    var expectedKind: ContainerError.Kind { .badModel }

    var summary: String {
        switch self {
        case .layerNormGammaShape: "a layer_norm whose gamma [3] does not match its input's last axis (4)"
        case .layerNormNegativeEpsilon: "a layer_norm with epsilon -0.001"
        case .layerNormNanEpsilon: "a layer_norm with epsilon NaN"
        }
    }

    func apply() throws -> [UInt8] {
        try LayerNormModels.hostile { header in
            switch self {
            case .layerNormGammaShape: header.model.input.shape = [2, 4]
            case .layerNormNegativeEpsilon: LayerNormModels.setEpsilon(&header, 1, -1e-3)
            case .layerNormNanEpsilon: LayerNormModels.setEpsilon(&header, 0, .nan)
            }
        }
    }
}
