import Foundation
public import LRMCompress
public import LRMFormat
import LRMVerify

/// How a size-searched model stores its weights: the dtype of the hidden layers (factors, or the
/// kernel of a hidden layer whose rank does not pay) and of the output layer's kernel.
public struct StorageChoice: Sendable, Equatable, CustomStringConvertible {
    public var hidden: DType
    public var output: DType
    /// Per-layer dtypes chosen by ``LayerAllocation`` (empty: `hidden` and `output` for every layer).
    public var layers: [String: DType] = [:]
    /// The layer order, for the description.
    var order: [String] = []

    public init(hidden: DType, output: DType) {
        self.hidden = hidden
        self.output = output
    }

    /// Each layer its own dtype; `hidden` records the dtype holding most of the hidden layers' bytes.
    public init(layers: [String: DType], order: [String], hidden: DType, output: DType) {
        self.hidden = hidden
        self.output = output
        self.layers = layers
        self.order = order
    }

    /// The dtype of layer `name` (`isOutput`: the model's last dense layer).
    public func dtype(of name: String, isOutput: Bool) -> DType { layers[name] ?? (isOutput ? output : hidden) }

    /// The combinations a size search tries.
    public static let searched: [StorageChoice] = [
        StorageChoice(hidden: .float32, output: .float32), StorageChoice(hidden: .float16, output: .float16),
        StorageChoice(hidden: .int8, output: .int8), StorageChoice(hidden: .int8, output: .float16),
        StorageChoice(hidden: .int4, output: .int8), StorageChoice(hidden: .int4, output: .int4),
    ]

    public var description: String {
        if !layers.isEmpty {
            return "per layer: " + order.compactMap { name in layers[name].map { "\(name) \($0.name)" } }.joined(separator: ", ")
        }
        return hidden == output ? hidden.name : "\(hidden.name) (output \(output.name))"
    }
}

/// One candidate of a size search: ranks of the hidden layers, storage, file size and validation score.
public struct SizeCandidate: Sendable {
    public var ranks: [String: Int]
    public var storage: StorageChoice
    /// Energy threshold τ the ranks came from (for a per-layer choice: the lowest energy any of its
    /// factorized layers retains).
    public var threshold: Double
    /// Bytes of the written file.
    public var bytes: Int
    public var score: ValidationScore?
}

/// Chooses every hidden layer's rank and every layer's storage dtype for a file-size budget, or the
/// smallest file within an accuracy budget, measured on validation data (never the test split).
///
/// For each storage combination of ``StorageChoice/searched``: the ranks come from one energy
/// threshold τ on every hidden layer's spectrum (whitened, when the spectra are); τ is found by
/// bisection on log(1 − τ) — for a size budget, the largest τ whose file fits (sizes need no scoring:
/// they are computed exactly from the planned file), for an accuracy budget the smallest model that
/// keeps it. Then, with ``perLayer``, each layer its own rank and dtype (``LayerAllocation``: the option
/// tables' Lagrangian choice for a multiplier λ, bisected against the size or the accuracy budget, once
/// as predicted and once weighted by each layer's measured sensitivity). The best candidate over all
/// wins: the most accurate on validation within the size, or the smallest within the accuracy drop. Integer weights are rounded against the
/// calibration data when the options carry it. To keep files small every factorized layer records
/// only its first k singular values, and biases are stored as f16 when the layer's weights are not f32.
public struct SizeSearch {
    public let model: Model
    public let spectra: [String: LayerSpectrum]
    public let hiddenLayers: [String]
    public let outputLayer: String?
    public let options: ConversionOptions
    public let provenance: ConversionProvenance
    public let evaluate: (Model) throws -> ValidationScore
    /// A candidate meets an accuracy budget when drop + confidence · SE ≤ budget.
    public var confidence: Double = 1
    public private(set) var log: [SizeCandidate] = []
    /// Whether the searches also try a per-layer choice of rank and dtype (``LayerAllocation``)
    /// besides the uniform storage combinations of ``StorageChoice/searched``.
    public var perLayer = true
    private var allocationTables: LayerAllocation?
    /// After ``minimizeBytes(baseline:maxDrop:)``: the candidates the bisection that found the result accepted, in the
    /// order it accepted them (each file smaller than the one before; the result last), with the rungs of ``ladder(_:meets:score:)``.
    public private(set) var acceptedPath: [SizeCandidate] = []
    private var sensitivityCache: [String: Double]?
    /// When set, scored candidates (``build(_:storage:calibrated:)`` with `calibrated`) are refitted, and their integer
    /// layers rounded in the refit's pass, as a data-aware policy conversion's are; sizes are unchanged by it.
    public var refitter: Refitter?
    /// Told of each candidate as it is scored, with how many have been scored (itself included): for progress.
    public var scoredCandidate: ((SizeCandidate, Int) -> Void)?

