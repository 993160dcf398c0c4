/// A typed metadata value. The raw type codes are in `spec/FORMAT.md` ("Metadata").
public enum MetadataValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case strings([String])
    case ints([Int64])
    case floats([Double])

    /// Type code stored in the file.
    var typeCode: UInt8 {
        switch self {
        case .string: 1
        case .int: 2
        case .float: 3
        case .bool: 4
        case .strings: 5
        case .ints: 6
        case .floats: 7
        }
    }

    /// The spec's name of the type: string, int, float, bool, string[], int[], float[].
    public var typeName: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .float: "float"
        case .bool: "bool"
        case .strings: "string[]"
        case .ints: "int[]"
        case .floats: "float[]"
        }
    }

    public var description: String {
        switch self {
        case .string(let value): value
        case .int(let value): String(value)
        case .float(let value): String(value)
        case .bool(let value): String(value)
        case .strings(let values): "[" + values.joined(separator: ", ") + "]"
        case .ints(let values): "[" + values.map(String.init).joined(separator: ", ") + "]"
        case .floats(let values): "[" + values.map { String($0) }.joined(separator: ", ") + "]"
        }
    }
}

/// The standard metadata keys, defined in one place. Keys are lowercase ASCII letters, digits,
/// `_` and `.`; a standard key must hold its stated type. Files may carry other keys; readers keep
/// them. Free-form text belongs in the user metadata instead.
public enum MetadataKey {
    /// string: the software that wrote the file, e.g. "lrm 0.1.0".
    public static let writer = "lrm.writer"
    /// string: base name of the model file this one was made from.
    public static let sourceFile = "source.file"
    /// string: what the source was: keras-h5, keras-weights-h5, keras-v3-weights, keras-zip, lrm, random.
    public static let sourceFormat = "source.format"
    /// string: sha256 of the source file, lowercase hex.
    public static let sourceSHA256 = "source.sha256"
    /// string: version of Keras that wrote the source, when it says.
    public static let sourceKerasVersion = "source.keras_version"
    /// string[]: `Class:layer` for each layer imported from a Keras class its kind does not name: the 1-D layers
    /// (`Conv1D:conv_a`, `MaxPooling1D:pool`), which run as 2-D kinds over a height of 1.
    public static let sourceKerasClasses = "source.keras_classes"
    /// int[]: the positions (from 0, batch axis not counted) of the input dimensions the source left open (Keras
    /// `Input((None, 3))`: `[0]`), which `--input-shape` gave for this file; the export writes them open again.
    public static let sourceOpenInputDims = "source.open_input_dims"
    /// string[]: `Class:layer` for each layer of the source that was dropped at import as the identity at inference
    /// (Keras's random augmentation layers, GaussianNoise, …; `RandomFlip:flip`), so that inspect and export can say so.
    public static let sourceDroppedLayers = "source.dropped_layers"
    /// string: the rank policy used for the whole model, e.g. "energy".
    public static let conversionPolicy = "conversion.policy"
    /// float: its parameter (τ, ε, k or r).
    public static let conversionParameter = "conversion.parameter"
    /// string: storage dtype of factor tensors.
    public static let conversionFactorDType = "conversion.factor_dtype"
    /// Rows per scale of quantized factors (format 1.2); 0: one scale per column.
    public static let conversionGroupSize = "conversion.group_size"
    /// bool (format 1.3): the integer codes were rounded with zero points (asymmetric); absent: symmetric.
    public static let conversionZeroPoints = "conversion.zero_points"
    /// int: random seed used (randomized SVD, calibration sampling).
    public static let conversionSeed = "conversion.seed"

    /// string: truncation metric: plain, whitened or activation-scaled.
    public static let conversionMetric = "conversion.metric"
    /// string: the conversions a re-converted file went through before its last, oldest first, `; ` between them.
    public static let conversionHistory = "conversion.history"
    /// string: data set of the calibration inputs (data-aware metrics).
    public static let calibrationDataset = "calibration.dataset"
    /// string: its split (always a training split).
    public static let calibrationSplit = "calibration.split"
    /// int: number of calibration samples.
    public static let calibrationCount = "calibration.count"
    /// int: seed that chose them.
    public static let calibrationSeed = "calibration.seed"
    /// float: ridge λ relative to the mean diagonal of XᵀX (whitened metric).
    public static let calibrationRidge = "calibration.ridge"
    /// float: exponent α of the activation scales (activation-scaled metric).
    public static let calibrationAlpha = "calibration.alpha"

