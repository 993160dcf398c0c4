import Foundation
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMCompress

extension FineTuneTests {
    /// (1.5) Layer normalization: over each row of a [2, 3] input (gamma and beta), after a dense layer (gamma and beta),
    /// and after a factorized one (beta only), then a dense output.
    func layerNormModel(output: Activation = .softmax) -> Model {
        var rng = SeededGenerator(seed: 12)
        func t(_ shape: [Int], _ offset: Float = 0) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() * 0.8 + offset })
        }
        let f = Factorization(inFeatures: 5, outFeatures: 4, rank: 2, retainedEnergy: 1, relativeError: 0, policy: "rank", policyParameter: 2,
                              method: "test", singularValues: [1, 1])
        return Model(name: "layer norm", input: InputSpec(shape: [2, 3]), layers: [
            Layer(name: "rows", operation: .layerNorm(gamma: t([3], 1), beta: t([3]), epsilon: 1e-3)),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "a", operation: .dense(kernel: t([6, 5]), bias: t([5]), activation: .tanh)),
            Layer(name: "ln_a", operation: .layerNorm(gamma: t([5], 1), beta: t([5]), epsilon: 1e-2)),
            Layer(name: "b", operation: .factorizedDense(us: t([5, 2]), vt: t([2, 4]), bias: t([4]), activation: .linear, factorization: f)),
            Layer(name: "ln_b", operation: .layerNorm(gamma: nil, beta: t([4]), epsilon: 1e-3)),
            Layer(name: "out", operation: .dense(kernel: t([4, 3]), bias: t([3]), activation: output)),
        ])
    }

    @Test("layer normalization's gradients (gamma, beta, the weights before it and the input's) match central finite differences, and its forward pass is the runtime's")
    func layerNormGradients() throws {
        var rng = SeededGenerator(seed: 8)
        let samples = 7
        let model = layerNormModel()
        var network = try TrainableNetwork(model)
        // In stage order: rows' gamma and beta, a's kernel and bias, ln_a's gamma and beta, b's us, vt and bias, ln_b's beta,
        // out's kernel and bias.
        #expect(network.parameters.map(\.count) == [3, 3, 30, 5, 5, 5, 10, 8, 4, 4, 12, 3])
        let raw = (0..<(samples * 6)).map { _ in rng.nextSymmetricFloat() * 3 + 0.5 }
        let x = try network.preprocess(raw[...], count: samples)
        // The forward pass is the runtime's (softmax of the logits).
        let runtime = try InferenceModel(model).run(raw, sampleCount: samples)
        let logits = try network.forward(x, count: samples, keep: false).logits
        for r in 0..<samples {
            let row = logits[(r * 3)..<(r * 3 + 3)], top = row.max() ?? 0
            let e = row.map { exp($0 - top) }, total = e.reduce(0, +)
            for c in 0..<3 { #expect(abs(e[c] / total - runtime[r * 3 + c]) <= 1e-5) }
        }
        let teacher = (0..<(samples * 3)).map { _ in rng.nextSymmetricFloat() * 4 }
        let labels = (0..<samples).map { $0 % 3 }
        let options = FineTuneOptions(epochs: 1, temperature: 2, labelWeight: 0.5)
        let trace = try network.forward(x, count: samples, keep: true)
        let (_, logitGradient) = FineTuner.distillationLoss(student: trace.logits, teacher: teacher, labels: labels, classes: 3, options: options)
        let (analytic, input) = try network.gradients(trace, logitGradient: logitGradient, inputGradient: true)
        for p in network.parameters.indices { #expect(analytic[p].contains { $0 != 0 }, "parameter \(p) has no gradient") }
        try expectGradientsMatchDifferences(&network, x: x, teacher: teacher, labels: labels, options: options, analytic: analytic,
                                            inputGradient: try #require(input), inputCount: 18, step: 1e-3, "layer norm")
    }

    @Test("layer normalization's gamma and beta are trained and written back with their shapes; a missing one stays missing")
    func layerNormWrittenBack() throws {
        let model = layerNormModel()
        var network = try TrainableNetwork(model)
        network.parameters[0] = [9, 8, 7]
        network.parameters[9] = [1, 2, 3, 4]
        let written = network.write(into: model, methodSuffix: "+finetune")
        guard case let .layerNorm(gamma?, beta?, epsilon) = written.layers[0].operation,
              case let .layerNorm(nil, betaB?, epsilonB) = written.layers[5].operation else {
            Issue.record("the layer_norm layers lost their tensors")
            return
        }
        #expect(gamma.shape == [3] && gamma.floats() == [9, 8, 7] && beta.shape == [3] && epsilon == 1e-3)
        #expect(betaB.floats() == [1, 2, 3, 4] && epsilonB == 1e-3)
    }
}