    public init(model: Model, spectra: [String: LayerSpectrum], options: ConversionOptions, provenance: ConversionProvenance,
                evaluate: @escaping (Model) throws -> ValidationScore) {
        self.model = model
        self.spectra = spectra
        self.options = options
        self.provenance = provenance
        self.evaluate = evaluate
        // A factorized dense layer of a `.lrm` input counts as the dense layer it stands for.
        let dense = model.layers.filter {
            switch $0.operation {
            case .dense, .factorizedDense: true
            default: false
            }
        }.map(\.name)
        outputLayer = dense.last
        hiddenLayers = dense.dropLast().filter { spectra[$0] != nil }
    }

    /// The most rank layer `name` can keep: its stored rank when it is already factorized (a `.lrm` input), else nil.
    public func storedRank(_ name: String) -> Int? { spectra[name]?.storedRank }

    /// Ranks from one energy threshold on every hidden layer's spectrum (even for i4 factors of odd shape).
    public func ranks(threshold tau: Double, storage: StorageChoice) -> [String: Int] {
        var ranks: [String: Int] = [:]
        for name in hiddenLayers {
            guard let s = spectra[name] else { continue }
            // An already factorized layer never gains rank: at most its stored one.
            let most = min(min(s.inFeatures, s.outFeatures), s.storedRank ?? Int.max)
            var k = min(tau <= 0 ? 1 : s.rank(for: .energy(min(1, tau))), most)
            if storage.hidden == .int4, (s.inFeatures % 2 == 1 || s.outFeatures % 2 == 1), k % 2 == 1 {
                k = k + 1 <= most ? k + 1 : k - 1
            }
            ranks[name] = max(k, 1)
        }
        return ranks
    }

