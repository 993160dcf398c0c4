import Foundation
import Testing
@testable import LRMFormat

/// The model of the valid vector `activations` (format 1.5): every activation code of 1.5 and every
/// `parametric_activation` function on `[2, 3]` samples.
enum ActivationModel {
    static func make() -> Model {
        var rng = SeededGenerator(seed: 15)
        let values = { (n: Int) in (0..<n).map { _ in rng.nextSymmetricFloat() } }
        let layers: [Layer<Tensor>] = [
            Layer(name: "fc", operation: .dense(kernel: Tensor(shape: [3, 3], floats: values(9)), bias: Tensor(shape: [3], floats: values(3)),
                                                activation: .mish)),
            Layer(name: "leaky", operation: .parametricActivation(.relu(negativeSlope: 0.25, threshold: 0, maxValue: .infinity), alphas: nil)),
            Layer(name: "clipped", operation: .parametricActivation(.relu(negativeSlope: 0.125, threshold: 0.5, maxValue: 2), alphas: nil)),
            Layer(name: "elu", operation: .parametricActivation(.elu(alpha: 0.5), alphas: nil)),
            Layer(name: "prelu_channel", operation: .parametricActivation(.prelu, alphas: Tensor(shape: [3], floats: [0.25, -0.5, 2]))),
            Layer(name: "prelu_row", operation: .parametricActivation(.prelu, alphas: Tensor(shape: [2, 1], floats: [0.125, 0.75]))),
            Layer(name: "hard_silu", operation: .activation(.hardSilu)),
            Layer(name: "log_sigmoid", operation: .activation(.logSigmoid)),
            Layer(name: "hard_tanh", operation: .activation(.hardTanh)),
            Layer(name: "hard_sigmoid_keras2", operation: .activation(.hardSigmoidKeras2)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [3, 2], floats: values(6)), bias: nil, activation: .logSoftmax)),
        ]
        return Model(name: "activations", input: InputSpec(shape: [2, 3]), layers: layers)
    }
}

/// The invalid format 1.5 vectors: the `activations` model's file with one defect.
enum ActivationDefect: String, CaseIterable, VectorDefect {
    case unknownActivationCode, unknownParametricFunction, reluNanSlope, reluNegativeThreshold, eluParameterCount
    case preluAlphasShape, preluWithoutAlphas, eluWithAlphas

    var expectedKind: ContainerError.Kind {
        switch self {
        case .unknownActivationCode, .unknownParametricFunction: .unsupportedFeature
        default: .badModel
        }
    }

    var summary: String {
        switch self {
        case .unknownActivationCode: "a dense layer with activation code 200"
        case .unknownParametricFunction: "a parametric_activation with function code 9"
        case .reluNanSlope: "a parametric relu whose negative_slope is NaN"
        case .reluNegativeThreshold: "a parametric relu with threshold -1"
        case .eluParameterCount: "a parametric elu with 2 parameters"
        case .preluAlphasShape: "a prelu with alphas [4] on samples [2, 3]"
        case .preluWithoutAlphas: "a prelu without an alphas tensor"
        case .eluWithAlphas: "a parametric elu with an alphas tensor"
        }
    }

    /// The `activations` file with `edit` applied to its header (checksums kept), written as format 1.5.
    static func hostile(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
        try FileParts.hostile(ActivationModel.make(), minor: 5, edit)
    }

    /// The index of layer `name` in the `activations` model.
    static func layer(_ name: String) -> Int { ActivationModel.make().layers.firstIndex { $0.name == name } ?? 0 }

