import Foundation
public import LRMFormat

/// A rank for each searched layer (nil: dense) and how the resulting model scored.
public struct RankAssignment: Sendable, Equatable {
    public var ranks: [String: Int]
    public var hiddenFraction: Double
    public var validationAccuracy: Double
    /// Standard error of the paired accuracy difference to the original model on the validation samples.
    public var standardError: Double = 0

    public init(ranks: [String: Int], hiddenFraction: Double, validationAccuracy: Double, standardError: Double = 0) {
        self.ranks = ranks
        self.hiddenFraction = hiddenFraction
        self.validationAccuracy = validationAccuracy
        self.standardError = standardError
    }
}

/// A candidate's validation accuracy and the standard error of its paired difference to the
/// original: with n₁₀ samples only the original gets right and n₀₁ only the candidate,
/// d = (n₁₀ − n₀₁)/n and SE = √((n₁₀ + n₀₁)/n² − d²/n).
public struct ValidationScore: Sendable {
    public var accuracy: Double
    public var standardError: Double
    public init(accuracy: Double, standardError: Double) {
        self.accuracy = accuracy
        self.standardError = standardError
    }
}

/// The outcome of a search: the chosen assignment and every candidate evaluated, in order.
public struct RankSearchResult: Sendable {
    public var best: RankAssignment
    /// The global energy threshold the bisection settled on.
    public var threshold: Double
    public var evaluations: [RankAssignment]
    public var baselineAccuracy: Double
    /// The candidates the search accepted, in the order it accepted them (each smaller than the one before; the
    /// last is `best`). Empty for a ratio target, or when no candidate met the budget.
    public var path: [RankAssignment] = []
}

/// Chooses every layer's rank to meet an accuracy or size budget, measured on a validation split.
///
/// The objective is the **hidden-parameter fraction**: the kernel parameters of the searched layers
/// (the hidden dense layers, every dense layer but the last, and the convolutions of
/// ``convolutionForms``) that are kept, k·(in + out) for a factorized layer and in·out for a dense one,
/// over their total in·out. Hidden dense layers excluded by `--exclude` are not searched and count in it as kept
/// dense (so the fraction is of all the hidden layers' kernel parameters). The output layer stays as it is (shrinking it does not move the objective,
/// and FIDELITY-NOTES measured that it saves < 0.4% of a model while costing accuracy).
///
/// Phase 1: a per-layer energy rule on each layer's spectrum (whitened, when the spectra are) with one
/// global threshold τ, found by bisection on log(1 − τ). Phase 2: greedy refinement: repeatedly lower
/// the rank of the layer whose reduction saves the most parameters per point of validation accuracy
/// lost, while the budget holds. Convolutions take part in phase 2 only: each starts as it is and is
/// factorized (first at its break-even rank, then lower) only when that move saves more parameters per
/// point lost than any other and the budget, counted from the original model, still holds.
///
/// A layer that is already factorized (a `.lrm` input) is searched from its stored factors: its spectrum is theirs
/// (``Converter/factorizedSpectrum(of:)``, ``LayerSpectrum/storedRank``), its top rung is the layer as stored (never
/// densified: no rank above the stored one, and a layer `ranks` leaves out keeps it), a lower rank truncates the stored
/// factors further (``Converter/applyFactorized(_:to:rank:policyName:policyParameter:policyDescription:options:)``, the
/// record relative to the original layer), and it counts in the fraction at the rank it keeps, of the original in·out.
/// The model searched is then the reference a budget is measured against.
public struct RankSearch {
    public let model: Model
    public let spectra: [String: LayerSpectrum]
    /// Hidden dense layers, in model order.
    public let hiddenLayers: [String]
    /// Convolutions searched with the dense layers and the form each is factorized in; `spectra` holds
    /// the spectrum of that form's kernel matrix under the layer's name.
    public let convolutionForms: [String: ConvFactorizationForm]
    /// The convolutions of ``convolutionForms`` that have a spectrum, in model order.
    public let convolutionLayers: [String]
    /// What each whole convolution of the model costs on the input it gets: a form and rank that would cost more
    /// multiply-accumulates per sample than the layer is no candidate (``convolutionPays(_:rank:)``).
    public let convolutionCosts: [String: ConvolutionCost]
    /// Hidden dense layers (every dense layer but the last) that `--exclude` keeps as they are, in model order, and with
    /// ``countsConvolutions`` the convolutions it keeps: not searched, and counted in the hidden-parameter fraction as
    /// kept (`kept`: their kernel parameters, or an already factorized layer's factor parameters) of `total` (in·out).
    public let excludedLayers: [(name: String, kept: Int, total: Int)]
    /// Whether the hidden-parameter fraction counts the convolutions (an accuracy or metric budget that searches them):
    /// then the ones `--exclude` keeps count whole in it, as excluded hidden dense layers do.
    public let countsConvolutions: Bool
    /// Validation accuracy (0–1) of a candidate model and the standard error of its drop.
    public let evaluate: (Model) throws -> ValidationScore
    /// A candidate meets an accuracy budget when drop + confidence · SE ≤ budget (0: the drop alone).
    public var confidence: Double = 1
    /// When set, every candidate is refitted (closed-form least squares) after truncation, before it is judged; with
    /// integer factors (`options.quantization`) each layer is rounded in the refit's pass (``buildWithDecisions(_:)``).
    public var refitter: Refitter?
    public let options: ConversionOptions
    public let policyName: String
    public let policyParameter: Double

