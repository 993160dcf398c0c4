@testable import LRMFormat

/// A small CNN that uses every format 1.1 layer kind: the `cnn` valid vector and the base of ``ConvDefect``.
enum ConvModel {
    static func make() -> Model {
        var rng = SeededGenerator(seed: 21)
        func t(_ shape: [Int]) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in Float(Int(rng.nextSymmetricFloat() * 64)) / 64 })
        }
        func record(_ inFeatures: Int, _ outFeatures: Int, _ values: [Double]) -> Factorization {
            Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: 2, retainedEnergy: 0.75, relativeError: 0.5,
                          policy: "rank", policyParameter: 2, method: "gesdd-f32", singularValues: values)
        }
        let layers: [Layer<Tensor>] = [
            Layer(name: "pad", operation: .pad2D(Margins(top: 1, bottom: 1, left: 1, right: 1))),                  // [8, 8, 2]
            Layer(name: "conv", operation: .conv2D(kernel: t([3, 3, 2, 3]), bias: t([3]), activation: .relu,
                                                   geometry: ConvGeometry(padding: .same))),                         // [8, 8, 3]
            Layer(name: "pool", operation: .pool2D(Pooling(mode: .average, poolH: 3, poolW: 3, strideH: 2, strideW: 2,
                                                           padding: .same))),                                        // [4, 4, 3]
            Layer(name: "crop", operation: .crop2D(Margins(top: 0, bottom: 1, left: 1, right: 0))),                 // [3, 3, 3]
            Layer(name: "dw", operation: .depthwiseConv2D(kernel: t([2, 2, 3, 2]), bias: t([6]), activation: .relu,
                                                          geometry: ConvGeometry())),                                // [2, 2, 6]
            Layer(name: "fc_channel", operation: .factorizedConv2D(first: t([3, 3, 6, 2]), second: t([1, 1, 2, 4]), bias: t([4]),
                                                                   activation: .tanh, form: .channel,
                                                                   geometry: ConvGeometry(padding: .same),
                                                                   factorization: record(54, 4, [3, 2]))),           // [2, 2, 4]
            Layer(name: "fc_spatial", operation: .factorizedConv2D(first: t([2, 1, 4, 2]), second: t([1, 2, 2, 3]), bias: nil,
                                                                   activation: .linear, form: .spatial,
                                                                   geometry: ConvGeometry(dilationH: 1, padding: .same),
                                                                   factorization: record(8, 6, [2, 1]))),            // [2, 2, 3]
            Layer(name: "to_chw", operation: .permute([2, 0, 1])),                                                  // [3, 2, 2]
            Layer(name: "to_hwc", operation: .permute([1, 2, 0])),                                                  // [2, 2, 3]
            Layer(name: "gpool", operation: .globalPool2D(.max)),                                                   // [3]
        ]
        return Model(name: "cnn", input: InputSpec(shape: [6, 6, 2], layout: .hwc, scale: [1.0 / 255.0]),
                     classNames: ["a", "b", "c"], layers: layers, metadata: [MetadataKey.writer: .string("lrm 0.1.0")])
    }
}

/// Defects of the format 1.1 layer kinds, each applied to ``ConvModel`` and rejected with exactly `expectedKind`.
enum ConvDefect: String, CaseIterable, VectorDefect {
    case convKernelChannels, convWindowTooLarge, convZeroStride, convUnknownPadding, convOnFlatInput
    case poolWindowTooLarge, poolUnknownMode, cropEverything, padAbsurd, depthwiseBiasWrongShape
    case factorizedRecordMismatch, factorizedUnknownForm, factorizedSecondWrongShape, permuteNotPermutation
    case futureLayerKind

    var expectedKind: ContainerError.Kind { self == .futureLayerKind ? .unsupportedFeature : .badModel }

