public import LRMFormat
import LRMCompress
import LRMVerify

/// Which kernels a converted `.lrm` input stores whole but changed from the original model's, so that a layer its
/// re-conversion factorizes has a record relative to that stored kernel, not to the original's W (`spec/FORMAT.md`
/// section 3.1): kernels stored as integer codes or in a 16-bit float (`--all-kernels`), and every kernel of a
/// fine-tuned file (`finetune.*`: the fine-tuning trained the layers it kept whole too). Such a record's `method`
/// gets the step `+from-stored(WHAT)`, WHAT the stored kernel's dtype and/or `fine-tuned`, so that `lrm verify`
/// knows the original model's kernel is not what it is relative to, and the SHA-256 of the kernel it was factorized
/// from goes into metadata `conversion.from_stored_sha256` (``KernelDigest``), so that verify can tell that kernel
/// from any other a reference holds.
public enum StoredKernelOrigin {
    /// The method step that marks a record relative to a `.lrm` input's changed kernel.
    public static let step = Factorization.fromStoredStep

    /// For a converted input (one whose metadata has `conversion.policy`): each layer stored whole (dense or
    /// convolution) whose kernel is not the original's, with what changed it (`i8`, `f16`, `fine-tuned`, `i4, fine-tuned`).
    /// Empty for a Keras model or an imported `.lrm`, whose kernels are the original's.
    public static func changedKernels(names: [String], kernelDType: (Int) -> DType?, metadata: [String: MetadataValue]) -> [String: String] {
        guard metadata[MetadataKey.conversionPolicy] != nil else { return [:] }
        let fineTuned = metadata[MetadataKey.finetuneEpochs] != nil
        var changed: [String: String] = [:]
        for (index, name) in names.enumerated() {
            guard let dtype = kernelDType(index) else { continue }
            if let what = Factorization.storedKernelDescription(dtype: dtype, fineTuned: fineTuned) { changed[name] = what }
        }
        return changed
    }

    /// The same for a model in memory.
    public static func changedKernels(in model: Model) -> [String: String] {
        changedKernels(names: model.layers.map(\.name), kernelDType: { wholeKernelDType(model.layers[$0].operation) },
                       metadata: model.metadata)
    }

    /// The same for a mapped model (from its header: no tensor is read).
    public static func changedKernels(in model: MappedModel) -> [String: String] {
        changedKernels(names: (0..<model.layerCount).map { model.layerInfo($0).name },
                       kernelDType: { wholeKernelDType(model.layerInfo($0).operation) }, metadata: model.metadata)
    }

    static func wholeKernelDType(_ operation: LayerOperation<Tensor>) -> DType? {
        switch operation {
        case let .dense(kernel, _, _), let .conv2D(kernel, _, _, _): kernel.dtype
        default: nil
        }
    }

    static func wholeKernelDType(_ operation: LayerOperation<TensorInfo>) -> DType? {
        switch operation {
        case let .dense(kernel, _, _), let .conv2D(kernel, _, _, _): kernel.dtype
        default: nil
        }
    }

    /// Marks the record of every layer of `result` that `changed` lists (stored whole in the input) and the conversion
    /// factorized, and its decision's method, and records the SHA-256 of the kernel it was factorized from, which
    /// `storedKernel` gives by layer name (the input's kernel as stored), in `conversion.from_stored_sha256`. Entries
    /// the input had for layers whose records still carry the mark are kept; others are dropped.
    public static func mark(_ result: inout PipelineResult, changed: [String: String], storedKernel: (String) throws -> Tensor?) rethrows {
        guard !changed.isEmpty else { return }
        var digests = Factorization.fromStoredDigests(in: result.model.metadata)
        var layouts = Factorization.fromStoredLayouts(in: result.model.metadata)
        var marks: Set<String> = []
        for index in result.model.layers.indices {
            let name = result.model.layers[index].name
            guard let what = changed[name] else { continue }
            let suffix = step + what + ")"
            switch result.model.layers[index].operation {
            case let .factorizedDense(us, vt, bias, activation, f):
                result.model.layers[index].operation = .factorizedDense(us: us, vt: vt, bias: bias, activation: activation,
                                                                        factorization: marked(f, suffix))
            case let .factorizedConv2D(first, second, bias, activation, form, geometry, f):
                result.model.layers[index].operation = .factorizedConv2D(first: first, second: second, bias: bias, activation: activation,
                                                                         form: form, geometry: geometry, factorization: marked(f, suffix))
            default:
                continue
            }
            if record(result.model.layers[index].operation)?.fromStoredKernel != nil, let kernel = try storedKernel(name) {
                digests[name] = KernelDigest.sha256(kernel)
                // Integer codes: how they were laid out, so that verify can round the original's kernel the same way.
                layouts[name] = kernel.quantization.map(StoredCodesLayout.init)
                marks.insert(name)
            }
            for d in result.decisions.indices where result.decisions[d].name == name {
                if let method = result.decisions[d].method, !method.contains(step) { result.decisions[d].method = method + suffix }
            }
        }
        for layer in result.model.layers where !marks.contains(layer.name) && record(layer.operation)?.fromStoredKernel == nil {
            digests[layer.name] = nil
            layouts[layer.name] = nil
        }
        let names = Set(result.model.layers.map(\.name))
        digests = digests.filter { names.contains($0.key) }
        layouts = layouts.filter { digests[$0.key] != nil }
        result.model.metadata[MetadataKey.conversionFromStoredSHA256] = digests.isEmpty ? nil : Factorization.fromStoredDigestsValue(digests)
        result.model.metadata[MetadataKey.conversionFromStoredRounding] = layouts.isEmpty ? nil : Factorization.fromStoredLayoutsValue(layouts)
    }

    /// A factorized layer's record, nil for any other.
    static func record(_ operation: LayerOperation<Tensor>) -> Factorization? {
        switch operation {
        case let .factorizedDense(_, _, _, _, f), let .factorizedConv2D(_, _, _, _, _, _, f): f
        default: nil
        }
    }

    /// The kernel of a layer stored whole (dense or convolution), nil for any other.
    public static func wholeKernel(_ operation: LayerOperation<Tensor>) -> Tensor? {
        switch operation {
        case let .dense(kernel, _, _), let .conv2D(kernel, _, _, _): kernel
        default: nil
        }
    }

    static func marked(_ f: Factorization, _ suffix: String) -> Factorization {
        var f = f
        if !f.method.contains(step) && f.method.utf8.count + suffix.utf8.count <= 1024 { f.method += suffix }
        return f
    }
}
