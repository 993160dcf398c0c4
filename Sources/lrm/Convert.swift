import ArgumentParser
import Foundation
import LRMCompress
import LRMFormat
import LRMLinearAlgebra
import LRMPipeline
import LRMVerify

extension LRM {
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Factorize a model's dense layers and Conv2D kernels by SVD, each layer's rank chosen by a policy or a search.",
            discussion: """
                Policies: energy:τ (ARSVD, the default energy:0.95: smallest k keeping a fraction τ of Σσ²), \
                entropy:τ (ARSVD's later version: partial spectral entropy reaches τ·H), erank (k = ⌈exp H⌉), \
                error:ε (relative Frobenius error at most ε), rank:k (fixed), ratio:r (keep a fraction r of each \
                layer's parameters); whitened:τ and activation-scaled:τ apply the energy rule to the spectrum of \
                the kernel measured on the layer's real inputs (calibrated on the training split of --dataset or of your own data, --inputs). With \
                --target-accuracy-drop or --target-ratio every layer's rank is searched instead. A layer is factorized only when k·(in + out) < in·out; otherwise it stays \
                dense and the report says why. Every factorized layer is checked against Eckart–Young in the \
                metric it was truncated in (its relative error there equals √(1 − retained energy)) before \
                anything is written. \
                Compression ratio = original parameters ÷ stored parameters, all weights and biases counted.
                """ + " " + ExitStatus.helpText)

        @Argument(help: "A Keras model (.h5, .weights.h5, .keras) or a .lrm file (its factorized layers are truncated further, never given rank they do not have, by a plain policy or a rank or size search in the plain metric, whose budget is then measured against this file's model; a data-aware metric and --finetune need the original model).")
        var input: String

        @Option(name: .shortAndLong, help: "Output .lrm file (required unless --dry-run or --in-place).")
        var output: String?

        @Flag(help: "Replace the input .lrm file with the converted model (atomically: the input stays whole until the new file is complete).")
        var inPlace = false

        @Flag(help: "Write the output under a name that does not end in .lrm.")
        var forceExtension = false

        @Option(name: .customLong("policy"), help: ArgumentHelp("Rank policy: energy:τ, entropy:τ, erank, error:ε, rank:k or ratio:r; whitened:τ and activation-scaled:τ are the energy rule in a data-aware metric (need --dataset or your own data, --inputs). (default: \(PolicyArgument.default.text))", valueName: "policy"),
                transform: PolicyArgument.init(parsing:))
        var givenPolicy: PolicyArgument?

        @Option(name: .customLong("layer"), help: ArgumentHelp("Per-layer policy, PATTERN=POLICY (glob * and ?); repeatable; first match wins.", valueName: "pattern=policy"),
                transform: LayerPolicyArgument.init(parsing:))
        var layerPolicies: [LayerPolicyArgument] = []

        @Option(name: .customLong("exclude"), help: ArgumentHelp("Keep layers matching PATTERN dense, whatever --layer says; repeatable.", valueName: "pattern"))
        var excluded: [String] = []

        @Option(help: ArgumentHelp("Round every rank up to a multiple of N (e.g. 8 or 16 for fast kernels).", valueName: "N"))
        var roundRank: Int = 1

        @Option(name: .customLong("factor-dtype"), help: "Storage dtype of the factors; i8 and i4 store integer codes with scales (format 1.2), rounded against the layer's inputs on the training split when data are given (--dataset or --inputs; error feedback), else with per-group optimal scales. (default: \(ConvertDefaults.factorDtype.rawValue))")
        var givenFactorDtype: DTypeName?

        @Option(help: ArgumentHelp("With --factor-dtype i8/i4: rows (inputs) per scale; it must divide every factorized layer's inputs (the rank too, else Vᵀ gets one scale per column). Default: one scale per output column.", valueName: "N"))
        var groupSize: Int?

        @Option(name: .customLong("scale-dtype"), help: "With --factor-dtype i8/i4: storage dtype of the scales. (default: \(ConvertDefaults.scaleDtype.rawValue))")
        var givenScaleDtype: ScaleDTypeName?

        @Option(name: .customLong("quant-scheme"), help: ArgumentHelp("With --factor-dtype i8/i4 (or a size search's integer candidates): symmetric codes (code × scale, format 1.2) or asymmetric ones with a zero point per scale ((code − zero) × scale, format 1.3: the codes cover each group's range). (default: \(ConvertDefaults.quantScheme.rawValue))", valueName: "scheme"))
        var givenQuantScheme: QuantSchemeName?

        @Flag(help: "Also store the kernels of layers that stay dense (their rank does not pay) in --factor-dtype (as integer codes for i8/i4).")
        var allKernels = false

        @Option(help: "SVD method: auto (gesdd below min(in, out) 1024, the Gram matrix's eigendecomposition in double from there, randomized from 2048 when the policy allows), exact (gesdd), gram, randomized (plain metric, policies but entropy and erank: a data-aware metric or those policies get gesdd, with a warning; refused with a search, which needs every singular value).")
        var svd: ConversionOptions.SVDMethod = .auto

        @Option(name: .customLong("conv"), help: ArgumentHelp("How Conv2D kernels are factorized: channel (kh×kw conv with k filters, then 1×1), spatial (kh×1 then 1×kw), auto (per layer the form that stores fewer parameters) or none (keep them). A form pays only where it stores fewer parameters and costs fewer multiply-accumulates per sample on the layer's input (the spatial form's kh×1 half runs at the input's full width, so on a layer with a stride it can cost more): auto and the searches choose among the forms and ranks that save both; channel or spatial keeps a layer whose form would cost more as a convolution, with a warning. Refused where no convolution is factorized: a model without Conv2D layers, --target-ratio, --target-size and --minimize bytes. (default: \(ConvertDefaults.conv.rawValue))", valueName: "form"))
        var givenConv: ConversionOptions.ConvolutionForm?

        @Option(name: .customLong("precision"), help: "LAPACK precision of the exact SVD, gesdd (--svd exact, or auto below min(in, out) 1024; refused with --svd gram, which never runs it; a conversion none of whose layers gets gesdd says in a warning that it was not used). (default: \(ConvertDefaults.precision.rawValue))")
        var givenPrecision: Precision?

        @Option(name: .customLong("seed"), help: "Seed of the randomized SVD (--svd randomized, or auto on large layers; refused where no layer can be sketched: a search, --svd exact or gram). (default: \(ConvertDefaults.seed))")
        var givenSeed: UInt64?

        @Option(help: ArgumentHelp("A Keras config JSON or .keras file with the architecture, for weights-only files.", valueName: "file"))
        var config: String?

        @OptionGroup var weights: WeightMatchOptions

        @Option(help: ArgumentHelp("Truncation metric: plain (SVD of W), whitened (SVD-LLM: error measured on the layer's real inputs) or activation-scaled (ASVD). The data-aware metrics need --dataset or your own data (--inputs).", valueName: "metric"))
        var metric: MetricName?

        @Option(name: .customLong("ridge"), help: ArgumentHelp("Whitening ridge λ, relative to the mean diagonal of XᵀX (the whitened metric only). (default: \(ConvertDefaults.ridge))", valueName: "λ"))
        var givenRidge: Double?

        @Option(name: .customLong("alpha"), help: ArgumentHelp("Exponent α of the activation scales (mean |x|)^α (the activation-scaled metric only). (default: \(ConvertDefaults.alpha))", valueName: "α"))
        var givenAlpha: Double?

        @Option(help: ArgumentHelp("Search every layer's rank for the smallest model whose accuracy on a validation split (from the training data) drops at most X percentage points; then report the test split. Needs --dataset or your own data (--inputs).", valueName: "X"))
        var targetAccuracyDrop: Double?

        @Option(help: ArgumentHelp("Like --target-accuracy-drop, for any task: accuracy points for a classifier, percent of RMSE increase for a regression model (its validation RMSE may grow by at most X%). Needs data.", valueName: "X"))
        var targetMetricDrop: Double?

        @Option(help: ArgumentHelp("Search for the most accurate model keeping at most this fraction of the hidden layers' parameters. Needs --dataset or your own data (--inputs).", valueName: "R"))
        var targetRatio: Double?

        @Option(help: ArgumentHelp("Search every layer's rank and the storage dtypes (f32, f16, i8, i4) for the most accurate model on a validation split whose written file is at most this size: bytes, or with a unit (40KiB, 2MB, 1.5MiB, 300kB). Needs --dataset or your own data (--inputs). A size below the smallest file lrm can make of the model is refused before any data is read, naming that size.", valueName: "size"),
                transform: ByteSize.init(parsing:))
        var targetSize: ByteSize?

        @Option(name: .customLong("minimize"), help: ArgumentHelp("What --target-accuracy-drop makes smallest: parameters (rank search over f32 factors, or --factor-dtype) or bytes (the smallest file: ranks and storage dtypes searched together). (default: \(ConvertDefaults.minimize.rawValue))", valueName: "what"))
        var givenMinimize: MinimizeName?

        @Option(name: .customLong("confidence"), help: ArgumentHelp("In an accuracy search, count a candidate within budget only if its validation drop plus this many standard errors of the drop is (0: the drop alone). (default: \(ConvertDefaults.confidence))", valueName: "z"))
        var givenConfidence: Double?

        @Option(name: .customLong("confirm-fraction"), help: ArgumentHelp("In an accuracy or metric budget search, the fraction of the validation records (drawn with --data-seed) kept out of selection: the search chooses on the others, then re-judges the candidates it accepted on its way on these, with the same bound, from the largest to its own choice, and keeps the last one before the first that misses the budget there (the original if the first misses; 0: every record selects, no confirmation). (default: \(ConvertDefaults.confirmFraction))", valueName: "fraction"))
        var givenConfirmFraction: Double?

        @Option(name: .customLong("estimate"), help: ArgumentHelp("What a search judges candidates on: auto (the validation records; when the original looks trained on them, its loss there no higher than on other training records while it is measurably and materially (a quarter of its loss there) more overconfident on shifted copies of its training records than on the records themselves, each image shifted by up to 1 pixel instead), held-out (the validation records as they are), shifted, or test-half (opt-in: the first half of the test split, with --inputs the own test split's; the test figures are then the second half's, see lrm verify --test-half). Only a rank search (--target-accuracy-drop, --target-metric-drop, --target-ratio) takes it; shifted and test-half only for a multi-class classifier. (default: \(ConvertDefaults.estimate.rawValue))", valueName: "estimate"))
        var givenEstimate: EstimateChoice?

        @Flag(help: "Do not refit the factors by least squares after truncation (on by default where there is one: a policy in a data-aware metric, and every search; integer codes are rounded in its pass; refused elsewhere).")
        var noRefit = false

        @Option(help: ArgumentHelp("Fine-tune the result by distillation from the original (KL on temperature-softened outputs plus the label loss, Adam) for at most this many epochs on the training records the validation does not use; a search also tries smaller models fine-tuned (every rank scaled by one factor, then the layers one at a time, then, for an accuracy budget, each convolution the search kept whole factorized, at most 2 of them and 3 ranks each, at most 6 more fine-tunings, re-judged after the others); 1 to \(FineTuneOptions.maxEpochs). Needs --dataset or your own data (--inputs).", valueName: "epochs"))
        var finetune: Int?

        @Option(name: .customLong("finetune-lr"), help: ArgumentHelp("Adam's learning rate for --finetune. (default: \(ConvertDefaults.finetuneLr))", valueName: "rate"))
        var givenFinetuneLr: Double?

        @Option(name: .customLong("finetune-seed"), help: ArgumentHelp("Seed of --finetune's minibatch order. (default: \(ConvertDefaults.finetuneSeed))", valueName: "seed"))
        var givenFinetuneSeed: UInt64?

        @Option(name: .customLong("finetune-schedule"), help: ArgumentHelp("How --finetune's learning rate changes: cosine (half a cosine down to 0 over the most epochs) or constant. (default: \(ConvertDefaults.finetuneSchedule.rawValue))", valueName: "schedule"))
        var givenFinetuneSchedule: LearningRateSchedule?

        @Option(help: ArgumentHelp("Stop --finetune after this many epochs without a better held-out accuracy (the best epoch is kept); default a third of --finetune's epochs, at least 2.", valueName: "epochs"))
        var finetunePatience: Int?

        @Option(name: .customLong("finetune-shift"), help: ArgumentHelp("While fine-tuning, shift each training image by a random whole number of pixels, up to this many rows and columns, drawn anew every minibatch; the original's outputs are taken on the same shifted images (0: no shift). Images only. (default: \(ConvertDefaults.finetuneShift))", valueName: "pixels"))
        var givenFinetuneShift: Int?

        @Flag(help: "While fine-tuning, mirror each training image left to right with probability ½ (drawn anew every minibatch). For photographs such as CIFAR's, not for digits or text.")
        var finetuneFlip = false

        @OptionGroup var dataOptions: DataOptions

        @OptionGroup var preprocessing: PreprocessingOptions

        @OptionGroup var checks: ConvertCheckOptions

        @OptionGroup var progressOptions: ProgressOptions

        @OptionGroup var userMetadata: UserMetadataOptions

        @Flag(help: "Plan and report without writing.")
        var dryRun = false

        @Flag(help: "Print the report as JSON.")
        var json = false

        /// The metric: the one `--policy whitened:τ` or `activation-scaled:τ` names, else `--metric`, else
        /// whitened for a search and plain otherwise.
        var metricName: MetricName {
            policy.metric ?? metric ?? (targetAccuracyDrop != nil || targetRatio != nil || targetMetricDrop != nil || targetSize != nil ? .whitened : .plain)
        }

        var metricChoice: ConversionOptions.MetricChoice {
            switch metricName {
            case .whitened: .whitened(ridge: ridge)
            case .activationScaled: .activationScaled(alpha: alpha)
            case .plain: .plain
            }
        }

        func validate() throws {
            try weights.check(architectureOptions: [("--config", config)])
            if output == nil && !dryRun && !inPlace { throw ValidationError("give an output file with -o, or --dry-run, or --in-place") }
            if inPlace && (output != nil || dryRun) { throw ValidationError("--in-place writes over the input: give it without -o and --dry-run") }
            let targets = [targetAccuracyDrop, targetRatio, targetMetricDrop].compactMap { $0 }.count
            if targets > 0 && !dataOptions.hasData {
                throw ValidationError("--target-accuracy-drop, --target-metric-drop and --target-ratio need data to validate on: give --dataset, or your own with --inputs")
            }
            // One metric per conversion: `--layer P=whitened:τ` is the energy rule at τ in it, so it must be the conversion's.
            for layer in layerPolicies {
                guard let named = layer.metric, named != metricName else { continue }
                throw ValidationError("--layer \(layer.text): every layer is truncated in the conversion's one metric, here \(metricName.rawValue); "
                                      + "give --policy \(named.rawValue):τ (or --metric \(named.rawValue)) so that all layers use it, and --layer PATTERN=energy:τ for one layer's τ")
            }
            if metricChoice != .plain && !dataOptions.hasData {
                throw ValidationError("the \(metricName.rawValue) metric needs calibration data: give --dataset, or your own with --inputs")
            }
            if targets + (targetSize != nil ? 1 : 0) > 1 {
                throw ValidationError("give one of --target-accuracy-drop, --target-metric-drop, --target-ratio and --target-size")
            }
            if let drop = targetMetricDrop, !(drop >= 0 && drop.isFinite) { throw ValidationError("--target-metric-drop must be a finite number ≥ 0") }
            if targetSize != nil && !dataOptions.hasData {
                throw ValidationError("--target-size needs a data set to validate on: give --dataset, or your own with --inputs")
            }
            if givenMinimize != nil && targetAccuracyDrop == nil {
                throw ValidationError("--minimize \(minimize.rawValue) goes with --target-accuracy-drop")
            }
            if (targetSize != nil || minimize == .bytes) && givenFactorDtype != nil {
                throw ValidationError("--target-size and --minimize bytes choose the storage dtypes themselves: leave out --factor-dtype")
            }
            if givenEstimate != nil && !searchesRanks {
                // Only a rank search reads it: a policy conversion or a size search would ignore it without a word.
                let what = searchesBytes ? "--target-size and --minimize bytes judge candidates on the validation records as they are"
                    : "this conversion searches nothing"
                throw ValidationError("--estimate \(estimate.rawValue) chooses what a rank search (--target-accuracy-drop, --target-metric-drop or --target-ratio) judges candidates on; \(what)")
            }
            if estimate == .shifted && dataOptions.dataSet.own.inputs != nil {
                throw ValidationError(EstimateChoice.shiftedOwnDataRefusal)
            }
            if let drop = targetAccuracyDrop, !(drop >= 0 && drop <= 100) { throw ValidationError("--target-accuracy-drop must be 0 to 100 points") }
            if let ratio = targetRatio, !(ratio > 0 && ratio <= 1) { throw ValidationError("--target-ratio must be in (0, 1]") }
            try ConvertOptionRanges.check(ridge: ridge, alpha: alpha, confidence: confidence, confirmFraction: confirmFraction)
            try refuseUnusedOptions()
            try refuseUnusedLimits()
            if !(1...Int(Int32.max)).contains(roundRank) { throw ValidationError("--round-rank must be 1 to \(Int32.max) (a rank the format can hold), found \(roundRank)") }
            if let finetune {
                if finetune < 1 { throw ValidationError("--finetune must be at least 1 epoch, found \(finetune)") }
                if finetune > FineTuneOptions.maxEpochs {
                    throw ValidationError("--finetune must be at most \(FineTuneOptions.maxEpochs) epochs, found \(finetune)")
                }
                if !dataOptions.hasData { throw ValidationError("--finetune needs training data: give --dataset, or your own with --inputs") }
                if !(finetuneLr > 0 && finetuneLr.isFinite) { throw ValidationError("--finetune-lr must be positive") }
                if let finetunePatience, finetunePatience < 1 { throw ValidationError("--finetune-patience must be at least 1 epoch, found \(finetunePatience)") }
                if finetuneShift < 0 || finetuneShift > 64 { throw ValidationError("--finetune-shift must be between 0 and 64 pixels, found \(finetuneShift)") }
            } else if let flag = [("--finetune-shift", givenFinetuneShift != nil), ("--finetune-flip", finetuneFlip), ("--finetune-patience", finetunePatience != nil),
                                  ("--finetune-lr", givenFinetuneLr != nil), ("--finetune-seed", givenFinetuneSeed != nil),
                                  ("--finetune-schedule", givenFinetuneSchedule != nil)].first(where: \.1)?.0 {
                throw ValidationError("\(flag) goes with --finetune")
            }
            if let output { try OutputFiles.checkExtension(output, content: .container, force: forceExtension) }
            if let groupSize, groupSize < 1 { throw ValidationError("--group-size must be at least 1") }
            if groupSize != nil && factorDtype.dtype.isFloatingPoint {
                throw ValidationError("--group-size applies to --factor-dtype i8 or i4")
            }
            if givenQuantScheme != nil && factorDtype.dtype.isFloatingPoint && !searchesBytes {
                throw ValidationError("--quant-scheme \(quantScheme.rawValue) applies to --factor-dtype i8 or i4 (or a search with --target-size or --minimize bytes)")
            }
        }

        /// Whether the target is a rank search (--target-accuracy-drop without --minimize bytes, --target-metric-drop, --target-ratio).
        var searchesRanks: Bool { (targetAccuracyDrop != nil && minimize == .parameters) || targetMetricDrop != nil || targetRatio != nil }

        /// Whether the target is a search over storage dtypes (--target-size, or --minimize bytes).
        var searchesBytes: Bool { targetSize != nil || (targetAccuracyDrop != nil && minimize == .bytes) }

        func options() -> ConversionOptions {
            let overrides = layerPolicies.map(\.override) + excluded.map { ConversionOptions.Override(pattern: NamePattern($0), policy: nil) }
            let quantized = !factorDtype.dtype.isFloatingPoint
            // i4 packs two codes per byte: an even rank keeps every factor's count even.
            let multiple = factorDtype == .i4 && roundRank % 2 == 1 ? 2 * roundRank : roundRank
            var options = ConversionOptions(policy: policy.policy, overrides: overrides, rankMultiple: multiple,
                                            factorDType: quantized ? .float32 : factorDtype.dtype,
                                            precision: precision, svdMethod: svd, seed: seed,
                                            parallelLayers: BLASWorkBuffer.limited ? 1 : ProcessInfo.processInfo.activeProcessorCount)
            options.metric = metricChoice
            if quantized {
                options.quantization = QuantizationOptions(dtype: factorDtype.dtype, groupSize: groupSize, scaleDType: scaleDtype.dtype,
                                                           zeroPoints: quantScheme == .asymmetric)
            } else if quantScheme == .asymmetric && searchesBytes {
                // A size search's integer candidates take the scheme from here (their dtype is the search's).
                options.quantization = QuantizationOptions(dtype: .int8, scaleDType: scaleDtype.dtype, zeroPoints: true)
            }
            options.quantizeDenseKernels = allKernels
            options.convolutions = conv
            // A .lrm input's factorized layers that keep their rank are re-stored only when a storage is asked for.
            options.restoreFactorizedLayers = givenFactorDtype != nil
            return options
        }

        /// A `--layer` or `--exclude` pattern that matches no layer is most likely a typo: say so (with the
        /// layer names) instead of silently converting every layer by the main policy.
        func warnAboutUnmatchedPatterns(in names: [String]) {
            let patterns = layerPolicies.map { ("--layer", $0.override.pattern) } + excluded.map { ("--exclude", NamePattern($0)) }
            for (flag, pattern) in patterns where !names.contains(where: pattern.matches) {
                let guess = Suggestion.closest(to: pattern.pattern, among: names).map { "did you mean '\(escaped($0))'? " } ?? ""
                printWarning("\(flag) '\(escaped(pattern.pattern))' matches no layer of \(input) (\(guess)layers: \(names.map(escaped).joined(separator: ", ")))")
            }
        }

        /// A search chooses every rank itself: a --policy given with it keeps only its metric (whitened:τ,
        /// activation-scaled:τ), and its τ (or a whole plain policy, rank:4) was dropped without a word.
        /// A data-aware metric calibrated on fewer records than a dense layer has inputs sees only that many directions
        /// of its input space (the covariance's rank is at most the record count), so its truncation can keep far too
        /// little: said once, naming the widest such layer.
        func warnAboutFewCalibrationRecords(_ result: PipelineResult, metric metricName: MetricName) {
            guard metricName != .plain, case .int(let stored)? = result.model.metadata[MetadataKey.calibrationCount] else { return }
            let count = Int(stored)
            let narrow = result.decisions.filter { $0.kind != "conv2d" && ($0.outcome == .factorized || $0.outcome == .notWorthIt) && ($0.inFeatures ?? 0) > count }
            guard let widest = narrow.max(by: { ($0.inFeatures ?? 0) < ($1.inFeatures ?? 0) }), let inputs = widest.inFeatures else { return }
            printWarning("the \(metricName.rawValue) metric was calibrated on \(Format.count(count)) records, fewer than the \(Format.count(inputs)) inputs of "
                         + "\(widest.name)\(narrow.count > 1 ? " (and \(narrow.count - 1) more layer\(narrow.count > 2 ? "s" : ""))" : ""): their covariance has rank "
                         + "at most \(Format.count(count)), so the truncation sees only that much of the input space; give "
                         + (dataOptions.dataSet.own.inputs != nil ? "more records" : "--calibration-samples \(inputs) or more"))
        }

        /// A search of a .lrm that kept every layer's weights as the input stores them compressed nothing further: said, with
        /// what was written (the input model again, its file a few bytes larger or smaller for the new metadata), as a plain
        /// policy conversion with nothing to factorize says it and writes the model as it is.
        func warnKeptAsStored(_ search: SearchOutcome, inputBytes: Int?, outputBytes: Int?) {
            let names = search.storedFactorLayers.prefix(3).joined(separator: ", ") + (search.storedFactorLayers.count > 3 ? ", …" : "")
            let what = "the search kept every layer of \(input) as it stores it (\(names) at their stored rank and storage): nothing was compressed further"
            guard let output = destination else { return printWarning(what + " (--dry-run: nothing written)") }
            let sizes = outputBytes.map { written in
                " (\(Format.count(written)) bytes" + (inputBytes.map { " against the input's \(Format.count($0)): only the metadata differ" } ?? "") + ")"
            } ?? ""
            printWarning(what + "; \(output) holds the same weights\(sizes): give a tighter budget, or keep \(input)")
        }

        func warnAboutIgnoredPolicy() {
            guard targetAccuracyDrop != nil || targetMetricDrop != nil || targetRatio != nil || targetSize != nil,
                  givenPolicy != nil else { return }
            let kept = policy.metric.map { "; only its metric, \($0.rawValue), is used" } ?? ""
            printWarning("--policy \(escaped(policy.text)) is not used by the search, which chooses every layer's rank itself\(kept)")
        }

        /// What the conversion aims at: a policy, or the search a target option asks for.
        var target: ConversionTarget {
            if let targetSize { return .size(targetSize.bytes) }
            if let drop = targetAccuracyDrop, minimize == .bytes { return .minimizeBytes(drop) }
            return targetAccuracyDrop.map { .accuracyDrop($0) } ?? targetMetricDrop.map { .metricDrop($0) }
                ?? targetRatio.map { .ratio($0) } ?? .policy
        }

        /// The library request these options describe.
        func request() throws -> ConversionRequest {
            var request = ConversionRequest(options: options(), target: target, data: dataOptions.selection(naming: input), confidence: confidence)
            if noRefit { request.refit = nil }
            request.estimate = estimate
            request.confirmFraction = confirmFraction
            if let finetune {
                request.finetune = FineTuneOptions(epochs: finetune, learningRate: finetuneLr, seed: finetuneSeed, patience: finetunePatience,
                                                   schedule: finetuneSchedule,
                                                   augmentation: ImageAugmentation(maxShift: finetuneShift, flip: finetuneFlip))
                // Each epoch is a line that stays (text) or a progress event of phase fine-tuning (JSON); nothing when
                // progress is off (--quiet, --progress off, or the default when stderr is not a terminal).
                if let printer = progressOptions.printer {
                    request.finetuneProgress = { candidate, epoch, epochs in
                        let left = epoch.seconds / Double(epoch.epoch) * Double(epochs - epoch.epoch)
                        let message = String(format: "fine-tuning%@ epoch %d/%d: loss %.4f, held-out accuracy %.2f%%, agreement %.2f%%, at most %.0f s left",
                                             candidate.isEmpty ? "" : " (\(candidate))", epoch.epoch, epochs, epoch.loss,
                                             epoch.validationAccuracy * 100, epoch.validationAgreement * 100, left)
                        printer.record(ProgressEvent(phase: "fine-tuning", done: epoch.epoch, total: epochs, message: message),
                                       line: "lrm: " + message)
                    }
                }
            }
            return request
        }

        /// Where the converted model goes: `-o`, or the input itself with `--in-place` (nil: not written).
        var destination: String? { inPlace ? input : dryRun ? nil : output }

        /// Refuses an output that would overwrite an input by accident, and `--in-place` on anything but a `.lrm`.
        func checkFiles() throws {
            try InputFiles.requireRegular([input, config])
            if inPlace {
                guard (try? ModelSource.kind(of: input)) == .container, FileManager.default.fileExists(atPath: input) else {
                    throw CommandFailure(status: .usage, message: "\(input): --in-place replaces a .lrm input; this is not a .lrm file (give -o)")
                }
            } else if let output, !dryRun {
                // --in-place is the way to replace the input model, never a data or --config file.
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("input", input)], inPlaceHint: "to replace a .lrm input on purpose, give --in-place instead of -o")
                try OutputFiles.refuseOverwritingInputs(output, inputs: [("--config file", config)] + dataOptions.dataSet.own.files)
            }
            // Before the conversion (a search or fine-tuning can take hours), not when it is done.
            if let destination { try OutputFiles.checkWritable(destination, option: inPlace ? "--in-place" : "-o") }
        }

        func run() throws {
            try reportingErrors {
                let started = Date()
                try checkFiles()
                // Mapped, not loaded: a policy conversion reads one layer at a time.
                let model = try ModelSource.map(input, architecture: config, preprocessing: preprocessing, match: weights.match)
                try refuseConvWithoutConvolutions(model)
                // Made once for every check below and the conversion: the request (its options and data selection), the
                // layers already factorized and the kernel matrices a search would decompose.
                var request = try request()
                let factorized = (0..<model.layerCount).filter { model.factorization($0) != nil }
                // A rank or size search of a .lrm input's factorized layers works on their stored factors' spectra, in the plain
                // metric: the searches' default (whitened) is not taken for them; a data-aware metric asked for is refused below.
                let plainForStoredFactors = (searchesRanks || searchesBytes) && policy.metric == nil && metric == nil
                    && factorized.contains { request.options.policy(forLayer: model.layerName($0)) != nil }
                if plainForStoredFactors {
                    request.options.metric = .plain
                    // --ridge was accepted for the searches' default metric, which this search does not take.
                    if givenRidge != nil {
                        let names = factorized.filter { request.options.policy(forLayer: model.layerName($0)) != nil }.map(model.layerName)
                        throw CommandFailure(status: .usage, message: "\(input): --ridge applies to the whitened metric, and a \(searchesBytes ? "size" : "rank") search of the "
                                             + "layers already factorized here (\(names.prefix(3).joined(separator: ", "))\(names.count > 3 ? ", …" : "")) "
                                             + "runs in the plain metric: leave --ridge out")
                    }
                }
                let searched = ConversionPipeline.searchedKernels(model, target: request.target, options: request.options)
                // A .lrm input's factorized layers have no original kernel left for a data-aware metric or fine-tuning: said
                // before any data is read.
                if let refusal = ConversionPipeline.reconversionRefusal(factorized: factorized.map(model.layerName), request: request)
                    ?? ConversionPipeline.movedFactorsRefusal(model, request: request) {
                    throw CommandFailure(status: .usage, message: "\(input): \(refusal)")
                }
                // Nothing to factorize (everything excluded, or nothing factorizable): a search or an option acting only on
                // factorized layers is refused, a plain policy conversion warned about; after the refusal above, which
                // names the factorized layers a search or a data-aware metric cannot start from.
                try checkSomethingToFactorize(model, options: request.options, factorized: factorized, searched: searched)
                try request.data.checkFits(model, path: input)
                warnAboutUnmatchedPatterns(in: model.file.header.model.layers.map(\.name))
                warnAboutIgnoredPolicy()
                warnAboutUnusedSketch()
                warnAboutUnusedPrecision(searched: searched, options: request.options)
                // A --target-ratio below what the smallest candidate keeps (every hidden layer at rank 1, rounded up to
                // --round-rank's multiple, excluded layers dense): said from the shapes, before any data is read.
                if let refusal = ConversionPipeline.unreachableRatio(model, target: request.target, options: request.options) {
                    throw CommandFailure(status: .usage, message: "\(input): \(refusal)")
                }
                let printer = progressOptions.printer
                defer { printer?.finish() }
                printer?.handle(ProgressEvent(phase: "read", done: 1, total: 1, message: "\(model.layerCount) layers from \(input)"))
                let result: PipelineResult
                let data: DataSelection
                do {
                    // Own data are read and split for the model here, so that what they get wrong (shape, labels, task) is
                    // said before any layer is factorized, even by a policy that reads them only to test the result; the
                    // test below uses the same splits rather than reading the files again.
                    request.data = try request.data.resolved(for: model, path: input)
                    try refuseLimit(of: request.data.task)
                    data = request.data
                    request.progress = printer?.handler
                    result = try ConversionPipeline.run(model, request: request)
                    // Bundled images are raw bytes 0–255: a model that scales nothing most likely needs --input-scale, as verify
                    // warns (said once the data were read, after any refusal, which stays the one line).
                    if request.data.dataset != nil { PreprocessingNotes(input: model.input, source: input, rawPixels: true).printWarnings() }
                } catch let error as ConversionError {
                    // A ridge given below the default that leaves XᵀX + λI singular: the option is at fault.
                    if error.kind == .notPositiveDefinite, let givenRidge, givenRidge < ConvertDefaults.ridge {
                        throw CommandFailure(status: .usage, message: "\(input): --ridge \(String(format: "%g", givenRidge)) is too small (the default is "
                                             + "\(String(format: "%g", ConvertDefaults.ridge))): \(error.description)")
                    }
                    throw dataOptions.failure(error, model: input)
                } catch let error as SizeSearchError {
                    throw CommandFailure(status: .usage, message: "\(input): \(error.description)")
                } catch let error as FineTuneError {
                    throw CommandFailure(status: error.kind == .invalidInput ? .usage : .invalidInput, message: "\(input): \(error.description)")
                } catch let error as VerificationError {
                    // A model that cannot be evaluated (outputs that overflow, say): named by the file, not its model's name alone.
                    throw CommandFailure.evaluating(input, failedWith: error)
                }
                warnAboutUnusedSeed(result.decisions)
                warnAboutUnusedPrecision(result.decisions)
                warnAboutFewCalibrationRecords(result, metric: plainForStoredFactors ? .plain : metricName)
                warnAboutCostlierConvolutions(result.decisions)
                var converted = result.model
                try userMetadata.apply(to: &converted)
                // The original in memory only when there is a data set to compare it on and no search has compared them.
                let evaluation: TestEvaluation?
                do {
                    evaluation = try testEvaluation(result, original: { try model.loadModel() }, data: data, progress: printer?.handler)
                } catch let error as VerificationError {
                    throw CommandFailure.evaluating(input, failedWith: error)
                }
                printer?.finish()
                var outputBytes: Int?
                let inputBytes = (try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? nil
                if let output = destination {
                    try OutputFiles.writeContainer(converted, to: output)
                    outputBytes = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? nil
                }
                if let search = result.search, search.overflowingCandidates > 0 {
                    printWarning("\(search.overflowingCandidates) of the \(search.candidates) candidates the search scored gave NaN or infinite "
                                 + "outputs (they overflow) and missed the budget")
                }
                if let search = result.search, search.keptAsStored { warnKeptAsStored(search, inputBytes: inputBytes, outputBytes: outputBytes) }
                let report = ConversionReport(input: input, output: destination, decisions: result.decisions,
                                              inputBytes: inputBytes,
                                              outputBytes: outputBytes, seconds: Date().timeIntervalSince(started),
                                              layerBytes: ConversionReport.layerBytes(of: converted),
                                              macs: ConversionReport.macs(before: model.header, after: converted),
                                              inputParameters: Self.storedParametersIfFactorized(model.header))
                var reportJSON = report.json()
                if let search = result.search, case .object(var members) = reportJSON {
                    members.append(("search", search.json))
                    reportJSON = .object(members)
                }
                if let evaluation, case .object(var members) = reportJSON {
                    members.append(("test", testJSON(evaluation)))
                    reportJSON = .object(members)
                }
                if let finetune = result.finetune, case .object(var members) = reportJSON {
                    members.append(("finetune", finetune.json))
                    reportJSON = .object(members)
                }
                print(json ? reportJSON.serialized(indent: 2) : report.text())
                if !json, (try? ModelSource.kind(of: input)) != .container,
                   let dropped = MetadataKey.droppedLayersText(in: model.header.metadata) {
                    print("note: " + dropped)  // once, where the Keras model is read (not again for an .lrm input)
                }
                if var search = result.search, !json {
                    if request.data.dataset == nil { search.testSampleNoun = "samples" }  // own data: not necessarily images
                    print(search.text)
                }
                if let finetune = result.finetune, !json { print(finetune.text) }
                if let evaluation, !json { print(evaluation.text) }
                try enforceLimit(evaluation, searched: result.search != nil)
            }
        }
    }
}

extension LRM.Convert {
    /// The parameters a `.lrm` input stores when some of its layers are already factorized (the report then counts the
    /// layers' "before" from the original, as `lrm inspect` does, and says the compression on the input beside it); nil
    /// for any other input.
    static func storedParametersIfFactorized(_ header: ContainerHeader) -> Int? {
        let summary = ModelSummary(header: header)
        return summary.layers.contains { $0.factorization != nil } ? summary.parametersAfter : nil
    }
}
