import Foundation
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMCompress

/// Fine-tuning a model with branches (format 1.4's store, load and merge): the trainer's forward pass is the runtime's,
/// and its gradients, through every merge mode and a slot read twice, match finite differences.
@Suite("Distillation fine-tuning through branches")
struct FineTuneBranchesTests {
    /// 6 → a (dense 5, tanh) → store 0 → b (dense 5, tanh) → store 1 → load 0 → c (dense 5) → merge(mode) of slot 1
    /// (and slot 0 again, except for subtract), tanh → out (dense 3 or, after a concatenation, from its width; softmax).
    func model(_ mode: MergeMode, seed: UInt64 = 3) -> Model {
        var rng = SeededGenerator(seed: seed)
        func t(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() * 0.8 }) }
        let slots = mode == .subtract ? [1] : [1, 0]
        let width = mode == .concatenate ? 5 * (slots.count + 1) : 5
        return Model(name: "branches", input: InputSpec(shape: [6], scale: [0.5]), layers: [
            Layer(name: "a", operation: .dense(kernel: t([6, 5]), bias: t([5]), activation: .tanh)),
            Layer(name: "keep_a", operation: .store(slot: 0)),
            Layer(name: "b", operation: .dense(kernel: t([5, 5]), bias: t([5]), activation: .tanh)),
            Layer(name: "keep_b", operation: .store(slot: 1)),
            Layer(name: "back", operation: .load(slot: 0)),
            Layer(name: "c", operation: .dense(kernel: t([5, 5]), bias: t([5]), activation: .linear)),
            Layer(name: "m", operation: .merge(mode, slots: slots, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: t([width, 3]), bias: t([3]), activation: .softmax)),
        ])
    }

    @Test("the forward pass gives the runtime's outputs, and every gradient (parameters and input) matches central differences",
          arguments: MergeMode.allCases)
    func gradients(_ mode: MergeMode) throws {
        var rng = SeededGenerator(seed: 5)
        let samples = 4
        let model = model(mode)
        var network = try TrainableNetwork(model)
        let raw = (0..<(samples * 6)).map { _ in rng.nextSymmetricFloat() * 3 }
        let x = try network.preprocess(raw[...], count: samples)
        // Forward: the softmax of the trainer's logits is what the runtime computes.
        let logits = try network.forward(x, count: samples, keep: false).logits
        let expected = try InferenceModel(model).run(raw, sampleCount: samples)
        for r in 0..<samples {
            let row = logits[(r * 3)..<(r * 3 + 3)].map { exp(Double($0)) }
            let total = row.reduce(0, +)
            for c in 0..<3 { #expect(abs(row[c] / total - Double(expected[r * 3 + c])) < 1e-5, "\(mode.name) [\(r), \(c)]") }
        }
        let teacher = (0..<(samples * 3)).map { _ in rng.nextSymmetricFloat() * 4 }
        let labels = (0..<samples).map { $0 % 3 }
        let options = FineTuneOptions(epochs: 1, temperature: 2, labelWeight: 0.5)
        let trace = try network.forward(x, count: samples, keep: true)
        let (_, logitGradient) = FineTuner.distillationLoss(student: trace.logits, teacher: teacher, labels: labels, classes: 3, options: options)
        let analytic = try network.gradients(trace, logitGradient: logitGradient, inputGradient: true)
        #expect(analytic.parameters.map(\.count) == network.parameters.map(\.count))
        // Maximum and minimum have kinks where two inputs tie: a smaller step keeps the differences on one side of them.
        try expectGradientsMatchDifferences(&network, x: x, teacher: teacher, labels: labels, options: options, analytic: analytic.parameters,
                                            inputGradient: try #require(analytic.input), step: mode == .maximum || mode == .minimum ? 1e-3 : 1e-2,
                                            mode.name)
    }
}
