public import LRMCompress
import LRMDatasets
public import LRMFormat
public import LRMVerify
import Foundation

/// What to convert for: a policy applied layer by layer, or a search for every layer's rank.
public enum ConversionTarget: Sendable, Equatable {
    /// `ConversionOptions.policy` and its overrides, layer by layer.
    case policy
    /// The smallest model whose validation accuracy drops at most this many percentage points
    /// (plus `ConversionRequest.confidence` standard errors of the drop).
    case accuracyDrop(Double)
    /// The most accurate model keeping at most this fraction (0–1] of the hidden layers' kernel parameters.
    case ratio(Double)
    /// The smallest model whose validation metric drops at most this much: accuracy points for
    /// classification, percent of RMSE increase for regression (plus `confidence` standard errors).
    case metricDrop(Double)
    /// The most accurate model (on validation) whose written file is at most this many bytes, choosing
    /// every hidden layer's rank and the storage dtypes (``SizeSearch``).
    case size(Int)
    /// The smallest file whose validation accuracy drops at most this many percentage points (plus
    /// `confidence` standard errors), choosing ranks and storage dtypes (``SizeSearch``).
    case minimizeBytes(Double)

    /// Whether this is an accuracy budget (points of accuracy, not a metric).
    var isAccuracyBudget: Bool { if case .accuracyDrop = self { true } else { false } }

    /// The name recorded as `conversion.policy` for a search.
    var searchPolicyName: String? {
        switch self {
        case .policy: nil
        case .accuracyDrop: "target-accuracy-drop"
        case .ratio: "target-ratio"
        case .metricDrop: "target-metric-drop"
        case .size: "target-size"
        case .minimizeBytes: "target-accuracy-drop-min-bytes"
        }
    }
}

/// Everything a conversion needs besides the model.
public struct ConversionRequest: Sendable {
    public var options: ConversionOptions
    public var target: ConversionTarget
    /// Calibration (data-aware metrics), validation (search) and test data (the search's report).
    public var data: DataSelection
    /// In an accuracy search, a candidate counts as within budget when its drop plus this many
    /// standard errors of the drop is (0: the drop alone).
    public var confidence: Double
    /// Recorded as `lrm.writer` (nil: not written).
    public var writer: String?
    /// Told about each phase, calibration batch and search candidate (nil: nothing reported).
    public var progress: ProgressHandler?
    /// The least-squares refit after truncation, done for data-aware conversions and inside searches (nil: none).
    public var refit: RefitOptions? = RefitOptions()
    /// Which samples a search judges candidates on (`auto`: the validation records, shifted when they look seen in training).
    public var estimate: EstimateChoice = .auto
    /// In an accuracy-budgeted search, the fraction of the validation records (drawn at random with the data's seed)
    /// held out of selection to re-judge the search's choice on (``ConfirmationSummary``); 0: none, every record selects.
    public var confirmFraction: Double = ValidationSplit.defaultFraction
    /// Distillation fine-tuning of the result (and, in an accuracy search, of smaller candidates) (nil: none).
    public var finetune: FineTuneOptions?
    /// Told after every fine-tuning epoch.
    public var finetuneProgress: FineTuneProgress?

    public init(options: ConversionOptions = ConversionOptions(), target: ConversionTarget = .policy,
                data: DataSelection = DataSelection(), confidence: Double = 1, writer: String? = ConversionPipeline.writer) {
        self.options = options
        self.target = target
        self.data = data
        self.confidence = confidence
        self.writer = writer
    }

    /// Whether the request reads a data set (a data-aware metric or a search).
    public var needsData: Bool { target != .policy || options.metric != .plain }

    /// Whether calibration statistics are collected: a data-aware metric, or quantized weights
    /// rounded against calibration data (when data are given: a bundled data set or the user's own).
    var wantsCalibration: Bool {
        options.metric != .plain || (options.quantization?.useCalibration == true && data.hasData)
    }
}

/// What a rank search found, measured on validation (chosen on) and test (never seen) data.
public struct SearchOutcome: Sendable {
    public var metric: String
    public var candidates: Int
    public var validationSamples: Int
    public var validationPlacement: ValidationPlacement
    public var validationBaseline: Double
    public var validationAccuracy: Double
    public var standardError: Double
    public var confidence: Double
    public var hiddenFraction: Double
    public var threshold: Double
    public var testSamples: Int
    public var testReference: Double
    public var testAccuracy: Double
    public var testImagesChange: Int
    /// What a multi-class test line calls its records: "images" for the bundled data sets, "samples" for own data.
    public var testSampleNoun = "images"
    public var testReferenceF1: Double
    public var testF1: Double
    /// The accuracy budget in percentage points (relative RMSE increase in percent for regression; nil for a size target).
    public var budget: Double?
    /// What the data was scored as.
    public var task: TaskKind = .multiclass
    /// Binary and regression tasks: the original's and the result's scores on the test split.
    public var testReferenceScores: TaskScores?
    public var testScores: TaskScores?
    /// A size search: bytes of the written file and the storage it chose.
    public var fileBytes: Int? = nil
    public var storage: String? = nil
    /// Size searches: every candidate scored on validation (storage, ranks, bytes, accuracy), in order.
    public var sizeCandidates: [SizeCandidate] = []
    /// Which samples candidates were judged on.
    public var estimate: ValidationEstimate = .heldOut
    /// Whether the validation records looked seen in training (for `--estimate auto`).
    public var exposure: ExposureCheck?
    /// Why the estimate is not the one asked for, if it is not.
    public var estimateNote: String?
    /// The test samples reported on start at this index (0, or the second half's first for `test-half`).
    public var testFirstSample = 0
    /// What fine-tuning did, when it was asked for.
    public var finetune: FineTuneSummary?
    /// How the choice was re-judged on validation records it was not selected on (nil: it was not, e.g. `--confirm-fraction 0`).
    public var confirmation: ConfirmationSummary?
    /// The result against the original on the test split, from the same run as the test figures above (`lrm convert`'s test line).
    public var testEvaluation: TestEvaluation?
    /// The searched layers that were already factorized (a `.lrm` input), in model order: their spectra are their stored
    /// factors', they are only truncated further, and they are not refitted (``storedFactorRefit``: whether the layers searched from
    /// a kernel were). "The original" everywhere above is then
    /// the input model, which the budget is measured against.
    public var storedFactorLayers: [String] = []
    /// With ``storedFactorLayers``: whether the candidates' other layers, those searched from a kernel, were refitted.
    public var storedFactorRefit = false
    /// With ``storedFactorLayers``: whether the result keeps every layer's weights as the input stores them (nothing
    /// truncated, re-stored or factorized: the written file is the input model again, not compressed further).
    public var keptAsStored = false
    /// Candidates whose outputs were NaN or infinite (they overflow): each missed the budget (``ValidationScore/overflowing``).
    public var overflowingCandidates = 0
}

