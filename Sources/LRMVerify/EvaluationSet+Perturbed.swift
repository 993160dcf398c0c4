import Foundation
import LRMDatasets
public import LRMFormat

extension EvaluationSet {
    /// The samples `range` (in order) of this set.
    public func slice(_ range: Range<Int>) -> EvaluationSet {
        let lower = max(0, min(range.lowerBound, sampleCount)), upper = max(lower, min(range.upperBound, sampleCount))
        var part = EvaluationSet(pixels: Array(pixels[(lower * featureCount)..<(upper * featureCount)]), labels: Array(labels[lower..<upper]),
                                 featureCount: featureCount, classCount: classCount, classNames: classNames,
                                 description: "\(description), samples \(lower)–\(upper - 1)", task: task, sampleShape: sampleShape, identifier: identifier)
        if task == .regression {
            part.targets = Array(targets[(lower * targetWidth)..<(upper * targetWidth)])
            part.targetWidth = targetWidth
        }
        return part
    }

    /// The samples at `positions` (each within the set), in that order.
    public func subset(_ positions: [Int], description: String) -> EvaluationSet {
        var chosenPixels: [Float] = [], chosenLabels: [Int] = []
        chosenPixels.reserveCapacity(positions.count * featureCount)
        for position in positions {
            chosenPixels += pixels[(position * featureCount)..<((position + 1) * featureCount)]
            chosenLabels.append(labels[position])
        }
        var part = EvaluationSet(pixels: chosenPixels, labels: chosenLabels, featureCount: featureCount, classCount: classCount,
                                 classNames: classNames, description: description, task: task, sampleShape: sampleShape, identifier: identifier)
        if task == .regression {
            part.targetWidth = targetWidth
            part.targets = positions.flatMap { targets[($0 * targetWidth)..<(($0 + 1) * targetWidth)] }
        }
        return part
    }

    /// Every image moved by a seeded random whole-pixel shift of up to `maxShift` rows and columns (each
    /// drawn from −maxShift…maxShift; the uncovered border is 0). Labels are unchanged: a shift of a pixel
    /// or two keeps a digit or an object what it is, while it takes the image off the exact pixels a
    /// model may have memorized in training.
    ///
    /// - Parameter shape: one sample's shape as its values are ordered: [H, W] (single channel), [H, W, C]
    ///   (`channelsLast`) or [C, H, W]. Nil when `shape` does not describe `featureCount` values.
    public func shifted(shape: [Int], channelsLast: Bool, maxShift: Int, seed: UInt64) -> EvaluationSet? {
        guard let image = ImageGeometry(shape: shape, channelsLast: channelsLast), image.valueCount == featureCount, maxShift >= 0 else { return nil }
        let (height, width, channels) = (image.height, image.width, image.channels)
        var state = seed
        func next() -> UInt64 {  // SplitMix64: the same shifts for the same seed on every platform
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let span = UInt64(2 * maxShift + 1)
        var out = [Float](repeating: 0, count: pixels.count)
        for sample in 0..<sampleCount {
            let dy = Int(next() % span) - maxShift, dx = Int(next() % span) - maxShift
            let base = sample * featureCount
            for y in 0..<height {
                let sourceY = y - dy
                guard sourceY >= 0, sourceY < height else { continue }
                for x in 0..<width {
                    let sourceX = x - dx
                    guard sourceX >= 0, sourceX < width else { continue }
                    for c in 0..<channels {
                        out[base + image.offset(y: y, x: x, c: c)] = pixels[base + image.offset(y: sourceY, x: sourceX, c: c)]
                    }
                }
            }
        }
        return EvaluationSet(pixels: out, labels: labels, featureCount: featureCount, classCount: classCount, classNames: classNames,
                             description: "\(description), shifted by up to \(maxShift) pixel\(maxShift == 1 ? "" : "s")", sampleShape: sampleShape, identifier: identifier)
    }

    /// Per sample, the cross-entropy −log p(label) of `model`'s output: its outputs when the model ends in
    /// a softmax (they are probabilities), else their softmax (they are logits). p is floored at 1e-7.
    public func crossEntropies(of model: Model) throws -> [Double] {
        var losses = [Double](repeating: 0, count: sampleCount)
        try forEachProbabilities(of: model) { index, probabilities in
            losses[index] = -Foundation.log(max(probabilities[labels[index]], 1e-7))
        }
        return losses
    }

    /// Per sample, the cross-entropy −log p(label) (as in ``crossEntropies(of:)``) and how overconfident
    /// `model` is on it: that cross-entropy minus the entropy −Σ p log p of the same output. The second is near
    /// 0 on average where the model is calibrated, and clearly positive where its confident answers are wrong
    /// more often than it says.
    public func overconfidences(of model: Model) throws -> (losses: [Double], overconfidences: [Double]) {
        var losses = [Double](repeating: 0, count: sampleCount), gaps = losses
        try forEachProbabilities(of: model) { index, probabilities in
            let entropy = probabilities.reduce(0.0) { $1 > 0 ? $0 - $1 * Foundation.log($1) : $0 }
            losses[index] = -Foundation.log(max(probabilities[labels[index]], 1e-7))
            gaps[index] = losses[index] - entropy
        }
        return (losses, gaps)
    }

    /// Calls `body` with each sample's index and output probabilities (the outputs when the model ends in a
    /// softmax and they sum to 1, else their softmax).
    private func forEachProbabilities(of model: Model, _ body: (Int, [Double]) -> Void) throws {
        let outputs = try outputs(of: model)
        var endsInSoftmax = false
        for layer in model.layers.reversed() {
            switch layer.operation {
            case .flatten, .reshape: continue
            case .activation(let a), .dense(_, _, let a), .factorizedDense(_, _, _, let a, _): endsInSoftmax = a == .softmax
            default: endsInSoftmax = false
            }
            break
        }
        for index in 0..<sampleCount {
            let row = outputs[(index * classCount)..<((index + 1) * classCount)].map(Double.init)
            let sum = row.reduce(0, +)
            if endsInSoftmax && row.allSatisfy({ $0 >= 0 }) && abs(sum - 1) <= 1e-3 {
                body(index, row)
            } else {
                let top = row.max() ?? 0
                let exps = row.map { ($0 - top).isFinite ? Foundation.exp($0 - top) : 0 }
                let total = max(exps.reduce(0, +), 1e-300)
                body(index, exps.map { $0 / total })
            }
        }
    }

    /// A set of `featureCount` values per sample, each of `sampleShape` (default: the values in a row) from the data set
    /// `identifier` (a part or a variation of a set passes its own).
    init(pixels: [Float], labels: [Int], featureCount: Int, classCount: Int, classNames: [String], description: String,
         task: TaskKind = .multiclass, sampleShape: [Int]? = nil, identifier: String = "the data") {
        self.task = task
        self.sampleShape = sampleShape ?? [featureCount]
        self.identifier = identifier
        targets = []
        targetWidth = 0
        self.pixels = pixels
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.classNames = classNames
        self.description = description
    }
}
