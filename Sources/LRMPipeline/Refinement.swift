public import LRMCompress
public import LRMDatasets
public import LRMFormat
import LRMVerify

extension DataSelection {
    /// A refitter on `dataset`'s samples (in `model`'s layout). Records in memory (own data) are read from the data
    /// set a batch at a time on every pass, not copied; a data set read from files is loaded once (the built-in
    /// ones are bounded), so that each pass does not read the files again. `targetCacheBytes`: see ``Refitter``
    /// (a search's refitter keeps the original's targets, ``Refitter/searchTargetCacheBytes``).
    public func refitter(for model: Model, calibration dataset: Dataset, options: RefitOptions, targetCacheBytes: Int = 0) throws -> Refitter {
        let layout = layout(for: model)
        guard dataset.isInMemory else {
            let samples = try EvaluationSet(dataset, layout: layout)
            return try Refitter(original: model, calibrationInputs: samples.pixels, sampleCount: samples.sampleCount, options: options,
                                targetCacheBytes: targetCacheBytes)
        }
        return try Refitter(original: model, sampleCount: dataset.sampleCount, batches: { size, body in
            try dataset.forEachBatch(size: size, layout: layout) { batch in
                try batch.pixels.withUnsafeBufferPointer { try body($0, batch.count) }
            }
        }, options: options, targetCacheBytes: targetCacheBytes)
    }

    /// For fine-tuning, in memory in `model`'s layout: the training records the validation does not use, split
    /// into those trained on and a tenth (at most 5,000) that early stopping watches, so that the validation
    /// records judge the fine-tuned model independently of when it stopped; and a description such as "mnist train".
    public func fineTuningSamples(for model: Model) throws -> (training: LabelledSamples, earlyStopping: LabelledSamples, data: String) {
        let train = try open(.train)
        let (calibrationSamples, validationSamples) = subsetSizes(trainingSamples: train.sampleCount)
        guard train.sampleCount > validationSamples else {
            throw PipelineError(.badRequest, "the training split has \(train.sampleCount) samples, not more than --validation-samples")
        }
        let layout = layout(for: model)
        let image = imageGeometry(of: train, layout: layout)
        func samples(_ sets: [Dataset]) throws -> LabelledSamples {
            var inputs: [Float] = [], labels: [Int] = []
            var features = 0
            for set in sets {
                let loaded = try EvaluationSet(set, layout: layout)
                inputs += loaded.pixels
                labels += loaded.labels
                features = loaded.featureCount
            }
            return LabelledSamples(inputs: inputs, labels: labels, featureCount: features, image: image)
        }
        let data = "\(train.name?.rawValue ?? "own data") train"
        switch placement {
        case .last:
            let split = train.sampleCount - validationSamples
            let stop = min(5000, max(1, split / 10))
            guard split - stop >= 1 else { throw tooFewToFineTune(train.sampleCount, validation: validationSamples, earlyStopping: stop) }
            return (try samples([try train.subset(.first(split - stop))]), try samples([try train.subset(.indices(Array((split - stop)..<split)))]), data)
        case .random:
            let (calibration, rest) = try train.partition(sampleCount: min(calibrationSamples, train.sampleCount - validationSamples), seed: seed)
            let (_, remainder) = try rest.partition(sampleCount: validationSamples, seed: seed &+ 1)
            let stop = min(5000, max(1, (calibration.sampleCount + remainder.sampleCount) / 10))
            guard remainder.sampleCount > stop else { throw tooFewToFineTune(train.sampleCount, validation: validationSamples, earlyStopping: stop) }
            let (watched, trained) = try remainder.partition(sampleCount: stop, seed: seed &+ 2)
            return (try samples([calibration, trained]), try samples([watched]), data)
        }
    }
}

extension DataSelection {
    /// The refusal of a fine-tuning whose training records leave none to train on, naming own data's file (it named
    /// nothing: "too few training records outside the validation ones to fine-tune on").
    func tooFewToFineTune(_ training: Int, validation: Int, earlyStopping: Int) -> PipelineError {
        let source = ownData.map { "\($0.inputs): " } ?? ""
        return PipelineError(.badRequest, "\(source)the training split's \(training) records leave none to fine-tune on once \(validation) "
                             + "validate and \(earlyStopping) watch its early stopping: give more records"
                             + (fitsSizesToOwnData && ownData != nil ? "" : " or fewer --validation-samples"))
    }

