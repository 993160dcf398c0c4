import Foundation
import LRMFormat
import Testing
@testable import LRMRuntime

@Suite("Parametric activations (format 1.5) in the runtime")
struct ParametricInferenceTests {
    /// y for one [2, 3, 4] sample, element by element as spec section 3.8 words it, the alphas broadcast by numpy's rule.
    static func reference(_ function: ParametricActivation, _ x: [Float], alphas: [Float], alphaShape: [Int], sample: [Int]) -> [Float] {
        let padded = [Int](repeating: 1, count: sample.count - alphaShape.count) + alphaShape
        return x.indices.map { element in
            var rest = element, alphaIndex = 0, step = 1
            var coordinates = [Int](repeating: 0, count: sample.count)
            for axis in stride(from: sample.count - 1, through: 0, by: -1) { coordinates[axis] = rest % sample[axis]; rest /= sample[axis] }
            for axis in stride(from: sample.count - 1, through: 0, by: -1) {
                alphaIndex += (padded[axis] == 1 ? 0 : coordinates[axis]) * step
                step *= padded[axis]
            }
            let v = Double(x[element])
            switch function {
            case let .relu(a, t, m): return Float(v > t ? min(v, m) : a * (v - t))
            case .elu(let a): return Float(v > 0 ? v : a * (exp(v) - 1))
            case .prelu: return Float(v > 0 ? v : Double(alphas[alphaIndex]) * v)
            }
        }
    }

    @Test("PReLU's alphas broadcast over the sample by numpy's rule: per element, per channel, per row, one, with fewer axes",
          arguments: [[2, 3, 4], [1, 1, 4], [4], [2, 1, 1], [1, 3, 1], [3, 1], [1]])
    func preluBroadcast(alphaShape: [Int]) throws {
        var rng = SeededGenerator(seed: 21)
        let sample = [2, 3, 4], samples = 3
        let alphas = (0..<alphaShape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() }
        let x = (0..<(samples * 24)).map { _ in rng.nextSymmetricFloat() * 3 }
        let model = Model(name: "p", input: InputSpec(shape: sample), layers: [
            Layer(name: "prelu", operation: .parametricActivation(.prelu, alphas: Tensor(shape: alphaShape, floats: alphas))),
        ])
        let got = try InferenceModel(model).run(x, sampleCount: samples)
        let want = (0..<samples).flatMap { s in
            Self.reference(.prelu, Array(x[(s * 24)..<((s + 1) * 24)]), alphas: alphas, alphaShape: alphaShape, sample: sample)
        }
        #expect(got == want, "alphas \(alphaShape)")
    }

    @Test("relu and elu with parameters compute the spec's definitions, on both sides of the threshold and the maximum",
          arguments: [ParametricActivation.relu(negativeSlope: 0.3, threshold: 0, maxValue: .infinity),
                      .relu(negativeSlope: 0.05, threshold: 0.4, maxValue: 1.5), .relu(negativeSlope: -2, threshold: 1, maxValue: 0.5),
                      .relu(negativeSlope: 0, threshold: 0, maxValue: 0), .elu(alpha: 0.5), .elu(alpha: -1.5)])
    func functions(_ function: ParametricActivation) throws {
        var rng = SeededGenerator(seed: 22)
        let x = (0..<48).map { _ in rng.nextSymmetricFloat() * 3 }
        let model = Model(name: "p", input: InputSpec(shape: [2, 3, 4]), layers: [
            Layer(name: "f", operation: .parametricActivation(function, alphas: nil)),
        ])
        let got = try InferenceModel(model).run(x, sampleCount: 2)
        let want = Self.reference(function, Array(x[0..<24]), alphas: [], alphaShape: [1], sample: [2, 3, 4])
            + Self.reference(function, Array(x[24...]), alphas: [], alphaShape: [1], sample: [2, 3, 4])
        for (g, w) in zip(got, want) { #expect(abs(g - w) <= 1e-6 * max(1, abs(w)), "\(function): \(g) vs \(w)") }
    }

    @Test("a PReLU's plan holds its alphas, not one per element of the sample: 64 layers sharing one alpha over 2²⁴-element samples (expanded, as they were, 4 GiB)")
    func alphasNotExpanded() throws {
        let alpha = Tensor(shape: [1], floats: [0.25])
        let layers = (0..<64).map { Layer(name: "p\($0)", operation: .parametricActivation(.prelu, alphas: alpha)) }
        let model = Model(name: "wide", input: InputSpec(shape: [1 << 24]), layers: layers)
        let plan = try InferenceModel(model)
        for step in plan.steps {
            guard case let .parametricActivation(.prelu, alphas?) = step else { Issue.record("not a prelu step"); continue }
            #expect(alphas.values.count == 1)
        }
    }
}
