import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Data-aware truncation")
struct WhiteningTests {
    /// A 1-layer model on 20 inputs, the first 4 always zero (like MNIST's border pixels), and
    /// calibration inputs whose features have very different scales.
    func setUp() throws -> (Model, [Float], Int) {
        var rng = SeededGenerator(seed: 21)
        let kernel = (0..<(20 * 12)).map { _ in rng.nextSymmetricFloat() }
        let model = Model(name: "w", input: InputSpec(shape: [20]), layers: [
            Layer(name: "fc", operation: .dense(kernel: Tensor(shape: [20, 12], floats: kernel), bias: nil, activation: .linear))])
        let samples = 300
        var x = [Float](repeating: 0, count: samples * 20)
        for s in 0..<samples { for j in 4..<20 { x[s * 20 + j] = rng.nextSymmetricFloat() * Float(j - 3) * (j % 3 == 0 ? 5 : 0.2) } }
        return (model, x, samples)
    }

    func statistics(_ model: Model, _ x: [Float], _ samples: Int, batch: Int) throws -> CalibrationStatistics {
        let accumulator = try CalibrationAccumulator(model: model)
        var start = 0
        while start < samples {
            let count = min(batch, samples - start)
            try accumulator.add(Array(x[(start * 20)..<((start + count) * 20)]), sampleCount: count)
            start += count
        }
        return accumulator.finish(source: CalibrationSource(dataset: "synthetic", split: "train", count: samples, seed: 1))
    }

    /// ‖X·(W − W_k)‖_F for a converted layer.
    func outputError(_ converted: Model, _ original: Model, _ x: [Float], _ samples: Int) throws -> Double {
        let a = try InferenceModel(original).run(x, sampleCount: samples)
        let b = try InferenceModel(converted).run(x, sampleCount: samples)
        return zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    @Test("statistics streamed in batches equal those of one pass")
    func streaming() throws {
        let (model, x, samples) = try setUp()
        let one = try statistics(model, x, samples, batch: samples)
        let many = try statistics(model, x, samples, batch: 7)
        let a = try #require(one.layers["fc"]), b = try #require(many.layers["fc"])
        #expect(a.rows == samples && b.rows == samples)
        for (p, q) in zip(a.gram, b.gram) { #expect(abs(p - q) <= 1e-9 * max(1, abs(p))) }
        // XᵀX of the always-zero features is zero: the Gram matrix is singular.
        #expect(a.gram[0] == 0 && a.gram[3 * 20 + 3] == 0)
    }

    @Test("whitened factors are W·V_k and V_kᵀ, λ handles the singular Gram matrix, and the output error beats plain SVD at equal rank",
          arguments: [2, 4, 6, 7])  // k·(20 + 12) < 240 needs k ≤ 7
    func whitened(rank: Int) throws {
        let (model, x, samples) = try setUp()
        var options = ConversionOptions(policy: .rank(rank))
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = try statistics(model, x, samples, batch: 64)
        let whitened = try Converter.convert(model, options: options)
        let plain = try Converter.convert(model, options: ConversionOptions(policy: .rank(rank)))
        guard case let .factorizedDense(us, vt, _, _, f) = whitened.model.layers[0].operation else { Issue.record("not factorized"); return }
        #expect(f.method.hasPrefix("whitened"))
        // us = W·V_k exactly (V_k = vtᵀ): the factors reproduce W·V_k·V_kᵀ.
        guard case let .dense(kernel, _, _) = model.layers[0].operation else { return }
        let w = try Matrix(rows: 20, columns: 12, values: kernel.floats())
        let v = try Matrix(rows: rank, columns: 12, values: vt.floats())
        let expectedUS = try Matrix.product(w, v, transposeB: true)
        for (p, q) in zip(expectedUS.values, us.floats()) { #expect(abs(p - q) <= 1e-5) }
        // V_kᵀ has orthonormal rows.
        let gram = try Matrix.product(v, v, transposeB: true)
        for i in 0..<rank { for j in 0..<rank { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-4) } }
        // Minimal in the data metric: never worse than plain truncation on the calibration data.
        let whitenedError = try outputError(whitened.model, model, x, samples)
        let plainError = try outputError(plain.model, model, x, samples)
        #expect(whitenedError <= plainError * 1.0001 + 1e-6, "whitened \(whitenedError) vs plain \(plainError)")
        #expect(whitened.model.metadata[MetadataKey.calibrationCount] == .int(Int64(samples)))
    }

    @Test("the whitened error equals the tail of the whitened spectrum")
    func whitenedEckartYoung() throws {
        let (model, x, samples) = try setUp()
        var options = ConversionOptions(policy: .energy(0.9))
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = try statistics(model, x, samples, batch: 100)
        let result = try Converter.convert(model, options: options)
        let decision = result.decisions[0]
        #expect(decision.outcome == .factorized)
        #expect((decision.retainedEnergy ?? 0) >= 0.9)
        // ‖X(W − W_k)‖² / ‖XW‖² ≈ 1 − retained energy (λ is tiny, so the ridge barely counts).
        let a = try InferenceModel(model).run(x, sampleCount: samples)
        let error = try outputError(result.model, model, x, samples)
        let norm = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let predicted = (1 - (decision.retainedEnergy ?? 0)).squareRoot()
        #expect(abs(error / norm - predicted) < 1e-3, "measured \(error / norm), predicted \(predicted)")
    }

    @Test("activation-scaled truncation runs and records its metric")
    func activationScaled() throws {
        let (model, x, samples) = try setUp()
        var options = ConversionOptions(policy: .rank(4))
        options.metric = .activationScaled(alpha: 0.5)
        options.calibration = try statistics(model, x, samples, batch: 100)
        let result = try Converter.convert(model, options: options)
        #expect(result.decisions[0].outcome == .factorized)
        #expect(result.model.metadata[MetadataKey.conversionMetric] == .string("activation-scaled"))
        let plain = try Converter.convert(model, options: ConversionOptions(policy: .rank(4)))
        #expect(try outputError(result.model, model, x, samples) < outputError(plain.model, model, x, samples))
    }

    @Test("a data-aware metric without calibration statistics is refused")
    func missingCalibration() throws {
        let (model, _, _) = try setUp()
        var options = ConversionOptions(policy: .rank(4))
        options.metric = .whitened(ridge: 1e-6)
        #expect(throws: ConversionError.self) { try Converter.convert(model, options: options) }
    }
}