    public init(model: Model, spectra: [String: LayerSpectrum], options: ConversionOptions, policyName: String,
                policyParameter: Double, convolutionForms: [String: ConvFactorizationForm] = [:], countsConvolutions: Bool? = nil,
                evaluate: @escaping (Model) throws -> ValidationScore) {
        self.model = model
        self.convolutionForms = convolutionForms
        convolutionLayers = model.layers.filter { layer in
            switch layer.operation {
            case .conv2D, .factorizedConv2D: return convolutionForms[layer.name] != nil && spectra[layer.name] != nil
            default: return false
            }
        }.map(\.name)
        convolutionCosts = convolutionForms.isEmpty ? [:] : model.convolutionCosts
        self.spectra = spectra
        self.options = options
        self.policyName = policyName
        self.policyParameter = policyParameter
        self.evaluate = evaluate
        hiddenLayers = RankSearch.hiddenDenseLayers(model).map(\.name).filter { spectra[$0] != nil }
        self.countsConvolutions = countsConvolutions ?? !convolutionForms.isEmpty
        excludedLayers = RankSearch.excludedLayers(model, options: options, convolutions: self.countsConvolutions)
    }

    /// A layer's kernel shape as the search counts it: in × out (a convolution's kh·kw·cin × cout, its
    /// parameters), and the rank it is stored at when it is already factorized (nil: a kernel).
    public struct CountedLayer: Sendable {
        public var name: String
        public var cost: FactorizationCost
        public var storedRank: Int?
        /// The parameters it keeps as it is: its factors' when factorized (in·out when that rank would not pay), else in·out.
        public var keptParameters: Int { cost.storedParameters(rank: storedRank) }
    }

    /// The hidden dense layers of `model` (every dense layer but the last; a factorized dense layer of a `.lrm` counts
    /// as one, at its record's in × out and stored rank), in model order, from the shapes alone (a mapped model's data
    /// is not read). The one list ``excludedLayers(_:options:convolutions:)`` and ``ratioFloor(_:options:)`` count.
    public static func hiddenDenseLayers(_ model: some LayerSource) -> [CountedLayer] {
        (0..<model.layerCount).compactMap { index -> CountedLayer? in
            if let f = model.factorizedDenseRecord(index) {
                return CountedLayer(name: model.layerName(index), cost: FactorizationCost(inFeatures: f.inFeatures, outFeatures: f.outFeatures),
                                    storedRank: f.rank)
            }
            guard let shape = model.factorizableKernelShape(index, convolutions: false), shape.count == 2 else { return nil }
            return CountedLayer(name: model.layerName(index), cost: FactorizationCost(inFeatures: shape[0], outFeatures: shape[1]), storedRank: nil)
        }.dropLast()
    }

