import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

/// A rank search of a model whose hidden layers are already factorized (a `.lrm` input): each such layer's spectrum is
/// its stored factors', its top rung is the layer as stored, and candidates only truncate it further.
@Suite("Rank search of already factorized layers")
struct StoredFactorSearchTests {
    /// RankSearchTests' 3-layer MLP converted at rank 12 (h1 48×40 and h2 40×32 factorized, the 32×6 output kept
    /// dense: rank 12 does not pay there), the original, and random inputs.
    func setUp() throws -> (stored: Model, original: Model, x: [Float]) {
        let k1 = try SyntheticKernel.make(rows: 48, columns: 40, sigma: (0..<40).map { pow(0.85, Double($0)) * 3 }, seed: 31)
        let k2 = try SyntheticKernel.make(rows: 40, columns: 32, sigma: (0..<32).map { pow(0.8, Double($0)) * 3 }, seed: 32)
        var rng = SeededGenerator(seed: 33)
        let k3 = (0..<(32 * 6)).map { _ in rng.nextSymmetricFloat() }
        let original = Model(name: "s", input: InputSpec(shape: [48]), layers: [
            Layer(name: "h1", operation: .dense(kernel: Tensor(shape: [48, 40], floats: k1), bias: nil, activation: .tanh)),
            Layer(name: "h2", operation: .dense(kernel: Tensor(shape: [40, 32], floats: k2), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [32, 6], floats: k3), bias: nil, activation: .softmax)),
        ])
        let stored = try Converter.convert(original, options: ConversionOptions(policy: .rank(12))).model
        let x = (0..<(800 * 48)).map { _ in rng.nextSymmetricFloat() }
        return (stored, original, x)
    }

    /// Top-1 answers of `model` on `x`.
    func answers(_ model: Model, _ x: [Float]) throws -> [Int] {
        let y = try InferenceModel(model).run(x, sampleCount: x.count / 48)
        return (0..<(x.count / 48)).map { s in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! }
    }

    /// A search of `stored` whose candidates are scored by agreement with `stored` itself (the input model is the reference).
    func search(_ stored: Model, _ x: [Float], options: ConversionOptions = ConversionOptions()) throws -> RankSearch {
        let reference = try answers(stored, x)
        var spectra: [String: LayerSpectrum] = [:]
        for layer in stored.layers.prefix(2) { spectra[layer.name] = try Converter.factorizedSpectrum(of: layer) }
        var search = RankSearch(model: stored, spectra: spectra, options: options, policyName: "target-accuracy-drop", policyParameter: 5) { candidate in
            let agree = zip(try answers(candidate, x), reference).filter { $0 == $1 }.count
            return ValidationScore(accuracy: Double(agree) / Double(reference.count), standardError: 0)
        }
        search.confidence = 0
        return search
    }

    /// The factorization record of layer `name` in `model`.
    func record(_ model: Model, _ name: String) -> Factorization? {
        guard let layer = model.layers.first(where: { $0.name == name }), case let .factorizedDense(_, _, _, _, f) = layer.operation else { return nil }
        return f
    }

    @Test("the spectrum of a factorized layer is its stored rank's, its top rung is the layer as stored, and the hidden fraction counts it at that rank")
    func storedLayerIsTheTopRung() throws {
        let (stored, _, x) = try setUp()
        let search = try search(stored, x)
        #expect(search.hiddenLayers == ["h1", "h2"])
        #expect(search.storedRank("h1") == 12 && search.storedRank("h2") == 12)
        #expect(try #require(search.spectra["h1"]).svd.s.count == 12)
        // As stored: 12·(48 + 40) + 12·(40 + 32) of 48·40 + 40·32.
        let asStored = (12.0 * 88 + 12.0 * 72) / 3200
        #expect(abs(search.hiddenFraction([:]) - asStored) < 1e-12)
        // τ ≈ 1 asks for more than 12 on the original's recorded spectrum: capped at the stored rank, never dense.
        #expect(search.ranks(threshold: 1 - 1e-6) == ["h1": 12, "h2": 12])
        #expect(abs(search.hiddenFraction(["h1": 30]) - asStored) < 1e-12)
        let kept = try search.buildWithDecisions(["h1": 30])
        #expect(kept.decisions.prefix(2).allSatisfy { $0.outcome == .keptFactorized }, "\(kept.decisions.map(\.reason))")
        #expect(record(kept.model, "h1")?.rank == 12 && record(kept.model, "h2")?.rank == 12)
        #expect(kept.decisions[2].reason.hasPrefix("output layer"), "\(kept.decisions[2].reason)")
    }

    @Test("a candidate below the stored rank truncates the stored factors: the original at that rank, the record relative to the original")
    func candidateTruncatesFurther() throws {
        let (stored, original, x) = try setUp()
        let search = try search(stored, x)
        let built = try search.buildWithDecisions(["h1": 6])
        let f = try #require(record(built.model, "h1"))
        #expect(f.rank == 6 && f.method.hasSuffix("+retruncated(12→6)") && f.policy == "target-accuracy-drop", "\(f)")
        #expect(record(built.model, "h2")?.rank == 12, "a layer without a rank keeps its stored one")
        // The original truncated at rank 6 directly: the same record figures (a plain truncation shares its leading triplets).
        let direct = try #require(record(try Converter.convert(original, options: ConversionOptions(policy: .rank(6))).model, "h1"))
        #expect(abs(f.relativeError - direct.relativeError) < 1e-4 && abs(f.retainedEnergy - direct.retainedEnergy) < 1e-6, "\(f) \(direct)")
        #expect(abs(search.hiddenFraction(["h1": 6]) - (6.0 * 88 + 12.0 * 72) / 3200) < 1e-12)
    }

    @Test("an accuracy search never asks a factorized layer for more than its stored rank, and its result is smaller than the input, within budget")
    func accuracySearchStaysBelowTheStoredRanks() throws {
        let (stored, _, x) = try setUp()
        let search = try search(stored, x)
        // Agreement with a random 6-class model flips easily: a generous budget, for the mechanics.
        let result = try search.targetAccuracy(baseline: 1, maxDrop: 0.25)
        for evaluation in result.evaluations {
            #expect(evaluation.ranks.allSatisfy { $0.value <= 12 }, "\(evaluation.ranks)")
        }
        #expect(result.best.hiddenFraction < search.hiddenFraction([:]), "\(result.evaluations)")
        #expect(1 - result.best.validationAccuracy <= 0.25 + 1e-12, "\(result.best)")
        let built = try search.build(result.best.ranks)
        let agree = zip(try answers(built, x), try answers(stored, x)).filter { $0 == $1 }.count
        #expect(abs(Double(agree) / 800 - result.best.validationAccuracy) < 1e-12)
        // A ratio target below the input's fraction is met the same way.
        let ratio = try search.targetRatio(0.3, baseline: 1)
        #expect(ratio.best.hiddenFraction <= 0.3 + 1e-12 && ratio.best.ranks.allSatisfy { $0.value <= 12 }, "\(ratio.best)")
    }

    @Test("an excluded factorized layer counts as stored in the hidden fraction and the ratio floor, and is kept as stored")
    func excludedFactorizedLayer() throws {
        let (stored, _, x) = try setUp()
        var options = ConversionOptions()
        options.overrides = [.init(pattern: NamePattern("h1"), policy: nil)]
        let reference = try answers(stored, x)
        let spectra = ["h2": try Converter.factorizedSpectrum(of: stored.layers[1])]
        let search = RankSearch(model: stored, spectra: spectra, options: options, policyName: "target-ratio", policyParameter: 0.5) { candidate in
            let agree = zip(try answers(candidate, x), reference).filter { $0 == $1 }.count
            return ValidationScore(accuracy: Double(agree) / 800, standardError: 0)
        }
        #expect(search.hiddenLayers == ["h2"])
        #expect(search.excludedLayers.map(\.name) == ["h1"])
        // h1 as stored (12·88 of 1920), h2 at rank 2 (2·72 of 1280).
        #expect(abs(search.hiddenFraction(["h2": 2]) - (12.0 * 88 + 2.0 * 72) / 3200) < 1e-12)
        let floor = RankSearch.ratioFloor(stored, options: options)
        #expect(floor.excluded == ["h1"] && abs(floor.fraction - (12.0 * 88 + 72) / 3200) < 1e-12, "\(floor)")
        let decisions = try search.buildWithDecisions(["h2": 2]).decisions
        #expect(decisions[0].outcome == .keptFactorized && decisions[0].reason.hasPrefix("excluded by --exclude: kept as stored"), "\(decisions[0].reason)")
    }

    @Test("a factorized layer's re-stored integer codes are rounded against its inputs on the calibration data, as a dense layer's factors are (before: the statistics held no factorized layer, so its codes were rounded without them while the file recorded calibration.*)")
    func restoredCodesUseCalibration() throws {
        let (stored, _, x) = try setUp()
        let samples = x.count / 48
        let accumulator = try CalibrationAccumulator(model: stored)
        try accumulator.add(x, sampleCount: samples)
        let statistics = accumulator.finish(source: CalibrationSource(dataset: "synthetic", split: "train", count: samples, seed: 1))
        #expect(statistics.layers["h1"]?.features == 48 && statistics.layers["h2"]?.features == 40, "\(statistics.layers.keys.sorted())")
        var options = ConversionOptions(policy: .rank(12), parallelLayers: 1)
        options.restoreFactorizedLayers = true
        options.quantization = QuantizationOptions(dtype: .int4)
        let uncalibrated = try Converter.convert(stored, options: options).model
        options.calibration = statistics
        let calibrated = try Converter.convert(stored, options: options).model
        #expect(record(calibrated, "h1")?.method.hasSuffix("+restored(i4)") == true && record(calibrated, "h1")?.rank == 12)
        // The layers' outputs on the calibration inputs: closer to the stored model's with the rounding that sees them.
        func distance(_ model: Model) throws -> Double {
            let runner = try InferenceModel(model)
            var outputs: [[Float]] = []
            _ = try x.withUnsafeBufferPointer { buffer in
                try runner.run(buffer, sampleCount: samples, batchSize: samples) { layer, values, _, _ in
                    if layer == 2 { outputs.append(Array(values)) }  // the output layer's inputs: h2's outputs
                }
            }
            let storedRunner = try InferenceModel(stored)
            var reference: [[Float]] = []
            _ = try x.withUnsafeBufferPointer { buffer in
                try storedRunner.run(buffer, sampleCount: samples, batchSize: samples) { layer, values, _, _ in
                    if layer == 2 { reference.append(Array(values)) }
                }
            }
            return zip(outputs.joined(), reference.joined()).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        }
        let (near, far) = (try distance(calibrated), try distance(uncalibrated))
        #expect(near < far, "calibrated \(near), uncalibrated \(far)")
    }
}
