import Foundation
public import LRMCompress
public import LRMFormat
public import LRMVerify

/// One evaluated point of a sweep.
public struct SweepPoint: Sendable {
    /// "energy", "entropy", "rank", "ratio", "whitened", "activation-scaled".
    public var method: String
    public var parameter: Double
    /// Per dense layer, in model order: the stored rank, or nil when the layer stays dense.
    public var ranks: [(layer: String, rank: Int?)]
    public var parameters: Int
    public var originalParameters: Int
    public var hiddenFraction: Double
    /// The point's scores (the task's metrics).
    public var metrics: SweepMetrics
    /// Fraction (0–1) of samples whose decision (top-1 class, or binary decision) equals the original's;
    /// nil for regression.
    public var agreement: Double?
    /// Bytes on disk of the point's model as lrm writes it, and of its tensors alone.
    public var fileBytes: Int = 0
    public var storedBytes: Int = 0

    /// Stored bits per stored parameter (tensor bytes only).
    public var bitsPerParameter: Double { parameters > 0 ? Double(storedBytes * 8) / Double(parameters) : 0 }

    public var compressionRatio: Double { parameters > 0 ? Double(originalParameters) / Double(parameters) : 1 }
}

/// Evaluates many rank choices on one model, each layer's SVD computed once per metric.
///
/// ARSVD points (energy τ, entropy τ) come from the policies; the static baselines (one rank k for
/// every layer, one parameter ratio r for every layer) are placed at the same total parameter
/// budget as each ARSVD point (the largest k, or r, whose model is no larger).
///
/// A dense layer that is already factorized (a `.lrm` input) is swept from its stored factors in the plain metric
/// (``Converter/factorizedSpectrum(of:)``): no point gives it more than its stored rank, a lower one truncates the factors
/// further (``Converter/applyFactorized(_:to:rank:policyName:policyParameter:policyDescription:options:)``), and the
/// model given is the one every point is compared with. The data-aware metrics need the original kernels: their spectra
/// of such a layer are refused.
public struct SweepRunner {
    public let model: Model
    public let evaluation: EvaluationSet
    public let options: ConversionOptions
    let denseLayers: [Layer<Tensor>]
    let originalParameters: Int
    let referenceDecisions: [Int]?
    /// Binary tasks: an output at or above this is a positive decision.
    public let threshold: Double
    /// The original model's scores.
    public let original: SweepMetrics
    /// Told about each point evaluated (nil: nothing reported).
    public var progress: ProgressHandler?
    private let pointCounter = PointCounter()