    /// The model with `ranks` and `storage`; integer weights rounded against calibration data when
    /// `calibrated` (else by per-group optimal scales: same bytes, faster, used for sizing). With a
    /// ``refitter`` and `calibrated`, as a data-aware policy conversion does it: the factors are refitted layer
    /// by layer and each integer layer is rounded in the same pass, on the inputs the refitted and rounded
    /// layers before it give it (``Refitter/applyRounding(to:plan:options:)``); the bytes are the same.
    public func build(_ ranks: [String: Int], storage: StorageChoice, calibrated: Bool) throws -> ConversionResult {
        var built = model
        var decisions: [LayerDecision] = []
        let refitter = calibrated ? self.refitter : nil
        /// With the refit: by layer index, the integer storage each layer is rounded to in the refit's pass.
        var plan: [Int: QuantizationOptions] = [:]
        func quantization(_ dtype: DType) -> QuantizationOptions {
            var q = options.quantization ?? QuantizationOptions(dtype: dtype)
            q.dtype = dtype
            q.useCalibration = calibrated && q.useCalibration
            return q
        }
        func layerOptions(_ dtype: DType) -> ConversionOptions {
            var o = options
            if dtype.isFloatingPoint {
                o.quantization = nil
                o.factorDType = dtype
            } else if refitter != nil {
                // Float factors first: the refit's pass rounds them.
                o.quantization = nil
                o.factorDType = .float32
            } else {
                o.quantization = quantization(dtype)
            }
            return o
        }
        for (index, layer) in model.layers.enumerated() {
            if case .factorizedDense = layer.operation {
                // Already factorized (a `.lrm` input): truncated further from its stored factors, or kept at its stored rank,
                // re-stored in the chosen dtype, its record relative to the original layer. A layer `--exclude` keeps (no
                // spectrum) stays as stored.
                guard let spectrum = spectra[layer.name], let stored = spectrum.storedRank else {
                    var decision = Converter.outlineFactorized(layer)
                    decision.reason = "excluded by --exclude: kept as stored"
                    decisions.append(decision)
                    continue
                }
                let dtype = storage.dtype(of: layer.name, isOutput: layer.name == outputLayer)
                // Never refitted (its record is relative to a kernel the model no longer has): rounded here, not in the refit's pass.
                var local = options
                if dtype.isFloatingPoint {
                    local.quantization = nil
                    local.factorDType = dtype
                } else {
                    local.quantization = quantization(dtype)
                }
                local.restoreFactorizedLayers = true
                let (converted, decision) = try Converter.applyFactorized(spectrum, to: layer, rank: min(ranks[layer.name] ?? stored, stored),
                                                                          policyName: provenance.policy, policyParameter: provenance.parameter,
                                                                          policyDescription: "\(provenance.policy) \(provenance.parameter)",
                                                                          options: local)
                built.layers[index] = Self.compacted(converted, dtype: dtype)
                decisions.append(decision)
                continue
            }
            guard case let .dense(kernel, bias, activation) = layer.operation else {
                let count = Converter.parameterCount(layer)
                decisions.append(LayerDecision(name: layer.name, kind: layer.operation.kindName, outcome: .notApplicable,
                                               parametersBefore: count, parametersAfter: count, seconds: 0, reason: "no weights to factorize"))
                continue
            }
            let dtype = storage.dtype(of: layer.name, isOutput: layer.name == outputLayer)
            let local = layerOptions(dtype)
            var converted = layer
            var decision: LayerDecision
            if let rank = ranks[layer.name], let spectrum = spectra[layer.name] {
                (converted, decision) = try Converter.apply(spectrum, to: layer, rank: rank, policyName: provenance.policy,
                                                            policyParameter: provenance.parameter,
                                                            policyDescription: "\(provenance.policy) \(provenance.parameter)", options: local)
            } else {
                let count = Converter.parameterCount(layer)
                decision = LayerDecision(name: layer.name, kind: "dense", outcome: .excluded, inFeatures: kernel.shape[0],
                                         outFeatures: kernel.shape[1], parametersBefore: count, parametersAfter: count, seconds: 0,
                                         reason: layer.name == outputLayer ? "output layer: kept dense, stored as \(dtype.name)"
                                                                           : "kept dense by the per-layer choice, stored as \(dtype.name)")
            }
            if !dtype.isFloatingPoint, refitter != nil {
                plan[index] = quantization(dtype)
            } else if case .dense = converted.operation {
                if dtype.isFloatingPoint {
                    converted.operation = .dense(kernel: kernel.converted(to: dtype), bias: bias, activation: activation)
                } else {
                    converted = try Converter.quantizedDense(converted, options: local)
                }
            }
            built.layers[index] = Self.compacted(converted, dtype: dtype)
            decisions.append(decision)
        }
        if let refitter {
            var result = ConversionResult(model: built, decisions: decisions)
            try refitter.applyRounding(to: &result, plan: plan, options: options)
            (built, decisions) = (result.model, result.decisions)
            // The refit stores biases in their dtype before it: compacted, as every layer above (dense layers only).
            for (index, layer) in built.layers.enumerated() {
                built.layers[index] = Self.compacted(layer, dtype: storage.dtype(of: layer.name, isOutput: layer.name == outputLayer))
            }
        } else if self.refitter != nil {
            // Sized without the refit, but with the header it would write (the method of a layer the refit changes ends in
            // "+refit"), so that the size is that of the refitted file, or a few bytes more where a layer is left as it is.
            for (index, layer) in built.layers.enumerated() {
                // Only layers truncated from a kernel are refitted (not one already factorized in the model searched).
                guard case let .factorizedDense(us, vt, bias, activation, f) = layer.operation, !f.method.hasSuffix("+refit"),
                      case .dense = model.layers[index].operation else { continue }
                var record = f
                record.method += "+refit"
                built.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation, factorization: record)
            }
        }
        var metadata = built.metadata
        var recorded = provenance
        let integers = !storage.hidden.isFloatingPoint || storage.layers.values.contains { !$0.isFloatingPoint }
        recorded.factorDType = storage.hidden
        recorded.groupSize = integers ? (options.quantization?.groupSize ?? 0) : nil
        recorded.zeroPoints = integers && options.quantization?.zeroPoints == true
        recorded.roundedWithCalibration = calibrated && options.calibration != nil && integers
        recorded.refit = self.refitter?.record
        recorded.record(in: &metadata)
        built.metadata = metadata
        return ConversionResult(model: built, decisions: decisions)
    }

    /// Only the first k singular values, and an f16 bias unless the weights are f32.
    static func compacted(_ layer: Layer<Tensor>, dtype: DType) -> Layer<Tensor> {
        var layer = layer
        let narrow = { (bias: Tensor?) in dtype == .float32 || dtype == .float64 ? bias : bias?.converted(to: .float16) }
        switch layer.operation {
        case let .dense(kernel, bias, activation):
            layer.operation = .dense(kernel: kernel, bias: narrow(bias), activation: activation)
        case let .factorizedDense(us, vt, bias, activation, f):
            var record = f
            record.singularValues = Array(f.singularValues.prefix(f.rank))
            layer.operation = .factorizedDense(us: us, vt: vt, bias: narrow(bias), activation: activation, factorization: record)
        default:
            break
        }
        return layer
    }

    /// Bytes of the file `model` is written as (computed from its plan: exactly what the writer writes).
    public static func fileSize(_ model: Model, alignment: Int = Container.defaultAlignment) throws -> Int {
        let (_, header) = try model.plan(alignment: alignment)
        let headerEnd = Container.preambleByteCount + header.encode().count
        return (headerEnd + alignment - 1) / alignment * alignment + header.dataByteCount
    }

    func size(_ ranks: [String: Int], storage: StorageChoice) throws -> Int {
        try Self.fileSize(try build(ranks, storage: storage, calibrated: false).model)
    }

    mutating func scored(_ ranks: [String: Int], storage: StorageChoice, threshold: Double) throws -> SizeCandidate {
        let built = try build(ranks, storage: storage, calibrated: true).model
        let candidate = SizeCandidate(ranks: ranks, storage: storage, threshold: threshold, bytes: try Self.fileSize(built),
                                      score: try evaluate(built))
        log.append(candidate)
        scoredCandidate?(candidate, log.count)
        return candidate
    }

    /// The candidates among which the smallest file this search can write is: every hidden layer at rank 1 (2 for i4
    /// of odd shape) in each storage of ``StorageChoice/searched`` (for tiny layers the tensors and padding of the
    /// scales can outweigh what i4 codes save, so any of them may be the smallest), and with ``perLayer`` each layer's
    /// smallest option of the per-layer choice. ``smallestPossible()`` sizes them as the search builds them, and
    /// ``sizeFloor(_:options:policy:parameter:)`` sizes the same candidates from sketches, before any data is read.
    mutating func smallestCandidates() throws -> [(ranks: [String: Int], storage: StorageChoice)] {
        var candidates = StorageChoice.searched.map { (ranks: ranks(threshold: 0, storage: $0), storage: $0) }
        guard perLayer else { return candidates }
        let tables = try allocation()
        guard !tables.tables.isEmpty else { return candidates }
        let choice = candidate(tables.choose(lambda: pow(10, Self.lambdaRange.1)))
        candidates.append((choice.ranks, choice.storage))
        return candidates
    }

    /// The smallest file this search can write: the smallest of ``smallestCandidates()``.
    public mutating func smallestPossible() throws -> Int {
        try smallestCandidates().map { try size($0.ranks, storage: $0.storage) }.min() ?? 0
    }

    /// u = log10(1 − τ) in [−8, log10(0.99)]: larger u, smaller model.
    static let tightest = -8.0, loosest = log10(0.99)

    /// The most accurate candidate on validation whose file is at most `bytes`; nil if none fits.
    public mutating func targetSize(_ bytes: Int) throws -> SizeCandidate? {
        var best: SizeCandidate?
        for storage in StorageChoice.searched {
            // The largest τ (smallest u) whose file fits; sizes fall as u grows.
            var fits = Self.loosest, tooBig = Self.tightest
            if try size(ranks(threshold: 0, storage: storage), storage: storage) > bytes { continue }
            if try size(ranks(threshold: 1 - pow(10, fits), storage: storage), storage: storage) > bytes {
                fits = 0  // τ = 0: the smallest ranks
            }
            if try size(ranks(threshold: 1 - pow(10, tooBig), storage: storage), storage: storage) <= bytes { fits = tooBig }
            for _ in 0..<30 where fits - tooBig > 0.002 {
                let middle = (fits + tooBig) / 2
                if try size(ranks(threshold: 1 - pow(10, middle), storage: storage), storage: storage) <= bytes { fits = middle } else { tooBig = middle }
            }
            let tau = fits == 0 ? 0 : 1 - pow(10, fits)
            let candidate = try scored(ranks(threshold: tau, storage: storage), storage: storage, threshold: tau)
            guard candidate.bytes <= bytes else { continue }
            if let current = best, let a = current.score?.accuracy, let b = candidate.score?.accuracy,
               a > b || (a == b && current.bytes <= candidate.bytes) { continue }
            best = candidate
        }
        if perLayer, let mixed = try perLayerTargetSize(bytes) {
            if let current = best, let a = current.score?.accuracy, let b = mixed.score?.accuracy,
               a > b || (a == b && current.bytes <= mixed.bytes) { return best }
            best = mixed
        }
        return best
    }

    /// The smallest file whose validation accuracy drops at most `maxDrop` (0–1, plus `confidence` SE)
    /// below `baseline`; nil if no candidate keeps it.
    public mutating func minimizeBytes(baseline: Double, maxDrop: Double) throws -> SizeCandidate? {
        var best: SizeCandidate?
        let confidence = self.confidence
        let meets = { (c: SizeCandidate) -> Bool in
            c.score.map { Confirmation.meets($0, baseline: baseline, maxDrop: maxDrop, confidence: confidence) } ?? false
        }
        var bestPath: (path: [(SizeCandidate, Double)], family: CandidateFamily?) = ([], nil)
        for storage in StorageChoice.searched {
            let good = Self.tightest, bad = Self.loosest
            var found = try scored(ranks(threshold: 1 - pow(10, good), storage: storage), storage: storage, threshold: 1 - pow(10, good))
            guard meets(found) else { continue }
            var path = [(found, good)]
            let loose = try scored(ranks(threshold: 1 - pow(10, bad), storage: storage), storage: storage, threshold: 1 - pow(10, bad))
            if meets(loose) {
                found = loose
                path.append((loose, bad))
            } else {
                path += try Self.bisect(good, bad, steps: 14, tolerance: 0.01, meets: meets) { u in
                    try scored(ranks(threshold: 1 - pow(10, u), storage: storage), storage: storage, threshold: 1 - pow(10, u))
                }
                found = path.last!.0
            }
            if let current = best, current.bytes <= found.bytes { continue }
            best = found
            bestPath = (path, .storage(storage))
        }
        if perLayer, let (mixed, path, tables) = try perLayerMinimizeBytes(meets: meets), (best.map { mixed.bytes < $0.bytes } ?? true) {
            best = mixed
            bestPath = (path, .perLayer(tables))
        }
        // The confirmation's ladder, from the winning bisection alone.
        switch bestPath.family {
        case .storage(let storage):
            acceptedPath = try Self.ladder(bestPath.path, meets: meets) { u in
                try scored(ranks(threshold: 1 - pow(10, u), storage: storage), storage: storage, threshold: 1 - pow(10, u))
            }
        case .perLayer(let tables):
            acceptedPath = try Self.ladder(bestPath.path, meets: meets) { try scored(tables.choose(lambda: pow(10, $0))) }
        case nil:
            acceptedPath = []
        }
        return best
    }

    // MARK: Per-layer rank and dtype

    /// The option tables of every hidden and output layer (computed once).
    public mutating func allocation() throws -> LayerAllocation {
        if let allocationTables { return allocationTables }
        let tables = try LayerAllocation.tables(model: model, spectra: spectra, hidden: hiddenLayers, output: outputLayer, options: options)
        allocationTables = tables
        return tables
    }

    /// Ranks and storage of a per-layer choice.
    public func candidate(_ choice: [String: LayerOption]) -> (ranks: [String: Int], storage: StorageChoice, threshold: Double) {
        var ranks: [String: Int] = [:], dtypes: [String: DType] = [:]
        var threshold = 1.0
        var bytesByDType: [DType: Int] = [:]
        for (name, option) in choice {
            dtypes[name] = option.dtype
            if name != outputLayer { bytesByDType[option.dtype, default: 0] += option.bytes }
            if let rank = option.rank {
                ranks[name] = rank
                // An already factorized output layer keeps its rank (only its storage is chosen): not a threshold.
                if name != outputLayer, let spectrum = spectra[name] { threshold = min(threshold, spectrum.retainedEnergy(rank: rank)) }
            }
        }
        let order = model.layers.map(\.name).filter { dtypes[$0] != nil }
        let hidden = bytesByDType.max { $0.value < $1.value || ($0.value == $1.value && $0.key.byteCount < $1.key.byteCount) }?.key
            ?? options.quantization?.dtype ?? .int8
        let output = outputLayer.flatMap { dtypes[$0] } ?? hidden
        return (ranks, StorageChoice(layers: dtypes, order: order, hidden: hidden, output: output), threshold)
    }

    /// λ spans 10^−16 … 10^3 (errors are fractions, costs bytes): the smallest λ keeps every layer's
    /// most accurate option, the largest its smallest.
    static let lambdaRange = (-16.0, 3.0)

    func exactSize(_ choice: [String: LayerOption]) throws -> Int {
        let c = candidate(choice)
        return try size(c.ranks, storage: c.storage)
    }

    mutating func scored(_ choice: [String: LayerOption]) throws -> SizeCandidate {
        let c = candidate(choice)
        return try scored(c.ranks, storage: c.storage, threshold: c.threshold)
    }

    /// How much validation accuracy each layer loses per unit of predicted error: every other layer
    /// at its most accurate option, the layer at the option whose predicted error is nearest 0.1
    /// (one scored model per layer). Weights are relative (their mean is 1); nil if no probe says anything.
    public mutating func layerSensitivities() throws -> [String: Double]? {
        if let sensitivityCache { return sensitivityCache }
        let tables = try allocation()
        let base = tables.choose(lambda: 0)
        let reference = try scored(base)
        guard let baseAccuracy = reference.score?.accuracy else { return nil }
        var raw: [String: Double] = [:]
        for name in tables.tables.keys.sorted() {
            let distance = { (o: LayerOption) -> Double in abs(Foundation.log(o.error / 0.1)) }
            let large: [LayerOption] = (tables.tables[name] ?? []).filter { $0.error >= 0.01 }
            guard let probe = large.min(by: { distance($0) < distance($1) }) else { continue }
            var choice = base
            choice[name] = probe
            let score = try scored(choice).score
            let drop = max(baseAccuracy - (score?.accuracy ?? baseAccuracy), 1e-4)
            raw[name] = drop / probe.error
        }
        guard !raw.isEmpty else { return nil }
        let mean = raw.values.reduce(0, +) / Double(raw.count)
        let weights = raw.mapValues { $0 / mean }
        sensitivityCache = weights
        return weights
    }

    /// The per-layer choices for a size budget: with the predicted errors as they are and weighted by
    /// ``layerSensitivities()``; the most accurate on validation (nil if none fits).
    public mutating func perLayerTargetSize(_ bytes: Int) throws -> SizeCandidate? {
        let tables = try allocation()
        guard !tables.tables.isEmpty else { return nil }
        var best = try perLayerTargetSize(bytes, tables: tables)
        if let weights = try layerSensitivities(), let weighted = try perLayerTargetSize(bytes, tables: tables.weighted(weights)),
           (best.map { (weighted.score?.accuracy ?? 0) > ($0.score?.accuracy ?? 0) } ?? true) {
            best = weighted
        }
        return best
    }

    /// The choice with the least predicted error whose written file fits `bytes` (bisection on log λ
    /// against the exact size, then the estimated bytes left filled by the best upgrades), scored on
    /// validation; nil if even the smallest does not fit.
    mutating func perLayerTargetSize(_ bytes: Int, tables: LayerAllocation) throws -> SizeCandidate? {
        var (fits, tooBig) = (Self.lambdaRange.1, Self.lambdaRange.0)
        guard try exactSize(tables.choose(lambda: pow(10, fits))) <= bytes else { return nil }
        if try exactSize(tables.choose(lambda: pow(10, tooBig))) <= bytes {
            fits = tooBig
        } else {
            for _ in 0..<40 where fits - tooBig > 1e-3 {
                let middle = (fits + tooBig) / 2
                if try exactSize(tables.choose(lambda: pow(10, middle))) <= bytes { fits = middle } else { tooBig = middle }
            }
        }
        var choice = tables.choose(lambda: pow(10, fits))
        // The header and padding the estimate leaves out, then the rest of the budget.
        let overhead = try exactSize(choice) - LayerAllocation.bytes(choice)
        let grown = tables.filled(choice, budget: bytes - overhead)
        if grown != choice, try exactSize(grown) <= bytes { choice = grown }
        let found = try scored(choice)
        return found.bytes <= bytes ? found : nil
    }

    /// The smallest per-layer choice that `meets` the accuracy budget on validation: bisection on
    /// log λ (larger λ, smaller file), each choice scored once; nil if the most accurate choice fails.
    mutating func perLayerMinimizeBytes(meets: (SizeCandidate) -> Bool) throws -> (SizeCandidate, [(SizeCandidate, Double)], LayerAllocation)? {
        let tables = try allocation()
        guard !tables.tables.isEmpty else { return nil }
        var best = try perLayerMinimizeBytes(meets: meets, tables: tables).map { ($0.0, $0.1, tables) }
        if let weights = try layerSensitivities() {
            let weightedTables = tables.weighted(weights)
            if let weighted = try perLayerMinimizeBytes(meets: meets, tables: weightedTables), (best.map { weighted.0.bytes < $0.0.bytes } ?? true) {
                best = (weighted.0, weighted.1, weightedTables)
            }
        }
        return best
    }

    /// Where a bisection's candidates come from: one storage for every layer (τ), or the per-layer choice of these tables (λ).
    enum CandidateFamily {
        case storage(StorageChoice)
        case perLayer(LayerAllocation)
    }

    /// The smallest choice that `meets` the budget, and the choices the bisection accepted on the way with their log λ (the result last).
    mutating func perLayerMinimizeBytes(meets: (SizeCandidate) -> Bool, tables: LayerAllocation) throws -> (SizeCandidate, [(SizeCandidate, Double)])? {
        let good = Self.lambdaRange.0, bad = Self.lambdaRange.1
        var seen: [[String: LayerOption]: SizeCandidate] = [:]
        func judge(_ lambda: Double, _ search: inout SizeSearch) throws -> SizeCandidate {
            let choice = tables.choose(lambda: pow(10, lambda))
            if let known = seen[choice] { return known }
            let candidate = try search.scored(choice)
            seen[choice] = candidate
            return candidate
        }
        var found = try judge(good, &self)
        guard meets(found) else { return nil }
        var path = [(found, good)]
        let smallest = try judge(bad, &self)
        if meets(smallest) {
            found = smallest
            path.append((smallest, bad))
        } else {
            path += try Self.bisect(good, bad, steps: 16, tolerance: 0.02, meets: meets) { try judge($0, &self) }
            found = path.last!.0
        }
        return (found, path)
    }

    /// Bisection between a position `good` whose candidate meets the budget and a position `bad` whose does not (files
    /// shrink as the position rises): at most `steps` middles, until they are `tolerance` apart; returns the middles that
    /// met it with their positions, in order (each smaller than the one before).
    static func bisect(_ good: Double, _ bad: Double, steps: Int, tolerance: Double, meets: (SizeCandidate) -> Bool,
                       score: (Double) throws -> SizeCandidate) rethrows -> [(SizeCandidate, Double)] {
        var (good, bad) = (good, bad)
        var kept: [(SizeCandidate, Double)] = []
        for _ in 0..<steps where bad - good > tolerance {
            let middle = (good + bad) / 2
            let candidate = try score(middle)
            if meets(candidate) {
                good = middle
                kept.append((candidate, middle))
            } else {
                bad = middle
            }
        }
        return kept
    }

    /// Most a file may shrink from one rung of the confirmation ladder to the next.
    static let ladderStep = 1.2

    /// The candidates a bisection accepted, in order (`position`: its τ or λ coordinate, rising as files shrink), with
    /// rungs added where consecutive ones differ by more than ``ladderStep`` in bytes: candidates at a quarter, half
    /// and three quarters of the way between them, scored on the selection records and kept when they meet the budget
    /// there and fall between the two in size (``ConfirmationLadder``: what the confirmation re-judges in order).
    static func ladder(_ path: [(SizeCandidate, Double)], meets: (SizeCandidate) -> Bool,
                       score: (Double) throws -> SizeCandidate) rethrows -> [SizeCandidate] {
        try ConfirmationLadder.rungs(path, step: ladderStep, size: { Double($0.0.bytes) }, sameRanks: { $0.0.ranks == $1.0.ranks },
                                     fractions: { _, _ in [0.25, 0.5, 0.75] }) { larger, smaller, fraction, _ in
            let position = larger.1 + (smaller.1 - larger.1) * fraction
            let candidate = try score(position)
            return meets(candidate) ? (candidate, position) : nil
        }.map { $0.0 }
    }
}

