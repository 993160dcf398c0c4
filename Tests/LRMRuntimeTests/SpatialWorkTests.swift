import LRMFormat
import Testing
@testable import LRMRuntime

@Suite("The cap on convolution and pooling work per sample")
struct SpatialWorkTests {
    static func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { Float($0 % 7) / 7 })
    }

    static func record(_ inFeatures: Int, _ outFeatures: Int) -> Factorization {
        Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: 2, retainedEnergy: 0.9, relativeError: 0.3,
                      policy: "rank", policyParameter: 2, method: "gesdd-f32", singularValues: [2, 1])
    }

    /// Every spatial kind with a weight, and a pooling layer, on 9×8×3 inputs.
    static func model() -> Model {
        Model(name: "work", input: InputSpec(shape: [9, 8, 3], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: tensor([3, 3, 3, 4]), bias: nil, activation: .relu,
                                                   geometry: ConvGeometry(strideH: 2, strideW: 1, padding: .same))),     // [5, 8, 4]
            Layer(name: "channel", operation: .factorizedConv2D(first: tensor([3, 3, 4, 2]), second: tensor([1, 1, 2, 4]), bias: nil,
                                                                activation: .linear, form: .channel,
                                                                geometry: ConvGeometry(padding: .same), factorization: record(36, 4))),
            Layer(name: "spatial", operation: .factorizedConv2D(first: tensor([3, 1, 4, 2]), second: tensor([1, 3, 2, 4]), bias: nil,
                                                                activation: .linear, form: .spatial,
                                                                geometry: ConvGeometry(strideH: 1, strideW: 2, padding: .same),
                                                                factorization: record(12, 12))),                     // [5, 4, 4]
            Layer(name: "dw", operation: .depthwiseConv2D(kernel: tensor([2, 2, 4, 2]), bias: nil, activation: .linear,
                                                          geometry: ConvGeometry())),                                // [4, 3, 8]
            Layer(name: "pool", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 3, strideH: 1, strideW: 1, padding: .same))),
        ])
    }

    @Test("a convolution's work is the multiply-adds ModelSummary reports for it, and a pooling layer's its window reads")
    func workMatchesTheSummary() throws {
        let model = Self.model()
        let summary = ModelSummary(header: try model.plan().header)
        var shape = model.input.shape
        for (layer, row) in zip(model.layers, summary.layers) {
            let output = try layer.outputShape(input: shape)
            let work = InferenceModel.spatialWork(layer.operation, input: shape, output: output)
            if case .pool2D = layer.operation {
                #expect(work == output[0] * output[1] * output[2] * 2 * 3)
            } else {
                #expect(work == row.macsAfter && work > 0, "\(layer.name): \(work) against \(row.macsAfter)")
            }
            shape = output
        }
        _ = try InferenceModel(model)
    }

    @Test("a model over 2³⁶ per sample is refused before anything runs, naming the layer with the most")
    func overTheCap() throws {
        let model = Model(name: "big", input: InputSpec(shape: [64, 64, 16], layout: .hwc), layers: [
            Layer(name: "pool", operation: .pool2D(Pooling(mode: .average, poolH: 2, poolW: 2, strideH: 1, strideW: 1, padding: .same))),
            Layer(name: "dw", operation: .depthwiseConv2D(kernel: Self.tensor([3, 3, 16, 1]), bias: nil, activation: .linear,
                                                          geometry: ConvGeometry(padding: .same))),
        ])
        _ = try InferenceModel(model)
        var padded = model
        // 2064×2064×16 samples (6.8·10⁷ elements, under the 2²⁸ memory limit), then a 64×64 window at every
        // position: 2.8·10¹⁴ reads per sample.
        padded.layers += [Layer(name: "pad", operation: .pad2D(Margins(top: 1000, bottom: 1000, left: 1000, right: 1000))),
                          Layer(name: "huge", operation: .pool2D(Pooling(mode: .max, poolH: 64, poolW: 64, strideH: 1, strideW: 1,
                                                                         padding: .same)))]
        let error = #expect(throws: RuntimeError.self) { try InferenceModel(padded) }
        #expect(error?.kind == .tooLarge)
        #expect(error?.message.contains("layer 'huge'") == true && error?.message.contains("2³⁶") == true, "\(error?.message ?? "")")
    }
}
