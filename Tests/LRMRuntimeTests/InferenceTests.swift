import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

/// An independent, naive double-precision forward pass used as the reference.
enum Reference {
    static func activation(_ a: Activation, _ row: [Double]) -> [Double] {
        switch a {
        case .linear: return row
        case .relu: return row.map { max($0, 0) }
        case .sigmoid: return row.map { 1 / (1 + exp(-$0)) }
        case .tanh: return row.map { Foundation.tanh($0) }
        case .softmax:
            let e = row.map { exp($0) }
            let total = e.reduce(0, +)
            return e.map { $0 / total }
        case .gelu: return row.map { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }
        case .geluTanh: return row.map { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * pow($0, 3)))) }
        case .silu: return row.map { $0 / (1 + exp(-$0)) }
        case .elu: return row.map { $0 > 0 ? $0 : exp($0) - 1 }
        case .selu: return row.map { 1.0507009873554805 * ($0 > 0 ? $0 : 1.6732632423543772 * (exp($0) - 1)) }
        case .softplus: return row.map { log(1 + exp($0)) }
        case .softsign: return row.map { $0 / (1 + abs($0)) }
        case .relu6: return row.map { min(max($0, 0), 6) }
        case .hardSigmoid: return row.map { min(max($0 + 3, 0), 6) / 6 }
        case .exponential: return row.map { exp($0) }
        case .mish: return row.map { $0 * Foundation.tanh(log(1 + exp($0))) }
        case .hardSilu: return row.map { $0 * min(max($0 + 3, 0), 6) / 6 }
        case .logSigmoid: return row.map { log(1 / (1 + exp(-$0))) }
        case .hardTanh: return row.map { min(max($0, -1), 1) }
        case .hardSigmoidKeras2: return row.map { min(max(0.2 * $0 + 0.5, 0), 1) }
        case .logSoftmax:
            let total = row.map { exp($0) }.reduce(0, +)
            return row.map { $0 - log(total) }
        }
    }

    /// A parametric activation (format 1.5) on a flat sample; PReLU's alphas one per element.
    static func parametric(_ f: ParametricActivation, _ x: [Double], alphas: [Double]) -> [Double] {
        switch f {
        case let .relu(slope, threshold, maxValue): return x.map { $0 > threshold ? min($0, maxValue) : slope * ($0 - threshold) }
        case .elu(let alpha): return x.map { $0 > 0 ? $0 : alpha * (exp($0) - 1) }
        case .prelu: return x.indices.map { x[$0] > 0 ? x[$0] : alphas[$0 % alphas.count] * x[$0] }
        }
    }

    /// One flat sample through a model whose layers all act on a flat vector.
    static func run(_ model: Model, _ sample: [Double]) -> [Double] {
        let n = sample.count
        func expand(_ v: [Double], _ identity: Double) -> [Double] {
            v.isEmpty ? Array(repeating: identity, count: n) : v.count == 1 ? Array(repeating: v[0], count: n) : v
        }
        let scale = expand(model.input.scale, 1), offset = expand(model.input.offset, 0)
        var x = (0..<n).map { sample[$0] * scale[$0] + offset[$0] }
        func matmul(_ x: [Double], _ w: Tensor) -> [Double] {
            let values = w.floats().map(Double.init)
            let (rows, cols) = (w.shape[0], w.shape[1])
            return (0..<cols).map { c in (0..<rows).reduce(0.0) { $0 + x[$1] * values[$1 * cols + c] } }
        }
        func add(_ x: [Double], _ b: Tensor?) -> [Double] {
            guard let b else { return x }
            return zip(x, b.floats()).map { $0 + Double($1) }
        }
        var slots: [Int: [Double]] = [:]
        for layer in model.layers {
            switch layer.operation {
            case .store(let slot): slots[slot] = x
            case .load(let slot): x = slots[slot] ?? []
            case let .merge(mode, list, a):
                let others = list.map { slots[$0] ?? [] }
                switch mode {
                case .concatenate: x = others.reduce(x, +)
                case .add: x = others.reduce(x) { zip($0, $1).map(+) }
                case .subtract: x = others.reduce(x) { zip($0, $1).map(-) }
                case .multiply: x = others.reduce(x) { zip($0, $1).map(*) }
                case .average: x = others.reduce(x) { zip($0, $1).map(+) }.map { $0 / Double(others.count + 1) }
                case .maximum: x = others.reduce(x) { zip($0, $1).map(max) }
                case .minimum: x = others.reduce(x) { zip($0, $1).map(min) }
                }
                x = activation(a, x)
            case let .dense(kernel, bias, a): x = activation(a, add(matmul(x, kernel), bias))
            case let .factorizedDense(us, vt, bias, a, _): x = activation(a, add(matmul(matmul(x, us), vt), bias))
            case .activation(let a): x = activation(a, x)
            case let .scaleShift(s, t):
                let sv = s.floats(), tv = t?.floats()
                x = x.indices.map { x[$0] * Double(sv[$0]) + Double(tv?[$0] ?? 0) }
            case .flatten, .reshape: break
            case let .parametricActivation(f, alphas): x = parametric(f, x, alphas: alphas?.floats().map(Double.init) ?? [])
            default: Issue.record("the dense reference does not run \(layer.operation.kindName)")
            }
        }
        return x
    }
}

