import Foundation
import LRMDatasets
import LRMCompress
public import LRMFormat
public import LRMVerify

/// Which samples a rank search judges candidates on, as asked for.
public enum EstimateChoice: String, Sendable, CaseIterable {
    /// Why `shifted` is refused with own data (one text for the CLI's check and the pipeline's).
    public static let shiftedOwnDataRefusal = "--estimate shifted is for the bundled image data sets: own data (--inputs) are never shifted; give --estimate held-out or test-half"

    /// `heldOut` when the validation records look unseen in training, else `shifted`.
    case auto
    /// The validation records as they are.
    case heldOut = "held-out"
    /// The validation records, each image shifted by up to one pixel.
    case shifted
    /// The first half of the test split (the report then uses the second half only). Opt-in.
    case testHalf = "test-half"
}

/// Which samples a search judged candidates on.
public enum ValidationEstimate: String, Sendable {
    case heldOut = "held-out"
    case shifted
    case testHalf = "test-half"
}

/// Whether the original fits the records it was trained on more tightly than unseen ones: its
/// overconfidence (cross-entropy minus the entropy of its output) on the calibration records, which it was
/// trained on, against the same records shifted by up to a pixel (a proxy for unseen images), paired record
/// by record. A model that memorized its training records is calibrated on them and clearly overconfident on
/// their shifted copies; one that did not is about as calibrated on both.
///
/// It fits them when the difference is measurable (z ≥ ``ExposureCheck/threshold``) and material: at least
/// ``materialShare`` of its loss on the shifted copies is overconfidence. Measured (issue 13, docs/RESULTS.md):
/// the MNIST MLP sample and seven MLPs trained on every MNIST record 54–84% and z 7–13; the MNIST CNN sample
/// (3 epochs with dropout) about 1% and z 2–3, a difference that grows measurable with more records but stays
/// immaterial.
public struct MemorizationCheck: Sendable, Equatable {
    /// Mean overconfidence on the training records as they are, and shifted.
    public var trainingGap: Double
    public var shiftedGap: Double
    /// Mean cross-entropy on the shifted records.
    public var shiftedLoss: Double
    /// (shiftedGap − trainingGap) / its standard error, from the per-record differences.
    public var z: Double
    /// Least share of the shifted records' loss that must be overconfidence.
    public static let materialShare = 0.25

    /// Whether the difference is measurable and material.
    public var fitsTrainingRecords: Bool {
        z >= ExposureCheck.threshold && shiftedGap >= MemorizationCheck.materialShare * shiftedLoss
    }

    /// Per-record overconfidences on the records and on their shifted copies (in the same order), and the
    /// shifted copies' cross-entropies.
    public init(records: [Double], shifted: [Double], shiftedLosses: [Double]) {
        let count = min(records.count, shifted.count)
        let n = Double(max(1, count))
        trainingGap = records.prefix(count).reduce(0, +) / n
        shiftedGap = shifted.prefix(count).reduce(0, +) / n
        shiftedLoss = shiftedLosses.reduce(0, +) / Double(max(1, shiftedLosses.count))
        let differences = (0..<count).map { shifted[$0] - records[$0] }
        let mean = shiftedGap - trainingGap
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, n - 1)
        let se = (variance / n).squareRoot()
        z = se > 0 ? mean / se : 0
    }
}

/// Whether the validation records look seen in training: the original model's mean cross-entropy on
/// them against its mean on training records the validation does not use (the calibration records,
/// which any model trained on the training split has seen). A model that held the validation records
/// out does measurably worse on them (the generalization gap); one trained on them does not. A model
/// with no measurable gap anywhere does not either, whether it saw them or not: the ``MemorizationCheck``
/// tells the two apart, and where the model does not fit its training records more tightly than unseen
/// ones, having seen the validation records cannot flatter the estimate, so they count as unseen.
public struct ExposureCheck: Sendable, Equatable {
    /// The original's mean cross-entropy −log p(label) on the validation records.
    public var validationLoss: Double
    /// The same on the training records used for calibration.
    public var trainingLoss: Double
    /// The original's accuracy on each.
    public var validationAccuracy: Double
    public var trainingAccuracy: Double
    /// (validationLoss − trainingLoss) / its standard error (Welch).
    public var z: Double
    /// z below which the validation records count as seen: a held-out split is this many standard
    /// errors worse, or the model does not fit its training records measurably better than others.
    public static let threshold = 3.0