extension SearchOutcome {
    /// Whether `result` holds the weights of `input` layer by layer: the same tensors (a factorized layer's factors and bias
    /// at the same rank; its record may differ in what it lists, e.g. fewer singular values), every other layer the same.
    public static func sameWeights(_ result: Model, _ input: Model) -> Bool {
        guard result.layers.count == input.layers.count else { return false }
        return zip(result.layers, input.layers).allSatisfy { a, b in
            switch (a.operation, b.operation) {
            case let (.factorizedDense(us, vt, bias, activation, f), .factorizedDense(us2, vt2, bias2, activation2, f2)):
                us == us2 && vt == vt2 && bias == bias2 && activation == activation2 && f.rank == f2.rank
            case let (.factorizedConv2D(first, second, bias, activation, form, geometry, f),
                      .factorizedConv2D(first2, second2, bias2, activation2, form2, geometry2, f2)):
                first == first2 && second == second2 && bias == bias2 && activation == activation2 && form == form2
                    && geometry == geometry2 && f.rank == f2.rank
            default:
                a.operation == b.operation
            }
        }
    }
}

extension SearchOutcome {
    /// Writes how the search judged its result into `metadata` (`search.*`): the estimate, the records it
    /// selected on and confirmed on, the confidence, and the result's score on the records that judged it last.
    public func record(in metadata: inout [String: MetadataValue]) {
        metadata[MetadataKey.searchEstimate] = .string(estimate.rawValue)
        metadata[MetadataKey.searchSelectionSamples] = .int(Int64(confirmation?.selectionSamples ?? validationSamples))
        metadata[MetadataKey.searchConfirmationSamples] = .int(Int64(confirmation?.confirmationSamples ?? 0))
        // A ratio target has no budget: nothing was compared with a confidence bound.
        if budget != nil { metadata[MetadataKey.searchConfidence] = .float(confidence) }
        metadata[MetadataKey.searchValidationScoreOriginal] = .float(validationBaseline)
        metadata[MetadataKey.searchValidationScore] = .float(validationAccuracy)
        metadata[MetadataKey.searchValidationStandardError] = .float(standardError)
    }
}

/// The outcome of a conversion: the model (metadata recorded), what happened to each layer, how it
/// was made, and for a search what it found.
public struct PipelineResult: Sendable {
    public var model: Model
    public var decisions: [LayerDecision]
    public var provenance: ConversionProvenance
    public var search: SearchOutcome?
    /// The fine-tuning of a policy conversion (a search's is in `search`).
    public var finetune: FineTuneSummary?
}

/// A model in, a converted model out: calibration, the search when one is asked for, the rebuild of
/// the chosen ranks, and the metadata.
public enum ConversionPipeline {
    /// This library's version, recorded as `lrm.writer`.
    public static let version = "0.1.0"
    public static let writer = "lrm \(version)"

    /// Why `request` cannot convert a model whose already factorized layers (a `.lrm` input) are `factorized`, in
    /// model order, or nil when it can. A plain policy truncates their factors further, and so does a rank search
    /// (`--target-accuracy-drop`, `--target-metric-drop`, `--target-ratio`) or a size search (`--target-size`,
    /// `--minimize bytes`, which also re-stores them in the dtype it chooses) in the plain metric, on their stored factors'
    /// spectra (``Converter/factorizedSpectrum(of:)``). A data-aware metric (calibration on the original layers) starts from
    /// what such layers no longer have; layers `--exclude` keeps are not in its way. Fine-tuning (distilled from the input
    /// file's model) trains every layer, the excluded ones too, and would leave such a layer's record (its error against
    /// the original kernel, which the file does not hold) untrue: refused whenever the model has one.
    public static func reconversionRefusal(factorized: [String], request: ConversionRequest) -> String? {
        let affected = factorized.filter { request.options.policy(forLayer: $0) != nil }
        if !affected.isEmpty, request.options.metric != .plain {
            let plainSearch = request.target != .policy && request.finetune == nil  // a search that would go ahead in the plain metric
            return storedFactorsRefusal("a data-aware metric (\(request.options.metric.name)) is measured on the original layers' calibration inputs",
                                        factorized: affected, instead: "convert the original model, "
                                        + (plainSearch ? "search in the plain metric (--metric plain), " : "")
                                        + "truncate them further with a plain policy (--policy rank:k, energy:τ, …), or --exclude them")
        }
        // Fine-tuning trains every layer, those --exclude keeps included, and records each factorized layer's error again against
        // its original kernel; a layer already factorized has none, so its moved factors would keep a record that is no longer true.
        if !factorized.isEmpty, request.finetune != nil {
            return storedFactorsRefusal("fine-tuning moves the factors of every layer (those --exclude keeps too) and records each one's error "
                                        + "against its original kernel", factorized: factorized,
                                        instead: "fine-tune when converting the original model, or convert this file without --finetune")
        }
        return nil
    }