    /// Counts evaluated points across the value-type runner's copies.
    final class PointCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func next() -> Int { lock.lock(); defer { lock.unlock() }; count += 1; return count }
    }

    /// Runs the original `model` once on `evaluation`, scored as `evaluation.task` (binary decisions at `threshold`).
    public init(model: Model, evaluation: EvaluationSet, options: ConversionOptions, threshold: Double = 0.5) throws {
        self.model = model
        self.evaluation = evaluation
        self.options = options
        self.threshold = threshold
        denseLayers = model.layers.filter {
            switch $0.operation {
            case .dense, .factorizedDense: true
            default: false
            }
        }
        originalParameters = model.layers.reduce(0) { $0 + $1.operation.tensors.reduce(0) { $0 + $1.tensor.elementCount } }
        let outputs = try evaluation.outputs(of: model)
        referenceDecisions = try SweepMetrics.decisions(outputs: outputs, evaluation: evaluation, threshold: threshold)
        original = try SweepMetrics(outputs: outputs, evaluation: evaluation, threshold: threshold)
    }

    /// Spectra of every dense layer in `metric` (calibration in `options` when data-aware).
    public func spectra(metric: ConversionOptions.MetricChoice, calibration: CalibrationStatistics?) throws -> [String: LayerSpectrum] {
        var options = self.options
        options.metric = metric
        options.calibration = calibration
        var spectra: [String: LayerSpectrum] = [:]
        for (index, layer) in denseLayers.enumerated() {
            let spectrum: LayerSpectrum
            if case .factorizedDense = layer.operation {
                guard case .plain = metric else {
                    throw PipelineError(.badRequest, "\(layer.name): the \(metric.name) metric is measured on the original layer's calibration "
                                        + "inputs, and this layer is already factorized: sweep the original model")
                }
                spectrum = try Converter.factorizedSpectrum(of: layer)
            } else {
                spectrum = try Converter.spectrum(of: layer, policy: .effectiveRank, options: options)
            }
            spectra[layer.name] = spectrum
            progress?(ProgressEvent(phase: "spectra", done: index + 1, total: denseLayers.count,
                                    message: "\(layer.name) \(spectrum.inFeatures)×\(spectrum.outFeatures) (\(metric.name))"))
        }
        return spectra
    }

    /// Ranks chosen by `policy` on each spectrum (an already factorized layer's at most its stored rank).
    public func ranks(_ policy: RankPolicy, spectra: [String: LayerSpectrum]) -> [String: Int] {
        var ranks: [String: Int] = [:]
        for layer in denseLayers {
            guard let s = spectra[layer.name] else { continue }
            let rank = s.rank(for: policy)
            ranks[layer.name] = s.storedRank.map { min($0, rank) } ?? rank
        }
        return ranks
    }

    /// The model with `ranks` applied (break-even rule included) and its size.
    public func build(_ ranks: [String: Int], spectra: [String: LayerSpectrum], method: String, parameter: Double) throws -> (Model, Int) {
        var built = model
        for (index, layer) in model.layers.enumerated() {
            guard let rank = ranks[layer.name], let spectrum = spectra[layer.name] else { continue }
            built.layers[index] = spectrum.storedRank == nil
                ? try Converter.apply(spectrum, to: layer, rank: rank, policyName: method, policyParameter: parameter,
                                      policyDescription: method, options: options).0
                : try Converter.applyFactorized(spectrum, to: layer, rank: rank, policyName: method, policyParameter: parameter,
                                                policyDescription: method, options: options).0
        }
        let size = built.layers.reduce(0) { $0 + $1.operation.tensors.reduce(0) { $0 + $1.tensor.elementCount } }
        return (built, size)
    }

    /// Total stored parameters for `ranks`, without building the factors.
    public func size(_ ranks: [String: Int], spectra: [String: LayerSpectrum]) -> Int {
        var total = originalParameters
        for layer in denseLayers {
            guard let k = ranks[layer.name], let s = spectra[layer.name] else { continue }
            let cost = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
            // An already factorized layer holds its stored rank's factors, and keeps at most that rank.
            let rounded = cost.roundedRank(k, multiple: options.rankMultiple)
            total -= cost.storedParameters(rank: s.storedRank) - cost.storedParameters(rank: s.storedRank.map { min($0, rounded) } ?? rounded)
        }
        return total
    }

    /// Kept fraction of the hidden layers' kernel parameters (every dense layer but the last).
    public func hiddenFraction(_ model: Model) -> Double {
        var kept = 0.0, total = 0.0
        var dense = 0
        let count = denseLayers.count
        for layer in model.layers {
            switch layer.operation {
            case let .dense(kernel, _, _):
                dense += 1
                if dense < count { kept += Double(kernel.elementCount); total += Double(kernel.elementCount) }
            case let .factorizedDense(us, vt, _, _, f):
                dense += 1
                if dense < count { kept += Double(us.elementCount + vt.elementCount); total += Double(f.denseParameterCount) }
            default: break
            }
        }
        return total > 0 ? kept / total : 1
    }

    /// Evaluates the model with `ranks`.
    public func evaluate(_ ranks: [String: Int], spectra: [String: LayerSpectrum], method: String, parameter: Double) throws -> SweepPoint {
        let (built, size) = try build(ranks, spectra: spectra, method: method, parameter: parameter)
        let outputs: [Float]
        do {
            outputs = try evaluation.outputs(of: built)
        } catch let error as VerificationError where error.kind == .nonFiniteOutputs {
            // A point has no scores to give: refused, naming the point (the original's own were refused before).
            throw VerificationError(.nonFiniteOutputs, "the sweep's \(method) \(String(format: "%g", parameter)) point: \(error.message)")
        }
        let metrics = try SweepMetrics(outputs: outputs, evaluation: evaluation, threshold: threshold)
        var agreement: Double?
        if let reference = referenceDecisions, let decisions = try SweepMetrics.decisions(outputs: outputs, evaluation: evaluation, threshold: threshold) {
            agreement = Double(zip(decisions, reference).filter { $0 == $1 }.count) / Double(max(1, decisions.count))
        }
        if let progress {
            let score = metrics.rootMeanSquaredError.map { String(format: "RMSE %.4g", $0) }
                ?? String(format: "accuracy %.2f%%", (metrics.accuracy ?? 0) * 100)
            progress(ProgressEvent(phase: "sweep", done: pointCounter.next(), message: "\(method) \(String(format: "%g", parameter)): \(score)"))
        }
        let stored: [(String, Int?)] = built.layers.compactMap { layer in
            switch layer.operation {
            case .dense: return (layer.name, nil)
            case let .factorizedDense(_, _, _, _, f): return (layer.name, f.rank)
            default: return nil
            }
        }
        var point = SweepPoint(method: method, parameter: parameter, ranks: stored, parameters: size, originalParameters: originalParameters,
                               hiddenFraction: hiddenFraction(built), metrics: metrics, agreement: agreement)
        point.fileBytes = (try? SizeSearch.fileSize(built)) ?? 0
        point.storedBytes = built.layers.reduce(0) { total, layer in total + layer.operation.tensors.reduce(0) { $0 + $1.tensor.storedByteCount } }
        return point
    }

    /// One rank for every layer, the largest whose model has at most `budget` parameters (at most the largest rank a
    /// layer can keep: an already factorized one keeps at most its stored rank).
    public func fixedRank(budget: Int, spectra: [String: LayerSpectrum]) -> Int {
        let largest = denseLayers.compactMap { spectra[$0.name].map { $0.storedRank ?? min($0.inFeatures, $0.outFeatures) } }.max() ?? 1
        var best = 1
        for k in 1...max(1, largest) {
            var ranks: [String: Int] = [:]
            for layer in denseLayers { ranks[layer.name] = k }
            if size(ranks, spectra: spectra) <= budget { best = k }
        }
        return best
    }

    /// One parameter ratio for every layer, the largest whose model has at most `budget` parameters.
    public func fixedRatio(budget: Int, spectra: [String: LayerSpectrum]) -> Double {
        var low = 0.0, high = 1.0
        for _ in 0..<40 {
            let middle = (low + high) / 2
            if size(ranks(.ratio(max(middle, 1e-9)), spectra: spectra), spectra: spectra) <= budget { low = middle } else { high = middle }
        }
        return max(low, 1e-9)
    }
}