    /// How `split`'s samples, as the model gets them, form images (nil: they do not). A bundled data set's
    /// samples are reordered from their stored CHW to `layout`; own data hold the model's input as given.
    func imageGeometry(of split: Dataset, layout: SampleLayout) -> ImageGeometry? {
        ownSplits != nil ? ImageGeometry(shape: split.storedShape, channelsLast: layout != .chw)
            : ImageGeometry(shape: split.sampleShape(in: layout), channelsLast: layout == .hwc)
    }
}

/// Told after each fine-tuning epoch: which candidate ("" for a policy conversion, else e.g. "hidden fraction 0.061"),
/// the epoch, and the most epochs it may run.
public typealias FineTuneProgress = @Sendable (_ candidate: String, _ epoch: FineTuneEpoch, _ epochs: Int) -> Void

/// What fine-tuning did in a conversion: the kept candidate's epochs and how many candidates were fine-tuned.
public struct FineTuneSummary: Sendable {
    /// Every epoch of the kept candidate (epoch 0: before fine-tuning).
    public var epochs: [FineTuneEpoch]
    /// The epoch whose parameters were kept.
    public var bestEpoch: Int
    /// Candidates fine-tuned (a search tries smaller ones after the first).
    public var candidates: Int
    /// Validation accuracy of the kept candidate before fine-tuning.
    public var validationAccuracyBefore: Double { epochs.first?.validationAccuracy ?? 0 }
    /// Training records trained on, and held out of training for early stopping.
    public var trainingSamples: Int
    public var earlyStoppingSamples: Int
    /// How the learning rate changed over the steps.
    public var schedule: LearningRateSchedule
    /// Epochs without a better held-out accuracy that stopped it.
    public var patience: Int
    /// How the training images were varied, if they were.
    public var augmentation: ImageAugmentation
    /// In a search, every fine-tuned candidate in the order tried, with how it was judged (empty otherwise).
    public var tried: [FineTuneTrial] = []

    init(result: FineTuneResult, candidates: Int, stage: FineTuneStage) {
        epochs = result.epochs
        bestEpoch = result.bestEpoch
        self.candidates = candidates
        trainingSamples = stage.training.count
        earlyStoppingSamples = stage.validation.count
        schedule = stage.options.schedule
        patience = stage.options.patience
        augmentation = stage.options.augmentation
    }
}

/// One fine-tuned candidate of a search's refinement and how it was judged: on the selection records, and (when a
/// confirmation re-judged it) on the confirmation records.
public struct FineTuneTrial: Sendable, Equatable {
    public var hiddenFraction: Double
    /// The rank of each searched layer the candidate stores factorized, as stored (rounded up to the rank multiple);
    /// a layer kept whole because its rank does not pay has none.
    public var ranks: [String: Int]
    /// Epochs run (early stopping may end it before the most), and the one whose parameters were kept.
    public var epochsRun: Int
    public var bestEpoch: Int
    /// Accuracy on the early-stopping records at the kept epoch.
    public var earlyStoppingAccuracy: Double
    /// Score on the selection records, and whether it kept the budget there (nil: no budget to keep).
    public var selectionAccuracy: Double
    public var selectionStandardError: Double
    public var selectionWithinBudget: Bool?
    /// Whether it joined the sequence the confirmation re-judges (the search's choice always does).
    public var inSequence: Bool
    /// Its confirmation score and verdict, when the confirmation reached it.
    public var confirmationAccuracy: Double?
    public var confirmationWithinBudget: Bool?

    /// Whether its outputs overflowed (NaN or infinite, ``ValidationScore/overflowing``) on the selection records, or
    /// on the confirmation records: that score is then not a number.
    public var selectionOverflowed: Bool { selectionAccuracy == ValidationScore.overflowing.accuracy }
    public var confirmationOverflowed: Bool { confirmationAccuracy == ValidationScore.overflowing.accuracy }
}