    /// Why a search (`request.target` not a policy) of `model` cannot start, or nil: a hidden dense layer it searches (or, for an
    /// accuracy or metric budget, a convolution) is already factorized with factors refitted or fine-tuned since their
    /// truncation (`method` with `+refit` or `+finetune`), which ``Converter/applyFactorized(_:to:rank:policyName:policyParameter:policyDescription:options:)``
    /// cannot truncate further with a true record, and every search's candidates go below the stored rank. Said from the
    /// records alone, before any data is read; `--exclude` keeps such a layer as stored. (The output layer, which no search
    /// truncates, is not in the way.)
    public static func movedFactorsRefusal(_ model: some LayerSource, request: ConversionRequest) -> String? {
        guard request.target != .policy else { return nil }
        var searched = RankSearch.hiddenDenseLayers(model).map(\.name)
        if request.target.weighsConvolutions && request.options.convolutions != .none {
            searched += (0..<model.layerCount).filter { model.factorizedConvolutionForm($0) != nil }.map(model.layerName)
        }
        let moved = (0..<model.layerCount).filter { index in
            let name = model.layerName(index)
            return searched.contains(name) && request.options.policy(forLayer: name) != nil && model.factorization(index)?.movedAfterTruncation == true
        }
        guard let first = moved.first, let record = model.factorization(first) else { return nil }
        let names = moved.prefix(3).map(model.layerName).joined(separator: ", ") + (moved.count > 3 ? ", …" : "")
        return "a search truncates the layers it searches below their stored rank, and \(names) had \(moved.count == 1 ? "its" : "their") factors refitted "
            + "or fine-tuned after \(moved.count == 1 ? "its" : "their") truncation (method '\(record.method)'), so \(moved.count == 1 ? "its record" : "their records") "
            + "could not stay true without the original kernel: --exclude \(moved.count == 1 ? "it" : "them") (kept as stored), or convert the original model"
    }

    /// "WHAT, and the layers already factorized here (a, b, c, …) have only their factors: INSTEAD": why a conversion or a
    /// sweep that needs the original kernels refuses a `.lrm` whose already factorized layers are `factorized` (model order).
    public static func storedFactorsRefusal(_ what: String, factorized: [String], instead: String) -> String {
        let names = factorized.prefix(3).joined(separator: ", ") + (factorized.count > 3 ? ", …" : "")
        return "\(what), and the layers already factorized here (\(names)) have only their factors: \(instead)"
    }

    /// Converts `model` as `request` says. A layer a converted `.lrm` input stores whole but changed (integer codes, a
    /// 16-bit float, fine-tuned) and the conversion factorizes has its record marked relative to that stored kernel
    /// (``StoredKernelOrigin``).
    public static func run(_ model: Model, request: ConversionRequest) throws -> PipelineResult {
        var result = try convertModel(model, request: request)
        StoredKernelOrigin.mark(&result, changed: StoredKernelOrigin.changedKernels(in: model)) { name in
            model.layers.first { $0.name == name }.flatMap { StoredKernelOrigin.wholeKernel($0.operation) }
        }
        return result
    }

