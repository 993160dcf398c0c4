import Foundation
public import LRMCompress
public import LRMDatasets
public import LRMFormat
public import LRMVerify

/// Which samples a rank search judges candidates on, as asked for.
public enum EstimateChoice: String, Sendable, CaseIterable {
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

/// Whether the validation records look seen in training: the original model's mean cross-entropy on
/// them against its mean on training records the validation does not use (the calibration records,
/// which any model trained on the training split has seen). A model that held the validation records
/// out does measurably worse on them (the generalization gap); one trained on them does not.
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

    public var looksSeen: Bool { !(z >= ExposureCheck.threshold) }

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
            let half = test.sampleCount / 2
            guard half >= 1 else { throw PipelineError(.badRequest, "--estimate test-half needs a test split of at least 2 samples") }
            return EstimatePlan(estimate: .testHalf, samples: try EvaluationSet(try test.subset(.first(half)), layout: layout), exposure: nil,
                                testRange: half..<test.sampleCount)
        }
        let held = try EvaluationSet(validation, layout: layout)
        var exposure: ExposureCheck?
        if choice == .auto {
            exposure = try ExposureCheck(model: model, validation: held, training: try EvaluationSet(calibration, layout: layout))
        }
        guard choice == .shifted || exposure?.looksSeen == true else {
            return EstimatePlan(estimate: .heldOut, samples: held, exposure: exposure)
        }
        let shape = validation.sampleShape(in: layout)
        guard data.ownData == nil,
              let shifted = held.shifted(shape: shape, channelsLast: layout == .hwc && shape.count == 3, maxShift: maxShift, seed: data.seed) else {
            if choice == .shifted { throw PipelineError(.badRequest, "--estimate shifted needs images; these samples are not") }
            return EstimatePlan(estimate: .heldOut, samples: held, exposure: exposure,
                                note: "these samples are not images, so there is no shifted proxy: the estimate may be optimistic")
        }
        return EstimatePlan(estimate: .shifted, samples: shifted, exposure: exposure)
    }
}