    /// The layers `options` excludes that the hidden-parameter fraction counts as kept: the hidden dense layers and, with
    /// `convolutions`, the convolutions (a factorized one at its stored rank), in model order.
    public static func excludedLayers(_ model: some LayerSource, options: ConversionOptions,
                                      convolutions: Bool) -> [(name: String, kept: Int, total: Int)] {
        var layers = hiddenDenseLayers(model)
        if convolutions {
            for index in 0..<model.layerCount {
                if model.factorizedConvolutionForm(index) != nil, let f = model.factorization(index) {
                    layers.append(CountedLayer(name: model.layerName(index), cost: FactorizationCost(inFeatures: f.inFeatures, outFeatures: f.outFeatures),
                                               storedRank: f.rank))
                } else if let shape = model.factorizableKernelShape(index, convolutions: true), shape.count == 4 {
                    layers.append(CountedLayer(name: model.layerName(index),
                                               cost: FactorizationCost(inFeatures: shape[0] * shape[1] * shape[2], outFeatures: shape[3]), storedRank: nil))
                }
            }
        }
        return layers.filter { options.policy(forLayer: $0.name) == nil }.map { ($0.name, $0.keptParameters, $0.cost.denseParameters) }
    }

    /// The smallest hidden-parameter fraction a ratio target can reach: every hidden dense layer at rank 1 as the
    /// build stores it (rounded up to the options' rank multiple, `--round-rank`; kept dense where that rank does not
    /// pay), the excluded ones dense; with the names of the excluded layers.
    /// From the shapes alone (a mapped model's data is not read); `hidden` counts the hidden dense layers (0: the
    /// fraction is 1 and there is nothing to reach it with).
    public static func ratioFloor(_ model: some LayerSource, options: ConversionOptions) -> (fraction: Double, excluded: [String], hidden: Int) {
        let dense = hiddenDenseLayers(model)
        let excluded = excludedLayers(model, options: options, convolutions: false)
        var kept = Double(excluded.reduce(0) { $0 + $1.kept }), total = Double(excluded.reduce(0) { $0 + $1.total })
        for layer in dense where options.policy(forLayer: layer.name) != nil {
            let one = layer.cost.roundedRank(1, multiple: options.rankMultiple)
            total += Double(layer.cost.denseParameters)
            kept += Double(layer.cost.storedParameters(rank: layer.storedRank.map { min($0, one) } ?? one))
        }
        return (total > 0 ? kept / total : 1, excluded.map(\.name), dense.count)
    }

    /// The rank a searched layer has as it is: its stored rank when it is already factorized (a `.lrm` input), else nil
    /// (a dense layer, or a convolution kept as a convolution).
    public func storedRank(_ name: String) -> Int? { spectra[name]?.storedRank }

    /// The rank `ranks` gives layer `name` as ``build(_:)`` stores it: rounded up to the rank multiple (`--round-rank`),
    /// at most an already factorized layer's stored rank (which it keeps when `ranks` gives it none); nil: as it is.
    func keptRank(_ name: String, in ranks: [String: Int], cost: FactorizationCost) -> Int? {
        let rounded = ranks[name].map { cost.roundedRank($0, multiple: options.rankMultiple) }
        guard let stored = storedRank(name) else { return rounded }
        return min(rounded ?? stored, stored)
    }

    /// Whether a searched convolution stores `rank` factorized, as ``build(_:)`` stores it (rounded up to the rank
    /// multiple): its form's factors hold fewer parameters than its kernel and, for a whole convolution, cost fewer
    /// multiply-accumulates per sample on the input it gets (``ConvolutionCost``).
    public func convolutionPays(_ name: String, rank: Int) -> Bool {
        guard let s = spectra[name] else { return false }
        let matrix = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
        let rounded = matrix.roundedRank(rank, multiple: options.rankMultiple)
        guard s.storedRank == nil, let form = convolutionForms[name], let cost = convolutionCosts[name] else { return matrix.pays(rank: rounded) }
        return matrix.pays(rank: rounded) && cost.savesMultiplyAccumulates(form: form, rank: rounded)
    }

    /// The largest rank a whole searched convolution pays at (``convolutionPays(_:rank:)``; a multiple of the rank multiple
    /// when there is one), 0 when none does; nil for any other layer.
    public func convolutionRankLimit(_ name: String) -> Int? {
        guard let s = spectra[name], s.storedRank == nil, let form = convolutionForms[name] else { return nil }
        let matrix = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
        let limit = convolutionCosts[name]?.largestPayingRank(form) ?? matrix.breakEvenRank
        let multiple = max(1, options.rankMultiple)
        return multiple > 1 ? limit / multiple * multiple : limit
    }