    static func convertModel(_ model: Model, request: ConversionRequest) throws -> PipelineResult {
        var request = request
        if let refusal = reconversionRefusal(factorized: model.factorizedLayerNames, request: request) { throw PipelineError(.badRequest, refusal) }
        if let refusal = movedFactorsRefusal(model, request: request) { throw PipelineError(.badRequest, refusal) }
        // Said before fine-tuning's data are read below (``search(_:request:evaluator:)`` says it too, for its own callers).
        if let refusal = nothingToSearch(model, target: request.target, options: request.options) { throw PipelineError(.badRequest, refusal) }
        var model = model
        ConversionProvenance.archivePrevious(in: &model.metadata)
        // Fine-tuning comes last: what would stop it is said before the conversion and any search (own data
        // are read and split for it once here; the later resolutions keep these splits).
        if let finetune = request.finetune {
            request.data = try request.data.resolved(for: model)
            try FineTuneStage.check(teacher: model, options: finetune, data: request.data)
        }
        switch request.target {
        case .policy:
            var options = request.options
            var refitter: Refitter?
            if request.wantsCalibration {
                let data = try request.data.resolved(for: model)
                let calibrationSet = try data.trainingSubsets().calibration
                options.calibration = try data.calibrate(model, on: calibrationSet, progress: request.progress)
                // Integer codes are a rounding of float factors: those are refitted first and rounded in the same
                // pass, each layer against the inputs the refitted and rounded layers before it give it.
                if options.metric != .plain {
                    refitter = try request.refit.map { try data.refitter(for: model, calibration: calibrationSet, options: $0) }
                }
            }
            let dense = model.layers.filter { if case .dense = $0.operation { return true } else { return false } }.count
            request.progress?(ProgressEvent(phase: "factorize", done: 0, total: dense, message: "\(dense) dense layers"))
            var floatOptions = options
            if refitter != nil {
                floatOptions.quantization = nil
                if options.quantization != nil { floatOptions.quantizeDenseKernels = false }
            }
            var result = try Converter.convert(model, options: floatOptions, progress: layerProgress(request.progress))
            request.progress?(ProgressEvent(phase: "factorize", done: dense, total: dense, message: "\(dense) dense layers"))
            var provenance = ConversionProvenance(options: options)
            provenance.writer = request.writer
            if let refitter {
                try refitter.applyRounding(to: &result, options: options)
                provenance.refit = refitter.record
            }
            var summary: FineTuneSummary?
            if let finetune = request.finetune {
                let stage = try FineTuneStage(teacher: model, options: finetune, data: try request.data.resolved(for: model),
                                              progress: request.finetuneProgress)
                let (tuned, record) = try stage.run(on: &result, label: "")
                provenance.finetune = record
                summary = FineTuneSummary(result: tuned, candidates: 1, stage: stage)
            }
            provenance.record(in: &result.model.metadata)
            return PipelineResult(model: result.model, decisions: result.decisions, provenance: provenance, search: nil, finetune: summary)
        case .accuracyDrop, .ratio, .metricDrop:
            return try search(model, request: request)
        case .size, .minimizeBytes:
            return try sizeSearch(model, request: request)
        }
    }

    /// Converts a mapped model as `request` says. A policy conversion without calibration data or
    /// fine-tuning reads one layer at a time (``Converter/convert(_:options:)-(MappedModel,_)``); anything
    /// else needs the whole model (calibration, the search, fine-tuning) and loads it.
    public static func run(_ model: MappedModel, request: ConversionRequest) throws -> PipelineResult {
        guard case .policy = request.target, !request.wantsCalibration, request.finetune == nil else {
            return try run(try model.loadModel(), request: request)
        }
        let changed = StoredKernelOrigin.changedKernels(in: model)
        var model = model
        ConversionProvenance.archivePrevious(in: &model.metadata)
        let dense = (0..<model.layerCount).filter { if case .dense = model.layerInfo($0).operation { true } else { false } }.count
        request.progress?(ProgressEvent(phase: "factorize", done: 0, total: dense, message: "\(dense) dense layers"))
        var result = try Converter.convert(model, options: request.options, progress: layerProgress(request.progress))
        request.progress?(ProgressEvent(phase: "factorize", done: dense, total: dense, message: "\(dense) dense layers"))
        var provenance = ConversionProvenance(options: request.options)
        provenance.writer = request.writer
        provenance.record(in: &result.model.metadata)
        var converted = PipelineResult(model: result.model, decisions: result.decisions, provenance: provenance, search: nil)
        try StoredKernelOrigin.mark(&converted, changed: changed) { name in
            guard let index = (0..<model.layerCount).first(where: { model.layerInfo($0).name == name }) else { return nil }
            defer { model.release(index) }
            return StoredKernelOrigin.wholeKernel(try model.layer(index).operation)
        }
        return converted
    }

    /// A `factorize` progress event per finished layer: its name, shape and what became of it.
    static func layerProgress(_ progress: ProgressHandler?) -> Converter.LayerProgress? {
        guard let progress else { return nil }
        return { decision, done, total in
            let shape = decision.inFeatures.map { "\($0)×\(decision.outFeatures ?? 0)" } ?? decision.kind
            let outcome = switch decision.outcome {
            case .factorized: "rank \(decision.rank ?? 0)"
            case .notWorthIt: "kept dense"
            case .excluded: "excluded"
            case .notApplicable: "unchanged"
            case .keptFactorized: "kept at rank \(decision.rank ?? 0)"
            }
            progress(ProgressEvent(phase: "factorize", done: done, total: total,
                                   message: "\(decision.name) \(shape): \(outcome) (\(String(format: "%.2f", decision.seconds)) s)"))
        }
    }

    /// Spectra of every dense layer the options do not exclude (``denseKernels(_:options:)``), computed once for a
    /// search; a `spectra` progress event per layer done.
    /// An already factorized layer's (a `.lrm` input) is that of its stored factors (``Converter/factorizedSpectrum(of:)``).
    /// `output`: whether the output layer's is computed (a size search weighs its storage by it; a rank search never
    /// factorizes it).
    public static func searchSpectra(_ model: Model, options: ConversionOptions, output: Bool = true,
                                     progress: ProgressHandler? = nil) throws -> [String: LayerSpectrum] {
        var spectra: [String: LayerSpectrum] = [:]
        let layers = denseKernels(model, options: options).filter { output || $0.role != .output }.map { model.layers[$0.index] }
        for (index, layer) in layers.enumerated() {
            let spectrum = if case .factorizedDense = layer.operation {
                try Converter.factorizedSpectrum(of: layer)
            } else {
                try Converter.spectrum(of: layer, policy: .effectiveRank, options: options)
            }
            spectra[layer.name] = spectrum
            progress?(ProgressEvent(phase: "spectra", done: index + 1, total: layers.count,
                                    message: "\(layer.name) \(spectrum.inFeatures)×\(spectrum.outFeatures) (\(options.metric.name))"))
        }
        return spectra
    }

