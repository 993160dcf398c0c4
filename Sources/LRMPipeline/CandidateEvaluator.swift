public import LRMCompress
public import LRMFormat
public import LRMVerify

/// Scores candidate models during a rank search. The search asks it nothing else, so another data
/// source, another metric, or a candidate refit before scoring plugs in here.
public protocol CandidateEvaluator {
    /// The original model's score on the same samples (0–1).
    var baselineAccuracy: Double { get }
    /// Samples each candidate is scored on.
    var sampleCount: Int { get }
    /// The candidate's accuracy (0–1) and the standard error of its paired drop from the original.
    func score(_ candidate: Model) throws -> ValidationScore
}

/// Top-1 accuracy on samples held in memory, paired with the original model's per-sample correctness.
public struct PairedAccuracyEvaluator: CandidateEvaluator {
    public let samples: EvaluationSet
    public let referenceCorrect: [Bool]
    public let baselineAccuracy: Double

    /// Runs `reference` (the original model) once on `samples`.
    public init(reference: Model, samples: EvaluationSet) throws {
        self.samples = samples
        referenceCorrect = try samples.correctness(of: reference)
        baselineAccuracy = Double(referenceCorrect.filter { $0 }.count) / Double(max(1, referenceCorrect.count))
    }

    public var sampleCount: Int { samples.sampleCount }

    public func score(_ candidate: Model) throws -> ValidationScore {
        try ValidationScore.failingOverflow {
            let (accuracy, error) = try samples.pairedAccuracy(of: candidate, reference: referenceCorrect)
            return ValidationScore(accuracy: accuracy, standardError: error)
        }
    }
}

extension ValidationScore {
    /// The score of a candidate whose outputs are NaN or infinite (it overflows): below every baseline, so it misses
    /// every budget (its NaN outputs were scored as numbers, and a candidate of a model whose outputs all overflowed
    /// "agreed" with it). The original's own outputs are refused before any candidate is scored.
    public static let overflowing = ValidationScore(accuracy: -.infinity, standardError: 0)

    /// `score()`, or ``overflowing`` when it refuses the candidate's outputs as NaN or infinite.
    static func failingOverflow(_ score: () throws -> ValidationScore) throws -> ValidationScore {
        do {
            return try score()
        } catch let error as VerificationError where error.kind == .nonFiniteOutputs {
            return .overflowing
        }
    }

    /// Whether this is ``overflowing``.
    public var overflowed: Bool { accuracy == -.infinity }

    /// The score as a progress event gives it: `<label> 0.9123 (original 0.9200)` (with `± <standard error>` when
    /// `withError`), or for an ``overflowing`` candidate what happened, `outputs NaN or infinite values (it overflows)`,
    /// where its accuracy printed as "-inf".
    public func progressText(_ label: String, baseline: Double, withError: Bool = false) -> String {
        guard !overflowed else { return "outputs NaN or infinite values (it overflows)" }
        return String(format: "%@ %.4f%@ (original %.4f)", label, accuracy, withError ? String(format: " ± %.4f", standardError) : "", baseline)
    }
}
