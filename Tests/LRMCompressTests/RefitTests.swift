import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Closed-form refit after truncation")
struct RefitTests {
    /// A 24-16-12-5 ReLU MLP with a softmax output, random weights, and 400 random inputs; when `deadUnit`,
    /// the first layer's unit 3 never fires (its column and bias are very negative), so the second layer's
    /// input 3 is always zero and its XᵀX is singular.
    func setUp(deadUnit: Bool = false) -> (Model, [Float], Int) {
        var rng = SeededGenerator(seed: 7)
        func tensor(_ shape: [Int], scale: Float = 0.4) -> [Float] { (0..<shape.reduce(1, *)).map { _ in rng.nextSymmetricFloat() * scale } }
        var k1 = tensor([24, 16]), b1 = tensor([16], scale: 0.1)
        if deadUnit {
            for i in 0..<24 { k1[i * 16 + 3] = -0.01 }
            b1[3] = -50
        }
        let model = Model(name: "mlp", input: InputSpec(shape: [24]), layers: [
            Layer(name: "d1", operation: .dense(kernel: Tensor(shape: [24, 16], floats: k1), bias: Tensor(shape: [16], floats: b1), activation: .relu)),
            Layer(name: "d2", operation: .dense(kernel: Tensor(shape: [16, 12], floats: tensor([16, 12])), bias: Tensor(shape: [12], floats: tensor([12], scale: 0.1)), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [12, 5], floats: tensor([12, 5])), bias: Tensor(shape: [5], floats: tensor([5], scale: 0.1)), activation: .softmax)),
        ])
        let samples = 400
        return (model, (0..<(samples * 24)).map { _ in rng.nextSymmetricFloat() + 0.3 }, samples)
    }

    func truncated(_ model: Model, rank: Int) throws -> Model {
        let options = ConversionOptions(policy: .rank(rank), overrides: [.init(pattern: NamePattern("out"), policy: nil)])
        return try Converter.convert(model, options: options).model
    }

    /// Σ‖f(x) − f_original(x)‖² over the samples, outputs before nothing (softmax probabilities).
    func outputError(_ a: Model, _ b: Model, _ x: [Float], _ samples: Int) throws -> Double {
        let p = try InferenceModel(a).run(x, sampleCount: samples), q = try InferenceModel(b).run(x, sampleCount: samples)
        return zip(p, q).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    }

    @Test("refit lowers every factorized layer's pre-activation error and the model's output error", arguments: [2, 3, 5])
    func lowersError(rank: Int) throws {
        let (model, x, samples) = setUp()
        let candidate = try truncated(model, rank: rank)
        let refitter = try Refitter(original: model, calibrationInputs: x, sampleCount: samples)
        let (refitted, reports) = try refitter.refit(candidate)
        #expect(reports.map(\.name) == ["d1", "d2"])
        for report in reports {
            #expect(report.errorAfter <= report.errorBefore)
            #expect(report.errorAfter.isFinite)
        }
        // d2's inputs come from the truncated d1, so its truncation was not fitted to them: refit must gain.
        #expect(reports[1].errorAfter < 0.9 * reports[1].errorBefore)
        let after = try outputError(refitted, model, x, samples), before = try outputError(candidate, model, x, samples)
        #expect(after < before)
    }

    @Test("the Vᵀ-and-bias step recovers a layer exactly when its original is rank k and U·Σ is right but Vᵀ and the bias are wrong")
    func exactRecovery() throws {
        var rng = SeededGenerator(seed: 11)
        let (p, q, k, samples) = (10, 8, 3, 200)
        let us = (0..<(p * k)).map { _ in rng.nextSymmetricFloat() }
        let vt = (0..<(k * q)).map { _ in rng.nextSymmetricFloat() }
        let bias = (0..<q).map { _ in rng.nextSymmetricFloat() }
        var w = [Float](repeating: 0, count: p * q)
        for i in 0..<p { for j in 0..<q { for r in 0..<k { w[i * q + j] += us[i * k + r] * vt[r * q + j] } } }
        let original = Model(name: "one", input: InputSpec(shape: [p]), layers: [
            Layer(name: "fc", operation: .dense(kernel: Tensor(shape: [p, q], floats: w), bias: Tensor(shape: [q], floats: bias), activation: .linear))])
        let record = Factorization(inFeatures: p, outFeatures: q, rank: k, retainedEnergy: 1, relativeError: 1, policy: "rank",
                                   policyParameter: Double(k), method: "test", singularValues: [1, 1, 1])
        let wrong = Model(name: "one", input: InputSpec(shape: [p]), layers: [
            Layer(name: "fc", operation: .factorizedDense(us: Tensor(shape: [p, k], floats: us), vt: Tensor(shape: [k, q], floats: vt.map { $0 * 0.5 + 0.1 }),
                                                          bias: Tensor(shape: [q], floats: [Float](repeating: 0, count: q)), activation: .linear, factorization: record))])
        let x = (0..<(samples * p)).map { _ in rng.nextSymmetricFloat() }
        let (refitted, reports) = try Refitter(original: original, calibrationInputs: x, sampleCount: samples).refit(wrong)
        let report = try #require(reports.first)
        #expect(report.errorBefore > 0.3)
        #expect(report.errorAfter < 1e-4)
        guard case let .factorizedDense(_, newVt, newBias, _, f) = refitted.layers[0].operation else { Issue.record("not factorized"); return }
        for (a, b) in zip(newVt.floats(), vt) { #expect(abs(a - b) < 1e-3) }
        for (a, b) in zip(try #require(newBias).floats(), bias) { #expect(abs(a - b) < 1e-3) }
        #expect(f.relativeError < 1e-3)  // the plain error is recomputed for the new factors
        #expect(f.method == "test+refit")
    }

    @Test("a dead ReLU unit (an always-zero input, singular XᵀX) is handled by the ridge: finite factors, lower error")
    func deadUnit() throws {
        let (model, x, samples) = setUp(deadUnit: true)
        let candidate = try truncated(model, rank: 3)
        let (refitted, reports) = try Refitter(original: model, calibrationInputs: x, sampleCount: samples).refit(candidate)
        let d2 = try #require(reports.last)
        #expect(d2.name == "d2" && d2.errorAfter < d2.errorBefore)
        for layer in refitted.layers {
            for entry in layer.operation.tensors {
                let finite = entry.tensor.floats().allSatisfy(\.isFinite)
                #expect(finite)
            }
        }
    }

    @Test("integer codes are rounded after the refit, layer by layer: every factor and kept kernel stored as codes, and a smaller output error than rounding without the refit",
          arguments: [DType.int4, .int8])
    func roundedAfterRefit(dtype: DType) throws {
        let (model, x, samples) = setUp()
        let accumulator = try CalibrationAccumulator(model: model)
        try accumulator.add(x, sampleCount: samples)
        // Rank 2 everywhere, except the output layer, where rank 5 does not pay: its kernel stays dense and is rounded too.
        var options = ConversionOptions(policy: .rank(2), overrides: [.init(pattern: NamePattern("out"), policy: .rank(5))])
        options.metric = .whitened(ridge: 1e-6)
        options.calibration = accumulator.finish(source: CalibrationSource(dataset: "synthetic", split: "train", count: samples, seed: 1))
        options.quantization = QuantizationOptions(dtype: dtype)
        options.quantizeDenseKernels = true
        // Before: the converter rounds each layer with error feedback against the original model's inputs, no refit.
        let unrefitted = try Converter.convert(model, options: options)
        func originalKernel(_ name: String) throws -> Tensor {
            guard case let .dense(kernel, _, _) = try #require(model.layers.first { $0.name == name }).operation else {
                throw ConversionError(kind: .decomposition, layer: name, message: "not dense")
            }
            return kernel
        }
        // Now: float factors, then the refit and the rounding in one pass.
        var floatOptions = options
        floatOptions.quantization = nil
        floatOptions.quantizeDenseKernels = false
        var result = try Converter.convert(model, options: floatOptions)
        try Refitter(original: model, calibrationInputs: x, sampleCount: samples).applyRounding(to: &result, options: options)
        var kinds: [String] = []
        for layer in result.model.layers {
            switch layer.operation {
            case let .factorizedDense(us, vt, _, _, f):
                kinds.append("factorized")
                #expect(us.quantization?.dtype == dtype && vt.quantization?.dtype == dtype)
                #expect(f.method.hasSuffix("+refit"))
                // The decision records the error of the factors as stored (rounded).
                let stored = try Converter.relativeError(of: try Matrix(rows: f.inFeatures, columns: f.rank, values: us.floats()),
                                                         try Matrix(rows: f.rank, columns: f.outFeatures, values: vt.floats()),
                                                         against: try Matrix(rows: f.inFeatures, columns: f.outFeatures,
                                                                             values: try originalKernel(layer.name).floats()))
                #expect(abs(f.relativeError - stored) < 1e-9)
                #expect(result.decisions.first { $0.name == layer.name }?.relativeError == f.relativeError)
            case let .dense(kernel, _, _):
                kinds.append("dense")
                #expect(kernel.quantization?.dtype == dtype)
            default:
                kinds.append("other")
            }
        }
        #expect(kinds == ["factorized", "factorized", "dense"])
        let refitError = try outputError(result.model, model, x, samples), before = try outputError(unrefitted.model, model, x, samples)
        #expect(refitError < before, "refitted then rounded \(refitError), rounded without refit \(before)")
    }

    @Test("the refit is recorded in the metadata and survives writing and reading")
    func metadata() throws {
        let (model, x, samples) = setUp()
        var result = try Converter.convert(model, options: ConversionOptions(policy: .rank(3)))
        let refitter = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, options: RefitOptions(ridge: 1e-3))
        try refitter.apply(to: &result)
        var provenance = ConversionProvenance(options: ConversionOptions(policy: .rank(3)))
        provenance.refit = refitter.record
        provenance.record(in: &result.model.metadata)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("refit-\(UUID().uuidString).lrm")
        defer { try? FileManager.default.removeItem(at: url) }
        try ContainerWriter.write(result.model, to: url.path)
        let read = try ContainerFile(path: url.path).loadModel()
        #expect(read.metadata[MetadataKey.conversionRefit] == .bool(true))
        #expect(read.metadata[MetadataKey.refitRidge] == .float(1e-3))
        #expect(read.metadata[MetadataKey.refitCount] == .int(Int64(samples)))
    }

    @Test("in a CNN the dense layers after the convolutions are refitted, on the inputs a factorized convolution gives them")
    func refitsDenseLayersOfCNN() throws {
        var rng = SeededGenerator(seed: 17)
        func values(_ count: Int, scale: Float = 0.4) -> [Float] { (0..<count).map { _ in rng.nextSymmetricFloat() * scale } }
        let model = Model(name: "cnn", input: InputSpec(shape: [6, 6, 3]), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 3, 8], floats: values(216)), bias: Tensor(shape: [8], floats: values(8, scale: 0.1)),
                                                  activation: .relu, geometry: ConvGeometry(padding: .same))),
            Layer(name: "pool", operation: .pool2D(Pooling(mode: .max, poolH: 2, poolW: 2, strideH: 2, strideW: 2, padding: .valid))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "d1", operation: .dense(kernel: Tensor(shape: [72, 16], floats: values(72 * 16)), bias: Tensor(shape: [16], floats: values(16, scale: 0.1)), activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [16, 5], floats: values(80)), bias: nil, activation: .softmax)),
        ])
        let samples = 300
        let x = (0..<(samples * 108)).map { _ in rng.nextSymmetricFloat() + 0.3 }
        let options = ConversionOptions(policy: .rank(3), overrides: [.init(pattern: NamePattern("out"), policy: nil)])
        let candidate = try Converter.convert(model, options: options).model
        guard case .factorizedConv2D = candidate.layers[0].operation, case .factorizedDense = candidate.layers[3].operation else {
            Issue.record("the candidate does not factorize both the convolution and d1")
            return
        }
        let (refitted, reports) = try Refitter(original: model, calibrationInputs: x, sampleCount: samples).refit(candidate)
        let report = try #require(reports.first { $0.name == "d1" }, "d1 is refitted (the convolution before it used to stop the refit)")
        #expect(report.errorAfter < report.errorBefore)
        #expect(refitted.layers[0] == candidate.layers[0], "the convolution itself is left as it is")
        #expect(try outputError(refitted, model, x, samples) < outputError(candidate, model, x, samples))
    }

    /// The inputs of layer `index` (records × features) when `model` runs on every record of `x` at once.
    func layerInputs(_ model: Model, _ index: Int, _ x: [Float], _ samples: Int) throws -> [Float] {
        var captured: [Float] = []
        let runner = try InferenceModel(model)
        _ = try x.withUnsafeBufferPointer { buffer in
            try runner.run(buffer, sampleCount: samples, batchSize: samples) { layer, input, _, _ in
                if layer == index { captured.append(contentsOf: input) }
            }
        }
        return captured
    }

    @Test("the refit is streamed: statistics gathered 7 records at a time give the factors of one batch of all 400 (a dead ReLU unit included), and no pass holds more than a batch's rows")
    func streamedEqualsOneBatch() throws {
        let (model, x, samples) = setUp(deadUnit: true)
        let candidate = try truncated(model, rank: 3)
        let whole = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: samples)
        let streamed = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: 7)
        let (a, reportsA) = try whole.refit(candidate)
        let (b, reportsB) = try streamed.refit(candidate)
        #expect(whole.largestBatchRows == samples)
        #expect(streamed.largestBatchRows == 7)
        #expect(reportsA.map(\.name) == ["d1", "d2"] && reportsB.map(\.name) == ["d1", "d2"])
        #expect(reportsA.map(\.steps) == reportsB.map(\.steps))
        // The runtime's float products may round a layer's inputs differently in batches of 7 and of 400.
        for (ra, rb) in zip(reportsA, reportsB) {
            #expect(abs(ra.errorBefore - rb.errorBefore) <= 1e-6 * ra.errorBefore, "\(ra.name): \(ra.errorBefore) vs \(rb.errorBefore)")
            #expect(abs(ra.errorAfter - rb.errorAfter) <= 1e-6 * ra.errorAfter, "\(ra.name): \(ra.errorAfter) vs \(rb.errorAfter)")
            #expect(rb.errorAfter < rb.errorBefore)
        }
        for (la, lb) in zip(a.layers, b.layers) {
            for (ta, tb) in zip(la.operation.tensors, lb.operation.tensors) {
                let fa = ta.tensor.floats(), fb = tb.tensor.floats()
                let scale = fa.reduce(Float(0)) { max($0, abs($1)) }
                let worst = zip(fa, fb).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                #expect(fb.allSatisfy(\.isFinite) && worst <= 1e-4 * max(scale, 1), "\(la.name): \(worst) of \(scale)")
            }
        }
    }

    @Test("a refitter that keeps the original's targets between passes gives exactly the factors and reports of one that computes them on every pass, and keeps no more than its limit")
    func keptTargets() throws {
        let (model, x, samples) = setUp(deadUnit: true)
        let rank3 = try truncated(model, rank: 3), rank2 = try truncated(model, rank: 2)
        // d1 as the original has it: d2's inputs are the original's, so its pass runs the original (after the others kept d2's targets).
        var secondOnly = rank3
        secondOnly.layers[0] = model.layers[0]
        let computing = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: 7)
        let keeping = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: 7, targetCacheBytes: 1 << 20)
        let tooSmall = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: 7, targetCacheBytes: 400 * 12 * 4 - 1)
        for candidate in [rank3, rank2, secondOnly, rank3] {
            let expected = try computing.refit(candidate)
            let kept = try keeping.refit(candidate), small = try tooSmall.refit(candidate)
            #expect(kept.model == expected.model && kept.layers == expected.layers)
            #expect(small.model == expected.model && small.layers == expected.layers)
        }
        // d2's targets (400 records × 12 outputs); d1's pass runs the original once (its statistics are kept), `out` is not refitted.
        #expect(keeping.keptTargetBytes == 400 * 12 * 4)
        #expect(computing.keptTargetBytes == 0 && tooSmall.keptTargetBytes == 0)
        #expect(keeping.largestBatchRows == 7)
    }

    @Test("each layer's reported errors, computed from the streamed statistics, are the per-record errors ‖X·U·Σ·Vᵀ + b − Y‖ / ‖Y‖ on the inputs the refitted layers before it give")
    func errorsFromStatistics() throws {
        let (model, x, samples) = setUp(deadUnit: true)
        let candidate = try truncated(model, rank: 3)
        let (refitted, reports) = try Refitter(original: model, calibrationInputs: x, sampleCount: samples, batchSize: 64).refit(candidate)
        for (index, report) in reports.enumerated() {
            guard case let .dense(kernel, bias, _) = model.layers[index].operation,
                  case let .factorizedDense(us, vt, newBias, _, f) = refitted.layers[index].operation else {
                Issue.record("layer \(index) is not a refitted factorized dense layer")
                return
            }
            let (p, q, k) = (f.inFeatures, f.outFeatures, f.rank)
            let xo = try layerInputs(model, index, x, samples), xc = try layerInputs(refitted, index, x, samples)
            let w = kernel.floats(), b0 = try #require(bias).floats(), a = us.floats(), v = vt.floats(), c = try #require(newBias).floats()
            var difference = 0.0, total = 0.0
            for r in 0..<samples {
                var z = [Double](repeating: 0, count: k)
                for l in 0..<k { for i in 0..<p { z[l] += Double(xc[r * p + i]) * Double(a[i * k + l]) } }
                for j in 0..<q {
                    var y = Double(b0[j]), out = Double(c[j])
                    for i in 0..<p { y += Double(xo[r * p + i]) * Double(w[i * q + j]) }
                    for l in 0..<k { out += z[l] * Double(v[l * q + j]) }
                    difference += (out - y) * (out - y)
                    total += y * y
                }
            }
            let direct = (difference / total).squareRoot()
            #expect(abs(direct - report.errorAfter) <= 1e-5 * direct + 1e-7, "\(report.name): \(report.errorAfter) reported, \(direct) per record")
        }
    }
}