    var summary: String {
        switch self {
        case .convKernelChannels: "a conv2d kernel [3, 3, 1, 6] on 2 input channels"
        case .convWindowTooLarge: "a conv2d with valid padding whose dilated window (11) is larger than its 8×8 input"
        case .convZeroStride: "a conv2d with stride 0"
        case .convUnknownPadding: "a conv2d with padding code 2"
        case .convOnFlatInput: "a conv2d after a flatten (a 1-dimensional input)"
        case .poolWindowTooLarge: "a 9×9 pooling window with valid padding on an 8×8 input"
        case .poolUnknownMode: "a pool2d with mode code 3"
        case .cropEverything: "a crop2d removing 2 + 2 rows of 4"
        case .padAbsurd: "a pad2d of 70,000 rows"
        case .depthwiseBiasWrongShape: "a depthwise bias of shape [2, 3] for 6 output channels"
        case .factorizedRecordMismatch: "a channel factorization recording 55 input features for a 3×3×6 kernel"
        case .factorizedUnknownForm: "a factorized_conv2d with form code 2"
        case .factorizedSecondWrongShape: "a channel factorization whose second kernel is [1, 2, 1, 4], not 1×1"
        case .permuteNotPermutation: "a permute with axes [0, 0, 1]"
        case .futureLayerKind: "layer kind 200 in a file of format 1.99"
        }
    }

    func apply() throws -> [UInt8] {
        let base = try ContainerWriter.encode(ConvModel.make())
        var parts = try FileParts(base)
        parts.minor = 1
        let header = try ContainerFile.decodeForTests(base).header
        func editHeader(_ edit: (inout ContainerHeader) -> Void) throws -> [UInt8] {
            var edited = header
            edit(&edited)
            parts.header = edited.encode()
            return parts.assemble()
        }
        func layer(_ name: String, _ edit: (inout LayerOperation<Int>) -> Void) throws -> [UInt8] {
            try editHeader { h in
                guard let index = h.model.layers.firstIndex(where: { $0.name == name }) else { return }
                edit(&h.model.layers[index].operation)
            }
        }
        func tensor(_ name: String, shape: [Int]) throws -> [UInt8] {
            try editHeader { h in
                guard let index = h.tensors.firstIndex(where: { $0.name == name }) else { return }
                h.tensors[index].shape = shape
            }
        }
        func geometry(_ edit: @escaping (inout ConvGeometry) -> Void) throws -> [UInt8] {
            try layer("conv") { op in
                guard case .conv2D(let k, let b, let a, var g) = op else { return }
                edit(&g)
                op = .conv2D(kernel: k, bias: b, activation: a, geometry: g)
            }
        }
        switch self {
        case .convKernelChannels: return try tensor("conv/kernel", shape: [3, 3, 1, 6])
        case .convWindowTooLarge: return try geometry { $0.dilationH = 5; $0.padding = .valid }
        case .convZeroStride: return try geometry { $0.strideW = 0 }
        case .convUnknownPadding: parts.header[parts.after(string: "conv") + 9 + 16] = 2
        case .convOnFlatInput:
            return try editHeader { $0.model.layers.insert(Layer(name: "flat", operation: .flatten), at: 1) }
        case .poolWindowTooLarge:
            return try layer("pool") { $0 = .pool2D(Pooling(mode: .max, poolH: 9, poolW: 9, strideH: 1, strideW: 1, padding: .valid)) }
        case .poolUnknownMode: parts.header[parts.after(string: "pool")] = 3
        case .cropEverything: return try layer("crop") { $0 = .crop2D(Margins(top: 2, bottom: 2, left: 0, right: 0)) }
        case .padAbsurd: return try layer("pad") { $0 = .pad2D(Margins(top: 70_000, bottom: 0, left: 0, right: 0)) }
        case .depthwiseBiasWrongShape: return try tensor("dw/bias", shape: [2, 3])
        case .factorizedRecordMismatch:
            return try layer("fc_channel") { op in
                guard case .factorizedConv2D(let a, let b, let bias, let act, let form, let g, var f) = op else { return }
                f.inFeatures = 55
                op = .factorizedConv2D(first: a, second: b, bias: bias, activation: act, form: form, geometry: g, factorization: f)
            }
        case .factorizedUnknownForm: parts.header[parts.after(string: "fc_channel") + 13] = 2
        case .factorizedSecondWrongShape: return try tensor("fc_channel/second", shape: [1, 2, 1, 4])
        case .permuteNotPermutation: return try layer("to_chw") { $0 = .permute([0, 0, 1]) }
        case .futureLayerKind:
            parts.minor = 99
            parts.header[parts.after(string: "gpool") - 4 - 5 - 1] = 200
        }
        return parts.assemble()
    }
}
