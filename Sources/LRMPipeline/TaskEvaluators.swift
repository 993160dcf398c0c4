public import LRMCompress
public import LRMDatasets
public import LRMFormat
import LRMVerify
import LRMRuntime

/// Samples of a data set held in memory with their labels and targets, for scoring many candidates.
struct HeldSamples: Sendable {
    var features: [Float] = []
    var labels: [Int] = []
    var targets: [Float] = []
    var count = 0

    init(_ dataset: Dataset) throws {
        try dataset.forEachBatch(size: 2000, layout: .features) { batch in
            features += batch.pixels
            labels += batch.labels
            targets += batch.targets
            count += batch.count
        }
    }

    /// - Throws: `VerificationError` `.nonFiniteOutputs` when one is NaN or infinite (as ``EvaluationSet/outputs(of:)``).
    func outputs(of model: Model) throws -> [Float] {
        let outputs = try InferenceModel(model).run(features, sampleCount: count)
        try Verifier.refuseNonFinite(outputs, modelNamed: model.name, samples: 0..<count)
        return outputs
    }
}

/// Binary classification: accuracy of the decisions `output ≥ threshold`, paired with the original's.
public struct BinaryAccuracyEvaluator: CandidateEvaluator {
    let samples: HeldSamples
    public let threshold: Double
    public let referenceCorrect: [Bool]
    public let baselineAccuracy: Double

    /// Runs `reference` (the original model) once on `dataset`.
    public init(reference: Model, dataset: Dataset, threshold: Double) throws {
        samples = try HeldSamples(dataset)
        self.threshold = threshold
        referenceCorrect = BinaryAccuracyEvaluator.correctness(try samples.outputs(of: reference), labels: samples.labels, threshold: threshold)
        baselineAccuracy = Double(referenceCorrect.filter { $0 }.count) / Double(max(1, referenceCorrect.count))
    }

    public var sampleCount: Int { samples.count }

    public func score(_ candidate: Model) throws -> ValidationScore {
        try ValidationScore.failingOverflow {
            let mine = BinaryAccuracyEvaluator.correctness(try samples.outputs(of: candidate), labels: samples.labels, threshold: threshold)
            let (accuracy, error) = EvaluationSet.pairedAccuracy(mine, reference: referenceCorrect)
            return ValidationScore(accuracy: accuracy, standardError: error)
        }
    }

    static func correctness(_ outputs: [Float], labels: [Int], threshold: Double) -> [Bool] {
        zip(outputs, labels).map { (Double($0) >= threshold) == ($1 == 1) }
    }
}

/// Regression: a candidate's score is 2 − RMSE/RMSE₀ (RMSE₀ the original's on the same samples), so the
/// original scores 1 and the search's "drop" 1 − score is the relative RMSE increase that
/// `--target-metric-drop` budgets. The standard error comes from the paired per-sample differences of
/// squared errors (delta method: SE(RMSE/RMSE₀) ≈ SE(MSE/MSE₀) / (2·RMSE/RMSE₀)).
public struct RegressionErrorEvaluator: CandidateEvaluator {
    let samples: HeldSamples
    let width: Int
    let referenceSquaredErrors: [Double]
    let referenceMSE: Double
    public let baselineAccuracy: Double = 1

    /// Runs `reference` (the original model) once on `dataset`.
    public init(reference: Model, dataset: Dataset) throws {
        samples = try HeldSamples(dataset)
        width = dataset.targetWidth
        referenceSquaredErrors = RegressionErrorEvaluator.squaredErrors(try samples.outputs(of: reference), targets: samples.targets, width: width)
        referenceMSE = referenceSquaredErrors.reduce(0, +) / Double(max(1, referenceSquaredErrors.count))
    }

    public var sampleCount: Int { samples.count }

    public func score(_ candidate: Model) throws -> ValidationScore {
        try ValidationScore.failingOverflow { try score(outputs: try samples.outputs(of: candidate)) }
    }

    func score(outputs: [Float]) -> ValidationScore {
        let mine = RegressionErrorEvaluator.squaredErrors(outputs, targets: samples.targets, width: width)
        let n = Double(max(1, mine.count))
        let mse = mine.reduce(0, +) / n
        guard referenceMSE > 0 else { return ValidationScore(accuracy: mse > 0 ? -.infinity : 1, standardError: 0) }
        let ratio = (mse / referenceMSE).squareRoot()
        let differences = zip(mine, referenceSquaredErrors).map { $0 - $1 }
        let mean = differences.reduce(0, +) / n
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, n - 1)
        let standardError = (variance / n).squareRoot() / referenceMSE / (2 * max(ratio, 1e-12))
        return ValidationScore(accuracy: 2 - ratio, standardError: standardError)
    }

    /// Each sample's squared error summed over its outputs.
    static func squaredErrors(_ outputs: [Float], targets: [Float], width: Int) -> [Double] {
        stride(from: 0, to: targets.count, by: max(1, width)).map { start in
            (start..<(start + width)).reduce(0.0) { sum, i in
                let e = Double(outputs[i]) - Double(targets[i])
                return sum + e * e
            }
        }
    }
}