    /// Kept fraction of the hidden layers' kernel parameters for `ranks` as ``build(_:)`` stores them: the searched
    /// layers (each rank rounded up to the options' rank multiple, `--round-rank`; a layer whose rounded rank does not
    /// pay, or a convolution without a rank, counts as 1) and the hidden dense layers excluded from the search, which
    /// stay dense.
    public func hiddenFraction(_ ranks: [String: Int]) -> Double {
        var kept = Double(excludedLayers.reduce(0) { $0 + $1.kept }), total = Double(excludedLayers.reduce(0) { $0 + $1.total })
        for name in hiddenLayers + convolutionLayers {
            guard let s = spectra[name] else { continue }
            let cost = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
            total += Double(cost.denseParameters)
            var rank = keptRank(name, in: ranks, cost: cost)
            // A convolution whose rank would cost more multiply-accumulates is built whole.
            if let k = rank, convolutionForms[name] != nil, s.storedRank == nil, !convolutionPays(name, rank: k) { rank = nil }
            kept += Double(cost.storedParameters(rank: rank))
        }
        return total > 0 ? kept / total : 1
    }

    /// The rank phase 2 tries next for a layer of `cost` at rank `k`: about 15% lower, at most the break-even rank.
    /// With a rank multiple above 1 it is a rank that builds a smaller layer (a step within one multiple would build
    /// the same one): at most the largest multiple that pays, and below the multiple `k` is rounded to. Nil: no lower
    /// rank does.
    func nextRank(below k: Int, cost: FactorizationCost) -> Int? {
        let multiple = max(1, options.rankMultiple)
        let breakEven = multiple > 1 ? cost.breakEvenRank / multiple * multiple : cost.breakEvenRank
        var next = min(k - 1, max(1, min(breakEven, Int(Double(k) * 0.85))))
        guard multiple > 1 else { return next }
        let current = cost.roundedRank(k, multiple: multiple)
        if cost.roundedRank(next, multiple: multiple) >= current { next = (current - 1) / multiple * multiple }
        return next >= 1 && cost.pays(rank: cost.roundedRank(next, multiple: multiple)) ? next : nil
    }

    /// Ranks from one energy threshold on every hidden layer's spectrum.
    public func ranks(threshold tau: Double) -> [String: Int] {
        var ranks: [String: Int] = [:]
        for name in hiddenLayers {
            guard let s = spectra[name] else { continue }
            let rank = s.rank(for: .energy(min(1, tau)))
            ranks[name] = s.storedRank.map { min($0, rank) } ?? rank
        }
        return ranks
    }

    /// The model with `ranks` applied (layers not listed stay as they are).
    public func build(_ ranks: [String: Int]) throws -> Model {
        try buildWithDecisions(ranks).model
    }

