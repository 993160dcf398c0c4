import LRMFormat

extension InferenceModel {
    /// The most multiply-adds one sample may take in the model's dense and factorized layers: 2³⁶
    /// (6.9·10¹⁰, about 1,800 times a 38-million-parameter MLP). A small file can describe far more,
    /// with one tensor shared by a million layers; such a model is refused when it is prepared,
    /// before anything runs.
    public static let maxMultiplyAddsPerSample = 1 << 36

    /// Multiply-adds per sample of the dense and factorized steps (`shapes[i]` is step i's output
    /// shape), saturating at `Int.max`.
    static func multiplyAddsPerSample(_ steps: [Step], outputShapes shapes: [[Int]]) -> Int {
        let mul = Saturating.product
        var total = 0
        for (step, shape) in zip(steps, shapes) {
            let positions = shape.dropLast().reduce(1) { mul($0, $1) }
            let work: Int
            switch step {
            case let .dense(_, inFeatures, outFeatures, _, _): work = mul(positions, inFeatures, outFeatures)
            case let .factorized(_, _, inFeatures, rank, outFeatures, _, _): work = mul(positions, rank, inFeatures + outFeatures)
            default: work = 0
            }
            let (sum, overflow) = total.addingReportingOverflow(work)
            total = overflow ? Int.max : sum
        }
        return total
    }

    /// Refuses a model whose dense layers imply more than ``maxMultiplyAddsPerSample`` per sample.
    static func checkWork(_ steps: [Step], outputShapes: [[Int]]) throws {
        let work = multiplyAddsPerSample(steps, outputShapes: outputShapes)
        guard work <= maxMultiplyAddsPerSample else {
            throw RuntimeError(.invalidModel, "the model's dense layers imply \(work == Int.max ? "more than 2⁶³" : String(work)) multiply-adds per sample, "
                               + "more than the limit \(maxMultiplyAddsPerSample)")
        }
    }
}
