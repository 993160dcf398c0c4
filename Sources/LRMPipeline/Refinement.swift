public import LRMCompress
public import LRMDatasets
public import LRMFormat
import LRMVerify

extension DataSelection {
    /// A refitter holding `dataset`'s samples (in `model`'s layout) and the original model's layer inputs on them.
    public func refitter(for model: Model, calibration dataset: Dataset, options: RefitOptions) throws -> Refitter {
        let samples = try EvaluationSet(dataset, layout: layout(for: model))
        return try Refitter(original: model, calibrationInputs: samples.pixels, sampleCount: samples.sampleCount, options: options)
    }
}