    /// Spectra of every `conv2d` layer the options do not exclude (none with `--conv none`), for an accuracy-targeted
    /// search that weighs them with the dense layers, and the form each is searched in: `--conv channel` or
    /// `spatial` as asked; `auto` per layer, among the forms some rank of which saves both parameters and
    /// multiply-accumulates on the layer's input (``ConvolutionCost``), the form whose kernel matrix keeps more energy
    /// (plain, so that the two forms compare) at half the layer's parameters, or at the largest rank that pays where that
    /// is lower (the channel form on a tie). The chosen form's spectrum is in
    /// the search's metric where that applies (the channel form, whose rows are the calibrated patch features).
    public static func searchConvolutionSpectra(_ model: Model, options: ConversionOptions)
        throws -> (spectra: [String: LayerSpectrum], forms: [String: ConvFactorizationForm]) {
        var spectra: [String: LayerSpectrum] = [:], forms: [String: ConvFactorizationForm] = [:]
        let costs = model.convolutionCosts
        // Each convolution with the forms it is tried in (``convolutionKernels(_:options:)``), in model order.
        var tried: [(index: Int, forms: [ConvFactorizationForm])] = []
        for kernel in convolutionKernels(model, options: options) {
            guard case .convolution(let form) = kernel.role else { continue }
            if tried.last?.index == kernel.index { tried[tried.count - 1].forms.append(form) } else { tried.append((kernel.index, [form])) }
        }
        for (index, candidates) in tried {
            let layer = model.layers[index]
            if case .factorizedConv2D = layer.operation {
                spectra[layer.name] = try Converter.factorizedSpectrum(of: layer)
                forms[layer.name] = candidates[0]
                continue
            }
            var chosen: (form: ConvFactorizationForm, energy: Double)?
            var plain = options
            plain.metric = .plain
            // Only the forms some rank of which saves both parameters and multiply-accumulates (on the layer's input)
            // compete, each at half the layer's parameters or the largest rank that pays, whichever is lower.
            let cost = costs[layer.name]
            let paying = cost.map { cost in candidates.filter { cost.largestPayingRank($0) >= 1 } } ?? candidates
            for form in paying where paying.count > 1 {
                let spectrum = try Converter.convolutionSpectrum(of: layer, form: form, policy: .effectiveRank, options: plain)
                let matrix = FactorizationCost(inFeatures: spectrum.inFeatures, outFeatures: spectrum.outFeatures)
                let rank = min(matrix.rank(keepingFraction: 0.5), cost?.largestPayingRank(form) ?? matrix.fullRank)
                let energy = spectrum.retainedEnergy(rank: rank)
                if chosen == nil || energy > chosen!.energy { chosen = (form, energy) }
            }
            if chosen == nil, paying.count == 1 { chosen = (paying[0], 0) }
            let form = chosen?.form ?? candidates[0]
            spectra[layer.name] = try Converter.convolutionSpectrum(of: layer, form: form, policy: .effectiveRank, options: options)
            forms[layer.name] = form
        }
        return (spectra, forms)
    }

    /// Why a `--target-ratio` search of `model` cannot meet its target, from the shapes alone (nil: it can, or the
    /// target is no ratio): the target is below ``RankSearch/ratioFloor(_:options:)``, what every searched hidden
    /// layer keeps at rank 1 rounded up to the rank multiple, with the layers `--exclude` keeps dense counted whole.
    public static func unreachableRatio(_ model: some LayerSource, target: ConversionTarget, options: ConversionOptions) -> String? {
        guard case .ratio(let ratio) = target else { return nil }
        let floor = RankSearch.ratioFloor(model, options: options)
        // A model without hidden dense layers has no fraction to reach (a search of nothing: not this check's to say).
        guard floor.hidden > 0, floor.fraction > ratio + 1e-12 else { return nil }
        let multiple = options.rankMultiple
        let rounding = multiple > 1 ? " (rounded up to a multiple of \(multiple)"
            + (options.quantization?.dtype == .int4 ? "; i4 factors take an even rank)" : " by --round-rank)") : ""
        let least = String(format: "%.3f", (floor.fraction * 1000).rounded(.up) / 1000)
        let roundRank = options.quantization?.dtype == .int4 ? multiple > 2 : multiple > 1  // i4 alone takes a multiple of 2
        if floor.excluded.isEmpty {
            return String(format: "--target-ratio %g cannot be reached: even with every hidden layer at rank 1%@ "
                          + "the model keeps %.3f of the hidden layers' kernel parameters; give at least %@",
                          ratio, rounding, floor.fraction, least) + (roundRank ? " or a smaller --round-rank" : "")
        }
        return String(format: "--target-ratio %g cannot be reached: the hidden layers excluded by --exclude (%@) "
                      + "stay dense, so even with every other hidden layer at rank 1%@ the model keeps %.3f of the "
                      + "hidden layers' kernel parameters; give at least %@ or exclude fewer layers",
                      ratio, floor.excluded.joined(separator: ", "), rounding, floor.fraction, least)
            + (roundRank ? " (or a smaller --round-rank)" : "")
    }

