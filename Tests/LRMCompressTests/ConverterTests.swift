import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

/// Kernels with a chosen spectrum: W = U·diag(σ)·Vᵀ with orthonormal U, V taken from the SVD of
/// random matrices.
enum SyntheticKernel {
    static func make(rows: Int, columns: Int, sigma: [Double], seed: UInt64) throws -> [Float] {
        var rng = SeededGenerator(seed: seed)
        let r = min(rows, columns)
        let a = try Matrix(rows: rows, columns: r, values: (0..<(rows * r)).map { _ in rng.nextSymmetricFloat() })
        let b = try Matrix(rows: columns, columns: r, values: (0..<(columns * r)).map { _ in rng.nextSymmetricFloat() })
        let u = try SVD.compute(a, precision: .double).u, v = try SVD.compute(b, precision: .double).u
        var w = [Double](repeating: 0, count: rows * columns)
        for i in 0..<rows { for j in 0..<columns { for k in 0..<r { w[i * columns + j] += Double(u[i, k]) * sigma[k] * Double(v[j, k]) } } }
        return w.map(Float.init)
    }

    static func model(hidden: [Double], seed: UInt64 = 1) throws -> Model {
        var rng = SeededGenerator(seed: seed)
        let k1 = try make(rows: 64, columns: 32, sigma: hidden, seed: seed)
        let k2 = (0..<(32 * 10)).map { _ in 0.3 * rng.nextSymmetricFloat() }
        return Model(name: "m", input: InputSpec(shape: [64]), layers: [
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [64, 32], floats: k1),
                                                    bias: Tensor(shape: [32], floats: (0..<32).map { _ in rng.nextSymmetricFloat() }), activation: .relu)),
            Layer(name: "output", operation: .dense(kernel: Tensor(shape: [32, 10], floats: k2), bias: nil, activation: .softmax)),
        ])
    }
}

@Suite("Converter")
struct ConverterTests {
    // σᵢ = 0.8^i: energy of the first k is (1 − 0.64^k) / (1 − 0.64^32).
    let sigma = (0..<32).map { pow(0.8, Double($0)) }