    func apply() throws -> [UInt8] {
        switch self {
        case .unknownActivationCode, .unknownParametricFunction:
            // Patched in the bytes: the writer has no value for an unknown code. The byte after the record of `fc`'s
            // bias is its activation; a parametric record's first byte after its name is its function.
            var parts = try FileParts(try Self.hostile { _ in })
            let name = self == .unknownActivationCode ? "out" : "elu"
            let marker: [UInt8] = [UInt8(name.utf8.count), 0, 0, 0] + Array(name.utf8)
            let header = parts.header
            guard let at = (0..<(header.count - marker.count)).first(where: { Array(header[$0..<($0 + marker.count)]) == marker }) else {
                throw ContainerError(.badModel, "the activations model has no layer '\(name)'")
            }
            if self == .unknownActivationCode {
                // out: kernel tref, bias tref (none), then the activation byte.
                parts.header[at + marker.count + 8] = 200
            } else {
                parts.header[at + marker.count] = 9
            }
            return parts.assemble()
        case .reluNanSlope:
            return try Self.hostile { $0.model.layers[Self.layer("leaky")].operation = .parametricActivation(
                .relu(negativeSlope: .nan, threshold: 0, maxValue: .infinity), alphas: nil) }
        case .reluNegativeThreshold:
            return try Self.hostile { $0.model.layers[Self.layer("clipped")].operation = .parametricActivation(
                .relu(negativeSlope: 0.125, threshold: -1, maxValue: 2), alphas: nil) }
        case .eluParameterCount:
            // One more f64 in elu's parameters: the count 1 → 2 and 8 bytes (1.0) after the alpha; the record grows by 8.
            var parts = try FileParts(try Self.hostile { _ in })
            let marker: [UInt8] = [3, 0, 0, 0] + Array("elu".utf8) + [1, 1, 0, 0, 0]
            let header = parts.header
            guard let at = (0..<(header.count - marker.count)).first(where: { Array(header[$0..<($0 + marker.count)]) == marker }) else {
                throw ContainerError(.badModel, "the activations model has no elu record")
            }
            parts.header[at + marker.count - 4] = 2
            let alphaEnd = at + marker.count + 8
            parts.header.insert(contentsOf: [0, 0, 0, 0, 0, 0, 0xF0, 0x3F], at: alphaEnd)
            // record_length (u32 before the kind byte) + 8.
            let lengthAt = at - 1 - 4
            let length = UInt32(parts.header[lengthAt]) | UInt32(parts.header[lengthAt + 1]) << 8
            parts.header[lengthAt] = UInt8((length + 8) & 0xFF)
            parts.header[lengthAt + 1] = UInt8((length + 8) >> 8)
            return parts.assemble()
        case .preluAlphasShape:
            return try Self.hostile { header in
                let index = Self.layer("prelu_channel")
                guard case let .parametricActivation(_, alphas?) = header.model.layers[index].operation else { return }
                header.tensors[alphas].shape = [4]
                header.tensors[alphas].byteCount = 16
            }
        case .preluWithoutAlphas:
            return try Self.hostile { $0.model.layers[Self.layer("prelu_row")].operation = .parametricActivation(.prelu, alphas: nil) }
        case .eluWithAlphas:
            return try Self.hostile { header in
                guard case let .parametricActivation(_, alphas?) = header.model.layers[Self.layer("prelu_row")].operation else { return }
                header.model.layers[Self.layer("elu")].operation = .parametricActivation(.elu(alpha: 0.5), alphas: alphas)
            }
        }
    }
}

@Suite("Parametric activations (format 1.5)")
struct ActivationFormatTests {
    @Test("a model with a 1.5 activation code or a parametric_activation is written as 1.5; without, its version is unchanged")
    func version() throws {
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(ActivationModel.make())).minorVersion == 5)
        var onlyCode = TinyModel.make()
        onlyCode.layers.append(Layer(name: "extra", operation: .activation(.hardTanh)))
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(onlyCode)).minorVersion == 5)
        var dense = TinyModel.make()
        if case let .dense(kernel, bias, _) = dense.layers[0].operation {
            dense.layers[0].operation = .dense(kernel: kernel, bias: bias, activation: .mish)
        }
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(dense)).minorVersion == 5)
        #expect(try ContainerFile.decodeForTests(ContainerWriter.encode(TinyModel.make())).minorVersion == 0)
    }

    @Test("the activations model round-trips through a file")
    func roundTrip() throws {
        let model = ActivationModel.make()
        let file = try ContainerFile.decodeForTests(ContainerWriter.encode(model))
        let loaded = try file.loadModel()
        #expect(loaded.layers == model.layers)
    }

    @Test("a 1.4 reader's view: a 1.5 code in a newer file is refused naming the code and the versions")
    func newerCodeNamesVersions() throws {
        var parts = try FileParts(try ActivationDefect.unknownActivationCode.apply())
        parts.minor = 6
        do {
            _ = try ContainerFile.decodeForTests(parts.assemble())
            Issue.record("a file with activation code 200 opened")
        } catch let error as ContainerError {
            #expect(error.kind == .unsupportedFeature)
            #expect(error.message.contains("unknown activation code 200"))
            #expect(error.message.contains("the file is format 1.6; this reader reads up to 1.5"))
        }
    }

    @Test("each defect gives its error kind and a message naming the layer", arguments: ActivationDefect.allCases)
    func defects(_ defect: ActivationDefect) throws {
        do {
            _ = try ContainerFile.decodeForTests(try defect.apply())
            Issue.record("\(defect) opened")
        } catch let error as ContainerError {
            #expect(error.kind == defect.expectedKind, "\(error)")
            #expect(error.message.contains("layer '"), "\(error)")
        }
    }

    @Test("alphas broadcast by numpy's rule, aligned at the last axis")
    func broadcast() {
        #expect(ParametricActivation.alphasBroadcast([3], to: [2, 3]))
        #expect(ParametricActivation.alphasBroadcast([2, 1], to: [2, 3]))
        #expect(ParametricActivation.alphasBroadcast([1, 1, 4], to: [5, 6, 4]))
        #expect(!ParametricActivation.alphasBroadcast([2], to: [2, 3]))
        #expect(!ParametricActivation.alphasBroadcast([1, 2, 3], to: [2, 3]))
        #expect(!ParametricActivation.alphasBroadcast([], to: [2, 3]))
    }
}