    /// Rank search for an accuracy or size budget: calibration and validation from the training
    /// split, every dense layer's spectrum computed once, candidates scored on validation (by
    /// `evaluator`, else paired accuracy), and the result verified on the test split.
    public static func search(_ model: Model, request: ConversionRequest,
                              evaluator: (any CandidateEvaluator)? = nil) throws -> PipelineResult {
        guard let policyName = request.target.searchPolicyName else { return try run(model, request: request) }
        var options = request.options
        // A search with no layer to search (every one excluded, or none in the model) is refused from the shapes, before
        // any data is read (lrm convert says it in its own words, naming its input and the options, before this).
        if let refusal = nothingToSearch(model, target: request.target, options: options) { throw PipelineError(.badRequest, refusal) }
        // The fraction is of every hidden layer's kernel parameters as the file stores them, the excluded ones counted
        // dense and each rank rounded up to the rank multiple: a target below what every searched layer at rank 1 keeps
        // cannot be met, whatever the search does. Said from the shapes, before any data is read (lrm convert says it
        // before it reads its data, naming its input).
        if let refusal = unreachableRatio(model, target: request.target, options: options) { throw PipelineError(.badRequest, refusal) }
        let data = try request.data.resolved(for: model)
        let task = data.task
        if task == .regression, case .accuracyDrop = request.target {
            throw PipelineError(.badRequest, "a regression model has no accuracy: budget its RMSE increase with --target-metric-drop (percent)")
        }
        // Only a multi-class task's candidates are judged by an estimate plan: refuse any other estimate before calibrating.
        let plansEstimate = task == .multiclass && evaluator == nil
        if !plansEstimate && request.estimate != .auto && request.estimate != .heldOut {
            throw PipelineError(.badRequest, task == .multiclass
                                ? "--estimate \(request.estimate.rawValue) is not used by a search given its own candidate evaluator"
                                : "--estimate \(request.estimate.rawValue) is for multi-class classifiers; this model's task is \(task.rawValue), judged on the validation records as they are")
        }
        if plansEstimate && request.estimate == .shifted && data.ownData != nil {
            throw PipelineError(.badRequest, EstimateChoice.shiftedOwnDataRefusal)
        }
        let (calibrationSet, validationSet) = try data.trainingSubsets()
        if request.wantsCalibration { options.calibration = try data.calibrate(model, on: calibrationSet, progress: request.progress) }
        request.progress?(ProgressEvent(phase: "spectra", done: 0, message: "singular values of every searched hidden dense layer (\(options.metric.name))"))
        // A rank search leaves the output layer as it is: its spectrum is not computed.
        var spectra = try searchSpectra(model, options: options, output: false, progress: request.progress)
        // Accuracy budgets weigh the convolutions too (each only where it pays); a ratio target is about the dense layers.
        var convolutionForms: [String: ConvFactorizationForm] = [:]
        if request.target.weighsConvolutions {
            let convolutions = try searchConvolutionSpectra(model, options: options)
            spectra.merge(convolutions.spectra) { dense, _ in dense }
            convolutionForms = convolutions.forms
        }
        let layout = data.layout(for: model)
        // Which samples judge candidates (classification only): the validation records, shifted when they look
        // seen in training, or (opt-in) the first half of the test split.
        let plan = plansEstimate
            ? try EstimatePlan.make(request.estimate, model: model, data: data, calibration: calibrationSet, validation: validationSet) : nil
        // A budgeted search selects on part of the validation records and confirms its choice on the rest.
        let budget: Double? = switch request.target {
        case .accuracyDrop(let drop), .metricDrop(let drop): drop / 100
        default: nil
        }
        let split = try ValidationSplit.make(given: evaluator, task: task, reference: model, validation: validationSet, samples: plan?.samples,
                                             layout: layout, threshold: data.ownSplits?.threshold ?? 0.5,
                                             fraction: budget == nil ? 0 : request.confirmFraction, seed: data.seed)
        let scorer = split.selection
        let baseline = scorer.baselineAccuracy
        let parameter: Double
        switch request.target {
        case .accuracyDrop(let drop), .metricDrop(let drop): parameter = drop
        case .ratio(let ratio): parameter = ratio
        case .policy, .size, .minimizeBytes: return try run(model, request: request)
        }
        let confidence = request.confidence
        let progress = request.progress
        var candidates = 0
        var search = RankSearch(model: model, spectra: spectra, options: options, policyName: policyName, policyParameter: parameter,
                                convolutionForms: convolutionForms,
                                countsConvolutions: request.target.weighsConvolutions && options.convolutions != .none) {
            let score = try scorer.score($0)
            candidates += 1
            progress?(ProgressEvent(phase: "search", done: candidates,
                                    message: score.overflowed
                                        ? String(format: "candidate outputs NaN or infinite values (it overflows): misses the budget (original %.4f)", baseline)
                                        : String(format: "candidate validation score %.4f (original %.4f)", score.accuracy, baseline)))
            return score
        }
        search.confidence = confidence
        // Candidates are refitted before they are judged, integer factors rounded in the refit's pass as a size search's
        // and a data-aware policy conversion's are (`--no-refit`: rounded on the original's calibration statistics).
        // Not the searched layers already factorized (a `.lrm` input; ``SearchOutcome/storedFactorLayers``): the refit records an
        // error against the original kernel, which such a layer no longer has. The layers searched from a kernel are refitted to
        // the searched model's layer outputs (the model the budget is measured against), on the inputs the layers before give.
        let storedFactors = spectra.values.contains { $0.storedRank != nil }
        if !storedFactors || search.hiddenLayers.contains(where: { spectra[$0]?.storedRank == nil }) {
            search.refitter = try request.refit.map {
                try data.refitter(for: model, calibration: calibrationSet, options: $0, targetCacheBytes: Refitter.searchTargetCacheBytes)
            }
        }
        let found: RankSearchResult
        if case .accuracyDrop(let drop) = request.target {
            found = try search.targetAccuracy(baseline: baseline, maxDrop: drop / 100)
        } else if case .metricDrop(let drop) = request.target {
            found = try search.targetAccuracy(baseline: baseline, maxDrop: drop / 100)
        } else {
            found = try search.targetRatio(parameter, baseline: baseline)
        }
        var best = found.best
        var confirmation: ConfirmationSummary?
        if let confirmer = split.confirmation, let budget {
            (best, confirmation) = try confirm(found, search: search, selection: scorer, confirmer: confirmer, maxDrop: budget,
                                               confidence: confidence, progress: progress)
        }
        var result = try search.buildWithDecisions(best.ranks)
        var tuning: (summary: FineTuneSummary, record: FineTuneRecord)?
        if let finetune = request.finetune {
            let stage = try FineTuneStage(teacher: model, options: finetune, data: data, progress: request.finetuneProgress)
            let confirming = split.confirmation.flatMap { confirmer in budget.map { (confirmer: confirmer, budget: $0) } }
            let refinement = try refineByFineTuning(search, chosen: best, stage: stage, scorer: scorer, baseline: baseline,
                                                    maxDrop: request.target.isAccuracyBudget ? budget : nil, confidence: confidence,
                                                    confirmation: confirming, progress: progress)
            if confirming != nil {
                confirmation?.tests += refinement.tests
                confirmation?.fineTuneRejected = refinement.chosen == nil
            }
            if let chosen = refinement.chosen {
                (result, best) = (chosen.result, chosen.assignment)
                tuning = (chosen.summary(tried: refinement.tried), chosen.record)
            }
        }
        var provenance = ConversionProvenance(policy: policyName, parameter: parameter,
                                              factorDType: options.quantization?.dtype ?? options.factorDType, seed: nil,
                                              metric: options.metric, calibration: options.calibration?.source, writer: request.writer)
        provenance.groupSize = options.quantization.map { $0.groupSize ?? 0 }
        provenance.zeroPoints = options.quantization?.zeroPoints == true
        provenance.roundedWithCalibration = options.quantization?.useCalibration == true && options.calibration != nil
        provenance.refit = search.refitter?.record
        provenance.finetune = tuning?.record
        provenance.record(in: &result.model.metadata)
        // The reported numbers: the test split, never seen by the search.
        let judge = split.confirmation ?? scorer  // a split exists only for a budget, and then the confirmation ran
        var outcome = SearchOutcome(metric: options.metric.name, candidates: found.evaluations.count,
                                    validationSamples: judge.sampleCount, validationPlacement: data.placement,
                                    validationBaseline: judge.baselineAccuracy, validationAccuracy: best.validationAccuracy,
                                    standardError: best.standardError, confidence: confidence,
                                    hiddenFraction: best.hiddenFraction, threshold: found.threshold,
                                    testSamples: 0, testReference: 0, testAccuracy: 0, testImagesChange: 0, testReferenceF1: 0, testF1: 0,
                                    budget: {
                                        switch request.target {
                                        case .accuracyDrop(let drop), .metricDrop(let drop): return drop
                                        default: return nil
                                        }
                                    }())
        if let plan {
            (outcome.estimate, outcome.exposure, outcome.estimateNote) = (plan.estimate, plan.exposure, plan.note)
        }
        outcome.finetune = tuning?.summary
        outcome.confirmation = confirmation
        outcome.storedFactorLayers = model.layers.map(\.name).filter { spectra[$0]?.storedRank != nil }
        outcome.storedFactorRefit = search.refitter != nil
        outcome.keptAsStored = !outcome.storedFactorLayers.isEmpty && SearchOutcome.sameWeights(result.model, model)
        outcome.overflowingCandidates = found.evaluations.filter { $0.validationAccuracy == ValidationScore.overflowing.accuracy }.count
        outcome.record(in: &result.model.metadata)
        request.progress?(ProgressEvent(phase: "evaluation", done: 0, message: "the result on the test split"))
        try outcome.measureTest(result.model, original: model, data: data, layout: layout, range: plan?.testRange, progress: request.progress)
        return PipelineResult(model: result.model, decisions: result.decisions, provenance: provenance, search: outcome)
    }

