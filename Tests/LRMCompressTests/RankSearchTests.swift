import Foundation
import LRMFormat
import LRMLinearAlgebra
import LRMRuntime
import Testing
@testable import LRMCompress

@Suite("Rank search")
struct RankSearchTests {
    /// A 3-layer MLP with decaying spectra; "labels" are the original model's own top-1 answers on
    /// random inputs, so accuracy is agreement with the original (baseline 1).
    func setUp() throws -> (Model, [Float], [Int]) {
        let k1 = try SyntheticKernel.make(rows: 48, columns: 40, sigma: (0..<40).map { pow(0.85, Double($0)) * 3 }, seed: 31)
        let k2 = try SyntheticKernel.make(rows: 40, columns: 32, sigma: (0..<32).map { pow(0.8, Double($0)) * 3 }, seed: 32)
        var rng = SeededGenerator(seed: 33)
        let k3 = (0..<(32 * 6)).map { _ in rng.nextSymmetricFloat() }
        let model = Model(name: "s", input: InputSpec(shape: [48]), layers: [
            Layer(name: "h1", operation: .dense(kernel: Tensor(shape: [48, 40], floats: k1), bias: nil, activation: .tanh)),
            Layer(name: "h2", operation: .dense(kernel: Tensor(shape: [40, 32], floats: k2), bias: nil, activation: .tanh)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [32, 6], floats: k3), bias: nil, activation: .softmax)),
        ])
        let samples = 800
        let x = (0..<(samples * 48)).map { _ in rng.nextSymmetricFloat() }
        let y = try InferenceModel(model).run(x, sampleCount: samples)
        let labels = (0..<samples).map { s in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! }
        return (model, x, labels)
    }

    func search(_ model: Model, _ x: [Float], _ labels: [Int], confidence: Double, options: ConversionOptions = ConversionOptions()) throws -> RankSearch {
        var spectra: [String: LayerSpectrum] = [:]
        for layer in model.layers where options.policy(forLayer: layer.name) != nil {
            spectra[layer.name] = try Converter.spectrum(of: layer, policy: .effectiveRank, options: options)
        }
        var search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-accuracy-drop",
                                policyParameter: 5) { candidate in
            let y = try InferenceModel(candidate).run(x, sampleCount: labels.count)
            var correct = 0.0, flips = 0.0
            for (s, label) in labels.enumerated() {
                let predicted = (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }!
                if predicted == label { correct += 1 } else { flips += 1 }
            }
            let n = Double(labels.count), d = flips / n
            return ValidationScore(accuracy: correct / n, standardError: max(0, flips / (n * n) - d * d / n).squareRoot())
        }
        search.confidence = confidence
        return search
    }

    @Test("the chosen model meets the budget on the validation data, and is smaller than dense", arguments: [0.0, 1.0])
    func meetsBudget(confidence: Double) throws {
        let (model, x, labels) = try setUp()
        let search = try search(model, x, labels, confidence: confidence)
        #expect(search.hiddenLayers == ["h1", "h2"], "the output layer is not searched")
        let result = try search.targetAccuracy(baseline: 1, maxDrop: 0.05)
        let best = result.best
        #expect(1 - best.validationAccuracy + confidence * best.standardError <= 0.05 + 1e-12)
        #expect(best.hiddenFraction < 1)
        // The reported accuracy is what the built model really scores.
        let rebuilt = try search.build(best.ranks)
        let y = try InferenceModel(rebuilt).run(x, sampleCount: labels.count)
        let correct = labels.enumerated().filter { s, label in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! == label }.count
        #expect(abs(Double(correct) / Double(labels.count) - best.validationAccuracy) < 1e-12)
        // Every candidate that met the budget was at least as large as the one chosen... or evaluated later in greedy.
        let qualifying = result.evaluations.filter { 1 - $0.validationAccuracy + confidence * $0.standardError <= 0.05 + 1e-12 }
        #expect(qualifying.map(\.hiddenFraction).min() ?? 1 >= best.hiddenFraction - 1e-12)
    }

    @Test("a tighter budget never gives a smaller model; counting noise does not give a markedly smaller one (greedy steps differ)")
    func monotone() throws {
        let (model, x, labels) = try setUp()
        let loose = try search(model, x, labels, confidence: 0).targetAccuracy(baseline: 1, maxDrop: 0.10)
        let tight = try search(model, x, labels, confidence: 0).targetAccuracy(baseline: 1, maxDrop: 0.01)
        let careful = try search(model, x, labels, confidence: 1).targetAccuracy(baseline: 1, maxDrop: 0.10)
        #expect(tight.best.hiddenFraction >= loose.best.hiddenFraction - 1e-12)
        #expect(careful.best.hiddenFraction >= loose.best.hiddenFraction - 0.05)
    }

    @Test("a size target gives a model within the size")
    func ratio() throws {
        let (model, x, labels) = try setUp()
        let search = try search(model, x, labels, confidence: 0)
        for target in [0.5, 0.25] {
            let result = try search.targetRatio(target, baseline: 1)
            #expect(result.best.hiddenFraction <= target + 1e-12)
            let (built, decisions) = (try search.buildWithDecisions(result.best.ranks).model, try search.buildWithDecisions(result.best.ranks).decisions)
            #expect(decisions.contains { $0.outcome == .factorized })
            #expect(built.layers.count == model.layers.count)
        }
    }

    /// A convolution (6×6×4 → 8 channels, 3×3) before a hidden dense layer and the output. The score is made up so that
    /// the dense layer may drop to rank 4 for free and costs everything below, and factorizing the convolution at any
    /// rank costs `convolutionCost`.
    func convolutionSearch(convolutionCost: Double) throws -> RankSearch {
        var rng = SeededGenerator(seed: 41)
        let conv = (0..<(3 * 3 * 4 * 8)).map { _ in rng.nextSymmetricFloat() }
        let hidden = try SyntheticKernel.make(rows: 288, columns: 24, sigma: (0..<24).map { pow(0.8, Double($0)) * 3 }, seed: 42)
        let output = (0..<(24 * 3)).map { _ in rng.nextSymmetricFloat() }
        let model = Model(name: "cnn", input: InputSpec(shape: [6, 6, 4]), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 4, 8], floats: conv), bias: nil, activation: .relu,
                                                  geometry: ConvGeometry(padding: .same))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [288, 24], floats: hidden), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [24, 3], floats: output), bias: nil, activation: .softmax)),
        ])
        var spectra: [String: LayerSpectrum] = [:]
        for name in ["hidden", "out"] {
            spectra[name] = try Converter.spectrum(of: model.layers.first { $0.name == name }!, policy: .effectiveRank, options: ConversionOptions())
        }
        spectra["conv"] = try Converter.convolutionSpectrum(of: model.layers[0], form: .channel, policy: .effectiveRank, options: ConversionOptions())
        return RankSearch(model: model, spectra: spectra, options: ConversionOptions(), policyName: "target-accuracy-drop", policyParameter: 2,
                          convolutionForms: ["conv": .channel]) { candidate in
            var accuracy = 1.0
            if case .factorizedConv2D = candidate.layers[0].operation { accuracy -= convolutionCost }
            if case let .factorizedDense(_, _, _, _, f) = candidate.layers[2].operation, f.rank < 4 { accuracy -= 0.5 }
            return ValidationScore(accuracy: accuracy, standardError: 0)
        }
    }

    @Test("a convolution is searched with the dense layers: factorized when it pays within the budget, kept when it costs more than the budget leaves")
    func convolutionsWeighedWithDenseLayers() throws {
        let costly = try convolutionSearch(convolutionCost: 0.03)
        #expect(costly.convolutionLayers == ["conv"])
        let kept = try costly.targetAccuracy(baseline: 1, maxDrop: 0.02)
        #expect(kept.best.ranks["conv"] == nil)
        #expect(kept.best.ranks["hidden"] == 4, "the dense layer takes the whole budget")
        let keptDecisions = try costly.buildWithDecisions(kept.best.ranks).decisions
        #expect(keptDecisions[0].outcome == .notWorthIt)
        // Every candidate that factorized the convolution was evaluated and refused: it missed the budget.
        #expect(kept.evaluations.contains { $0.ranks["conv"] != nil })
        #expect(kept.evaluations.filter { $0.ranks["conv"] != nil }.allSatisfy { $0.validationAccuracy < 0.98 })

        let cheap = try convolutionSearch(convolutionCost: 0.01)
        let factorized = try cheap.targetAccuracy(baseline: 1, maxDrop: 0.02)
        let rank = try #require(factorized.best.ranks["conv"])
        #expect(FactorizationCost(inFeatures: 36, outFeatures: 8).pays(rank: rank))
        let built = try cheap.build(factorized.best.ranks)
        guard case .factorizedConv2D(_, _, _, _, .channel, _, _) = built.layers[0].operation else {
            Issue.record("the convolution is not factorized: \(built.layers[0].operation.kindName)")
            return
        }
        // The objective counts the convolution's parameters: the same dense rank with the convolution factorized is smaller.
        #expect(factorized.best.hiddenFraction < cheap.hiddenFraction(["hidden": factorized.best.ranks["hidden"]!]))
        #expect(factorized.best.ranks["hidden"] == 4)
    }

    @Test("a hidden layer excluded by --exclude is named so, and counts as kept dense in the hidden-parameter fraction (finding 6)")
    func excludedLayersCountDense() throws {
        let (model, x, labels) = try setUp()
        var options = ConversionOptions()
        options.overrides = [.init(pattern: NamePattern("h1"), policy: nil)]
        var spectra: [String: LayerSpectrum] = [:]
        for layer in model.layers where options.policy(forLayer: layer.name) != nil {
            spectra[layer.name] = try Converter.spectrum(of: layer, policy: .effectiveRank, options: options)
        }
        let search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-ratio", policyParameter: 0.5) { candidate in
            let y = try InferenceModel(candidate).run(x, sampleCount: labels.count)
            let correct = labels.enumerated().filter { s, label in (0..<6).max { y[s * 6 + $0] < y[s * 6 + $1] }! == label }.count
            return ValidationScore(accuracy: Double(correct) / Double(labels.count), standardError: 0)
        }
        #expect(search.hiddenLayers == ["h2"])
        #expect(search.excludedLayers.map(\.name) == ["h1"])
        // h1 (48×40) stays dense; h2 (40×32) at rank 2 keeps 2·72 of its 1280: (1920 + 144) / (1920 + 1280).
        #expect(abs(search.hiddenFraction(["h2": 2]) - 2064.0 / 3200.0) < 1e-12)
        #expect(search.hiddenFraction([:]) == 1)
        let decisions = try search.buildWithDecisions(["h2": 2]).decisions
        #expect(decisions[0].reason.hasPrefix("excluded by --exclude"), "\(decisions[0].reason)")
        #expect(!decisions[0].reason.contains("output layer"))
        #expect(decisions[2].reason.hasPrefix("output layer"))
        // The floor: h1 dense, h2 at rank 1 (72 of 1280).
        let floor = RankSearch.ratioFloor(model, options: options)
        #expect(floor.excluded == ["h1"] && abs(floor.fraction - 1992.0 / 3200.0) < 1e-12)
        // A reachable target is met over all the hidden layers, the excluded one counted.
        let result = try search.targetRatio(0.7, baseline: 1)
        #expect(result.best.hiddenFraction <= 0.7 + 1e-12)
        #expect(result.best.ranks["h1"] == nil)
    }

    /// The kept fraction of the hidden layers' kernel parameters in a built model, counted from its tensors.
    func builtFraction(_ built: Model, layers: [String] = ["h1", "h2"]) -> Double {
        var kept = 0, total = 0
        for layer in built.layers where layers.contains(layer.name) {
            switch layer.operation {
            case let .dense(kernel, _, _):
                kept += kernel.elementCount
                total += kernel.elementCount
            case let .factorizedDense(us, vt, _, _, factorization):
                kept += us.elementCount + vt.elementCount
                total += factorization.inFeatures * factorization.outFeatures
            default:
                break
            }
        }
        return Double(kept) / Double(total)
    }

    @Test("with a rank multiple (--round-rank) the search counts the rounded ranks the build stores: a ratio target holds, and the fractions reported are the built model's",
          arguments: [1, 8, 16])
    func roundedRanks(multiple: Int) throws {
        let (model, x, labels) = try setUp()
        let options = ConversionOptions(rankMultiple: multiple)
        let search = try search(model, x, labels, confidence: 0, options: options)
        // Every layer at rank 1, rounded up to the multiple: the smallest model the multiple allows (0.4 for 8, 0.8 for 16).
        let smallest = builtFraction(try search.build(["h1": 1, "h2": 1]))
        #expect(abs(RankSearch.ratioFloor(model, options: options).fraction - smallest) < 1e-12, "×\(multiple)")
        for ratio in [0.3, 0.5, 0.85] {
            let result = try search.targetRatio(ratio, baseline: 1)
            #expect(abs(result.best.hiddenFraction - builtFraction(try search.build(result.best.ranks))) < 1e-12, "×\(multiple) ratio \(ratio)")
            #expect(result.best.hiddenFraction <= max(ratio, smallest) + 1e-12, "×\(multiple) ratio \(ratio): \(result.best.hiddenFraction)")
            for evaluation in result.evaluations {
                #expect(abs(evaluation.hiddenFraction - builtFraction(try search.build(evaluation.ranks))) < 1e-12)
            }
        }
        let found = try search.targetAccuracy(baseline: 1, maxDrop: 0.05)
        #expect(abs(found.best.hiddenFraction - builtFraction(try search.build(found.best.ranks))) < 1e-12, "×\(multiple)")
        #expect(found.best.hiddenFraction < 1, "×\(multiple): phase 2 steps by whole multiples")
        for evaluation in found.evaluations {
            #expect(abs(evaluation.hiddenFraction - builtFraction(try search.build(evaluation.ranks))) < 1e-12, "×\(multiple)")
        }
        for decision in try search.buildWithDecisions(found.best.ranks).decisions where decision.outcome == .factorized {
            if let rank = decision.rank, multiple > 1 { #expect(rank % multiple == 0, "\(decision.name) rank \(rank)") }
        }
    }

    @Test("with --exclude and a rank multiple, the fraction counts the excluded layer dense and the searched one as rounded; the floor has both")
    func roundedRanksWithExclusion() throws {
        let (model, x, labels) = try setUp()
        var options = ConversionOptions(rankMultiple: 8)
        options.overrides = [.init(pattern: NamePattern("h1"), policy: nil)]
        let search = try search(model, x, labels, confidence: 0, options: options)
        #expect(search.hiddenLayers == ["h2"])
        // h1 (48×40) dense; h2 (40×32) at rank 3 is stored at rank 8: 8·72 of its 1280.
        #expect(abs(search.hiddenFraction(["h2": 3]) - (1920.0 + 576.0) / 3200.0) < 1e-12)
        #expect(abs(search.hiddenFraction(["h2": 3]) - builtFraction(try search.build(["h2": 3]))) < 1e-12)
        // The floor: h1 dense and h2 at rank 1 rounded up to 8, not rank 1 (1992 / 3200).
        let floor = RankSearch.ratioFloor(model, options: options)
        #expect(floor.excluded == ["h1"] && abs(floor.fraction - 2496.0 / 3200.0) < 1e-12, "\(floor)")
        let result = try search.targetRatio(0.8, baseline: 1)
        #expect(result.best.hiddenFraction <= 0.8 + 1e-12)
        #expect(abs(result.best.hiddenFraction - builtFraction(try search.build(result.best.ranks))) < 1e-12)
        #expect(result.best.ranks["h1"] == nil)
    }
}

