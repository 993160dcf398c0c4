import LRMFormat
import Testing
@testable import LRMRuntime

/// What a model's outputs are is counted in two places that must agree: by the format's shape rules (from the
/// header before any weight is read: `lrm convert`'s and `verify`'s data checks, own data's task) and by the
/// runtime as it builds its steps (the width of what `run` returns).
@Suite("Output shapes")
struct OutputShapeTests {
    static func tensor(_ shape: [Int]) -> Tensor {
        Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { Float($0 % 7) / 7 - 0.4 })
    }

    /// Models of every kind of shape change: flatten, dense on the last axis of a matrix, reshape, factorized dense,
    /// convolution and pooling (both paddings), global pooling, padding, and no layers at all.
    static let models: [Model] = [
        Model(name: "mlp", input: InputSpec(shape: [4, 5]), layers: [
            Layer(name: "flat", operation: .flatten),
            Layer(name: "h", operation: .dense(kernel: tensor([20, 6]), bias: tensor([6]), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: tensor([6, 3]), bias: nil, activation: .softmax)),
        ]),
        Model(name: "rows", input: InputSpec(shape: [12]), layers: [
            Layer(name: "r", operation: .reshape([3, 4])),
            Layer(name: "d", operation: .dense(kernel: tensor([4, 2]), bias: nil, activation: .linear)),
        ]),
        Model(name: "factorized", input: InputSpec(shape: [10]), layers: [
            Layer(name: "f", operation: .factorizedDense(us: tensor([10, 2]), vt: tensor([2, 6]), bias: nil, activation: .tanh,
                                                         factorization: Factorization(inFeatures: 10, outFeatures: 6, rank: 2,
                                                                                      retainedEnergy: 0.9, relativeError: 0.3, policy: "rank",
                                                                                      policyParameter: 2, method: "test", singularValues: [2, 1]))),
        ]),
        Model(name: "cnn", input: InputSpec(shape: [7, 6, 1], layout: .hwc), layers: [
            Layer(name: "c", operation: .conv2D(kernel: tensor([3, 3, 1, 4]), bias: tensor([4]), activation: .relu,
                                                geometry: ConvGeometry(padding: .same))),
            Layer(name: "p", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: tensor([36, 5]), bias: nil, activation: .softmax)),
        ]),
        Model(name: "global", input: InputSpec(shape: [5, 5, 2], layout: .hwc), layers: [
            Layer(name: "c", operation: .conv2D(kernel: tensor([3, 3, 2, 3]), bias: nil, activation: .linear,
                                                geometry: ConvGeometry(padding: .valid))),
            Layer(name: "pad", operation: .pad2D(Margins(top: 1, bottom: 0, left: 2, right: 1))),
            Layer(name: "g", operation: .globalPool2D(.average)),
        ]),
        Model(name: "empty", input: InputSpec(shape: [7]), layers: []),
    ]

    @Test("a model prepared to run gives outputs of the shape the format's rules give, from its layers and from its header",
          arguments: models)
    func runtimeAgreesWithTheFormat(_ model: Model) throws {
        let runner = try InferenceModel(model)
        let rules = try model.outputShape()
        #expect(runner.outputShape == rules, "\(model.name)")
        #expect(try model.plan().header.outputShape() == rules, "\(model.name)")
        let outputs = try runner.run([Float](repeating: 0.5, count: 2 * runner.inputElementCount), sampleCount: 2)
        #expect(outputs.count == 2 * rules.reduce(1, *), "\(model.name)")
    }
}
