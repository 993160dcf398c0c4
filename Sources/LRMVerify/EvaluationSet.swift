public import LRMDatasets
public import LRMFormat
import LRMRuntime

/// A data set split held in memory, for evaluating many candidate models on the same samples
/// (rank search, sweeps). The samples are in the order and layout the models need, unscaled
/// (each model applies its own preprocessing).
public struct EvaluationSet: Sendable {
    public let pixels: [Float]
    public let labels: [Int]
    public let featureCount: Int
    /// One sample's stored shape (`featureCount` values) and the data set's name (`mnist`, `own data`), as
    /// ``Verifier/checkFits(model:inputShape:outputShape:data:sampleShape:outputs:)`` names them.
    public let sampleShape: [Int]
    public let identifier: String
    public let classCount: Int
    public let classNames: [String]
    public let description: String
    /// How the outputs are scored: multi-class (one output per class), binary (one output) or regression.
    public let task: TaskKind
    /// Regression targets, `sampleCount × targetWidth` row-major; empty for classification.
    public internal(set) var targets: [Float]
    public internal(set) var targetWidth: Int

    public var sampleCount: Int { labels.count }

    /// Outputs a model must give per sample: `classCount` for multi-class, 1 for binary, `targetWidth` for regression.
    public var outputWidth: Int { Verifier.ExpectedOutputs(task: task, classCount: classCount, targetWidth: targetWidth).count }

    public init(_ dataset: Dataset, layout: SampleLayout, task: TaskKind = .multiclass, batchSize: Int = 2000) throws {
        var pixels: [Float] = []
        var labels: [Int] = []
        var targets: [Float] = []
        pixels.reserveCapacity(dataset.sampleCount * dataset.featureCount)
        try dataset.forEachBatch(size: batchSize, layout: layout) { batch in
            pixels += batch.pixels
            labels += batch.labels
            if task == .regression { targets += batch.targets }
        }
        self.pixels = pixels
        self.labels = labels
        self.targets = targets
        self.task = task
        targetWidth = task == .regression ? dataset.targetWidth : 0
        featureCount = dataset.featureCount
        sampleShape = dataset.storedShape
        identifier = dataset.identifier
        classCount = dataset.classCount
        classNames = dataset.classNames
        description = dataset.description
    }

    /// The model's outputs on every sample (row-major, `outputWidth` per sample).
    ///
    /// - Throws: `VerificationError` `.nonFiniteOutputs` when one is NaN or infinite (the model overflows): no score of
    ///   them means anything (``Verifier/refuseNonFinite(_:modelNamed:reference:samples:)``).
    public func outputs(of model: Model) throws -> [Float] {
        let runner = try InferenceModel(model)
        try Verifier.checkFits(model: "the model '\(escaped(model.name))'", inputShape: runner.inputShape, outputShape: { runner.outputShape },
                               data: identifier, sampleShape: sampleShape,
                               outputs: .init(task: task, classCount: classCount, targetWidth: targetWidth))
        let outputs = try runner.run(pixels, sampleCount: sampleCount)
        try Verifier.refuseNonFinite(outputs, of: runner, samples: 0..<sampleCount)
        return outputs
    }

    /// Accuracy, F1 and the rest, for `model` on every sample.
    public func metrics(of model: Model) throws -> ClassificationMetrics {
        try ClassificationMetrics(outputs: try outputs(of: model), labels: labels, classCount: classCount)
    }

    /// Top-1 accuracy (0–1) of `model`.
    public func accuracy(of model: Model) throws -> Double {
        let outputs = try outputs(of: model)
        var correct = 0
        outputs.withUnsafeBufferPointer { all in
            for (index, label) in labels.enumerated() {
                let row = UnsafeBufferPointer(rebasing: all[(index * classCount)..<((index + 1) * classCount)])
                if ClassificationMetrics.argmax(row) == label { correct += 1 }
            }
        }
        return sampleCount > 0 ? Double(correct) / Double(sampleCount) : 0
    }

    /// Whether `model` gets each sample right.
    public func correctness(of model: Model) throws -> [Bool] {
        let outputs = try outputs(of: model)
        return outputs.withUnsafeBufferPointer { all in
            labels.enumerated().map { index, label in
                ClassificationMetrics.argmax(UnsafeBufferPointer(rebasing: all[(index * classCount)..<((index + 1) * classCount)])) == label
            }
        }
    }

    /// Accuracy of `model` and the standard error of its paired accuracy difference to a reference
    /// whose per-sample correctness is `reference`: d = (n₁₀ − n₀₁)/n, SE = √((n₁₀ + n₀₁)/n² − d²/n).
    public func pairedAccuracy(of model: Model, reference: [Bool]) throws -> (accuracy: Double, standardError: Double) {
        EvaluationSet.pairedAccuracy(try correctness(of: model), reference: reference)
    }

    /// The accuracy of per-sample correctness `mine` and the standard error of its paired difference to
    /// `reference` (the formula of `pairedAccuracy(of:reference:)`).
    public static func pairedAccuracy(_ mine: [Bool], reference: [Bool]) -> (accuracy: Double, standardError: Double) {
        let n = Double(max(1, mine.count))
        var onlyReference = 0.0, onlyCandidate = 0.0, correct = 0.0
        for (a, b) in zip(reference, mine) {
            if b { correct += 1 }
            if a && !b { onlyReference += 1 }
            if b && !a { onlyCandidate += 1 }
        }
        let d = (onlyReference - onlyCandidate) / n
        let variance = max(0, (onlyReference + onlyCandidate) / (n * n) - d * d / n)
        return (correct / n, variance.squareRoot())
    }
}
