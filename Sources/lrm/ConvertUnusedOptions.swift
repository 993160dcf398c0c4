import ArgumentParser
import LRMCompress
import LRMFormat
import LRMLinearAlgebra
import LRMPipeline

/// The defaults of convert's options that are refused where they do not apply: each such option is an optional
/// (`givenX`, nil when not given) so that giving it at its default is refused as any other value is, and the
/// conversion reads it through a property of the option's name that supplies the default here.
enum ConvertDefaults {
    static let policy = PolicyArgument.default
    static let factorDtype = DTypeName.f32
    static let scaleDtype = ScaleDTypeName.f16
    static let quantScheme = QuantSchemeName.symmetric
    static let seed = ConversionOptions().seed
    static let precision = ConversionOptions().precision
    static let conv = ConversionOptions().convolutions
    static let confidence = 1.0
    static let confirmFraction = ConversionRequest().confirmFraction
    static let ridge = 1e-6
    static let alpha = 0.5
    static let minimize = MinimizeName.parameters
    static let estimate = EstimateChoice.auto
    static let finetuneLr = 5e-4
    static let finetuneSeed: UInt64 = 1
    static let finetuneSchedule = LearningRateSchedule.cosine
    static let finetuneShift = 0
}

extension LRM.Convert {
    var policy: PolicyArgument { givenPolicy ?? ConvertDefaults.policy }
    var factorDtype: DTypeName { givenFactorDtype ?? ConvertDefaults.factorDtype }
    var scaleDtype: ScaleDTypeName { givenScaleDtype ?? ConvertDefaults.scaleDtype }
    var quantScheme: QuantSchemeName { givenQuantScheme ?? ConvertDefaults.quantScheme }
    var seed: UInt64 { givenSeed ?? ConvertDefaults.seed }
    var precision: Precision { givenPrecision ?? ConvertDefaults.precision }
    var conv: ConversionOptions.ConvolutionForm { givenConv ?? ConvertDefaults.conv }
    var confidence: Double { givenConfidence ?? ConvertDefaults.confidence }
    var confirmFraction: Double { givenConfirmFraction ?? ConvertDefaults.confirmFraction }
    var ridge: Double { givenRidge ?? ConvertDefaults.ridge }
    var alpha: Double { givenAlpha ?? ConvertDefaults.alpha }
    var minimize: MinimizeName { givenMinimize ?? ConvertDefaults.minimize }
    var estimate: EstimateChoice { givenEstimate ?? ConvertDefaults.estimate }
    var finetuneLr: Double { givenFinetuneLr ?? ConvertDefaults.finetuneLr }
    var finetuneSeed: UInt64 { givenFinetuneSeed ?? ConvertDefaults.finetuneSeed }
    var finetuneSchedule: LearningRateSchedule { givenFinetuneSchedule ?? ConvertDefaults.finetuneSchedule }
    var finetuneShift: Int { givenFinetuneShift ?? ConvertDefaults.finetuneShift }