    /// Most the hidden fraction may shrink from one rung of the rank search's confirmation ladder to the next.
    static let rankLadderStep = 1.2

    /// A rank search's accepted candidates, in order, with rungs added where consecutive ones differ by more than
    /// ``rankLadderStep`` in hidden fraction (``ladder(_:assignment:search:make:)`` over the assignments themselves).
    static func rankLadder(_ path: [RankAssignment], search: RankSearch,
                           accepted: ([String: Int]) throws -> RankAssignment?) rethrows -> [RankAssignment] {
        try ladder(path, assignment: { $0 }, search: search, make: accepted)
    }

    /// `kept` (each smaller than the one before in hidden fraction) with rungs where neighbours differ by more than
    /// ``rankLadderStep``: n evenly spaced candidates between them, n + 1 the steps of that size the gap holds (at
    /// most 8), each layer's rank interpolated on a log scale (``interpolatedRanks(_:_:_:search:)``; a layer one of
    /// them keeps dense counts at its full rank), made by `make` from its ranks only when they fall strictly between
    /// the two (nil: it did not meet the budget on the selection records). The ladder is what the confirmation
    /// re-judges in order (``ConfirmationLadder``). The rank search's candidates (``rankLadder(_:search:accepted:)``)
    /// and the fine-tuned candidates of `--finetune`'s refinement both go through it.
    static func ladder<T>(_ kept: [T], assignment: (T) -> RankAssignment, search: RankSearch,
                          make: ([String: Int]) throws -> T?) rethrows -> [T] {
        var ladder: [T] = []
        try walkLadder(kept, assignment: assignment, search: search, make: make) { ladder.append($0); return true }
        return ladder
    }