    /// Whether the original fits its training records more tightly than unseen ones; nil when not measured
    /// (the validation loss is measurably higher, or the samples are not images).
    public var memorization: MemorizationCheck?

    /// Whether the validation records look seen: their loss is not measurably above the training records',
    /// and (where measured) the model measurably fits its training records more tightly than unseen ones.
    public var looksSeen: Bool { !(z >= ExposureCheck.threshold) && memorization?.fitsTrainingRecords != false }

    public init(validation: [Double], training: [Double], validationAccuracy: Double, trainingAccuracy: Double) {
        func meanAndVariance(_ x: [Double]) -> (Double, Double) {
            let n = Double(max(1, x.count))
            let mean = x.reduce(0, +) / n
            let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(1, n - 1)
            return (mean, variance / n)
        }
        let (v, vv) = meanAndVariance(validation), (t, tv) = meanAndVariance(training)
        validationLoss = v
        trainingLoss = t
        self.validationAccuracy = validationAccuracy
        self.trainingAccuracy = trainingAccuracy
        let se = (vv + tv).squareRoot()
        z = se > 0 ? (v - t) / se : 0
    }

    /// Runs `model` on both sets.
    public init(model: Model, validation: EvaluationSet, training: EvaluationSet) throws {
        func accuracy(_ set: EvaluationSet) throws -> Double {
            let correct = try set.correctness(of: model)
            return Double(correct.filter { $0 }.count) / Double(max(1, correct.count))
        }
        self.init(validation: try validation.crossEntropies(of: model), training: try training.crossEntropies(of: model),
                  validationAccuracy: try accuracy(validation), trainingAccuracy: try accuracy(training))
    }
}

/// The samples a search judges candidates on, why, and (for `testHalf`) the test samples it reports on.
struct EstimatePlan {
    var estimate: ValidationEstimate
    var samples: EvaluationSet
    var exposure: ExposureCheck?
    /// The test samples the report uses: nil for all of them, the second half for `testHalf`.
    var testRange: Range<Int>?
    /// Why a proxy that was called for could not be used (the samples are not images), if so.
    var note: String?

    /// Most pixels an image is shifted by for the `shifted` estimate.
    static let maxShift = 1

    static func make(_ choice: EstimateChoice, model: Model, data: DataSelection, calibration: Dataset, validation: Dataset) throws -> EstimatePlan {
        let layout = data.layout(for: model)
        if choice == .testHalf {
            let test = try data.open(.test)
            let halves = Dataset.testHalves(count: test.sampleCount)
            guard !halves.first.isEmpty else { throw PipelineError(.badRequest, "--estimate test-half needs a test split of at least 2 samples") }
            return EstimatePlan(estimate: .testHalf, samples: try EvaluationSet(try test.testHalf(second: false), layout: layout), exposure: nil,
                                testRange: halves.second)
        }
        let held = try EvaluationSet(validation, layout: layout)
        let shape = validation.sampleShape(in: layout)
        func shifted(_ set: EvaluationSet) -> EvaluationSet? {
            data.ownData == nil ? set.shifted(shape: shape, channelsLast: layout == .hwc && shape.count == 3, maxShift: maxShift, seed: data.seed) : nil
        }
        var exposure: ExposureCheck?
        if choice == .auto {
            let training = try EvaluationSet(calibration, layout: layout)
            exposure = try ExposureCheck(model: model, validation: held, training: training)
            // No measurable gap: does the model fit its training records more tightly than unseen ones at all?
            if exposure?.looksSeen == true, let moved = shifted(training) {
                let moving = try moved.overconfidences(of: model)
                exposure?.memorization = MemorizationCheck(records: try training.overconfidences(of: model).overconfidences,
                                                           shifted: moving.overconfidences, shiftedLosses: moving.losses)
            }
        }
        guard choice == .shifted || exposure?.looksSeen == true else {
            return EstimatePlan(estimate: .heldOut, samples: held, exposure: exposure)
        }
        guard let shifted = shifted(held) else {
            if choice == .shifted {
                throw PipelineError(.badRequest, data.ownData != nil ? EstimateChoice.shiftedOwnDataRefusal : "--estimate shifted needs images; these samples are not")
            }
            let why = data.ownData != nil ? "own data (--inputs) are never shifted" : "these samples are not images"
            return EstimatePlan(estimate: .heldOut, samples: held, exposure: exposure,
                                note: "\(why), so there is no shifted proxy: the estimate may be optimistic")
        }
        return EstimatePlan(estimate: .shifted, samples: shifted, exposure: exposure)
    }
}