extension RankSearchTests {
    @Test("a convolution --exclude keeps counts whole in an accuracy search's hidden-parameter fraction, as an excluded hidden dense layer does (before: left out of it)")
    func excludedConvolutionCounts() throws {
        var rng = SeededGenerator(seed: 51)
        let a = (0..<(3 * 3 * 4 * 8)).map { _ in rng.nextSymmetricFloat() }
        let b = (0..<(3 * 3 * 8 * 8)).map { _ in rng.nextSymmetricFloat() }
        let hidden = try SyntheticKernel.make(rows: 288, columns: 24, sigma: (0..<24).map { pow(0.8, Double($0)) * 3 }, seed: 52)
        let output = (0..<(24 * 3)).map { _ in rng.nextSymmetricFloat() }
        let model = Model(name: "cnn", input: InputSpec(shape: [6, 6, 4]), layers: [
            Layer(name: "conv_a", operation: .conv2D(kernel: Tensor(shape: [3, 3, 4, 8], floats: a), bias: nil, activation: .relu,
                                                    geometry: ConvGeometry(padding: .same))),
            Layer(name: "conv_b", operation: .conv2D(kernel: Tensor(shape: [3, 3, 8, 8], floats: b), bias: nil, activation: .relu,
                                                    geometry: ConvGeometry(padding: .same))),
            Layer(name: "flatten", operation: .flatten),
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [288, 24], floats: hidden), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [24, 3], floats: output), bias: nil, activation: .softmax)),
        ])
        var options = ConversionOptions()
        options.overrides = [.init(pattern: NamePattern("conv_a"), policy: nil)]
        let spectra = ["hidden": try Converter.spectrum(of: model.layers[3], policy: .effectiveRank, options: options),
                       "conv_b": try Converter.convolutionSpectrum(of: model.layers[1], form: .channel, policy: .effectiveRank, options: options)]
        let search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-accuracy-drop", policyParameter: 1,
                                convolutionForms: ["conv_b": .channel]) { _ in ValidationScore(accuracy: 1, standardError: 0) }
        #expect(search.convolutionLayers == ["conv_b"])
        #expect(search.excludedLayers.map(\.name) == ["conv_a"])
        // conv_a (288 parameters) kept whole, conv_b (576) as it is, hidden at rank 4: 4·312 of 6,912.
        #expect(abs(search.hiddenFraction(["hidden": 4]) - (288.0 + 576 + 4 * 312) / (288.0 + 576 + 6912)) < 1e-12,
                "\(search.hiddenFraction(["hidden": 4]))")
        #expect(search.hiddenFraction([:]) == 1)
        let decisions = try search.buildWithDecisions(["hidden": 4]).decisions
        #expect(decisions[0].reason == "excluded by --exclude: kept as a convolution (counted whole in the hidden-parameter fraction)", "\(decisions[0].reason)")
    }
}
