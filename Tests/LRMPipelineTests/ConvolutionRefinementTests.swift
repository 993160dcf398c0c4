import LRMCompress
import LRMFormat
import LRMRuntime
import Testing
@testable import LRMPipeline

/// `--finetune`'s refinement of a search also tries the convolutions the search kept whole, factorized and fine-tuned.
/// Before, it lowered only the ranks the search chose, so a convolution kept whole by the search stayed whole.
@Suite("Fine-tuned refinement: convolutions the search kept whole")
struct ConvolutionRefinementTests {
    /// A 3×3 convolution (4 → 16 channels, `same`) on 8×8×4 inputs, then flatten, a hidden Dense 1024 → 8 and a softmax output.
    static func model() -> Model {
        var rng = SeededGenerator(seed: 23)
        func values(_ count: Int, _ scale: Float) -> [Float] { (0..<count).map { _ in scale * rng.nextSymmetricFloat() } }
        return Model(name: "tiny", input: InputSpec(shape: [8, 8, 4], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: Tensor(shape: [3, 3, 4, 16], floats: values(576, 0.4)), bias: nil,
                                                   activation: .relu, geometry: ConvGeometry(padding: .same))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [1024, 8], floats: values(8192, 0.05)), bias: nil, activation: .relu)),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [8, 3], floats: values(24, 0.5)), bias: nil, activation: .softmax)),
        ])
    }

    /// Scores every candidate by `rule` against a baseline of 1 (standard error 0).
    struct Stub: CandidateEvaluator {
        var rule: (Model) -> Double
        var baselineAccuracy: Double { 1 }
        var sampleCount: Int { 100 }
        func score(_ candidate: Model) throws -> ValidationScore { ValidationScore(accuracy: rule(candidate), standardError: 0) }
    }

    static func convolutionIsFactorized(_ model: Model) -> Bool {
        if case .factorizedConv2D = model.layers[0].operation { true } else { false }
    }

    /// The search as the pipeline makes it for `options` (its convolutions from ``ConversionPipeline/searchConvolutionSpectra(_:options:)``,
    /// which leaves out what `--exclude` and `--conv none` leave out), a one-epoch fine-tuning stage on 96 random images
    /// labelled by the model, and the refinement of the choice {hidden: 4}, the convolution whole.
    func refine(_ options: ConversionOptions, scorer: any CandidateEvaluator,
                confirmer: (any CandidateEvaluator)? = nil) throws -> (FineTuneRefinement, RankSearch) {
        let model = Self.model()
        var spectra = ["hidden": try Converter.spectrum(of: model.layers[2], policy: .effectiveRank, options: options)]
        let convolutions = try ConversionPipeline.searchConvolutionSpectra(model, options: options)
        spectra.merge(convolutions.spectra) { dense, _ in dense }
        let search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-accuracy-drop", policyParameter: 1,
                                convolutionForms: convolutions.forms, countsConvolutions: options.convolutions != .none) { _ in
            ValidationScore(accuracy: 1, standardError: 0)
        }
        var rng = SeededGenerator(seed: 29)
        let inputs = (0..<(96 * 256)).map { _ in rng.nextSymmetricFloat() }
        let outputs = try InferenceModel(model).run(inputs, sampleCount: 96)
        let labels = (0..<96).map { s in (0..<3).max { outputs[s * 3 + $0] < outputs[s * 3 + $1] }! }
        let image = ImageGeometry(height: 8, width: 8, channels: 4, channelsLast: true)
        let stage = FineTuneStage(teacher: model, options: FineTuneOptions(epochs: 1),
                                  training: LabelledSamples(inputs: Array(inputs.prefix(80 * 256)), labels: Array(labels.prefix(80)), featureCount: 256, image: image),
                                  validation: LabelledSamples(inputs: Array(inputs.suffix(16 * 256)), labels: Array(labels.suffix(16)), featureCount: 256, image: image),
                                  data: "test")
        let chosen = RankAssignment(ranks: ["hidden": 4], hiddenFraction: search.hiddenFraction(["hidden": 4]), validationAccuracy: 1)
        let refinement = try ConversionPipeline.refineByFineTuning(search, chosen: chosen, stage: stage, scorer: scorer, baseline: 1, maxDrop: 0.01,
                                                                   confidence: 1, confirmation: confirmer.map { ($0, 0.01) })
        return (refinement, search)
    }

    /// Before: no candidate had a rank for the convolution, and the result kept it whole.
    @Test("a convolution the search kept whole is tried factorized, fine-tuned, and kept when it keeps the budget")
    func triesAndKeeps() throws {
        let (refinement, search) = try refine(ConversionOptions(), scorer: Stub { _ in 1 })
        let factorized = refinement.tried.filter { $0.ranks["conv"] != nil }
        #expect(!factorized.isEmpty, "\(refinement.tried.map(\.ranks))")
        // At most 3 candidates for it, each at a rank where its form saves parameters and multiply-accumulates, fine-tuned.
        let limit = try #require(search.convolutionRankLimit("conv"))
        #expect(factorized.count <= 3 && factorized.allSatisfy { ($0.ranks["conv"] ?? 0) <= limit }, "\(factorized.map(\.ranks))")
        let result = try #require(refinement.chosen)
        #expect(Self.convolutionIsFactorized(result.result.model))
        #expect(result.assignment.hiddenFraction < refinement.tried.filter { $0.ranks["conv"] == nil }.map(\.hiddenFraction).min() ?? 0)
        guard case let .factorizedConv2D(_, _, _, _, _, _, f) = result.result.model.layers[0].operation else { return }
        #expect(f.method.hasSuffix("+finetune"), "\(f.method)")
    }

    @Test("a convolution is tried only when at rank 1 it would save at least a fiftieth of the candidate's hidden fraction")
    func savingThreshold() throws {
        // conv (576 kernel parameters, 516 saved at rank 1) beside a 1024 → 64 hidden layer (65,536).
        var model = Self.model()
        var rng = SeededGenerator(seed: 31)
        model.layers[2] = Layer(name: "hidden", operation: .dense(kernel: Tensor(shape: [1024, 64], floats: (0..<65_536).map { _ in 0.05 * rng.nextSymmetricFloat() }),
                                                                  bias: nil, activation: .relu))
        model.layers[3] = Layer(name: "out", operation: .dense(kernel: Tensor(shape: [64, 3], floats: (0..<192).map { _ in rng.nextSymmetricFloat() }),
                                                               bias: nil, activation: .softmax))
        let options = ConversionOptions()
        var spectra = ["hidden": try Converter.spectrum(of: model.layers[2], policy: .effectiveRank, options: options)]
        let convolutions = try ConversionPipeline.searchConvolutionSpectra(model, options: options)
        spectra.merge(convolutions.spectra) { dense, _ in dense }
        let search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-accuracy-drop", policyParameter: 1,
                                convolutionForms: convolutions.forms) { _ in ValidationScore(accuracy: 1, standardError: 0) }
        // Hidden layer dense: about 520 of 66,112 (0.0078) is below 1/50 of 1; at rank 16 (fraction 0.272) it is above
        // 1/50 of it (0.0054), though below the twentieth of 59a47c1 (0.0136); at rank 4 (0.0745) above both.
        #expect(ConversionPipeline.convolutionsToFactorize(search, from: [:]).isEmpty)
        #expect(ConversionPipeline.convolutionsToFactorize(search, from: ["hidden": 16]).map(\.name) == ["conv"])
        #expect(ConversionPipeline.convolutionsToFactorize(search, from: ["hidden": 4]).map(\.name) == ["conv"])
        // Already given a rank: not the refinement's to factorize.
        #expect(ConversionPipeline.convolutionsToFactorize(search, from: ["hidden": 4, "conv": 3]).isEmpty)
    }

    /// Before: with one searched layer the per-layer bisection repeated the uniform one's candidates, and each bisection
    /// could offer one twice (4 → 2 at scale 0.387 and again at 0.622): ranks 4, 2, 2, 3, 1, 2, 2, seven fine-tunings.
    @Test("no assignment is fine-tuned twice in a refinement")
    func eachOnce() throws {
        var none = ConversionOptions()
        none.convolutions = .none
        let rule = { (model: Model) -> Double in
            if case let .factorizedDense(_, _, _, _, f) = model.layers[2].operation { return f.rank >= 3 ? 1 : 0.5 }
            return 1
        }
        let (refinement, _) = try refine(none, scorer: Stub(rule: rule))
        let ranks = refinement.tried.map { $0.ranks["hidden"] ?? 0 }
        #expect(ranks == [4, 2, 3, 1], "\(ranks)")
        #expect(refinement.chosen?.candidates == 4)
        #expect(refinement.chosen?.assignment.ranks == ["hidden": 3])
    }

    @Test("--conv none and --exclude keep the convolution whole: it is never tried factorized")
    func noneAndExcludeKeepIt() throws {
        var none = ConversionOptions()
        none.convolutions = .none
        var excluded = ConversionOptions()
        excluded.overrides = [.init(pattern: NamePattern("conv"), policy: nil)]
        for options in [none, excluded] {
            let (refinement, _) = try refine(options, scorer: Stub { _ in 1 })
            #expect(refinement.tried.count > 1 && refinement.tried.allSatisfy { $0.ranks["conv"] == nil }, "\(refinement.tried.map(\.ranks))")
            #expect(!Self.convolutionIsFactorized(try #require(refinement.chosen).result.model))
        }
    }

    @Test("a factorized convolution that misses on selection is not kept; the confirmation re-judges the factorized ones after the rest and stops at the first miss")
    func selectionAndConfirmation() throws {
        // Missing on the selection records: tried, not kept.
        let (rejected, _) = try refine(ConversionOptions(), scorer: Stub { Self.convolutionIsFactorized($0) ? 0.5 : 1 })
        #expect(rejected.tried.contains { $0.ranks["conv"] != nil && $0.selectionWithinBudget == false && !$0.inSequence })
        #expect(!Self.convolutionIsFactorized(try #require(rejected.chosen).result.model))

        // Kept on selection, missing on confirmation: the first factorized one is judged and misses, the rest are not judged,
        // and the result is the last candidate before it, which kept the budget there.
        let (refinement, _) = try refine(ConversionOptions(), scorer: Stub { _ in 1 },
                                         confirmer: Stub { Self.convolutionIsFactorized($0) ? 0.5 : 1 })
        let factorized = refinement.tried.filter { $0.ranks["conv"] != nil }
        #expect(!factorized.isEmpty)
        #expect(factorized.first?.confirmationWithinBudget == false, "\(factorized)")
        #expect(factorized.dropFirst().allSatisfy { $0.confirmationWithinBudget == nil }, "\(factorized)")
        let result = try #require(refinement.chosen)
        #expect(!Self.convolutionIsFactorized(result.result.model))
        #expect(refinement.tried.filter { $0.confirmationWithinBudget == true }.map(\.hiddenFraction).min() == result.assignment.hiddenFraction)
    }
}
