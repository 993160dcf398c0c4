import LRMCompress
import LRMDatasets
import LRMFormat
import LRMVerify

/// How an accuracy-budgeted search kept its promise on validation records it did not select on.
///
/// A search that tries many candidates and keeps the smallest one whose validation drop passes picks, among
/// candidates near the budget, the one whose records happened to favour it (the winner's curse): its
/// validation figure is optimistic, and the budget can break on unseen data although every candidate was
/// judged with a confidence bound. So the validation records are split in two at random (seeded): the search
/// selects on one part, and its choice is re-judged, with the same bound, on the other part, which nothing was
/// selected on. The candidates the search accepted on its way (each smaller than the one before, its choice last)
/// are re-judged in that order until one misses the budget there (fixed-sequence testing); the result is the last
/// that kept it, the original when the first misses. The figures reported as "validation" are then the
/// confirmation records'.
public struct ConfirmationSummary: Sendable, Equatable {
    /// Records the search selected on, and records its choice was re-judged on.
    public var selectionSamples: Int
    public var confirmationSamples: Int
    /// Candidates the search accepted on its way (the last is its own choice).
    public var pathLength: Int
    /// Of them, how many were scored on the confirmation records.
    public var tests: Int
    /// How many accepted candidates the result is before the search's own choice (0: the choice passed).
    public var stepsBack: Int
    /// The search's own choice: its hidden-parameter fraction, and its accuracy and drop standard error on the selection records.
    public var selectedHiddenFraction: Double
    public var selectionAccuracy: Double
    public var selectionBaseline: Double
    public var selectionStandardError: Double
    /// No accepted candidate passed on the confirmation records: the original is kept.
    public var keptOriginal: Bool
    /// Fine-tuning's result did not pass on the confirmation records, so the confirmed candidate is kept as truncated.
    public var fineTuneRejected = false
}

/// The validation records split for selection and confirmation, each with its evaluator.
struct ValidationSplit {
    var selection: any CandidateEvaluator
    var confirmation: (any CandidateEvaluator)?

    /// The default confirmation fraction: half of the validation records confirm.
    static let defaultFraction = 0.5

    /// Positions (ascending) of the confirmation part of `count` records, drawn with `seed`; the rest select.
    static func confirmationPositions(count: Int, fraction: Double, seed: UInt64) throws -> (selection: [Int], confirmation: [Int]) {
        let confirming = Int((Double(count) * fraction).rounded())
        guard confirming >= 1, confirming < count else {
            throw PipelineError(.badRequest, "--confirm-fraction \(fraction) of \(count) validation records leaves "
                + (confirming < 1 ? "none to confirm on" : "none to select on") + ": give more --validation-samples or --confirm-fraction 0")
        }
        let chosen = Dataset.seededPositions(count: confirming, of: count, seed: seed ^ 0xC0F1_7A11_0000_0001)
        var isChosen = [Bool](repeating: false, count: count)
        for position in chosen { isChosen[position] = true }
        return ((0..<count).filter { !isChosen[$0] }, chosen)
    }

    /// Evaluators of `task` on `validation` (multi-class: `samples`, the records as the estimate plan prepared
    /// them, in the same order), split when `fraction` > 0; a `given` evaluator is used as it is, unsplit.
    static func make(given: (any CandidateEvaluator)?, task: TaskKind, reference: Model, validation: Dataset, samples: EvaluationSet?,
                     layout: SampleLayout, threshold: Double, fraction: Double, seed: UInt64) throws -> ValidationSplit {
        if let given { return ValidationSplit(selection: given, confirmation: nil) }
        func evaluator(_ dataset: Dataset) throws -> any CandidateEvaluator {
            switch task {
            case .binary: try BinaryAccuracyEvaluator(reference: reference, dataset: dataset, threshold: threshold)
            case .regression: try RegressionErrorEvaluator(reference: reference, dataset: dataset)
            case .multiclass: try PairedAccuracyEvaluator(reference: reference, samples: EvaluationSet(dataset, layout: layout))
            }
        }
        if task == .multiclass {
            let all = try samples ?? EvaluationSet(validation, layout: layout)
            guard fraction > 0 else { return ValidationSplit(selection: try PairedAccuracyEvaluator(reference: reference, samples: all)) }
            let (select, confirm) = try confirmationPositions(count: all.sampleCount, fraction: fraction, seed: seed)
            return ValidationSplit(
                selection: try PairedAccuracyEvaluator(reference: reference, samples: all.subset(select, description: "\(all.description), selection part")),
                confirmation: try PairedAccuracyEvaluator(reference: reference, samples: all.subset(confirm, description: "\(all.description), confirmation part")))
        }
        guard fraction > 0 else { return ValidationSplit(selection: try evaluator(validation)) }
        let (select, confirm) = try confirmationPositions(count: validation.sampleCount, fraction: fraction, seed: seed)
        return ValidationSplit(selection: try evaluator(try validation.subset(.indices(select))),
                               confirmation: try evaluator(try validation.subset(.indices(confirm))))
    }
}

enum Confirmation {
    /// Whether a score keeps the budget: drop + confidence · SE ≤ maxDrop.
    static func meets(_ score: ValidationScore, baseline: Double, maxDrop: Double, confidence: Double) -> Bool {
        baseline - score.accuracy + confidence * score.standardError <= maxDrop + 1e-12
    }

    /// Re-judges candidates `0..<count` (largest first, as ``lastPassing(count:passes:)`` tests them) on `confirmer`:
    /// the last that kept the budget there (−1: none), its confirmation score, and how many were judged; `judged` is told
    /// each candidate's score and whether it passed.
    static func judge(count: Int, confirmer: any CandidateEvaluator, maxDrop: Double, confidence: Double,
                      model: (Int) throws -> Model, judged: ((Int, ValidationScore, Bool) -> Void)? = nil)
        throws -> (index: Int, score: ValidationScore?, tests: Int) {
        var scores: [Int: ValidationScore] = [:]
        let (index, tests) = try lastPassing(count: count) { i in
            let score = try confirmer.score(try model(i))
            scores[i] = score
            let passes = meets(score, baseline: confirmer.baselineAccuracy, maxDrop: maxDrop, confidence: confidence)
            judged?(i, score, passes)
            return passes
        }
        return (index, scores[index], tests)
    }

    /// Fixed-sequence testing: candidates `0..<count`, ordered from largest to smallest (the order the search accepted
    /// them in, fixed before any of them is re-judged), are tested in that order until the first one fails; returns
    /// the last that passed (−1 when the first fails: the original) and how many were tested. Testing a pre-set
    /// sequence and stopping at the first failure keeps the chance of accepting any candidate whose true drop exceeds the
    /// budget at the level of one test (about 16% for a bound of one standard error), however many are tested.
    static func lastPassing(count: Int, passes: (Int) throws -> Bool) rethrows -> (index: Int, tests: Int) {
        var index = -1
        while index + 1 < count {
            guard try passes(index + 1) else { return (index, index + 2) }
            index += 1
        }
        return (index, count)
    }
}