/// Fine-tuning inside the pipeline: one compressed candidate distilled from the original on the training
/// records the validation does not use.
struct FineTuneStage {
    let teacher: Model
    let options: FineTuneOptions
    let training: LabelledSamples
    var validation: LabelledSamples
    let data: String
    let progress: FineTuneProgress?

    /// A stage on samples already in memory (tests).
    init(teacher: Model, options: FineTuneOptions, training: LabelledSamples, validation: LabelledSamples, data: String,
         progress: FineTuneProgress? = nil) {
        (self.teacher, self.options, self.training, self.validation, self.data, self.progress) = (teacher, options, training, validation, data, progress)
    }

    /// `check(teacher:options:data:)` has said yes (the pipeline asks it before any work).
    init(teacher: Model, options: FineTuneOptions, data selection: DataSelection, progress: FineTuneProgress?) throws {
        self.teacher = teacher
        self.options = options
        (training, validation, data) = try selection.fineTuningSamples(for: teacher)
        self.progress = progress
    }

    /// Throws unless `teacher` can be fine-tuned with `options` on `selection` (resolved for it): a classifier
    /// with a softmax or logit output, classification data, and images when the options vary them. Cheap: a
    /// conversion calls it before its expensive work.
    static func check(teacher: Model, options: FineTuneOptions, data selection: DataSelection) throws {
        try FineTuner.check(teacher)
        let task = selection.task
        guard task == .multiclass else {
            throw PipelineError(.badRequest, "fine-tuning distils a classifier's class outputs; the task here is \(task.rawValue)")
        }
        guard !options.augmentation.isNone else { return }
        let train = try selection.open(.train)
        let what = train.name.map { "\($0.rawValue)'s" } ?? "the own data's"
        guard let image = selection.imageGeometry(of: train, layout: selection.layout(for: teacher)) else {
            throw PipelineError(.badRequest, "varying the training images (\(options.augmentation)) needs images; \(what) samples are not")
        }
        let side = min(image.height, image.width)
        guard options.augmentation.maxShift < side else {
            throw PipelineError(.badRequest, "a shift of up to \(options.augmentation.maxShift) pixels leaves nothing of \(what) \(image.height)×\(image.width) images: give less than \(side)")
        }
    }

    /// `result`'s model fine-tuned.
    func run(on result: inout ConversionResult, label: String) throws -> (FineTuneResult, FineTuneRecord) {
        let epochs = options.epochs
        let report = progress
        let tuned = try FineTuner.fineTune(student: result.model, teacher: teacher, training: training, validation: validation,
                                           options: options, progress: report.map { report in { report(label, $0, epochs) } })
        result.model = tuned.model
        result.takeRecordedErrors()
        return (tuned, FineTuner.record(tuned, options: options, data: data, samples: training.count))
    }
}

/// What a search's refinement by fine-tuning came to: the candidate kept (nil: a confirmation rejected every
/// fine-tuned candidate, so the search's choice stays as truncated), every candidate fine-tuned in the order tried,
/// and how many the confirmation scored.
struct FineTuneRefinement {
    var chosen: FineTunedCandidate?
    var tried: [FineTuneTrial]
    var tests = 0
}