    @Test("energy τ picks the paper's k, the factors meet Eckart–Young, the output layer stays dense", arguments: [0.8, 0.9, 0.95, 0.99])
    func energy(tau: Double) throws {
        let model = try SyntheticKernel.model(hidden: sigma)
        let result = try Converter.convert(model, options: ConversionOptions(policy: .energy(tau)))
        let total = sigma.reduce(0) { $0 + $1 * $1 }
        var expected = 1
        while sigma.prefix(expected).reduce(0, { $0 + $1 * $1 }) / total < tau { expected += 1 }
        let hidden = result.decisions[0]
        #expect(hidden.outcome == .factorized)
        #expect(hidden.rank == expected)
        guard case let .factorizedDense(us, vt, _, _, f) = result.model.layers[0].operation else { Issue.record("not factorized"); return }
        #expect(us.shape == [64, expected] && vt.shape == [expected, 32])
        #expect(f.retainedEnergy >= tau)
        #expect(abs(f.relativeError - (1 - f.retainedEnergy).squareRoot()) < 1e-3)
        #expect(f.singularValues.count == 32)
        for (got, want) in zip(f.singularValues, sigma) { #expect(abs(got - want) < 1e-5) }
        // 32 × 10 output: the break-even rule alone decides (k·42 < 320 needs k ≤ 7).
        let output = result.decisions[1]
        let k = try #require(output.rank)
        #expect(output.outcome == (k * 42 < 320 ? .factorized : .notWorthIt))
        if k * 42 >= 320 { #expect(output.reason.contains("kept dense")) }
        if tau >= 0.95 { #expect(output.outcome == .notWorthIt) }
    }

    @Test("τ = 1 keeps every layer dense and the outputs identical")
    func fullEnergy() throws {
        let model = try SyntheticKernel.model(hidden: sigma)
        let result = try Converter.convert(model, options: ConversionOptions(policy: .energy(1.0)))
        #expect(result.decisions.allSatisfy { $0.outcome == .notWorthIt })
        #expect(result.model.layers == model.layers)
    }

    @Test("ranks round up to a multiple, overrides exclude layers or change their policy")
    func roundingAndOverrides() throws {
        let model = try SyntheticKernel.model(hidden: sigma)
        let rounded = try Converter.convert(model, options: ConversionOptions(policy: .rank(3), rankMultiple: 8))
        #expect(rounded.decisions[0].policyRank == 3 && rounded.decisions[0].rank == 8)
        let excluded = try Converter.convert(model, options: ConversionOptions(
            policy: .rank(3), overrides: [.init(pattern: NamePattern("hid*"), policy: nil)]))
        #expect(excluded.decisions[0].outcome == .excluded)
        let overridden = try Converter.convert(model, options: ConversionOptions(
            policy: .rank(3), overrides: [.init(pattern: NamePattern("output"), policy: .rank(2))]))
        #expect(overridden.decisions[1].outcome == .factorized && overridden.decisions[1].rank == 2)
    }

    @Test("the converted model runs close to the original when little energy is dropped")
    func outputsClose() throws {
        let model = try SyntheticKernel.model(hidden: sigma)
        let result = try Converter.convert(model, options: ConversionOptions(policy: .energy(0.9999)))
        var rng = SeededGenerator(seed: 3)
        let x = (0..<(64 * 50)).map { _ in rng.nextSymmetricFloat() }
        let a = try InferenceModel(model).run(x, sampleCount: 50)
        let b = try InferenceModel(result.model).run(x, sampleCount: 50)
        #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-2)
    }

    @Test("the output is byte-identical with one or two layers at a time")
    func deterministic() throws {
        // Layers at once as under lrm's one-thread BLAS, whatever this test process's BLAS uses.
        try Converter.$assumedBLASThreads.withValue(1) {
            var model = try SyntheticKernel.model(hidden: sigma)
            model.layers.insert(Layer(name: "second", operation: .dense(
                kernel: Tensor(shape: [64, 64], floats: try SyntheticKernel.make(rows: 64, columns: 64, sigma: (0..<64).map { 1 / Double($0 + 1) }, seed: 9)),
                bias: nil, activation: .tanh)), at: 0)
            let one = try Converter.convert(model, options: ConversionOptions(policy: .energy(0.9), parallelLayers: 1))
            let two = try Converter.convert(model, options: ConversionOptions(policy: .energy(0.9), parallelLayers: 2))
            #expect(try ContainerWriter.encode(one.model) == ContainerWriter.encode(two.model))
        }
    }

    @Test("byte-identical for 1, 2, 3 and 8 layers at a time, with layers of different sizes taken largest first")
    func deterministicAnyWorkerCount() throws {
        // Layers at once as under lrm's one-thread BLAS, whatever this test process's BLAS uses.
        try Converter.$assumedBLASThreads.withValue(1) {
            var rng = SeededGenerator(seed: 77)
            let widths = [48, 96, 90, 80, 40, 10]
            var layers: [Layer<Tensor>] = []
            for (index, (inputs, outputs)) in zip(widths, widths.dropFirst()).enumerated() {
                // Alternate decaying spectra (factorized) and flat random kernels (kept dense).
                let floats = index.isMultiple(of: 2)
                    ? try SyntheticKernel.make(rows: inputs, columns: outputs, sigma: (0..<min(inputs, outputs)).map { pow(0.7, Double($0)) }, seed: UInt64(index + 3))
                    : (0..<(inputs * outputs)).map { _ in rng.nextSymmetricFloat() }
                layers.append(Layer(name: "d\(index)", operation: .dense(kernel: Tensor(shape: [inputs, outputs], floats: floats),
                                                                         bias: nil, activation: .relu)))
            }
            let model = Model(name: "m", input: InputSpec(shape: [widths[0]]), layers: layers)
            let results = try [1, 2, 3, 8].map { try Converter.convert(model, options: ConversionOptions(policy: .energy(0.9), parallelLayers: $0)) }
            let bytes = try results.map { try ContainerWriter.encode($0.model) }
            #expect(bytes.allSatisfy { $0 == bytes[0] })
            #expect(results.allSatisfy { $0.decisions.map(\.name) == ["d0", "d1", "d2", "d3", "d4"] })
            #expect(results[0].decisions.map(\.outcome) == [.factorized, .notWorthIt, .factorized, .notWorthIt, .factorized])
        }
    }

    @Test("a mapped model converts layer by layer to the same bytes as the model in memory, for 1, 2, 3 and 8 workers")
    func mappedConversion() throws {
        // Layers at once as under lrm's one-thread BLAS, whatever this test process's BLAS uses.
        try Converter.$assumedBLASThreads.withValue(1) {
            var rng = SeededGenerator(seed: 78)
            let widths = [48, 96, 90, 80, 40, 10]
            var layers: [Layer<Tensor>] = []
            for (index, (inputs, outputs)) in zip(widths, widths.dropFirst()).enumerated() {
                let floats = index.isMultiple(of: 2)
                    ? try SyntheticKernel.make(rows: inputs, columns: outputs, sigma: (0..<min(inputs, outputs)).map { pow(0.7, Double($0)) }, seed: UInt64(index + 5))
                    : (0..<(inputs * outputs)).map { _ in rng.nextSymmetricFloat() }
                layers.append(Layer(name: "d\(index)", operation: .dense(kernel: Tensor(shape: [inputs, outputs], floats: floats),
                                                                         bias: Tensor(shape: [outputs], floats: (0..<outputs).map { _ in rng.nextSymmetricFloat() }),
                                                                         activation: .linear)))
                layers.append(Layer(name: "a\(index)", operation: .activation(.relu)))
            }
            let model = Model(name: "m", input: InputSpec(shape: [widths[0]]), layers: layers, metadata: ["lrm.writer": .string("test")])
            let path = NSTemporaryDirectory() + "lrm-mapped-\(UUID().uuidString).lrm"
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ContainerWriter.write(model, to: path)
            let mapped = MappedModel(try ContainerFile(path: path))
            let expected = try ContainerWriter.encode(try Converter.convert(model, options: ConversionOptions(policy: .energy(0.9))).model)
            for workers in [1, 2, 3, 8] {
                let options = ConversionOptions(policy: .energy(0.9), parallelLayers: workers)
                let result = try Converter.convert(mapped, options: options)
                #expect(try ContainerWriter.encode(result.model) == expected, "\(workers) workers")
                #expect(result.decisions.map(\.name) == model.layers.map(\.name))
            }
        }
    }

    @Test("the work budget lets a layer start beside others only while their working sets fit, and the largest always")
    func workBudget() async throws {
        let budget = WorkBudget(limit: 100)
        budget.acquire(100)  // alone, at the limit
        let started = ManagedFlag()
        let waiter = Thread { budget.acquire(10); started.set(); budget.release(10) }
        waiter.start()
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(!started.value, "10 more bytes do not fit beside 100")
        budget.release(100)
        for _ in 0..<100 where !started.value { try await Task.sleep(nanoseconds: 10_000_000) }
        #expect(started.value)
        budget.acquire(60)
        budget.acquire(40)  // 60 + 40 fit
        budget.release(60)
        budget.release(40)
        budget.acquire(500)  // larger than the limit, but nothing runs
        budget.release(500)
    }

    @Test("a layer kept dense is decided from its singular values alone, as the full SVD would decide it")
    func keptDenseFromValues() throws {
        var rng = SeededGenerator(seed: 5)
        let (rows, columns) = (60, 40)
        let floats = (0..<(rows * columns)).map { _ in rng.nextSymmetricFloat() }
        let layer = Layer(name: "flat", operation: .dense(kernel: Tensor(shape: [rows, columns], floats: floats), bias: nil, activation: .linear))
        let model = Model(name: "m", input: InputSpec(shape: [rows]), layers: [layer])
        let options = ConversionOptions(policy: .energy(0.95), svdMethod: .exact)
        let decision = try Converter.convert(model, options: options).decisions[0]
        // The reference: the thin SVD's values and the same rule.
        let s = try SVD.compute(try Matrix(rows: rows, columns: columns, values: floats)).s
        let k = try #require(Spectrum.smallestRank(keepingEnergy: 0.95, singularValues: s, totalEnergy: Spectrum.energy(s)))
        #expect(k * (rows + columns) >= rows * columns, "the test needs a layer that does not pay")
        #expect(decision.outcome == .notWorthIt)
        #expect(decision.rank == k)
        #expect(decision.method == "gesdd-f32")
        // Retained energy from the 'N' values, against the thin SVD's: both within 1e-5 (float σ, relative 1e-6).
        let expected = 1 - Spectrum.tailEnergyFraction(rank: k, singularValues: s, totalEnergy: Spectrum.energy(s), complete: true)
        #expect(abs((decision.retainedEnergy ?? 0) - expected) <= 1e-5)
        #expect(decision.reason.hasSuffix("kept dense"))
    }

    @Test("the randomized SVD honours the energy threshold exactly on a large layer")
    func randomized() throws {
        let n = 96
        let spectrum = (0..<n).map { pow(0.9, Double($0)) }
        let kernel = try SyntheticKernel.make(rows: 400, columns: n, sigma: spectrum, seed: 4)
        let model = Model(name: "big", input: InputSpec(shape: [400]), layers: [
            Layer(name: "big", operation: .dense(kernel: Tensor(shape: [400, n], floats: kernel), bias: nil, activation: .linear))])
        let options = ConversionOptions(policy: .energy(0.95), svdMethod: .randomized)
        let result = try Converter.convert(model, options: options)
        let decision = result.decisions[0]
        #expect(decision.method == "randomized")
        #expect(decision.outcome == .factorized)
        #expect((decision.retainedEnergy ?? 0) >= 0.95)
        // The exact optimum is 15 (0.9^30 = 0.042 < 0.05); the sketch may need a little more.
        #expect((15...18).contains(decision.rank ?? 0))
    }

    @Test("layers from the Gram threshold up go through the Gram matrix: same rank and Eckart–Young error as gesdd, smaller ones unchanged")
    func gramFromThreshold() throws {
        let n = 48
        let spectrum = (0..<n).map { pow(0.93, Double($0)) }
        var layers: [Layer<Tensor>] = []
        for (name, rows, columns) in [("tall", 160, n), ("wide", n, 160)] {
            let kernel = try SyntheticKernel.make(rows: rows, columns: columns, sigma: spectrum, seed: 6)
            layers.append(Layer(name: name, operation: .dense(kernel: Tensor(shape: [rows, columns], floats: kernel), bias: nil, activation: .linear)))
        }
        let model = Model(name: "m", input: InputSpec(shape: [160]), layers: [layers[0]])
        let wide = Model(name: "w", input: InputSpec(shape: [n]), layers: [layers[1]])
        for model in [model, wide] {
            let exact = try Converter.convert(model, options: ConversionOptions(policy: .energy(0.95), svdMethod: .exact))
            var options = ConversionOptions(policy: .energy(0.95))
            options.gramThreshold = n  // the auto rule, with the threshold at this layer's min(in, out)
            let gram = try Converter.convert(model, options: options)
            let (e, g) = (exact.decisions[0], gram.decisions[0])
            #expect(e.method == "gesdd-f32" && g.method == "gram-f64")
            #expect(e.outcome == .factorized && g.outcome == .factorized)
            #expect(g.rank == e.rank)
            #expect(abs((g.relativeError ?? 1) - (e.relativeError ?? 0)) <= 1e-4, "\(model.name)")
            // Only the kept triplets are computed, but the file records every singular value.
            if case let .factorizedDense(us, _, _, _, factorization) = gram.model.layers[0].operation,
               case let .factorizedDense(_, _, _, _, reference) = exact.model.layers[0].operation {
                #expect(us.shape[1] == g.rank && factorization.singularValues.count == n)
                for (a, b) in zip(factorization.singularValues, reference.singularValues) { #expect(abs(a - b) <= 1e-5 * reference.singularValues[0]) }
            } else {
                Issue.record("\(model.name): not factorized")
            }
            options.gramThreshold = n + 1  // below the threshold: gesdd, the same bytes as --svd exact
            let below = try Converter.convert(model, options: options)
            #expect(below.decisions[0].method == "gesdd-f32")
            #expect(below.model == exact.model)
        }
    }

    @Test("the largest layer forms its Gram matrix before the others start: the bytes are the same for 1, 2 and 3 layers at a time")
    func gramFormedFirst() throws {
        // Layers at once as under lrm's one-thread BLAS, whatever this test process's BLAS uses.
        try Converter.$assumedBLASThreads.withValue(1) {
            var layers: [Layer<Tensor>] = []
            for (index, (rows, columns)) in [(160, 96), (96, 64), (64, 10)].enumerated() {
                let sigma = (0..<min(rows, columns)).map { pow(0.9, Double($0)) }
                let kernel = try SyntheticKernel.make(rows: rows, columns: columns, sigma: sigma, seed: UInt64(20 + index))
                layers.append(Layer(name: "d\(index)", operation: .dense(kernel: Tensor(shape: [rows, columns], floats: kernel), bias: nil,
                                                                          activation: .relu)))
            }
            let model = Model(name: "m", input: InputSpec(shape: [160]), layers: layers)
            var encodings: [[UInt8]] = []
            for workers in [1, 2, 3] {
                var options = ConversionOptions(policy: .energy(0.95), parallelLayers: workers)
                options.gramThreshold = 96  // the first layer only
                let result = try Converter.convert(model, options: options)
                #expect(result.decisions.map(\.method) == ["gram-f64", "gesdd-f32", "gesdd-f32"])
                #expect(result.decisions[0].outcome == .factorized && result.decisions[0].seconds > 0)
                encodings.append(try ContainerWriter.encode(result.model))
            }
            #expect(encodings[1] == encodings[0] && encodings[2] == encodings[0])
        }
    }

    @Test("layers run at once only on a one-thread BLAS; a multi-threaded (or unknown) BLAS gets them one at a time")
    func layerWorkersFollowBLAS() {
        #expect(Converter.layerWorkers(parallelLayers: 2, jobs: 3, blasThreads: 1) == 2)
        #expect(Converter.layerWorkers(parallelLayers: 8, jobs: 3, blasThreads: 1) == 3)
        #expect(Converter.layerWorkers(parallelLayers: 0, jobs: 3, blasThreads: 1) == 1)
        #expect(Converter.layerWorkers(parallelLayers: 2, jobs: 3, blasThreads: 2) == 1)
        #expect(Converter.layerWorkers(parallelLayers: 8, jobs: 5, blasThreads: nil) == 1)
    }

    @Test("NaN weights are refused with the layer named")
    func nonFinite() throws {
        var model = try SyntheticKernel.model(hidden: sigma)
        model.layers[0] = Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [64, 32], floats: [Float](repeating: .nan, count: 2048)),
                                                                  bias: nil, activation: .relu))
        let error = try #require(throws: ConversionError.self) { try Converter.convert(model, options: ConversionOptions()) }
        #expect(error.kind == .nonFiniteWeights && error.layer == "hidden")
    }
}

/// A flag set by one thread and read by another.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
    func set() { lock.lock(); flag = true; lock.unlock() }
}