    /// ``ladder(_:assignment:search:make:)`` handed to `visit` one candidate at a time until it returns false, each
    /// gap's rungs made only when the walk reaches it (``ConfirmationLadder/walk(_:step:size:sameRanks:fractions:rung:visit:)``).
    static func walkLadder<T>(_ kept: [T], assignment: (T) -> RankAssignment, search: RankSearch,
                              make: ([String: Int]) throws -> T?, visit: (T) throws -> Bool) rethrows {
        try ConfirmationLadder.walk(kept, step: rankLadderStep, size: { assignment($0).hiddenFraction },
                                    sameRanks: { assignment($0).ranks == assignment($1).ranks },
                                    fractions: { larger, smaller in
                                        let gap = assignment(larger).hiddenFraction / assignment(smaller).hiddenFraction
                                        let steps = min(9, Int((log(gap) / log(rankLadderStep)).rounded(.up)))
                                        return (1..<steps).map { Double($0) / Double(steps) }
                                    }, rung: { larger, smaller, fraction, fits in
            let ranks = interpolatedRanks(assignment(larger).ranks, assignment(smaller).ranks, fraction, search: search)
            guard fits(search.hiddenFraction(ranks)) else { return nil }
            return try make(ranks)
        }, visit: visit)
    }

    /// Ranks `fraction` of the way from `a` to `b` on a log scale, layer by layer; a layer without a rank in one of
    /// them counts at its full rank there, and a convolution whose rank would not pay stays as it is.
    static func interpolatedRanks(_ a: [String: Int], _ b: [String: Int], _ fraction: Double, search: RankSearch) -> [String: Int] {
        var ranks: [String: Int] = [:]
        for name in Set(a.keys).union(b.keys).sorted() {
            guard let s = search.spectra[name] else { continue }
            let cost = FactorizationCost(inFeatures: s.inFeatures, outFeatures: s.outFeatures)
            // An already factorized layer without a rank keeps its stored one.
            let start = s.storedRank ?? cost.fullRank
            let from = Double(max(1, a[name] ?? start)), to = Double(max(1, b[name] ?? start))
            let rank = max(1, Int(exp(log(from) + (log(to) - log(from)) * fraction).rounded()))
            if search.convolutionForms[name] != nil && !search.convolutionPays(name, rank: rank) { continue }
            ranks[name] = rank
        }
        return ranks
    }

    /// The smallest candidate on `found`'s path that keeps the budget on the confirmation records (the original,
    /// ranks [:], when none does), with its confirmation score, and what the confirmation did.
    static func confirm(_ found: RankSearchResult, search: RankSearch, selection: any CandidateEvaluator, confirmer: any CandidateEvaluator,
                        maxDrop: Double, confidence: Double, progress: ProgressHandler?) throws -> (RankAssignment, ConfirmationSummary) {
        let path = try rankLadder(found.path, search: search) { ranks in
            let score = try selection.score(try search.build(ranks))
            let candidate = RankAssignment(ranks: ranks, hiddenFraction: search.hiddenFraction(ranks), validationAccuracy: score.accuracy,
                                           standardError: score.standardError)
            return Confirmation.meets(score, baseline: selection.baselineAccuracy, maxDrop: maxDrop, confidence: confidence) ? candidate : nil
        }
        let (index, score, tests) = try Confirmation.judge(count: path.count, confirmer: confirmer, maxDrop: maxDrop, confidence: confidence,
                                                           model: { try search.build(path[$0].ranks) }) { i, score, passes in
            progress?(ProgressEvent(phase: "confirm", done: i + 1,
                                    message: score.overflowed
                                        ? String(format: "hidden fraction %.3f: outputs NaN or infinite values (it overflows), over budget", path[i].hiddenFraction)
                                        : String(format: "hidden fraction %.3f: confirmation score %.4f (original %.4f)%@", path[i].hiddenFraction,
                                                 score.accuracy, confirmer.baselineAccuracy, passes ? "" : ", over budget")))
        }
        var chosen = RankAssignment(ranks: [:], hiddenFraction: search.hiddenFraction([:]), validationAccuracy: confirmer.baselineAccuracy,
                                    standardError: 0)
        if let score {
            chosen = path[index]
            chosen.validationAccuracy = score.accuracy
            chosen.standardError = score.standardError
        }
        let summary = ConfirmationSummary(selectionSamples: selection.sampleCount, confirmationSamples: confirmer.sampleCount,
                                          pathLength: path.count, tests: tests, stepsBack: path.count - 1 - index,
                                          selectedHiddenFraction: found.best.hiddenFraction, selectionAccuracy: found.best.validationAccuracy,
                                          selectionBaseline: selection.baselineAccuracy, selectionStandardError: found.best.standardError,
                                          keptOriginal: index < 0)
        return (chosen, summary)
    }
}