extension ConversionPipeline {
    /// The search's choice fine-tuned; then, for an accuracy budget, smaller models are truncated, refitted,
    /// fine-tuned and kept while the validation drop plus the confidence bound stays within the budget:
    /// first every searched rank scaled by one factor (bisection on it between 1 and 0.15, 3 candidates), then
    /// one layer at a time, the layers that store the most parameters per unit of rank first, each layer's rank
    /// scaled alone the same way while the others stay (3 candidates per layer, at most 4 layers). Then the convolutions
    /// the search kept whole are tried factorized (``factorizeConvolutions(_:from:keep:)``: at most 2 of them, 3
    /// candidates each, so at most 6 more fine-tunings), since a factorized convolution that misses the budget as
    /// truncated may keep it once fine-tuned.
    ///
    /// With a `confirmation` (its records and its budget), the kept candidates, largest first, are re-judged there in
    /// order until one misses (fixed-sequence testing), and the last that passed is the result. Where neighbours are
    /// more than 1.2× apart in hidden fraction, fine-tuned rungs between them that also keep the budget on the
    /// selection records join the sequence (``walkLadder(_:assignment:search:make:visit:)``), so that a miss costs a
    /// small step back; a gap's rungs are fine-tuned only when the confirmation reaches it, which gives the result
    /// the whole ladder would, without fine-tuning rungs below the first miss. The candidates with a convolution
    /// factorized follow that ladder in the sequence, without rungs between them (each would be one more fine-tuning), so
    /// the confirmation reaches them only when every candidate before kept the budget, and the result is never larger
    /// than without them. Without a confirmation, the smallest kept is the result.
    ///
    /// Each fine-tuned candidate is told to `progress` (phase `refine`) with its validation score and whether it keeps
    /// the budget there, and each confirmation score (phase `confirm`).
    static func refineByFineTuning(_ search: RankSearch, chosen: RankAssignment, stage: FineTuneStage, scorer: any CandidateEvaluator,
                                   baseline: Double, maxDrop: Double?, confidence: Double,
                                   confirmation: (confirmer: any CandidateEvaluator, budget: Double)?, progress: ProgressHandler? = nil)
        throws -> FineTuneRefinement {
        var candidates = 0
        var tried: [FineTuneTrial] = []
        // Each assignment is fine-tuned once: the bisections can offer one again (with a single searched layer, the
        // per-layer pass repeats the uniform one's steps), and fine-tuning is deterministic, so it would score the same.
        var done: [[String: Int]: FineTunedCandidate] = [:]
        func tune(_ ranks: [String: Int]) throws -> FineTunedCandidate {
            if let candidate = done[ranks] { return candidate }
            let candidate = try fineTune(ranks)
            done[ranks] = candidate
            return candidate
        }
        func fineTune(_ ranks: [String: Int]) throws -> FineTunedCandidate {
            var result = try search.buildWithDecisions(ranks)
            let fraction = search.hiddenFraction(ranks)
            // The ranks as the candidate stores them: rounded up to the rank multiple (--round-rank), and none for a layer
            // kept whole because its rank does not pay.
            var stored: [String: Int] = [:]
            for index in result.model.layers.indices where ranks[result.model.layers[index].name] != nil {
                if let f = result.model.factorization(index) { stored[result.model.layers[index].name] = f.rank }
            }
            let (tuned, record) = try stage.run(on: &result, label: String(format: "hidden fraction %.3f", fraction))
            let score = try scorer.score(result.model)
            candidates += 1
            let within = maxDrop.map { Confirmation.meets(score, baseline: baseline, maxDrop: $0, confidence: confidence) }
            progress?(ProgressEvent(phase: "refine", done: candidates,
                                    message: String(format: "fine-tuned, hidden fraction %.3f: ", fraction)
                                        + score.progressText("validation score", baseline: baseline, withError: true) + (within == false ? ", over budget" : "")))
            let best = tuned.epochs.indices.contains(tuned.bestEpoch) ? tuned.epochs[tuned.bestEpoch] : tuned.epochs.last
            tried.append(FineTuneTrial(hiddenFraction: fraction, ranks: stored, epochsRun: tuned.epochs.count - 1, bestEpoch: tuned.bestEpoch,
                                       earlyStoppingAccuracy: best?.validationAccuracy ?? 0, selectionAccuracy: score.accuracy,
                                       selectionStandardError: score.standardError, selectionWithinBudget: within, inSequence: false))
            return FineTunedCandidate(result: result, assignment: RankAssignment(ranks: ranks, hiddenFraction: fraction, validationAccuracy: score.accuracy,
                                                                                 standardError: score.standardError),
                                      tuned: tuned, record: record, stage: stage, trial: tried.count - 1, withinBudget: within ?? true)
        }
        var kept = [try tune(chosen.ranks)]
        if maxDrop != nil, !chosen.ranks.isEmpty {
            let perRank = chosen.ranks.keys.reduce(into: [String: Int]()) { costs, name in
                if let s = search.spectra[name] { costs[name] = s.inFeatures + s.outFeatures }
            }
            let order = (search.hiddenLayers + search.convolutionLayers).filter { perRank[$0] != nil }.enumerated()
                .sorted { (perRank[$0.element]!, $1.offset) > (perRank[$1.element]!, $0.offset) }.map(\.element)
            try lowerRanks(from: chosen.ranks, layers: order) { ranks in
                let candidate = try tune(ranks)
                guard candidate.withinBudget else { return false }
                if !kept.contains(where: { $0.trial == candidate.trial }) { kept.append(candidate) }
                return true
            }
        }
        // Then the convolutions the search kept whole, each tried factorized from the last kept candidate.
        var factorizedConvolutions: [FineTunedCandidate] = []
        if maxDrop != nil, let last = kept.last, last.withinBudget {
            try factorizeConvolutions(search, from: last.assignment.ranks) { ranks in
                let candidate = try tune(ranks)
                guard candidate.withinBudget else { return false }
                if !factorizedConvolutions.contains(where: { $0.trial == candidate.trial }) { factorizedConvolutions.append(candidate) }
                return true
            }
        }
        for candidate in kept + factorizedConvolutions { tried[candidate.trial].inSequence = true }
        var refinement = FineTuneRefinement(chosen: factorizedConvolutions.last ?? kept.last, tried: [])
        if let (confirmer, budget) = confirmation {
            // The fine-tuned candidates were kept on the selection records: re-judge them on the confirmation records.
            var judged = 0
            var chosen: FineTunedCandidate?
            var missed = false
            func judge(_ candidate: FineTunedCandidate) throws -> Bool {
                let score = try confirmer.score(candidate.result.model)
                let passes = Confirmation.meets(score, baseline: confirmer.baselineAccuracy, maxDrop: budget, confidence: confidence)
                judged += 1
                tried[candidate.trial].confirmationAccuracy = score.accuracy
                tried[candidate.trial].confirmationWithinBudget = passes
                progress?(ProgressEvent(phase: "confirm", done: judged,
                                        message: String(format: "fine-tuned, hidden fraction %.3f: ", candidate.assignment.hiddenFraction)
                                            + score.progressText("confirmation score", baseline: confirmer.baselineAccuracy) + (passes ? "" : ", over budget")))
                guard passes else {
                    missed = true
                    return false
                }
                chosen = candidate
                chosen?.assignment.validationAccuracy = score.accuracy
                chosen?.assignment.standardError = score.standardError
                return true
            }
            try walkLadder(kept, assignment: \.assignment, search: search, make: { ranks in
                let candidate = try tune(ranks)
                guard candidate.withinBudget else { return nil }
                tried[candidate.trial].inSequence = true
                return candidate
            }, visit: judge)
            // The factorized convolutions continue the same fixed sequence, only past a ladder that kept the budget throughout.
            for candidate in factorizedConvolutions where !missed {
                guard try judge(candidate) else { break }
            }
            refinement.chosen = chosen
            refinement.tests = judged
        }
        refinement.chosen?.candidates = candidates
        refinement.tried = tried
        return refinement
    }