/// A size search's failure that the caller should report as a bad request.
public struct SizeSearchError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension ConversionPipeline {
    /// A size search's confirmation event for `candidate`: its size and storage, then its score (``ValidationScore/progressText(_:baseline:withError:)``:
    /// an overflowing candidate says so, where it printed "confirmation score -inf") and ", over budget" when it misses.
    static func confirmationMessage(_ candidate: SizeCandidate, score: ValidationScore, baseline: Double, passes: Bool) -> String {
        "\(candidate.bytes) bytes (\(candidate.storage.description)): " + score.progressText("confirmation score", baseline: baseline)
            + (passes ? "" : ", over budget")
    }
}

extension ConversionPipeline {
    /// A ``SizeSearch`` for a size or accuracy budget: calibration and validation from the training
    /// split, the result verified on the test split (never seen by the search).
    public static func sizeSearch(_ model: Model, request: ConversionRequest,
                                  evaluator: (any CandidateEvaluator)? = nil) throws -> PipelineResult {
        guard let policyName = request.target.searchPolicyName else { return try run(model, request: request) }
        var options = request.options
        if case .size(let bytes) = request.target {
            // A size no candidate can reach is refused from the model's shapes, before the data, calibration and search.
            let floor = try SizeSearch.sizeFloor(model, options: options, policy: policyName, parameter: Double(bytes))
            if bytes < floor {
                throw SizeSearchError(message: "no model of at most \(bytes) bytes can be written: the smallest lrm can make of this one is at least \(floor) bytes (every layer it factorizes at its smallest rank, in its smallest storage)")
            }
        }
        let data = try request.data.resolved(for: model)
        let task = data.task
        if task == .regression, case .minimizeBytes = request.target {
            throw PipelineError(.badRequest, "a regression model has no accuracy: a size search with --minimize bytes needs a classifier")
        }
        let (calibrationSet, validationSet) = try data.trainingSubsets()
        options.calibration = try data.calibrate(model, on: calibrationSet)
        if options.quantization == nil { options.quantization = QuantizationOptions(dtype: .int8) }
        let spectra = try searchSpectra(model, options: options, progress: request.progress)
        let layout = data.layout(for: model)
        // An accuracy budget selects on part of the validation records and confirms its choice on the rest.
        let budget: Double? = if case .minimizeBytes(let drop) = request.target { drop / 100 } else { nil }
        let split = try ValidationSplit.make(given: evaluator, task: task, reference: model, validation: validationSet, samples: nil,
                                             layout: layout, threshold: data.ownSplits?.threshold ?? 0.5,
                                             fraction: budget == nil ? 0 : request.confirmFraction, seed: data.seed)
        let scorer = split.selection
        let baseline = scorer.baselineAccuracy
        let parameter: Double
        switch request.target {
        case .size(let bytes): parameter = Double(bytes)
        case .minimizeBytes(let drop): parameter = drop
        default: return try run(model, request: request)
        }
        var provenance = ConversionProvenance(policy: policyName, parameter: parameter, factorDType: .float32, seed: nil,
                                              metric: options.metric, calibration: options.calibration?.source, writer: request.writer)
        provenance.groupSize = nil
        var search = SizeSearch(model: model, spectra: spectra, options: options, provenance: provenance) { try scorer.score($0) }
        search.confidence = request.confidence
        // Each candidate scored, as a rank search reports its own.
        let progress = request.progress
        let overflowOutcome = budget == nil ? "never preferred to a candidate that does not" : "misses the budget"
        search.scoredCandidate = { candidate, count in
            guard let progress, let score = candidate.score else { return }
            let size = String(format: "%d bytes (%@)", candidate.bytes, candidate.storage.description)
            progress(ProgressEvent(phase: "search", done: count,
                                   message: score.overflowed
                                       ? String(format: "candidate of %@ outputs NaN or infinite values (it overflows): %@ (original %.4f)", size,
                                                overflowOutcome, baseline)
                                       : String(format: "candidate of %@: validation score %.4f (original %.4f)", size, score.accuracy, baseline)))
        }
        // Scored candidates are refitted and rounded in one pass, as a data-aware policy conversion is (`--no-refit`: not).
        // Not the layers already factorized (a `.lrm` input; ``SearchOutcome/storedFactorLayers``): only those truncated from a
        // kernel, so none when every hidden layer searched is factorized already.
        let storedFactors = spectra.values.contains { $0.storedRank != nil }
        if !storedFactors || search.hiddenLayers.contains(where: { spectra[$0]?.storedRank == nil }) {
            search.refitter = try request.refit.map {
                try data.refitter(for: model, calibration: calibrationSet, options: $0, targetCacheBytes: Refitter.searchTargetCacheBytes)
            }
        }
        let found: SizeCandidate?
        switch request.target {
        case .size(let bytes):
            found = try search.targetSize(bytes)
            if found == nil {
                let smallest = try search.smallestPossible()
                throw SizeSearchError(message: "no model of at most \(bytes) bytes can be written: the smallest lrm can make of this one is \(smallest) bytes (every layer in its smallest rank and storage)")
            }
        default:
            found = try search.minimizeBytes(baseline: baseline, maxDrop: parameter / 100)
            if found == nil {
                throw SizeSearchError(message: "no candidate keeps the validation accuracy within \(parameter) points (even the largest ranks of every storage)")
            }
        }
        guard var best = found, var score = best.score else { preconditionFailure("a found candidate is scored") }
        // Only for its hidden-parameter fraction of a choice's ranks.
        let hidden = RankSearch(model: model, spectra: spectra, options: options, policyName: policyName,
                                policyParameter: parameter) { _ in ValidationScore(accuracy: 0, standardError: 0) }
        var confirmation: ConfirmationSummary?
        if let confirmer = split.confirmation, let budget {
            // The candidates the bisection that found the choice accepted, in its order (each file smaller; the choice last):
            // a sequence fixed before the confirmation records are seen, nested in τ or λ like a rank search's path.
            let passing = search.acceptedPath
            let (index, confirmed, tests) = try Confirmation.judge(count: passing.count, confirmer: confirmer, maxDrop: budget,
                                                                   confidence: request.confidence, model: { [search] i in
                try search.build(passing[i].ranks, storage: passing[i].storage, calibrated: true).model
            }) { i, score, passes in
                progress?(ProgressEvent(phase: "confirm", done: i + 1, total: passing.count,
                                        message: Self.confirmationMessage(passing[i], score: score, baseline: confirmer.baselineAccuracy, passes: passes)))
            }
            guard let confirmed else {
                throw SizeSearchError(message: "no candidate that kept the accuracy within \(parameter) points on the \(scorer.sampleCount) validation records "
                    + "it was selected on keeps it on the other \(confirmer.sampleCount) (\(tests) of \(passing.count) re-judged): give a larger budget or more --validation-samples")
            }
            confirmation = ConfirmationSummary(selectionSamples: scorer.sampleCount, confirmationSamples: confirmer.sampleCount,
                                               pathLength: passing.count, tests: tests, stepsBack: passing.count - 1 - index,
                                               selectedHiddenFraction: hidden.hiddenFraction(best.ranks), selectionAccuracy: score.accuracy,
                                               selectionBaseline: baseline, selectionStandardError: score.standardError, keptOriginal: false)
            best = passing[index]
            score = confirmed
        }
        let result = try search.build(best.ranks, storage: best.storage, calibrated: true)
        var recorded = provenance
        recorded.factorDType = best.storage.hidden
        recorded.refit = search.refitter?.record
        // The reported numbers: the test split, never seen by the search.
        let judge = split.confirmation ?? scorer  // a split exists only for a budget, and then the confirmation ran
        var outcome = SearchOutcome(metric: options.metric.name, candidates: search.log.count,
                                    validationSamples: judge.sampleCount, validationPlacement: data.placement,
                                    validationBaseline: judge.baselineAccuracy, validationAccuracy: score.accuracy,
                                    standardError: score.standardError, confidence: request.confidence,
                                    hiddenFraction: hidden.hiddenFraction(best.ranks), threshold: best.threshold,
                                    testSamples: 0, testReference: 0, testAccuracy: 0, testImagesChange: 0, testReferenceF1: 0, testF1: 0,
                                    budget: { if case .minimizeBytes(let drop) = request.target { return drop }; return nil }())
        try outcome.measureTest(result.model, original: model, data: data, layout: layout, progress: request.progress)
        outcome.fileBytes = best.bytes
        outcome.storage = best.storage.description
        outcome.sizeCandidates = search.log
        outcome.overflowingCandidates = search.log.filter { $0.score?.overflowed == true }.count
        outcome.confirmation = confirmation
        outcome.storedFactorLayers = model.layers.map(\.name).filter { spectra[$0]?.storedRank != nil }
        outcome.storedFactorRefit = search.refitter != nil
        outcome.keptAsStored = !outcome.storedFactorLayers.isEmpty && SearchOutcome.sameWeights(result.model, model)
        return PipelineResult(model: result.model, decisions: result.decisions, provenance: recorded, search: outcome)
    }
}