    /// Refuses (exit 64) options given (at any value, their default included) that this conversion would not read:
    /// each belongs to a kind of conversion or storage that is not the one asked for, so it would change nothing
    /// without a word (a mistyped target, a forgotten --policy). Their ranges are checked before
    /// (``ConvertOptionRanges``).
    func refuseUnusedOptions() throws {
        let budgeted = targetAccuracyDrop != nil || targetMetricDrop != nil
        if givenConfidence != nil && !budgeted {
            throw ValidationError("--confidence bounds a search's accuracy or metric budget (--target-accuracy-drop, --target-metric-drop); this conversion has none")
        }
        if givenConfirmFraction != nil && !budgeted {
            throw ValidationError("--confirm-fraction splits the validation records of a search with an accuracy or metric budget (--target-accuracy-drop, --target-metric-drop); this conversion has none")
        }
        if givenRidge != nil && metricName != .whitened {
            throw ValidationError("--ridge applies to the whitened metric (--policy whitened:τ, --metric whitened, or a search's default); this conversion's metric is \(metricName.rawValue)")
        }
        if givenAlpha != nil && metricName != .activationScaled {
            throw ValidationError("--alpha applies to the activation-scaled metric (--policy activation-scaled:τ or --metric activation-scaled); this conversion's metric is \(metricName.rawValue)")
        }
        // Training records are read by a search, fine-tuning, or calibration (a data-aware metric, or integer codes rounded on the data).
        let readsTraining = dataOptions.hasData && (searches || finetune != nil || metricName != .plain || !factorDtype.dtype.isFloatingPoint)
        let sampling = [("--calibration-samples", dataOptions.calibrationSamples != nil), ("--validation-samples", dataOptions.validationSamples != nil),
                        ("--validation", dataOptions.givenValidation != nil), ("--data-seed", dataOptions.givenDataSeed != nil)]
        if !readsTraining, let flag = sampling.first(where: \.1)?.0 {
            throw ValidationError("\(flag) chooses the training records of a calibration, a search or fine-tuning; this conversion reads none"
                                  + (dataOptions.hasData ? " (its data are only tested on)" : " (it has no data)"))
        }
        if !dataOptions.hasData, let flag = [("--data", dataOptions.dataSet.data != nil), ("--data-layout", dataOptions.dataSet.dataLayout != nil)].first(where: \.1)?.0 {
            throw ValidationError("\(flag) goes with --dataset (the bundled data sets)")
        }
        // With f32 storage --all-kernels changes nothing but is accepted: a script looping over --factor-dtype
        // (tools/quant_curves.py) gives it to every dtype, f32 included.
        if allKernels && searches {
            throw ValidationError("--all-kernels applies to a policy conversion; " + (searchesBytes
                ? "--target-size and --minimize bytes choose every layer's storage, dense ones included"
                : "a search keeps the layers it leaves dense as they are"))
        }
        if finetune != nil && searchesBytes {
            throw ValidationError("--finetune applies to a policy conversion or a rank search (--target-accuracy-drop, --target-metric-drop, --target-ratio); --target-size and --minimize bytes do not fine-tune")
        }
        // A search's spectra are every layer's whole spectrum (LayerSpectrum.usesRandomizedSVD is false for them).
        if svd == .randomized && searches {
            throw ValidationError("--svd randomized sketches a layer's leading singular values for a rank policy; a search needs every layer's whole spectrum "
                                  + "and always computes it exactly (give --svd auto, exact or gram)")
        }
        if givenSeed != nil && (searches || svd == .exact || svd == .gram) {
            throw ValidationError("--seed seeds the randomized SVD (--svd randomized, or auto on large layers) of a rank policy; "
                                  + (searches ? "a search needs every layer's whole spectrum and always computes it exactly"
                                              : "--svd \(svd.rawValue) never sketches"))
        }
        if givenPrecision != nil && svd == .gram {
            throw ValidationError("--precision sets the LAPACK precision of the exact SVD (gesdd); --svd gram never runs it "
                                  + "(the Gram matrix's eigendecomposition is always in double)")
        }
        // The refit follows a truncation in a data-aware metric (ConversionPipeline.run's policy path) and every search's
        // candidates (integer codes rounded in its pass).
        if noRefit && !searches && metricName == .plain {
            throw ValidationError("--no-refit turns off the least-squares refit after a truncation in a data-aware metric (whitened, activation-scaled) "
                                  + "or in a search; a policy conversion in the plain metric never refits")
        }
        // Only a policy conversion and a rank search with an accuracy or metric budget factorize convolutions.
        if givenConv != nil && (targetRatio != nil || searchesBytes) {
            throw ValidationError("--conv chooses how a policy conversion or a search with an accuracy or metric budget factorizes the convolutions; "
                                  + (searchesBytes ? "--target-size and --minimize bytes keep" : "--target-ratio keeps") + " them as they are")
        }
        if givenScaleDtype != nil && factorDtype.dtype.isFloatingPoint && !searchesBytes {
            throw ValidationError("--scale-dtype applies to --factor-dtype i8 or i4 (or a search with --target-size or --minimize bytes)")
        }
    }