    /// The convolutions the fine-tuned refinement tries factorized from `ranks` (``factorizeConvolutions(_:from:keep:)``),
    /// with the largest rank each pays at: those the search kept whole (no rank in `ranks`, not already factorized) that it
    /// searched (so neither `--exclude`d nor under `--conv none`), in the form it searched them in, that some rank of that
    /// form saves both parameters and multiply-accumulates (``RankSearch/convolutionRankLimit(_:)``), and that at rank 1
    /// would lower the hidden-parameter fraction by at least a fiftieth of its value at `ranks` (a smaller saving is
    /// not worth 3 fine-tunings); those saving most first, at most 2.
    static func convolutionsToFactorize(_ search: RankSearch, from ranks: [String: Int]) -> [(name: String, limit: Int)] {
        guard search.options.convolutions != .none else { return [] }
        let current = search.hiddenFraction(ranks)
        let candidates = search.convolutionLayers.compactMap { name -> (name: String, limit: Int, saving: Double)? in
            guard ranks[name] == nil, search.storedRank(name) == nil, search.options.policy(forLayer: name) != nil,
                  let limit = search.convolutionRankLimit(name), limit >= 1 else { return nil }
            var lowest = ranks
            lowest[name] = 1
            let saving = current - search.hiddenFraction(lowest)
            return saving >= current / 50 ? (name, limit, saving) : nil
        }
        return candidates.enumerated().sorted { ($0.element.saving, $1.offset) > ($1.element.saving, $0.offset) }
            .prefix(2).map { ($0.element.name, $0.element.limit) }
    }

