import Foundation
import LRMFormat
import Testing
@testable import LRMCompress

/// A factorized convolution pays only where it saves both parameters and multiply-accumulates on the layer's input. The
/// spatial form's kh×1 half runs at the input's full width: on a stride-2 layer it can store fewer parameters and cost
/// more MACs than the whole convolution. Before, the converter and the searches counted parameters only.
@Suite("Convolutions factorized only where they save parameters and multiply-accumulates")
struct ConvolutionMACsTests {
    /// One 3×3 convolution, 8 → 16 channels, stride 2, `same` padding, on 8×8×8 inputs (output 4×4×16), then a dense head.
    ///
    /// Whole: 1,152 kernel parameters, 16·1,152 = 18,432 MACs. Spatial form (24 × 48): 72 parameters and
    /// 4·8·24 + 16·48 = 1,536 MACs per rank, so ranks 1–15 save parameters but only 1–11 save MACs. Channel form
    /// (72 × 16): 88 parameters and 16·88 = 1,408 MACs per rank, ranks 1–13 save both.
    static func model() -> Model {
        var rng = SeededGenerator(seed: 17)
        let kernel = Tensor(shape: [3, 3, 8, 16], floats: (0..<(3 * 3 * 8 * 16)).map { _ in rng.nextSymmetricFloat() })
        return Model(name: "strided", input: InputSpec(shape: [8, 8, 8], layout: .hwc), layers: [
            Layer(name: "conv", operation: .conv2D(kernel: kernel, bias: nil, activation: .relu,
                                                   geometry: ConvGeometry(strideH: 2, strideW: 2, padding: .same))),
            Layer(name: "flat", operation: .flatten),
            Layer(name: "out", operation: .dense(kernel: Tensor(shape: [256, 4], floats: (0..<1024).map { _ in 0.1 * rng.nextSymmetricFloat() }),
                                                 bias: nil, activation: .softmax)),
        ])
    }

    @Test("the cost of each form on the layer's input, as inspect counts a factorized layer's MACs")
    func cost() throws {
        let cost = try #require(ConvolutionCost(kernelShape: [3, 3, 8, 16], input: [8, 8, 8], output: [4, 4, 16]))
        #expect(cost.wholeMultiplyAccumulates == 18_432)
        #expect(cost.multiplyAccumulates(form: .spatial, rank: 13) == 13 * 1_536)
        #expect(cost.multiplyAccumulates(form: .channel, rank: 13) == 13 * 1_408)
        #expect(cost.largestPayingRank(.spatial) == 11 && cost.largestPayingRank(.channel) == 13)
        #expect(cost.pays(form: .spatial, rank: 11) && !cost.pays(form: .spatial, rank: 12) && cost.matrix(.spatial).pays(rank: 15))
        // The same count ModelSummary gives the layer once converted (spatial at rank 11).
        var options = ConversionOptions(policy: .rank(11))
        options.convolutions = .spatial
        let converted = try Converter.convert(Self.model(), options: options).model
        let (_, header) = try converted.plan()
        let row = ModelSummary(header: header).layers[0]
        #expect(row.kind == "factorized_conv2d" && row.macsBefore == 18_432 && row.macsAfter == 11 * 1_536, "\(row.macsAfter)")
    }

    /// Before: `--conv spatial --policy rank:13` factorized the layer (936 parameters instead of 1,152, 19,968 MACs instead
    /// of 18,432); `auto` chose the spatial form (936 < 1,144 parameters).
    @Test("an explicit form that would cost more MACs keeps the convolution whole and says why; auto takes the form that saves both")
    func policyConversion() throws {
        var options = ConversionOptions(policy: .rank(13))
        options.convolutions = .spatial
        let spatial = try Converter.convert(Self.model(), options: options)
        guard case .conv2D = spatial.model.layers[0].operation else {
            Issue.record("factorized: \(spatial.decisions[0].reason)")
            return
        }
        let decision = spatial.decisions[0]
        #expect(decision.outcome == .notWorthIt && decision.parametersAfter == decision.parametersBefore)
        #expect(decision.costlierMultiplyAccumulates.map { [$0.whole, $0.factorized] } == [18_432, 19_968])
        #expect(decision.reason.contains("would store 936 parameters instead of 1152 but cost 19968 multiply-accumulates per sample instead of 18432")
                && decision.reason.hasSuffix("kept as a convolution"), "\(decision.reason)")

        options.convolutions = .auto
        let auto = try Converter.convert(Self.model(), options: options)
        guard case let .factorizedConv2D(_, _, _, _, form, _, f) = auto.model.layers[0].operation else {
            Issue.record("kept whole: \(auto.decisions[0].reason)")
            return
        }
        #expect(form == .channel && f.rank == 13 && auto.decisions[0].parametersAfter == 13 * 88)
        #expect(auto.decisions[0].costlierMultiplyAccumulates == nil)

        // Where the spatial form saves both, it is taken as before.
        options.policy = .rank(11)
        let cheap = try Converter.convert(Self.model(), options: options)
        guard case .factorizedConv2D(_, _, _, _, .spatial, _, _) = cheap.model.layers[0].operation else {
            Issue.record("not spatial: \(cheap.decisions[0].reason)")
            return
        }
    }

    /// Before: the greedy phase's first move for the convolution was its parameter break-even rank, 15, which costs 23,040 MACs.
    @Test("a search never tries a form and rank of a convolution that costs more MACs than the layer")
    func searchCandidates() throws {
        let model = Self.model()
        let options = ConversionOptions()
        let spectra = ["conv": try Converter.convolutionSpectrum(of: model.layers[0], form: .spatial, policy: .effectiveRank, options: options)]
        var tried: [Int] = []
        let search = RankSearch(model: model, spectra: spectra, options: options, policyName: "target-accuracy-drop", policyParameter: 1,
                                convolutionForms: ["conv": .spatial]) { candidate in
            if case let .factorizedConv2D(_, _, _, _, _, _, f) = candidate.layers[0].operation { tried.append(f.rank) }
            return ValidationScore(accuracy: 1, standardError: 0)
        }
        #expect(search.convolutionRankLimit("conv") == 11)
        #expect(!search.convolutionPays("conv", rank: 15) && search.convolutionPays("conv", rank: 11))
        // A rank that would cost more is built whole and counted whole.
        #expect(search.hiddenFraction(["conv": 15]) == 1)
        if case .factorizedConv2D = try search.build(["conv": 15]).layers[0].operation { Issue.record("rank 15 was built factorized") }
        let result = try search.targetAccuracy(baseline: 1, maxDrop: 0.5)
        #expect(!tried.isEmpty && tried.allSatisfy { $0 <= 11 }, "\(tried)")
        #expect(tried.first == 11, "\(tried)")
        #expect((result.best.ranks["conv"] ?? 0) <= 11)
    }
}