@Suite("Forward pass")
struct InferenceTests {
    @Test("the tiny model gives the hand-computed output")
    func tiny() throws {
        // x = [2, 4] · 0.5 = [1, 2]; fc1 → relu([1.1, 5.2, 1.45]); fc2: (x·us)·vt + b = [2.2, 0.5]; softmax.
        let model = Model(name: "tiny", input: InputSpec(shape: [2], scale: [0.5]), layers: [
            Layer(name: "fc1", operation: .dense(kernel: Tensor(shape: [2, 3], floats: [0.5, -1, 2, 0.25, 3, -0.125]),
                                                 bias: Tensor(shape: [3], floats: [0.1, 0.2, -0.3]), activation: .relu)),
            Layer(name: "fc2", operation: .factorizedDense(
                us: Tensor(shape: [3, 1], floats: [2, 0, 0]), vt: Tensor(shape: [1, 2], floats: [1, 0]),
                bias: Tensor(shape: [2], floats: [0, 0.5]), activation: .softmax,
                factorization: Factorization(inFeatures: 3, outFeatures: 2, rank: 1, retainedEnergy: 0.8, relativeError: 0.447,
                                             policy: "energy", policyParameter: 0.75, method: "test", singularValues: [2, 1]))),
        ])
        let output = try InferenceModel(model).run([2, 4], sampleCount: 1)
        let expected = 1 / (1 + exp(-1.7))
        #expect(abs(Double(output[0]) - expected) < 1e-6)
        #expect(abs(Double(output[1]) - (1 - expected)) < 1e-6)
    }

