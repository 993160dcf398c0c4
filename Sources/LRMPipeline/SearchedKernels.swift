public import LRMCompress
public import LRMFormat

/// A kernel matrix a search takes the singular values of (``ConversionPipeline/searchedKernels(_:target:options:)``).
public struct SearchedKernel: Sendable, Equatable {
    /// What the search does with the matrix's spectrum.
    public enum Role: Sendable, Equatable {
        /// A hidden dense layer (every dense layer but the last): its rank is searched.
        case hidden
        /// The output layer (the last dense layer): never factorized by a search; a size search takes its spectrum (it
        /// weighs the error of its storage by it), a rank search does not.
        case output
        /// A convolution's kernel seen as `form`'s matrix: its rank is searched in that form (with `--conv auto` both
        /// forms' spectra are taken and the search keeps the one that keeps more energy).
        case convolution(ConvFactorizationForm)
    }

    /// The layer's index and name.
    public var index: Int
    public var name: String
    public var role: Role
    /// The matrix decomposed: in × out of a dense kernel, the form's matrix of a convolution.
    public var rows: Int
    public var columns: Int

    public init(index: Int, name: String, role: Role, rows: Int, columns: Int) {
        self.index = index
        self.name = name
        self.role = role
        self.rows = rows
        self.columns = columns
    }

    /// Whether the search chooses a rank from this spectrum (every matrix but the output layer's).
    public var choosesRank: Bool { role != .output }
}

extension ConversionTarget {
    /// Whether a search for this target weighs the convolutions with the dense layers: an accuracy or metric budget
    /// (not `--target-ratio`, which is about the dense layers, nor the size searches).
    var weighsConvolutions: Bool {
        switch self {
        case .accuracyDrop, .metricDrop: true
        case .policy, .ratio, .size, .minimizeBytes: false
        }
    }
}

extension ConversionPipeline {
    /// The kernel matrices a search for `target` decomposes, in model order, from the layers' shapes alone (nothing is
    /// read or computed): every dense layer `options` does not exclude (the hidden ones, whose ranks it searches, and the
    /// output layer), and for an accuracy or metric budget every Conv2D layer it does not exclude, in each form
    /// `options.convolutions` lets it try (none with `.none`). Empty for a policy conversion, which decomposes every
    /// layer it does not exclude in its own way.
    ///
    /// The one list of what a search works on: ``searchSpectra(_:options:progress:)`` and
    /// ``searchConvolutionSpectra(_:options:)`` compute these spectra, and `lrm convert` asks it what a search will
    /// decompose before it starts.
    public static func searchedKernels(_ model: some LayerSource, target: ConversionTarget,
                                       options: ConversionOptions) -> [SearchedKernel] {
        guard target != .policy else { return [] }
        let dense = denseKernels(model, options: options)
        let convolutions = target.weighsConvolutions ? convolutionKernels(model, options: options) : []
        return (dense + convolutions).sorted { ($0.index, $0.formOrder) < ($1.index, $1.formOrder) }
    }

    /// Why a rank search (an accuracy or metric budget, or a ratio target) of `model` has nothing to search, from the
    /// shapes alone (nil: it has, or `target` is no rank search): ``searchedKernels(_:target:options:)`` holds no
    /// matrix whose rank it chooses, since the exclusions in `options` match every hidden dense layer (and, for a
    /// budget, every convolution) or the model has none. Such a search would calibrate, score and fine-tune for nothing.
    /// The size searches still choose every dense layer's storage and are not refused.
    public static func nothingToSearch(_ model: some LayerSource, target: ConversionTarget, options: ConversionOptions) -> String? {
        switch target {
        case .accuracyDrop, .metricDrop, .ratio: break
        case .policy, .size, .minimizeBytes: return nil
        }
        guard !searchedKernels(model, target: target, options: options).contains(where: \.choosesRank) else { return nil }
        var unexcluded = options
        unexcluded.overrides.removeAll { $0.policy == nil }
        let candidates = searchedKernels(model, target: target, options: unexcluded).filter(\.choosesRank)
        let convolutions = candidates.contains { if case .convolution = $0.role { true } else { false } }
        let kinds = convolutions ? "hidden dense layers and convolutions" : "hidden dense layers (every dense layer but the output layer)"
        let why: String
        if candidates.isEmpty {
            why = "the model has none"
        } else {
            var names: [String] = []
            for kernel in candidates where names.last != escaped(kernel.name) { names.append(escaped(kernel.name)) }
            why = "the exclusions match every one of them ("
                + names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "") + ")"
        }
        return "a rank search (\(target.searchPolicyName ?? "")) chooses the ranks of the \(kinds); \(why): nothing to search"
    }

    /// The dense layers a search decomposes: every one `options` does not exclude, the last dense layer as the output. An
    /// already factorized dense layer (a `.lrm` input) is one, its matrix the record's in × out (its spectrum is that of
    /// its stored factors, ``Converter/factorizedSpectrum(of:)``).
    static func denseKernels(_ model: some LayerSource, options: ConversionOptions) -> [SearchedKernel] {
        let dense = (0..<model.layerCount).compactMap { index -> (index: Int, shape: [Int])? in
            if let f = model.factorizedDenseRecord(index) { return (index, [f.inFeatures, f.outFeatures]) }
            guard let shape = model.factorizableKernelShape(index, convolutions: false), shape.count == 2 else { return nil }
            return (index, shape)
        }
        return dense.compactMap { index, shape in
            let name = model.layerName(index)
            guard options.policy(forLayer: name) != nil else { return nil }
            return SearchedKernel(index: index, name: name, role: index == dense.last?.index ? .output : .hidden, rows: shape[0], columns: shape[1])
        }
    }

    /// The convolutions a search with an accuracy or metric budget decomposes, in each form it tries.
    static func convolutionKernels(_ model: some LayerSource, options: ConversionOptions) -> [SearchedKernel] {
        let forms: [ConvFactorizationForm] = switch options.convolutions {
        case .none: []
        case .channel: [.channel]
        case .spatial: [.spatial]
        case .auto: [.channel, .spatial]
        }
        var kernels: [SearchedKernel] = []
        for index in 0..<model.layerCount where !forms.isEmpty {
            // An already factorized convolution (a `.lrm` input) is searched in the form it is stored in.
            if let form = model.factorizedConvolutionForm(index), let f = model.factorization(index) {
                let name = model.layerName(index)
                guard options.policy(forLayer: name) != nil else { continue }
                kernels.append(SearchedKernel(index: index, name: name, role: .convolution(form), rows: f.inFeatures, columns: f.outFeatures))
                continue
            }
            guard let shape = model.factorizableKernelShape(index, convolutions: true), shape.count == 4 else { continue }
            let name = model.layerName(index)
            guard options.policy(forLayer: name) != nil else { continue }
            for form in forms {
                let (rows, columns) = Converter.convolutionMatrixShape(kernelShape: shape, form: form)
                kernels.append(SearchedKernel(index: index, name: name, role: .convolution(form), rows: rows, columns: columns))
            }
        }
        return kernels
    }
}

extension SearchedKernel {
    /// Dense before a convolution's channel form before its spatial form (only a convolution has two entries).
    fileprivate var formOrder: Int {
        switch role {
        case .hidden, .output: 0
        case .convolution(.channel): 1
        case .convolution: 2
        }
    }
}
