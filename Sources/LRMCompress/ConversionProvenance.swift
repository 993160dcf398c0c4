public import LRMFormat

/// What a converted file records about how it was made: every metadata key a conversion writes is
/// written here and nowhere else (policy, parameter, factor dtype, seed, metric, calibration source,
/// ridge or α, the refit and the fine-tuning, and the writer).
public struct ConversionProvenance: Sendable, Equatable {
    /// The policy's name (`energy`, …, or `target-accuracy-drop` / `target-ratio` for a search).
    public var policy: String
    public var parameter: Double
    public var factorDType: DType
    /// Seed of the randomized SVD; nil leaves `conversion.seed` unwritten.
    public var seed: UInt64?
    public var metric: ConversionOptions.MetricChoice
    /// Where the calibration data came from (data-aware metrics only).
    public var calibration: CalibrationSource?
    /// `lrm.writer`, e.g. "lrm 0.1.0"; nil leaves it as it is.
    public var writer: String?
    /// For quantized factors (format 1.2): the requested group size (0: one scale per column);
    /// nil leaves `conversion.group_size` unwritten.
    public var groupSize: Int?
    /// Whether integer codes were given zero points (format 1.3): writes `conversion.zero_points` when true.
    public var zeroPoints = false
    /// Whether the rounding used the calibration data (recorded as `calibration.*` even with the plain metric).
    public var roundedWithCalibration = false
    /// The least-squares refit after truncation, when one was done.
    public var refit: RefitRecord?
    /// The distillation fine-tuning, when one was done.
    public var finetune: FineTuneRecord?

    public init(policy: String, parameter: Double, factorDType: DType, seed: UInt64?, metric: ConversionOptions.MetricChoice,
                calibration: CalibrationSource?, writer: String? = nil) {
        self.policy = policy
        self.parameter = parameter
        self.factorDType = factorDType
        self.seed = seed
        self.metric = metric
        self.calibration = calibration
        self.writer = writer
    }

    /// The provenance of a conversion by `options`' policy.
    public init(options: ConversionOptions) {
        self.init(policy: options.policy.name, parameter: options.policy.parameter,
                  factorDType: options.quantization?.dtype ?? options.factorDType,
                  seed: options.seed, metric: options.metric, calibration: options.calibration?.source)
        groupSize = options.quantization.map { $0.groupSize ?? 0 }
        zeroPoints = options.quantization?.zeroPoints == true
        roundedWithCalibration = options.quantization?.useCalibration == true && options.calibration != nil
    }

    /// Before re-converting a converted file (one whose `metadata` has `conversion.policy`): the conversion that made
    /// it is appended to `conversion.history` (oldest first, `; ` between them, e.g. `energy 0.9 (plain, f32)`), and
    /// the keys that described only that conversion's result as a whole are removed: its search's `search.*` and its
    /// integer storage's `conversion.group_size` and `conversion.zero_points` (the new conversion writes its own).
    /// The calibration, refit and fine-tuning keys stay: the layers the new conversion keeps still come from them.
    public static func archivePrevious(in metadata: inout [String: MetadataValue]) {
        guard case .string(let policy)? = metadata[MetadataKey.conversionPolicy] else { return }
        var parameter = ""
        if case .float(let value)? = metadata[MetadataKey.conversionParameter], policy != "erank" {
            parameter = " " + (value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)")
        }
        var details: [String] = []
        if case .string(let metric)? = metadata[MetadataKey.conversionMetric] { details.append(metric) }
        if case .string(let dtype)? = metadata[MetadataKey.conversionFactorDType] { details.append(dtype) }
        if case .bool(true)? = metadata[MetadataKey.conversionRefit] { details.append("refit") }
        if metadata[MetadataKey.finetuneEpochs] != nil { details.append("fine-tuned") }
        let entry = policy + parameter + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
        if case .string(let history)? = metadata[MetadataKey.conversionHistory], !history.isEmpty {
            metadata[MetadataKey.conversionHistory] = .string(history + "; " + entry)
        } else {
            metadata[MetadataKey.conversionHistory] = .string(entry)
        }
        for key in Array(metadata.keys) where key.hasPrefix("search.") { metadata[key] = nil }
        metadata[MetadataKey.conversionGroupSize] = nil
        metadata[MetadataKey.conversionZeroPoints] = nil
    }

    /// Writes every key into `metadata`.
    public func record(in metadata: inout [String: MetadataValue]) {
        metadata[MetadataKey.conversionPolicy] = .string(policy)
        metadata[MetadataKey.conversionParameter] = .float(parameter)
        metadata[MetadataKey.conversionFactorDType] = .string(factorDType.name)
        if let seed { metadata[MetadataKey.conversionSeed] = .int(Int64(bitPattern: seed)) }
        if let writer { metadata[MetadataKey.writer] = .string(writer) }
        if let refit {
            metadata[MetadataKey.conversionRefit] = .bool(true)
            metadata[MetadataKey.refitRidge] = .float(refit.ridge)
            metadata[MetadataKey.refitCount] = .int(Int64(refit.count))
        }
        if let finetune {
            metadata[MetadataKey.finetuneEpochs] = .int(Int64(finetune.epochs))
            metadata[MetadataKey.finetuneSeed] = .int(Int64(bitPattern: finetune.seed))
            metadata[MetadataKey.finetuneData] = .string(finetune.data)
            metadata[MetadataKey.finetuneSamples] = .int(Int64(finetune.samples))
            metadata[MetadataKey.finetuneLoss] = .string(finetune.loss)
            metadata[MetadataKey.finetuneLearningRate] = .float(finetune.learningRate)
            metadata[MetadataKey.finetuneSchedule] = .string(finetune.schedule)
            // The optional keys are removed when absent, so that a fine-tuning before (a .lrm input's) does not speak for this one.
            metadata[MetadataKey.finetuneAugmentation] = finetune.augmentation.map { .string($0) }
            metadata[MetadataKey.finetuneRounding] = finetune.rounding.map { .string($0) }
        }
        metadata[MetadataKey.conversionMetric] = .string(metric.name)
        if let groupSize { metadata[MetadataKey.conversionGroupSize] = .int(Int64(groupSize)) }
        if zeroPoints && groupSize != nil { metadata[MetadataKey.conversionZeroPoints] = .bool(true) }
        guard metric != .plain || roundedWithCalibration, let calibration else { return }
        metadata[MetadataKey.calibrationDataset] = .string(calibration.dataset)
        metadata[MetadataKey.calibrationSplit] = .string(calibration.split)
        metadata[MetadataKey.calibrationCount] = .int(Int64(calibration.count))
        metadata[MetadataKey.calibrationSeed] = .int(Int64(bitPattern: calibration.seed))
        if case .whitened(let ridge) = metric { metadata[MetadataKey.calibrationRidge] = .float(ridge) }
        if case .activationScaled(let alpha) = metric { metadata[MetadataKey.calibrationAlpha] = .float(alpha) }
    }
}