    /// bool: the factors were refitted by least squares after truncation (closed-form local update).
    public static let conversionRefit = "conversion.refit"
    /// float: ridge of the refit's U·Σ step, relative to the mean diagonal of XᵀX.
    public static let refitRidge = "refit.ridge"
    /// int: calibration samples the refit used (the same training records as `calibration.*`).
    public static let refitCount = "refit.count"
    /// int: epochs of distillation fine-tuning actually run.
    public static let finetuneEpochs = "finetune.epochs"
    /// int: seed of the fine-tuning (initial order of minibatches).
    public static let finetuneSeed = "finetune.seed"
    /// string: data set and split fine-tuned on, e.g. "mnist train".
    public static let finetuneData = "finetune.data"
    /// int: training samples fine-tuned on.
    public static let finetuneSamples = "finetune.samples"
    /// string: the loss, e.g. "kl(T=4)·T² + 0.5·cross-entropy".
    public static let finetuneLoss = "finetune.loss"
    /// float: Adam's learning rate.
    public static let finetuneLearningRate = "finetune.learning_rate"
    /// string: how the learning rate changed over the steps, `constant` or `cosine`.
    public static let finetuneSchedule = "finetune.schedule"
    /// string: how the training images were varied in each minibatch, e.g. "shift ≤ 2 px, left-right flip"
    /// (absent: not at all).
    public static let finetuneAugmentation = "finetune.augmentation"
    /// string: how the weights stored as integer codes (`i8`/`i4`) were trained: `straight-through` (every step ran the
    /// network as its codes store it and moved the unrounded weights by that network's gradients). Absent: no weight
    /// fine-tuned is stored as codes.
    public static let finetuneRounding = "finetune.rounding"

    /// string: what a search judged candidates on: `held-out`, `shifted` or `test-half`.
    public static let searchEstimate = "search.estimate"
    /// int: validation records the search selected on.
    public static let searchSelectionSamples = "search.selection_samples"
    /// int: validation records, apart from those, that re-judged its choice (0: none did).
    public static let searchConfirmationSamples = "search.confirmation_samples"
    /// float: standard errors added to a candidate's drop before comparing it with the budget.
    public static let searchConfidence = "search.confidence"
    /// float: the original's and the result's score (accuracy 0–1 for classification) on the records that judged the result last.
    public static let searchValidationScoreOriginal = "search.validation_score_original"
    public static let searchValidationScore = "search.validation_score"
    /// float: standard error of the drop between them.
    public static let searchValidationStandardError = "search.validation_standard_error"

    /// string[]: for each layer whose record is marked `+from-stored(WHAT)`, the SHA-256 of the kernel it was factorized
    /// from, as `HEX NAME` (64 lowercase hex digits, a space, the layer's name); ``Factorization/fromStoredDigests(in:)``.
    public static let conversionFromStoredSHA256 = "conversion.from_stored_sha256"
    /// string[]: for each layer whose record is marked `+from-stored(i8)` or `(i4)`, how the kernel it was factorized from
    /// was stored as codes, as `GROUP SCALE SCHEME NAME` (rows per scale, `f16` or `f32`, `symmetric` or `asymmetric`, the
    /// layer's name); ``Factorization/fromStoredLayouts(in:)``.
    public static let conversionFromStoredRounding = "conversion.from_stored_rounding"

    /// Type each standard key must have.
    public static let standardTypes: [String: String] = [
        writer: "string", sourceFile: "string", sourceFormat: "string", sourceSHA256: "string",
        sourceKerasVersion: "string", sourceKerasClasses: "string[]", sourceOpenInputDims: "int[]", sourceDroppedLayers: "string[]", conversionPolicy: "string", conversionParameter: "float",
        conversionFactorDType: "string", conversionGroupSize: "int", conversionZeroPoints: "bool", conversionSeed: "int", conversionMetric: "string",
        conversionHistory: "string", conversionFromStoredSHA256: "string[]", conversionFromStoredRounding: "string[]",
        calibrationDataset: "string", calibrationSplit: "string", calibrationCount: "int", calibrationSeed: "int",
        calibrationRidge: "float", calibrationAlpha: "float", conversionRefit: "bool", refitRidge: "float", refitCount: "int",
        finetuneEpochs: "int", finetuneSeed: "int", finetuneData: "string", finetuneSamples: "int", finetuneLoss: "string",
        finetuneLearningRate: "float", finetuneSchedule: "string", finetuneAugmentation: "string",
        finetuneRounding: "string",
        searchEstimate: "string", searchSelectionSamples: "int", searchConfirmationSamples: "int", searchConfidence: "float",
        searchValidationScoreOriginal: "float", searchValidationScore: "float", searchValidationStandardError: "float",
    ]

    /// Whether `key` is a well-formed key: 1 to 128 bytes of [a-z0-9_.].
    public static func isWellFormed(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard (1...128).contains(utf8.count) else { return false }
        return utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F || $0 == 0x2E }
    }
}