    /// The model with `ranks` applied, and what happened to each layer. With a ``refitter`` the candidate is made as a
    /// data-aware policy conversion makes its model: truncated with float factors, refitted layer by layer, and, with
    /// integer factors, each factorized layer rounded in that pass with error feedback on the inputs the refitted and
    /// rounded layers before it give it (``Refitter/applyRounding(to:options:)``; the stored tensors are those of the
    /// plain rounding). Without one, integer factors are rounded on the original model's calibration statistics.
    public func buildWithDecisions(_ ranks: [String: Int]) throws -> ConversionResult {
        var options = self.options
        // Float factors first: the refit's pass rounds them.
        if refitter != nil { options.quantization = nil }
        var built = model
        var decisions: [LayerDecision] = []
        for (index, layer) in model.layers.enumerated() {
            // An already factorized layer that `ranks` does not name keeps its stored rank.
            guard let spectrum = spectra[layer.name], let rank = ranks[layer.name] ?? spectrum.storedRank else {
                if model.factorization(index) != nil {
                    var decision = Converter.outlineFactorized(layer)
                    decision.reason = options.policy(forLayer: layer.name) == nil
                        ? "excluded by --exclude: kept as stored" + (excludedLayers.contains { $0.name == layer.name }
                                                                     ? " (counted as stored in the hidden-parameter fraction)" : "")
                        : decision.kind == "dense" ? "output layer: not searched, kept as stored" : "not searched: kept as stored"
                    decisions.append(decision)
                    continue
                }
                let count = Converter.parameterCount(layer)
                var decision = LayerDecision(name: layer.name, kind: layer.operation.kindName, outcome: .notApplicable,
                                             parametersBefore: count, parametersAfter: count, seconds: 0, reason: "not searched")
                if case let .dense(kernel, _, _) = layer.operation {
                    decision.outcome = .excluded
                    decision.inFeatures = kernel.shape[0]
                    decision.outFeatures = kernel.shape[1]
                    decision.reason = options.policy(forLayer: layer.name) == nil
                        ? "excluded by --exclude: kept dense" + (excludedLayers.contains { $0.name == layer.name }
                                                                 ? " (counted whole in the hidden-parameter fraction)" : "")
                        : "output layer: not searched (shrinking it does not reduce the hidden-parameter fraction)"
                } else if case .conv2D = layer.operation, options.policy(forLayer: layer.name) == nil {
                    decision.outcome = .excluded
                    decision.reason = "excluded by --exclude: kept as a convolution" + (excludedLayers.contains { $0.name == layer.name }
                                                                                        ? " (counted whole in the hidden-parameter fraction)" : "")
                }
                if let form = convolutionForms[layer.name] {
                    decision.outcome = .notWorthIt
                    decision.reason = "searched in the \(form.name) form: kept as a convolution (no rank of it saved parameters "
                        + "within the accuracy budget as well as the other moves did)"
                }
                decisions.append(decision)
                continue
            }
            let (converted, decision) = if spectrum.storedRank != nil {
                // Not refitted (its record is relative to a kernel the model no longer has): rounded here, as stored.
                try Converter.applyFactorized(spectrum, to: layer, rank: rank, policyName: policyName, policyParameter: policyParameter,
                                              policyDescription: "\(policyName) \(policyParameter)", options: self.options)
            } else if let form = convolutionForms[layer.name] {
                try Converter.applyConvolution(spectrum, to: layer, form: form, rank: rank, policyName: policyName,
                                               policyParameter: policyParameter,
                                               policyDescription: "\(policyName) \(policyParameter)", options: options,
                                               cost: convolutionCosts[layer.name])
            } else {
                try Converter.apply(spectrum, to: layer, rank: rank, policyName: policyName, policyParameter: policyParameter,
                                    policyDescription: "\(policyName) \(policyParameter)", options: options)
            }
            built.layers[index] = converted
            decisions.append(decision)
        }
        var result = ConversionResult(model: built, decisions: decisions)
        if let refitter {
            // A search leaves the layers it keeps dense as they are: only factors are rounded.
            var rounding = self.options
            rounding.quantizeDenseKernels = false
            try refitter.applyRounding(to: &result, options: rounding)
        }
        return result
    }

    func score(_ ranks: [String: Int], into log: inout [RankAssignment]) throws -> RankAssignment {
        let result = try evaluate(try build(ranks))
        let assignment = RankAssignment(ranks: ranks, hiddenFraction: hiddenFraction(ranks), validationAccuracy: result.accuracy,
                                        standardError: result.standardError)
        log.append(assignment)
        return assignment
    }

    /// Whether `candidate` keeps accuracy within `maxDrop` of `baseline`, allowing for sampling noise.
    func meets(_ candidate: RankAssignment, baseline: Double, maxDrop: Double) -> Bool {
        baseline - candidate.validationAccuracy + confidence * candidate.standardError <= maxDrop + 1e-12
    }

