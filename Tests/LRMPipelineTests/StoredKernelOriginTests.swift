import Foundation
import LRMCompress
import LRMFormat
import LRMVerify
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

    @Test("the mark goes on the record of a layer the conversion factorized, once, and on its decision's method; the SHA-256 of the input's kernel it was factorized from goes into conversion.from_stored_sha256, other entries only while their layers keep the mark")
    func marks() throws {
        let record = Factorization(inFeatures: 4, outFeatures: 3, rank: 1, retainedEnergy: 0.9, relativeError: 0.3, policy: "rank",
                                   policyParameter: 1, method: "gesdd-f32", singularValues: [3, 1, 0.5])
        let factorized = Layer(name: "dense", operation: .factorizedDense(us: Tensor(shape: [4, 1], floats: [1, 2, 3, 4]),
                                                                           vt: Tensor(shape: [1, 3], floats: [1, 0, 1]), bias: nil,
                                                                           activation: .relu, factorization: record))
        var result = PipelineResult(model: Model(name: "m", input: InputSpec(shape: [4], layout: .features), layers: [factorized]),
                                    decisions: [], provenance: ConversionProvenance(policy: "rank", parameter: 1, factorDType: .float32,
                                                                                    seed: nil, metric: .plain, calibration: nil))
        // An input's entries: one of a layer gone, one of a layer whose record has no mark (both dropped).
        result.model.metadata[MetadataKey.conversionFromStoredSHA256] = Factorization.fromStoredDigestsValue(["gone": String(repeating: "a", count: 64)])
        let stored = Tensor(shape: [4, 3], floats: (0..<12).map { Float($0) / 7 }, dtype: .float16)
        var asked: [String] = []
        StoredKernelOrigin.mark(&result, changed: ["dense": "fine-tuned", "other": "i8"]) { asked.append($0); return stored }
        StoredKernelOrigin.mark(&result, changed: ["dense": "fine-tuned"]) { asked.append($0); return stored }
        guard case let .factorizedDense(_, _, _, _, f) = result.model.layers[0].operation else { Issue.record("not factorized"); return }
        #expect(f.method == "gesdd-f32+from-stored(fine-tuned)" && f.fromStoredKernel == "fine-tuned", "\(f.method)")
        #expect(asked == ["dense", "dense"])
        #expect(result.model.metadata[MetadataKey.conversionFromStoredSHA256] == .strings([KernelDigest.sha256(stored) + " dense"]))
        #expect(Factorization.fromStoredDigests(in: result.model.metadata) == ["dense": KernelDigest.sha256(stored.floats())])

        // A conversion that marks nothing new keeps the input's entries of layers still marked.
        StoredKernelOrigin.mark(&result, changed: ["other": "i8"]) { _ in Issue.record("no kernel to read"); return nil }
        #expect(Factorization.fromStoredDigests(in: result.model.metadata) == ["dense": KernelDigest.sha256(stored)])
    }
}