    /// `--conv` chooses how Conv2D (and Conv1D) kernels are factorized: on a model with none (a depthwise or transposed
    /// convolution is never factorized) it would change nothing. Said once the model is read, before anything is factorized.
    func refuseConvWithoutConvolutions(_ model: MappedModel) throws {
        guard let givenConv, !hasConvolutions(model) else { return }
        throw CommandFailure(status: .usage, message: "\(input): --conv \(givenConv.rawValue) chooses how Conv2D and Conv1D kernels are factorized; "
                             + "the model has none (depthwise and transposed convolutions are never factorized)")
    }

    /// `--svd randomized` sketches only kernels truncated in the plain metric by a policy that needs not every σ
    /// (LayerSpectrum.usesRandomizedSVD): in a data-aware metric, or for entropy/erank (the main policy's or a
    /// `--layer` policy's), the layers get the exact SVD, and the warning says so (and that `--seed` is not used for
    /// them, when given). Convolutions in the spatial form (truncated in the plain metric) and the layers of other
    /// policies may still be sketched: a warning, not a refusal.
    func warnAboutUnusedSketch() {
        guard svd == .randomized else { return }
        let seedNote = givenSeed != nil ? ", and --seed is not used for them" : ""
        if metricName != .plain {
            printWarning("--svd randomized is not used for the layers truncated in the \(metricName.rawValue) metric (a randomized sketch is taken "
                         + "only of a kernel in the plain metric): they get the exact SVD (gesdd)\(seedNote)")
            return
        }
        if policy.policy.needsFullSpectrum {
            printWarning("--svd randomized is not used by --policy \(escaped(policy.text)), which needs every singular value: "
                         + "the layers it applies to get the exact SVD (gesdd)\(seedNote)")
        }
        for layer in layerPolicies where layer.override.policy?.needsFullSpectrum == true {
            printWarning("--svd randomized is not used by --layer \(escaped(layer.text)), whose policy needs every singular value: "
                         + "the layers it applies to get the exact SVD (gesdd)\(seedNote)")
        }
    }

    /// `--svd auto` sketches only large layers (LayerSpectrum.usesRandomizedSVD): a `--seed` given to a policy
    /// conversion whose layers all got an exact SVD changed nothing; say so. (A search and `--svd exact` or `gram`
    /// refuse it up front; `--svd randomized` says so before converting, in ``warnAboutUnusedSketch()``.)
    /// A convolution `--conv channel` or `spatial` asked to factorize, kept whole because that form at its policy's rank
    /// would cost more multiply-accumulates per sample than the layer (`auto` would have chosen among the forms that
    /// save both, so it is not warned about): said once per layer, with the counts.
    func warnAboutCostlierConvolutions(_ decisions: [LayerDecision]) {
        guard conv == .channel || conv == .spatial else { return }
        for d in decisions {
            guard let macs = d.costlierMultiplyAccumulates else { continue }
            printWarning("\(input): --conv \(conv.rawValue) kept \(escaped(d.name)) as a convolution: its factors would cost "
                         + "\(Format.count(macs.factorized)) multiply-accumulates per sample, more than its \(Format.count(macs.whole)) "
                         + "(--conv auto factorizes a convolution only in a form that saves both parameters and multiply-accumulates)")
        }
    }

    func warnAboutUnusedSeed(_ decisions: [LayerDecision]) {
        guard givenSeed != nil, svd == .auto, !decisions.contains(where: { $0.method?.hasSuffix("randomized") == true }) else { return }
        printWarning("--seed is not used: --svd auto sketched no layer of \(input) (it sketches only a layer of at least "
                     + "\(options().randomizedThreshold) inputs and outputs, truncated in the plain metric by a policy that "
                     + "needs not every singular value); every layer got an exact SVD")
    }
}
