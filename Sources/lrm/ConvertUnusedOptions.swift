import ArgumentParser
import LRMCompress
import LRMFormat
import LRMPipeline

/// The defaults of the options ``LRM/Convert/refuseUnusedOptions()`` checks, declared once for both.
enum ConvertDefaults {
    static let confidence = 1.0
    static let confirmFraction = ConversionRequest().confirmFraction
    static let ridge = 1e-6
    static let alpha = 0.5
    static let scaleDtype = ScaleDTypeName.f16
    static let finetuneLr = 5e-4
    static let finetuneSeed: UInt64 = 1
    static let finetuneSchedule = LearningRateSchedule.cosine
}

extension LRM.Convert {
    /// Refuses (exit 64) options given with a value other than their default that this conversion would not read:
    /// each belongs to a kind of conversion or storage that is not the one asked for, so it would change nothing
    /// without a word (a mistyped target, a forgotten --policy). Their ranges are checked before
    /// (``ConvertOptionRanges``).
    func refuseUnusedOptions() throws {
        let budgeted = targetAccuracyDrop != nil || targetMetricDrop != nil
        let defaults = ConvertDefaults.self
        if confidence != defaults.confidence && !budgeted {
            throw ValidationError("--confidence bounds a search's accuracy or metric budget (--target-accuracy-drop, --target-metric-drop); this conversion has none")
        }
        if confirmFraction != defaults.confirmFraction && !budgeted {
            throw ValidationError("--confirm-fraction splits the validation records of a search with an accuracy or metric budget (--target-accuracy-drop, --target-metric-drop); this conversion has none")
        }
        if ridge != defaults.ridge && metricName != .whitened {
            throw ValidationError("--ridge applies to the whitened metric (--policy whitened:τ, --metric whitened, or a search's default); this conversion's metric is \(metricName.rawValue)")
        }
        if alpha != defaults.alpha && metricName != .activationScaled {
            throw ValidationError("--alpha applies to the activation-scaled metric (--policy activation-scaled:τ or --metric activation-scaled); this conversion's metric is \(metricName.rawValue)")
        }
        // Training records are read by a search, fine-tuning, or calibration (a data-aware metric, or integer codes rounded on the data).
        let readsTraining = dataOptions.hasData && (targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil
            || finetune != nil || metricName != .plain || !factorDtype.dtype.isFloatingPoint)
        let sampling = [("--calibration-samples", dataOptions.calibrationSamples != nil), ("--validation-samples", dataOptions.validationSamples != nil),
                        ("--validation", dataOptions.validation != .last), ("--data-seed", dataOptions.dataSeed != DataOptions.defaultSeed)]
        if !readsTraining, let flag = sampling.first(where: \.1)?.0 {
            throw ValidationError("\(flag) chooses the training records of a calibration, a search or fine-tuning; this conversion reads none"
                                  + (dataOptions.hasData ? " (its data are only tested on)" : " (it has no data)"))
        }
        if !dataOptions.hasData, let flag = [("--data", dataOptions.dataSet.data != nil), ("--data-layout", dataOptions.dataSet.dataLayout != nil)].first(where: \.1)?.0 {
            throw ValidationError("\(flag) goes with --dataset (the bundled data sets)")
        }
        // With f32 storage --all-kernels changes nothing but is accepted: a script looping over --factor-dtype
        // (tools/quant_curves.py) gives it to every dtype, f32 included.
        if allKernels && (targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil) {
            throw ValidationError("--all-kernels applies to a policy conversion; " + (searchesBytes
                ? "--target-size and --minimize bytes choose every layer's storage, dense ones included"
                : "a search keeps the layers it leaves dense as they are"))
        }
        if finetune != nil && searchesBytes {
            throw ValidationError("--finetune applies to a policy conversion or a rank search (--target-accuracy-drop, --target-metric-drop, --target-ratio); --target-size and --minimize bytes do not fine-tune")
        }
        // A search's spectra are every layer's whole spectrum (LayerSpectrum.usesRandomizedSVD is false for them).
        if svd == .randomized && (targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil) {
            throw ValidationError("--svd randomized sketches a layer's leading singular values for a rank policy; a search needs every layer's whole spectrum "
                                  + "and always computes it exactly (give --svd auto, exact or gram)")
        }
        if scaleDtype != defaults.scaleDtype && factorDtype.dtype.isFloatingPoint && !searchesBytes {
            throw ValidationError("--scale-dtype applies to --factor-dtype i8 or i4 (or a search with --target-size or --minimize bytes)")
        }
    }

    /// `--svd randomized` sketches only kernels truncated in the plain metric by a policy that needs not every σ
    /// (LayerSpectrum.usesRandomizedSVD): in a data-aware metric, or for entropy/erank, the layers get the exact SVD.
    /// Convolutions in the spatial form (truncated in the plain metric) and `--layer` policies may still be sketched: a warning.
    func warnAboutUnusedSketch() {
        guard svd == .randomized else { return }
        if metricName != .plain {
            printWarning("--svd randomized is not used for the layers truncated in the \(metricName.rawValue) metric (a randomized sketch is taken "
                         + "only of a kernel in the plain metric): they get the exact SVD (gesdd)")
        } else if policy.policy.needsFullSpectrum {
            printWarning("--svd randomized is not used by --policy \(escaped(policy.text)), which needs every singular value: "
                         + "the layers it applies to get the exact SVD (gesdd)")
        }
    }
}