    /// Assignments with a convolution the search kept whole factorized, tried after `start`, each offered to `keep` (which
    /// says whether it was kept): for each of ``convolutionsToFactorize(_:from:)`` in turn, from the last kept assignment,
    /// its rank bisected on a log scale between the largest rank it pays at and 1 (3 candidates, the first about the
    /// geometric mean of the two; a candidate kept lowers the upper end, one missed raises the lower). Every kept
    /// assignment is smaller than the one kept before it. Returns the last kept assignment.
    @discardableResult
    static func factorizeConvolutions(_ search: RankSearch, from start: [String: Int],
                                      keep: ([String: Int]) throws -> Bool) rethrows -> [String: Int] {
        var last = start
        for (name, limit) in convolutionsToFactorize(search, from: start) {
            var good = Double(limit), bad = 1.0
            var offered: Set<Int> = []
            let from = last
            for _ in 0..<3 {
                let rank = min(limit, max(1, Int((good * bad).squareRoot().rounded())))
                guard offered.insert(rank).inserted else { break }
                var ranks = from
                ranks[name] = rank
                if try keep(ranks) { (good, last) = (Double(rank), ranks) } else { bad = Double(rank) }
            }
        }
        return last
    }

    /// Smaller rank assignments tried after `start`, each offered to `keep` (which says whether it was kept):
    /// first every rank scaled by one factor, bisected between 1 and 0.15 in 3 steps; then, for each of the first
    /// 4 of `layers` in turn, that layer's rank alone scaled the same way from the last kept assignment. A
    /// candidate equal to the last kept one ends its bisection. Returns the last kept assignment.
    @discardableResult
    static func lowerRanks(from start: [String: Int], layers: [String], keep: ([String: Int]) throws -> Bool) rethrows -> [String: Int] {
        var last = start
        func lowered(_ rank: Int, _ scale: Double) -> Int { max(1, Int((Double(rank) * scale).rounded())) }
        func bisect(_ scaled: ([String: Int], Double) -> [String: Int]) throws {
            var good = 1.0, bad = 0.15
            let from = last
            for _ in 0..<3 {
                let scale = (good * bad).squareRoot()
                let ranks = scaled(from, scale)
                guard ranks != last else { break }
                if try keep(ranks) { (good, last) = (scale, ranks) } else { bad = scale }
            }
        }
        try bisect { ranks, scale in ranks.mapValues { lowered($0, scale) } }
        for name in layers.prefix(4) {
            try bisect { ranks, scale in
                var ranks = ranks
                if let rank = ranks[name] { ranks[name] = lowered(rank, scale) }
                return ranks
            }
        }
        return last
    }
}

/// A fine-tuned candidate of a search: the model, its ranks and validation score, and what fine-tuning did.
struct FineTunedCandidate {
    var result: ConversionResult
    var assignment: RankAssignment
    var tuned: FineTuneResult
    var record: FineTuneRecord
    let stage: FineTuneStage
    /// Its place in the refinement's list of candidates tried.
    var trial = 0
    /// Whether it kept the budget on the selection records (true without a budget).
    var withinBudget = true
    /// Candidates fine-tuned in the refinement in all.
    var candidates = 1

    /// Its fine-tuning, with the refinement's candidates in the order tried.
    func summary(tried: [FineTuneTrial]) -> FineTuneSummary {
        var summary = FineTuneSummary(result: tuned, candidates: candidates, stage: stage)
        summary.tried = tried
        return summary
    }
}
