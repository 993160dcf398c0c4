import LRMCompress
import LRMFormat
import LRMVerify
import Testing

@Suite("Verify's layer fidelity of convolutions the converter factorized")
struct ConvolutionFidelityTests {
    /// 7×7×3 inputs, a 3×3 convolution to 12 channels, flatten, a dense head.
    func model() -> Model {
        var rng = SeededGenerator(seed: 21)
        let kernel = Tensor(shape: [3, 3, 3, 12], floats: (0..<(3 * 3 * 3 * 12)).map { _ in rng.nextSymmetricFloat() })
        return Model(name: "cnn", input: InputSpec(shape: [7, 7, 3], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: kernel, bias: Tensor(shape: [12], floats: Array(repeating: 0.1, count: 12)),
                                                   activation: .relu, geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .same))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [192, 3], floats: (0..<576).map { _ in rng.nextSymmetricFloat() }),
                                                 bias: nil, activation: .softmax)),
        ])
    }

    @Test("the measured error of a factorized convolution agrees with what the converter recorded, in both forms",
          arguments: [ConversionOptions.ConvolutionForm.channel, .spatial])
    func agreesWithTheConverter(_ form: ConversionOptions.ConvolutionForm) throws {
        var options = ConversionOptions(policy: .rank(2))
        options.convolutions = form
        options.overrides = [.init(pattern: NamePattern("out"), policy: nil)]
        let result = try Converter.convert(model(), options: options)
        let layers = try LayerFidelity.compare(candidate: result.model, reference: model())
        let conv = try #require(layers.first { $0.name == "conv" })
        #expect(conv.kind == "factorized_conv2d" && conv.rank == 2 && conv.form?.name == form.rawValue)
        #expect(conv.kernelShape == [3, 3, 3, 12])
        let decision = try #require(result.decisions.first { $0.name == "conv" })
        #expect(conv.agreesWithRecord == true, "measured e \(conv.relativeError), recorded \(conv.recordedRelativeError ?? .nan)")
        #expect(abs(conv.relativeError - (decision.relativeError ?? .nan)) < 1e-4)
        #expect(conv.relativeError > 0.1, "rank 2 of a random kernel loses a good part of it")
        #expect(layers.first { $0.name == "out" }?.relativeError == 0)
    }
}
