import Foundation
import LRMCompress
import LRMFormat
import Testing
@testable import LRMPipeline

/// Which kernels of a `.lrm` input a re-conversion's records are relative to (``StoredKernelOrigin``).
@Suite("Stored kernels a re-conversion factorizes")
struct StoredKernelOriginTests {
    static func model(kernelDType: DType, metadata: [String: MetadataValue]) -> Model {
        let values = (0..<12).map { Float($0) / 7 }
        return Model(name: "m", input: InputSpec(shape: [4], layout: .features), layers: [
            Layer(name: "dense", operation: .dense(kernel: Tensor(shape: [4, 3], floats: values, dtype: kernelDType), bias: nil, activation: .relu)),
            Layer(name: "relu", operation: .activation(.relu)),
        ], metadata: metadata)
    }

    @Test("a converted file's whole kernels are marked when stored in a 16-bit float or fine-tuned (both: 'f16, fine-tuned'); a Keras model's or an imported file's never, nor an f32 kernel of a file not fine-tuned")
    func changedKernels() {
        let converted: [String: MetadataValue] = [MetadataKey.conversionPolicy: .string("energy")]
        var fineTuned = converted
        fineTuned[MetadataKey.finetuneEpochs] = .int(2)
        let imported: [String: MetadataValue] = [MetadataKey.finetuneEpochs: .int(2)]  // no conversion.policy: not converted
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float32, metadata: converted)).isEmpty)
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float16, metadata: converted)) == ["dense": "f16"])
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float32, metadata: fineTuned)) == ["dense": "fine-tuned"])
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float16, metadata: fineTuned)) == ["dense": "f16, fine-tuned"])
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float16, metadata: imported)).isEmpty)
        #expect(StoredKernelOrigin.changedKernels(in: Self.model(kernelDType: .float16, metadata: [:])).isEmpty)
    }

    @Test("the mark goes on the record of a layer the conversion factorized, once, and on its decision's method")
    func marks() throws {
        let record = Factorization(inFeatures: 4, outFeatures: 3, rank: 1, retainedEnergy: 0.9, relativeError: 0.3, policy: "rank",
                                   policyParameter: 1, method: "gesdd-f32", singularValues: [3, 1, 0.5])
        let factorized = Layer(name: "dense", operation: .factorizedDense(us: Tensor(shape: [4, 1], floats: [1, 2, 3, 4]),
                                                                           vt: Tensor(shape: [1, 3], floats: [1, 0, 1]), bias: nil,
                                                                           activation: .relu, factorization: record))
        var result = PipelineResult(model: Model(name: "m", input: InputSpec(shape: [4], layout: .features), layers: [factorized]),
                                    decisions: [], provenance: ConversionProvenance(policy: "rank", parameter: 1, factorDType: .float32,
                                                                                    seed: nil, metric: .plain, calibration: nil))
        StoredKernelOrigin.mark(&result, changed: ["dense": "fine-tuned", "other": "i8"])
        StoredKernelOrigin.mark(&result, changed: ["dense": "fine-tuned"])
        guard case let .factorizedDense(_, _, _, _, f) = result.model.layers[0].operation else { Issue.record("not factorized"); return }
        #expect(f.method == "gesdd-f32+from-stored(fine-tuned)" && f.fromStoredKernel == "fine-tuned", "\(f.method)")
    }
}