    /// The smallest model whose validation accuracy drop, plus `confidence` standard errors, is at
    /// most `maxDrop` (fractions 0–1).
    public func targetAccuracy(baseline: Double, maxDrop: Double, maxEvaluations: Int = 200) throws -> RankSearchResult {
        var log: [RankAssignment] = []
        // Phase 1: bisection on u = log10(1 − τ) in [−6, log10 0.6]; larger u compresses more.
        var good = -6.0, bad = log10(0.6)
        var path: [RankAssignment] = []
        var best = try score(ranks(threshold: 1 - pow(10, good)), into: &log)
        if meets(best, baseline: baseline, maxDrop: maxDrop) {
            path.append(best)
        } else {  // even τ ≈ 1 misses: keep the model as it is (dense, or as stored)
            best.ranks = [:]
            best.hiddenFraction = hiddenFraction([:])
            best.validationAccuracy = baseline
            best.standardError = 0
        }
        let loosest = try score(ranks(threshold: 1 - pow(10, bad)), into: &log)
        if meets(loosest, baseline: baseline, maxDrop: maxDrop) { good = bad; best = loosest; path.append(loosest) }
        for _ in 0..<14 where bad - good > 0.01 {
            let middle = (good + bad) / 2
            let candidate = try score(ranks(threshold: 1 - pow(10, middle)), into: &log)
            if meets(candidate, baseline: baseline, maxDrop: maxDrop) {
                good = middle
                best = candidate
                path.append(candidate)
            } else {
                bad = middle
            }
        }
        let threshold = 1 - pow(10, good)
        // Phase 2: greedy, most parameters saved per accuracy lost.
        var current = best
        while log.count < maxEvaluations {
            var bestMove: (RankAssignment, Double)?
            for name in hiddenLayers + convolutionLayers {
                guard let s = spectra[name] else { continue }
                let cost = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
                let isConvolution = convolutionForms[name] != nil
                // A convolution starts as it is (full rank); a move that saves nothing is not worth an evaluation.
                guard let k = current.ranks[name] ?? s.storedRank ?? (isConvolution ? cost.fullRank : nil), k > 1 else { continue }
                // A rank that does not pay is dense; its first useful step is the break-even rank (a whole convolution's:
                // the largest rank that saves both parameters and multiply-accumulates).
                guard var next = nextRank(below: k, cost: cost) else { continue }
                if let limit = convolutionRankLimit(name) {
                    guard limit >= 1 else { continue }
                    next = min(next, limit)
                }
                if isConvolution && !convolutionPays(name, rank: next) { continue }
                var ranks = current.ranks
                ranks[name] = next
                let candidate = try score(ranks, into: &log)
                guard meets(candidate, baseline: baseline, maxDrop: maxDrop) else { continue }
                let saved = current.hiddenFraction - candidate.hiddenFraction
                guard saved > 0 else { continue }
                let lost = max(current.validationAccuracy - candidate.validationAccuracy, 1e-6)
                let value = saved / lost
                if bestMove == nil || value > bestMove!.1 { bestMove = (candidate, value) }
                if log.count >= maxEvaluations { break }
            }
            guard let (move, _) = bestMove else { break }
            current = move
            path.append(move)
        }
        return RankSearchResult(best: current, threshold: threshold, evaluations: log, baselineAccuracy: baseline, path: path)
    }

    /// The most accurate model found whose hidden-parameter fraction is at most `ratio`: the largest
    /// energy threshold that fits, found by bisection.
    public func targetRatio(_ ratio: Double, baseline: Double) throws -> RankSearchResult {
        var log: [RankAssignment] = []
        var fits = log10(0.9), tooBig = -6.0  // u = log10(1 − τ): larger u, smaller model
        var best = try score(ranks(threshold: 1 - pow(10, fits)), into: &log)
        for _ in 0..<20 where fits - tooBig > 0.005 {
            let middle = (fits + tooBig) / 2
            let ranks = ranks(threshold: 1 - pow(10, middle))
            if hiddenFraction(ranks) <= ratio {
                fits = middle
                best = try score(ranks, into: &log)
            } else {
                tooBig = middle
            }
        }
        if best.hiddenFraction > ratio {
            // Even τ = 0.1 is too big: shrink every searched layer proportionally, to the fraction of their own
            // parameters that leaves room for the excluded layers, which stay dense.
            let excluded = Double(excludedLayers.reduce(0) { $0 + $1.kept }), excludedTotal = Double(excludedLayers.reduce(0) { $0 + $1.total })
            let searched = hiddenLayers.reduce(0.0) { total, name in
                guard let s = spectra[name] else { return total }
                return total + Double(FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures).denseParameters)
            }
            let share = searched > 0 ? max(0, (ratio * (searched + excludedTotal) - excluded) / searched) : ratio
            var ranks = best.ranks
            let multiple = max(1, options.rankMultiple)
            for name in hiddenLayers {
                guard let s = spectra[name] else { continue }
                let k = max(1, Int(share * Double(FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures).denseParameters)
                                   / Double(s.inFeatures + s.outFeatures)))
                // Rounded down to the rank multiple where there is one below (the build rounds up); at most the stored rank.
                let rounded = k >= multiple ? k / multiple * multiple : k
                ranks[name] = s.storedRank.map { min($0, rounded) } ?? rounded
            }
            best = try score(ranks, into: &log)
        }
        return RankSearchResult(best: best, threshold: 1 - pow(10, fits), evaluations: log, baselineAccuracy: baseline)
    }
}
