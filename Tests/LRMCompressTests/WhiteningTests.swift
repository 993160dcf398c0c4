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

    @Test("whitened through the Gram matrix (T·W taken from the values pass): the rank and error of the whitened gesdd")
    func whitenedGram() throws {
        let (model, x, samples) = try setUp()
        var options = ConversionOptions(policy: .energy(0.9))
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = try statistics(model, x, samples, batch: 64)
        options.svdMethod = .exact
        let exact = try Converter.convert(model, options: options)
        options.svdMethod = .gram
        let gram = try Converter.convert(model, options: options)
        let (e, g) = (exact.decisions[0], gram.decisions[0])
        #expect(e.method == "whitened gesdd-f32" && g.method == "whitened gram-f64")
        #expect(g.outcome == .factorized && g.rank == e.rank)
        #expect(abs((g.relativeError ?? 1) - (e.relativeError ?? 0)) <= 1e-4)
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

    /// A 3×3 convolution, 3 → 8 channels with `same` padding and stride 2, on 7×6×3 inputs whose channels have very
    /// different scales (the second nearly constant).
    func convolutionSetUp() -> (Model, [Float], Int) {
        var rng = SeededGenerator(seed: 23)
        let kernel = (0..<(3 * 3 * 3 * 8)).map { _ in rng.nextSymmetricFloat() }
        let model = Model(name: "c", input: InputSpec(shape: [7, 6, 3]), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 3, 8], floats: kernel), bias: nil, activation: .linear,
                                                  geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .same)))])
        let samples = 120
        let x = (0..<(samples * 126)).map { i in rng.nextSymmetricFloat() * [4, 0.05, 1][i % 3] + (i % 3 == 1 ? 1 : 0) }
        return (model, x, samples)
    }

    @Test("a convolution's calibration statistics are the Gram matrix of its im2col patches, zeros of the padding included")
    func convolutionPatchStatistics() throws {
        let (model, x, samples) = convolutionSetUp()
        let accumulator = try CalibrationAccumulator(model: model)
        try accumulator.add(Array(x[0..<(50 * 126)]), sampleCount: 50)
        try accumulator.add(Array(x[(50 * 126)...]), sampleCount: samples - 50)
        let statistics = try #require(accumulator.finish(source: CalibrationSource(dataset: "s", split: "train", count: samples, seed: 1)).layers["conv"])
        // Direct loops: output 4×3 (same, stride 2), padding before 1 row (total 2) and 1 column... from Keras's rule.
        let (h, w, c) = (7, 6, 3)
        let outH = 4, outW = 3
        let padTop = max((outH - 1) * 2 + 3 - h, 0) / 2, padLeft = max((outW - 1) * 2 + 3 - w, 0) / 2
        var gram = [Double](repeating: 0, count: 27 * 27)
        for s in 0..<samples { for oy in 0..<outH { for ox in 0..<outW {
            var patch = [Double](repeating: 0, count: 27)
            for i in 0..<3 { for j in 0..<3 { for ch in 0..<c {
                let iy = oy * 2 + i - padTop, ix = ox * 2 + j - padLeft
                if iy >= 0, iy < h, ix >= 0, ix < w { patch[(i * 3 + j) * c + ch] = Double(x[((s * h + iy) * w + ix) * c + ch]) }
            } } }
            for a in 0..<27 { for b in 0..<27 { gram[a * 27 + b] += patch[a] * patch[b] } }
        } } }
        #expect(statistics.features == 27 && statistics.rows == samples * outH * outW)
        #expect(zip(statistics.gram, gram).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }

    @Test("a whitened convolution: the channel form is truncated in the whitened metric and beats plain SVD on the calibration outputs; the spatial form stays plain")
    func whitenedConvolution() throws {
        let (model, x, samples) = convolutionSetUp()
        let accumulator = try CalibrationAccumulator(model: model)
        try accumulator.add(x, sampleCount: samples)
        var options = ConversionOptions(policy: .rank(3))
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = accumulator.finish(source: CalibrationSource(dataset: "s", split: "train", count: samples, seed: 1))
        options.convolutions = .channel
        let whitened = try Converter.convert(model, options: options)
        guard case let .factorizedConv2D(_, _, _, _, .channel, _, f) = whitened.model.layers[0].operation else {
            Issue.record("not factorized in the channel form")
            return
        }
        #expect(f.method.hasPrefix("whitened"))
        var plainOptions = options
        plainOptions.metric = .plain
        let plain = try Converter.convert(model, options: plainOptions)
        #expect(try outputError(whitened.model, model, x, samples) < outputError(plain.model, model, x, samples))
        options.convolutions = .spatial
        guard case let .factorizedConv2D(_, _, _, _, .spatial, _, g) = try Converter.convert(model, options: options).model.layers[0].operation else {
            Issue.record("not factorized in the spatial form")
            return
        }
        #expect(!g.method.hasPrefix("whitened"))
    }
}