    @Test("random models agree with a naive double-precision reference", arguments: Activation.allCases)
    func randomModels(activation: Activation) throws {
        var rng = SeededGenerator(seed: UInt64(activation.rawValue) + 100)
        func tensor(_ shape: [Int], scale: Float = 0.5) -> Tensor {
            Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in scale * rng.nextSymmetricFloat() })
        }
        let f = Factorization(inFeatures: 16, outFeatures: 12, rank: 5, retainedEnergy: 0.9, relativeError: 0.3,
                              policy: "rank", policyParameter: 5, method: "test", singularValues: [5, 4, 3, 2, 1])
        let model = Model(name: "r", input: InputSpec(shape: [20], scale: [0.1], offset: [-0.2]), layers: [
            Layer(name: "a", operation: .dense(kernel: tensor([20, 16]), bias: tensor([16]), activation: activation)),
            Layer(name: "b", operation: .scaleShift(scale: tensor([16], scale: 2), shift: tensor([16]))),
            Layer(name: "c", operation: .factorizedDense(us: tensor([16, 5]), vt: tensor([5, 12]), bias: tensor([12]),
                                                         activation: activation, factorization: f)),
            Layer(name: "d", operation: .dense(kernel: tensor([12, 7]), bias: nil, activation: .linear)),
            // exp(exp(exp(x))) overflows float32: the last activation is linear for `exponential`.
            Layer(name: "e", operation: .activation(activation == .exponential ? .linear : activation)),
        ])
        let samples = 37
        let inputs = (0..<(samples * 20)).map { _ in 10 * rng.nextSymmetricFloat() }
        let runner = try InferenceModel(model)
        let outputs = try runner.run(inputs, sampleCount: samples)
        let small = try inputs.withUnsafeBufferPointer { try runner.run($0, sampleCount: samples, batchSize: 4) }
        // OpenBLAS may block a product differently for another row count: equal to rounding.
        for (a, b) in zip(outputs, small) { #expect(abs(a - b) <= 1e-5 * max(1, abs(a)), "batching changed \(a) to \(b)") }
        for s in 0..<samples {
            let expected = Reference.run(model, inputs[(s * 20)..<((s + 1) * 20)].map(Double.init))
            // float32 sums of ≤ 20 terms: error within 1e-4 of the row's largest magnitude (sums may cancel).
            let scale = max(1, expected.map(abs).max() ?? 1)
            for j in 0..<7 {
                let got = Double(outputs[s * 7 + j])
                #expect(abs(got - expected[j]) <= 1e-4 * scale, "sample \(s) output \(j): \(got) vs \(expected[j])")
            }
        }
    }

    @Test("per-channel preprocessing follows the layout", arguments: [InputLayout.hwc, .chw])
    func perChannel(layout: InputLayout) throws {
        let shape = layout == .hwc ? [2, 2, 3] : [3, 2, 2]
        let model = Model(name: "p", input: InputSpec(shape: shape, layout: layout, scale: [1, 10, 100], offset: []),
                          layers: [Layer(name: "flat", operation: .flatten)])
        let output = try InferenceModel(model).run([Float](repeating: 1, count: 12), sampleCount: 1)
        let expected: [Float] = layout == .hwc ? [1, 10, 100, 1, 10, 100, 1, 10, 100, 1, 10, 100]
                                               : [1, 1, 1, 1, 10, 10, 10, 10, 100, 100, 100, 100]
        #expect(output == expected)
    }

    @Test("runLayers(before:) shows each layer up to the one named the same inputs run shows it, in the same batches, and runs no layer from it on")
    func runLayersBefore() throws {
        var rng = SeededGenerator(seed: 7)
        func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in 0.5 * rng.nextSymmetricFloat() }) }
        let model = Model(name: "r", input: InputSpec(shape: [9], scale: [0.1], offset: []), layers: [
            Layer(name: "a", operation: .dense(kernel: tensor([9, 8]), bias: tensor([8]), activation: .relu)),
            Layer(name: "b", operation: .dense(kernel: tensor([8, 6]), bias: tensor([6]), activation: .tanh)),
            Layer(name: "c", operation: .dense(kernel: tensor([6, 4]), bias: nil, activation: .linear)),
        ])
        let samples = 23
        let inputs = (0..<(samples * 9)).map { _ in 10 * rng.nextSymmetricFloat() }
        let runner = try InferenceModel(model)
        var all: [(layer: Int, values: [Float], rows: Int, features: Int)] = []
        var before: [(layer: Int, values: [Float], rows: Int, features: Int)] = []
        try inputs.withUnsafeBufferPointer { x in
            _ = try runner.run(x, sampleCount: samples, batchSize: 5) { all.append(($0, Array($1), $2, $3)) }
            try runner.runLayers(before: 1, x, sampleCount: samples, batchSize: 5) { before.append(($0, Array($1), $2, $3)) }
        }
        let expected = all.filter { $0.layer <= 1 }
        #expect(before.map(\.layer) == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
        #expect(before.map(\.rows) == [5, 5, 5, 5, 5, 5, 5, 5, 3, 3])
        #expect(before.map(\.layer) == expected.map(\.layer) && before.map(\.features) == expected.map(\.features))
        #expect(zip(before, expected).allSatisfy { $0.values == $1.values })
        let short = [Float](repeating: 0, count: 5)
        #expect(throws: RuntimeError.self) { try short.withUnsafeBufferPointer { try runner.runLayers(before: 1, $0, sampleCount: 1) { _, _, _, _ in } } }
    }

    @Test("a wrong input size is an error, not a crash")
    func wrongInput() throws {
        let runner = try InferenceModel(ExampleModel.make())
        #expect(throws: RuntimeError.self) { try runner.run([1, 2, 3], sampleCount: 1) }
    }
}
