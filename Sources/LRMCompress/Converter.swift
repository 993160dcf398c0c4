import Foundation
public import LRMFormat
public import LRMLinearAlgebra

/// The outcome of a conversion: the new model and what happened to each layer.
public struct ConversionResult: Sendable {
    public var model: Model
    public var decisions: [LayerDecision]

    package init(model: Model, decisions: [LayerDecision]) {
        self.model = model
        self.decisions = decisions
    }

    /// Each factorized layer's decision given the relative error its factors record, after something
    /// (the refit, fine-tuning) changed the factors and their record.
    public mutating func takeRecordedErrors() {
        for (index, layer) in model.layers.enumerated() where index < decisions.count {
            if case let .factorizedDense(_, _, _, _, f) = layer.operation, decisions[index].outcome == .factorized {
                decisions[index].relativeError = f.relativeError
            }
        }
    }
}

/// Where the converter takes layers from, one at a time, so that a model mapped from a file
/// (``MappedModel``) is never in memory whole.
public protocol LayerSource: Sendable {
    var layerCount: Int { get }
    /// Layer `index`'s name, known without reading the layer's data.
    func layerName(_ index: Int) -> String
    /// The kernel's shape when layer `index` is one the converter factorizes (a dense layer, or a 2-D
    /// convolution when `convolutions` is true), nil for any other kind; known without reading the
    /// layer's data.
    func factorizableKernelShape(_ index: Int, convolutions: Bool) -> [Int]?
    /// The factorization record of layer `index` when it is already factorized (a factorized dense layer or
    /// convolution, any storage), else nil; known without reading the layer's data.
    func factorization(_ index: Int) -> Factorization?
    /// The form of layer `index` when it is a factorized convolution, else nil; known without reading the layer's data.
    func factorizedConvolutionForm(_ index: Int) -> ConvFactorizationForm?
    /// Layer `index` with its tensors in memory.
    func layer(_ index: Int) throws -> Layer<Tensor>
    /// The converter is done with layer `index`'s input (its result holds what the output needs).
    func release(_ index: Int)
    /// The model's input, and the sample shape after each layer (`ContainerError` where the layers do not chain); from the
    /// shapes alone.
    var input: InputSpec { get }
    func layerOutputShapes() throws -> [[Int]]
}

extension LayerSource {
    /// The factorization record of layer `index` when it is a factorized dense layer, else nil.
    public func factorizedDenseRecord(_ index: Int) -> Factorization? {
        factorizedConvolutionForm(index) == nil ? factorization(index) : nil
    }

    /// The names of the already factorized layers (dense and convolutions), in model order.
    public var factorizedLayerNames: [String] {
        (0..<layerCount).compactMap { factorization($0) == nil ? nil : layerName($0) }
    }

    /// What each whole `conv2d` layer costs on the input it gets (``ConvolutionCost``), by layer name, from the shapes
    /// alone; empty when the layers' shapes do not chain (the converter then counts parameters only).
    public var convolutionCosts: [String: ConvolutionCost] {
        guard let outputs = try? layerOutputShapes(), outputs.count == layerCount else { return [:] }
        var costs: [String: ConvolutionCost] = [:]
        for index in 0..<layerCount {
            guard let shape = factorizableKernelShape(index, convolutions: true), shape.count == 4 else { continue }
            let before = index == 0 ? input.shape : outputs[index - 1]
            costs[layerName(index)] = ConvolutionCost(kernelShape: shape, input: before, output: outputs[index])
        }
        return costs
    }
}

extension Model: LayerSource {
    public var layerCount: Int { layers.count }
    public func layerName(_ index: Int) -> String { layers[index].name }
    public func factorizableKernelShape(_ index: Int, convolutions: Bool) -> [Int]? {
        layers[index].operation.factorizableKernel(convolutions: convolutions)?.shape
    }
    public func factorization(_ index: Int) -> Factorization? { layers[index].operation.factorization }
    public func factorizedConvolutionForm(_ index: Int) -> ConvFactorizationForm? { layers[index].operation.factorizedConvolutionForm }
    public func layer(_ index: Int) throws -> Layer<Tensor> { layers[index] }
    public func release(_ index: Int) {}
}

extension MappedModel: LayerSource {
    public func layerName(_ index: Int) -> String { file.header.model.layers[index].name }
    public func factorizableKernelShape(_ index: Int, convolutions: Bool) -> [Int]? {
        layerInfo(index).operation.factorizableKernel(convolutions: convolutions)?.shape
    }
    public func factorization(_ index: Int) -> Factorization? { layerInfo(index).operation.factorization }
    public func factorizedConvolutionForm(_ index: Int) -> ConvFactorizationForm? { layerInfo(index).operation.factorizedConvolutionForm }
    public func layerOutputShapes() throws -> [[Int]] { try file.header.layerOutputShapes() }
}

/// What ``LayerSource`` asks of a layer, for a model in memory (`Tensor`) and a mapped one (`TensorInfo`) alike.
extension LayerOperation {
    /// The kernel of a layer the converter factorizes: a dense layer, or a 2-D convolution when `convolutions` is true.
    func factorizableKernel(convolutions: Bool) -> T? {
        switch self {
        case let .dense(kernel, _, _): kernel
        case let .conv2D(kernel, _, _, _) where convolutions: kernel
        default: nil
        }
    }

    /// The factorization record of a factorized dense layer or convolution (any storage).
    var factorization: Factorization? {
        switch self {
        case let .factorizedDense(_, _, _, _, f), let .factorizedConv2D(_, _, _, _, _, _, f): f
        default: nil
        }
    }

    /// The form of a factorized convolution.
    var factorizedConvolutionForm: ConvFactorizationForm? {
        if case let .factorizedConv2D(_, _, _, _, form, _, _) = self { form } else { nil }
    }
}

/// Replaces dense layers by low-rank factors where the rank policy and the break-even rule say so.
///
/// For each dense layer with kernel W (in × out) the policy chooses k from W's singular values;
/// k is rounded up to `rankMultiple`; the layer is factorized only if k·(in + out) < in·out
/// (otherwise it stays dense and the decision says why; this is what keeps most output layers
/// dense). The factors are U_k·Σ_k (in × k) and V_kᵀ (k × out), the best rank-k approximation
/// (Eckart–Young); the converter checks that their measured relative Frobenius error equals
/// √(Σᵢ>ₖ σᵢ² / Σ σᵢ²) and refuses to produce a model where it does not.
public enum Converter {
    /// Told about each layer as its conversion finishes (in the order they finish; layers run in
    /// parallel): its decision, how many of the `total` layers with weights to factorize are done.
    public typealias LayerProgress = @Sendable (_ decision: LayerDecision, _ done: Int, _ total: Int) -> Void

    public static func convert(_ model: Model, options: ConversionOptions, progress: LayerProgress? = nil) throws -> ConversionResult {
        let (layers, decisions) = try convertLayers(of: model, options: options, progress: progress)
        var converted = model
        converted.layers = layers
        ConversionProvenance(options: options).record(in: &converted.metadata)
        return ConversionResult(model: converted, decisions: decisions)
    }

    /// Converts a mapped model one layer at a time: each dense layer is read from the mapping when its
    /// turn comes and its pages dropped when it is done, so the memory used is about the output plus
    /// the working sets of the layers in flight (bounded by ``WorkBudget``), not the model.
    public static func convert(_ model: MappedModel, options: ConversionOptions, progress: LayerProgress? = nil) throws -> ConversionResult {
        let (layers, decisions) = try convertLayers(of: model, options: options, progress: progress)
        var converted = Model(name: model.name, input: model.input, classNames: model.classNames, layers: layers,
                              metadata: model.metadata, userMetadata: model.userMetadata)
        ConversionProvenance(options: options).record(in: &converted.metadata)
        return ConversionResult(model: converted, decisions: decisions)
    }

    /// Every layer of `source` converted (or passed on) with its decision, in layer order.
    static func convertLayers(of source: some LayerSource, options: ConversionOptions,
                              progress: LayerProgress? = nil) throws -> ([Layer<Tensor>], [LayerDecision]) {
        var layers = [Layer<Tensor>?](repeating: nil, count: source.layerCount)
        var decisions = [LayerDecision?](repeating: nil, count: source.layerCount)
        var jobs: [(index: Int, shape: [Int])] = []
        let costs = options.convolutions == .none ? [:] : source.convolutionCosts
        for index in 0..<source.layerCount {
            if let shape = source.factorizableKernelShape(index, convolutions: options.convolutions != .none) {
                jobs.append((index, shape))
                continue
            }
            // An already factorized layer is truncated further (or kept): its job's work is about an SVD of its product.
            if let f = source.factorization(index) {
                jobs.append((index, [f.inFeatures, f.outFeatures]))
                continue
            }
            let layer = try source.layer(index)
            source.release(index)
            let reason = switch layer.operation {
            case .conv2D: "convolutions kept (--conv none)"
            case .depthwiseConv2D: "depthwise convolutions are not factorized (one small kernel per channel)"
            case .conv2DTranspose: "transposed convolutions are kept whole (not factorized)"
            case .layerNorm: "layer normalization is kept (per-sample statistics, no matrix to factorize)"
            default: "no weights to factorize"
            }
            decisions[index] = LayerDecision(name: layer.name, kind: layer.operation.kindName, outcome: .notApplicable,
                                             parametersBefore: parameterCount(layer), parametersAfter: parameterCount(layer),
                                             seconds: 0, reason: reason)
            layers[index] = layer
        }
        // Layers run in parallel, each on one BLAS thread, so that a layer's result does not depend on
        // how many run at once. Workers take the largest remaining layer next (cost in·out·min(in, out),
        // an SVD's), which keeps a big first layer from finishing last; a layer starts only when the
        // working sets in flight leave room for its own (``WorkBudget``).
        let work = jobs.sorted { svdWork($0.shape) > svdWork($1.shape) || (svdWork($0.shape) == svdWork($1.shape) && $0.index < $1.index) }
        let results = ResultBox(count: work.count)
        let budget = WorkBudget(limit: max(work.map { workingBytes($0.shape) }.max() ?? 0, WorkBudget.floor))
        // Under an address-space limit BLAS calls run one at a time anyway (BLASWorkBuffer), and each worker
        // would need a thread of libdispatch's, which may never come: one layer at a time, on this thread.
        let workers = BLASWorkBuffer.limited ? 1 : layerWorkers(parallelLayers: options.parallelLayers, jobs: jobs.count,
                                                                blasThreads: assumedBLASThreads ?? BLASRuntime.threadCount)
        // The largest layer, when it goes through the Gram matrix beside other layers, forms that matrix
        // first, alone: its two halves get both cores, and the other layers run while it goes on on one
        // thread (the tridiagonal stages). Only the order changes, not the bits.
        let first = workers > 1 ? try? formGramFirst(source, job: work[0], options: options) : nil
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let job = results.next() {
                let (index, shape) = work[job]
                let bytes = workingBytes(shape)
                budget.acquire(bytes)
                let result = Result {
                    let prepared = job == 0 ? first : nil
                    let layer = try prepared?.layer ?? source.layer(index)
                    defer { source.release(index) }
                    return try convertLayer(layer, options: options, formed: prepared?.formed, cost: costs[layer.name])
                }
                let done = results.set(job, result)
                budget.release(bytes)
                if let progress, case .success(let (_, decision)) = result { progress(decision, done, work.count) }
            }
        }
        var byLayer: [Int: Int] = [:]
        for (job, item) in work.enumerated() { byLayer[item.index] = job }
        for (index, _) in jobs {
            var (layer, decision) = try results.get(byLayer[index] ?? 0).get()
            if options.quantizeDenseKernels, decision.outcome == .notWorthIt {
                if options.quantization != nil {
                    layer = try quantizedDense(layer, options: options)
                } else if case let .dense(kernel, bias, activation) = layer.operation {
                    layer.operation = .dense(kernel: kernel.converted(to: options.factorDType), bias: bias, activation: activation)
                }
            }
            layers[index] = layer
            decisions[index] = decision
        }
        return (layers.compactMap { $0 }, decisions.compactMap { $0 })
    }

    /// How many layers run at once: up to `parallelLayers` when BLAS runs each call on its caller's thread
    /// (`blasThreads` 1, as `lrm` pins it), else one. OpenBLAS's own threads are not meant to serve calls
    /// from several threads at once, so a library caller that left BLAS multi-threaded gets its layers one
    /// after the other, each on BLAS's threads (the same calls, so the same bits as in parallel).
    static func layerWorkers(parallelLayers: Int, jobs: Int, blasThreads: Int?) -> Int {
        blasThreads == 1 ? max(1, min(parallelLayers, jobs)) : 1
    }

    /// For tests of the layer scheduling in a process whose BLAS is multi-threaded: the thread count
    /// ``layerWorkers(parallelLayers:jobs:blasThreads:)`` is given instead of BLAS's own (nil: BLAS's own).
    @TaskLocal package static var assumedBLASThreads: Int?

    /// The job's layer and its Gram matrix (with the seconds forming it took) when its exact decomposition
    /// goes through the Gram matrix, else nil. Its errors are the layer's job's to report: the caller
    /// ignores them and the job does the work again.
    static func formGramFirst(_ source: some LayerSource, job: (index: Int, shape: [Int]), options: ConversionOptions) throws
        -> (layer: Layer<Tensor>, formed: (gram: GramMatrix, seconds: Double))? {
        guard job.shape.count == 2, LayerSpectrum.usesGram(rows: job.shape[0], columns: job.shape[1], options: options) else { return nil }
        let layer = try source.layer(job.index)
        guard case let .dense(kernel, _, _) = layer.operation, let policy = options.policy(forLayer: layer.name),
              kernel.shape.count == 2 else { return nil }
        let (inFeatures, outFeatures) = (kernel.shape[0], kernel.shape[1])
        let metric = try truncationMetric(forLayer: layer.name, inFeatures: inFeatures, options: options)
        guard !LayerSpectrum.usesRandomizedSVD(rows: inFeatures, columns: outFeatures, metric: metric, policy: policy, options: options),
              LayerSpectrum.usesGram(rows: inFeatures, columns: outFeatures, options: options) else { return nil }
        let start = DispatchTime.now().uptimeNanoseconds
        let transformed = try LayerSpectrum.transform(try Matrix(rows: inFeatures, columns: outFeatures, values: kernel.floats()), metric)
        let gram = try GramMatrix(transformed)
        return (layer, (gram, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    }

    /// The work of a dense layer's SVD, in·out·min(in, out), for scheduling.
    static func svdWork(_ shape: [Int]) -> Double {
        guard shape.count == 2 else { return 0 }
        let (rows, columns) = (Double(shape[0]), Double(shape[1]))
        return rows * columns * min(rows, columns)
    }

    /// About what converting a layer holds at once: its kernel, a transformed or reconstructed copy,
    /// and the decomposition's matrices: three float32 kernels.
    static func workingBytes(_ shape: [Int]) -> Int {
        var product = 1
        for dimension in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: max(dimension, 0))
            if overflow || next > Int.max / 12 { return Int.max / 2 }
            product = next
        }
        return product * 12
    }

    package static func parameterCount(_ layer: Layer<Tensor>) -> Int {
        layer.operation.tensors.reduce(0) { $0 + $1.tensor.elementCount }
    }

    /// Converts one dense layer; `formed`, its Gram matrix already formed (``formGramFirst(_:index:options:)``); `cost`, a
    /// convolution's on the input it gets (nil: parameters alone decide).
    static func convertLayer(_ layer: Layer<Tensor>, options: ConversionOptions,
                             formed: (gram: GramMatrix, seconds: Double)? = nil, cost: ConvolutionCost? = nil) throws -> (Layer<Tensor>, LayerDecision) {
        if case .conv2D = layer.operation { return try convertConvolution(layer, options: options, cost: cost) }
        switch layer.operation {
        case .factorizedDense, .factorizedConv2D: return try convertFactorized(layer, options: options)
        default: break
        }
        guard case let .dense(kernel, _, _) = layer.operation else { preconditionFailure("dense layers only") }
        guard let policy = options.policy(forLayer: layer.name) else {
            let dense = parameterCount(layer)
            return (layer, LayerDecision(name: layer.name, kind: "dense", outcome: .excluded, inFeatures: kernel.shape[0],
                                         outFeatures: kernel.shape[1], parametersBefore: dense, parametersAfter: dense,
                                         seconds: 0, reason: "excluded by an override"))
        }
        // Ranks first, vectors second: where the exact SVD would be used, the singular values alone
        // (gesdd jobz 'N', a fraction of the cost) choose k and decide whether factoring pays; the
        // vectors are computed only for a layer that will be factorized: by the same thin SVD as
        // before with gesdd (a factorized layer's bytes do not change), and through the Gram matrix
        // only the k kept triplets (the file still records every singular value, the values pass's).
        var valuesSeconds = 0.0
        var gram: GramDecomposition?
        var leading: (singularValues: [Double], count: Int)?
        if let values = try singularValuesIfExact(of: layer, policy: policy, options: options, formed: formed) {
            valuesSeconds = values.seconds
            gram = values.gram
            let total = Spectrum.energy(values.singularValues)
            let chosen = policy.chooseRank(singularValues: values.singularValues, totalEnergy: total,
                                           inFeatures: kernel.shape[0], outFeatures: kernel.shape[1])
            let outline = outline(of: layer, chosen: chosen, singularValues: values.singularValues, energyDenominator: total,
                                  isComplete: true, method: values.method, seconds: values.seconds, policy: policy, options: options)
            if !outline.pays { return (layer, outline.decision) }
            leading = (values.singularValues, outline.rank)
        }
        let spectrum = try spectrum(of: layer, policy: policy, options: options, gram: gram, leading: leading)
        var (converted, decision) = try apply(spectrum, to: layer, rank: spectrum.rank(for: policy), policyName: policy.name,
                                              policyParameter: policy.parameter, policyDescription: policy.description, options: options)
        decision.seconds += valuesSeconds
        return (converted, decision)
    }

    /// The singular values of a dense layer's kernel in the metric `options` asks for, when its
    /// decomposition would be exact (nil when `LayerSpectrum.compute` would sketch it randomized),
    /// with the time they took, the method's name, and the Gram matrix when that is the method (the
    /// vectors pass reuses it).
    static func singularValuesIfExact(of layer: Layer<Tensor>, policy: RankPolicy, options: ConversionOptions,
                                      formed: (gram: GramMatrix, seconds: Double)? = nil) throws
        -> (singularValues: [Double], method: String, seconds: Double, gram: GramDecomposition?)? {
        guard case let .dense(kernel, _, _) = layer.operation else { return nil }
        let (inFeatures, outFeatures) = (kernel.shape[0], kernel.shape[1])
        let values = kernel.floats()
        guard FiniteValues.all(values) else {
            throw ConversionError(kind: .nonFiniteWeights, layer: layer.name, message: "the kernel holds NaN or infinite values")
        }
        do {
            let metric = try truncationMetric(forLayer: layer.name, inFeatures: inFeatures, options: options)
            guard !LayerSpectrum.usesRandomizedSVD(rows: inFeatures, columns: outFeatures, metric: metric, policy: policy,
                                                   options: options) else { return nil }
            let start = DispatchTime.now().uptimeNanoseconds
            let viaGram = LayerSpectrum.usesGram(rows: inFeatures, columns: outFeatures, options: options)
            let gram: GramDecomposition?, singularValues: [Double]
            // Through the Gram matrix, the eigenvectors start at once, beside the singular values: a layer
            // that will be factorized needs both (one kept dense loses that work, on the other core).
            if viaGram, let formed {
                gram = try GramDecomposition(formed.gram).startingEigenvectors()
                singularValues = try gram?.singularValues() ?? []
            } else {
                let transformed = try LayerSpectrum.transform(try Matrix(rows: inFeatures, columns: outFeatures, values: values), metric)
                gram = viaGram ? try GramDecomposition(transformed).startingEigenvectors() : nil
                singularValues = try gram?.singularValues() ?? SVD.singularValues(of: transformed, precision: options.precision)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 + (formed?.seconds ?? 0)
            return (singularValues, LayerSpectrum.methodName(exact: true, gram: viaGram, metric: metric, precision: options.precision),
                    seconds, gram)
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "\(error)")
        }
    }

    /// What truncating a dense layer to `chosen` (rounded up to `options.rankMultiple`) would give, and
    /// whether it pays (k·(in + out) < in·out): the decision of a layer kept dense, complete.
    static func outline(of layer: Layer<Tensor>, chosen: Int, singularValues: [Double], energyDenominator: Double,
                        isComplete: Bool, method: String, seconds: Double, policy: RankPolicy,
                        options: ConversionOptions) -> (decision: LayerDecision, rank: Int, pays: Bool) {
        outline(of: layer, chosen: chosen, singularValues: singularValues, energyDenominator: energyDenominator,
                isComplete: isComplete, method: method, seconds: seconds, policyName: policy.name,
                policyParameter: policy.parameter, options: options)
    }

    static func outline(of layer: Layer<Tensor>, chosen: Int, singularValues: [Double], energyDenominator: Double,
                        isComplete: Bool, method: String, seconds: Double, policyName: String, policyParameter: Double,
                        options: ConversionOptions) -> (decision: LayerDecision, rank: Int, pays: Bool) {
        guard case let .dense(kernel, _, _) = layer.operation else { preconditionFailure("dense layers only") }
        let (inFeatures, outFeatures) = (kernel.shape[0], kernel.shape[1])
        let dense = parameterCount(layer)
        var decision = LayerDecision(name: layer.name, kind: "dense", outcome: .notWorthIt, inFeatures: inFeatures,
                                     outFeatures: outFeatures, parametersBefore: dense, parametersAfter: dense,
                                     seconds: 0, reason: "")
        decision.policy = try? RankPolicy(parsing: policyName == "erank" ? "erank" : "\(policyName):\(policyParameter)")
        let cost = FactorizationCost(inFeatures: inFeatures, outFeatures: outFeatures)
        let rank = cost.roundedRank(chosen, multiple: options.rankMultiple)
        decision.policyRank = chosen
        decision.rank = rank
        decision.method = method
        decision.seconds = seconds
        let tail = Spectrum.tailEnergyFraction(rank: rank, singularValues: singularValues, totalEnergy: energyDenominator,
                                               complete: isComplete)
        decision.retainedEnergy = 1 - tail
        decision.relativeError = tail.squareRoot()
        guard cost.pays(rank: rank) else {
            let factorCost = cost.factorParameters(rank: rank)
            decision.reason = "k·(in+out) = \(rank)·\(inFeatures + outFeatures) = \(factorCost) ≥ in·out = \(cost.denseParameters): kept dense"
            return (decision, rank, false)
        }
        return (decision, rank, true)
    }

    /// The decomposition of a dense layer's kernel in the metric `options` asks for.
    /// `gram` and `leading`: see ``LayerSpectrum/compute(name:kernel:metric:policy:options:gram:leading:)``.
    public static func spectrum(of layer: Layer<Tensor>, policy: RankPolicy, options: ConversionOptions,
                                gram: GramDecomposition? = nil,
                                leading: (singularValues: [Double], count: Int)? = nil) throws -> LayerSpectrum {
        guard case let .dense(kernel, _, _) = layer.operation else {
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "not a dense layer")
        }
        let (inFeatures, outFeatures) = (kernel.shape[0], kernel.shape[1])
        let values = kernel.floats()
        guard FiniteValues.all(values) else {
            throw ConversionError(kind: .nonFiniteWeights, layer: layer.name, message: "the kernel holds NaN or infinite values")
        }
        do {
            let matrix = try Matrix(rows: inFeatures, columns: outFeatures, values: values)
            let metric = try truncationMetric(forLayer: layer.name, inFeatures: inFeatures, options: options)
            return try LayerSpectrum.compute(name: layer.name, kernel: matrix, metric: metric, policy: policy, options: options,
                                             gram: gram, leading: leading)
        } catch let error as ConversionError {
            throw error
        } catch {
            throw ConversionError(kind: .decomposition, layer: layer.name, message: "\(error)")
        }
    }

    /// The layer truncated to `chosen` (rounded up to `options.rankMultiple`), or kept dense when
    /// factoring does not pay; the factors are checked against Eckart–Young in the spectrum's metric.
    public static func apply(_ spectrum: LayerSpectrum, to layer: Layer<Tensor>, rank chosen: Int, policyName: String,
                             policyParameter: Double, policyDescription: String,
                             options: ConversionOptions) throws -> (Layer<Tensor>, LayerDecision) {
        guard case let .dense(_, bias, activation) = layer.operation else { preconditionFailure("dense layers only") }
        let (inFeatures, outFeatures) = (spectrum.inFeatures, spectrum.outFeatures)
        let matrix = spectrum.kernel
        let biasCount = bias?.elementCount ?? 0
        let cost = FactorizationCost(inFeatures: inFeatures, outFeatures: outFeatures)
        let full = cost.fullRank
        var (decision, rank, pays) = outline(of: layer, chosen: chosen, singularValues: spectrum.singularValues,
                                             energyDenominator: spectrum.energyDenominator, isComplete: spectrum.isComplete,
                                             method: spectrum.method, seconds: spectrum.seconds, policyName: policyName,
                                             policyParameter: policyParameter, options: options)
        guard pays else { return (layer, decision) }
        let factorCost = cost.factorParameters(rank: rank)

        let (us, vt) = try spectrum.factors(rank: rank)
        if let quantization = options.quantization {
            try checkPacking(quantization, inFeatures: inFeatures, rank: rank, outFeatures: outFeatures, layer: layer.name)
        }
        let predicted = spectrum.tailFraction(rank: rank).squareRoot()
        let measured = try spectrum.metricError(us: us, vt: vt)
        // Eckart–Young (in the layer's metric): the factors' error is the tail of the spectrum.
        // Float32 reconstruction noise is about 1e-7·√max(in, out) relative (more in the whitened
        // metric, whose transform is ill-conditioned); allow 0.2% of the error or 2e-6·√max(in, out).
        var tolerance = max(2e-3 * predicted, 2e-6 * Double(max(inFeatures, outFeatures)).squareRoot())
        if case .plain = spectrum.metric {} else { tolerance = max(tolerance, 1e-3) }
        guard abs(measured - predicted) <= tolerance else {
            throw ConversionError(kind: .eckartYoung, layer: layer.name,
                                  message: "factors have relative error \(measured) in the \(spectrum.metric.name) metric, Eckart–Young predicts \(predicted) (tolerance \(tolerance)); refusing to write")
        }
        // In the plain metric the measured error is already ‖W − us·vt‖/‖W‖: one reconstruction, not two.
        let plainError: Double
        if case .plain = spectrum.metric { plainError = measured } else { plainError = try relativeError(of: us, vt, against: matrix) }
        let usTensor: Tensor, vtTensor: Tensor
        if let quantization = options.quantization {
            (usTensor, vtTensor) = try quantizedFactors(us: us.values, vt: vt.values, inFeatures: inFeatures, rank: rank,
                                                        outFeatures: outFeatures, options: quantization,
                                                        gram: calibrationGram(forLayer: layer.name, inFeatures: inFeatures, options: options),
                                                        layer: layer.name)
        } else {
            usTensor = Tensor(shape: [inFeatures, rank], floats: us.values, dtype: options.factorDType)
            vtTensor = Tensor(shape: [rank, outFeatures], floats: vt.values, dtype: options.factorDType)
        }
        var storedError = plainError
        if options.factorDType != .float32 || options.quantization != nil {
            storedError = try relativeError(of: try Matrix(rows: inFeatures, columns: rank, values: usTensor.floats()),
                                            try Matrix(rows: rank, columns: outFeatures, values: vtTensor.floats()), against: matrix)
        }
        let factorization = Factorization(inFeatures: inFeatures, outFeatures: outFeatures, rank: rank,
                                          retainedEnergy: decision.retainedEnergy ?? 0, relativeError: storedError,
                                          policy: policyName, policyParameter: policyParameter, method: spectrum.method,
                                          singularValues: spectrum.singularValues)
        decision.outcome = .factorized
        decision.relativeError = storedError
        decision.parametersAfter = factorCost + biasCount
        decision.reason = rank == chosen ? "\(policyDescription) chose k = \(rank) of \(full)"
                                         : "\(policyDescription) chose k = \(chosen), rounded up to \(rank) of \(full)"
        let operation = LayerOperation<Tensor>.factorizedDense(us: usTensor, vt: vtTensor, bias: bias, activation: activation,
                                                               factorization: factorization)
        return (Layer(name: layer.name, operation: operation), decision)
    }

    /// i4 packs two codes per byte: factors with an odd number of values cannot be stored.
    static func checkPacking(_ quantization: QuantizationOptions, inFeatures: Int, rank: Int, outFeatures: Int, layer: String) throws {
        if quantization.dtype == .int4, (inFeatures * rank) % 2 != 0 || (rank * outFeatures) % 2 != 0 {
            throw ConversionError(kind: .decomposition, layer: layer,
                                  message: "i4 factors need an even number of values: \(inFeatures)×\(rank) and \(rank)×\(outFeatures); choose an even rank (--round-rank 2)")
        }
    }

    /// XᵀX of the layer's inputs on the calibration data, when there is some and rounding may use it.
    static func calibrationGram(forLayer name: String, inFeatures: Int, options: ConversionOptions) -> [Double]? {
        guard options.quantization?.useCalibration == true, let statistics = options.calibration?.layers[name],
              statistics.features == inFeatures else { return nil }
        return statistics.gram
    }

    /// U·Σ and Vᵀ as integer codes with scales. With calibration data: `us` rounded with error
    /// feedback against the layer's inputs, Vᵀ refitted to the rounded `us` on the same data, then
    /// rounded with error feedback against the middle activations x·ûs.
    static func quantizedFactors(us: [Float], vt: [Float], inFeatures: Int, rank: Int, outFeatures: Int,
                                 options: QuantizationOptions, gram: [Double]?, layer: String) throws -> (Tensor, Tensor) {
        do {
            guard inFeatures % options.groupSize(rows: inFeatures) == 0 else {
                throw ConversionError(kind: .decomposition, layer: layer,
                                      message: "group size \(options.groupSize ?? 0) does not divide the layer's \(inFeatures) inputs")
            }
            let usQ = try FactorQuantizer.quantize(us, rows: inFeatures, columns: rank, options: options, gram: gram)
            // Vᵀ's rows are the rank: groups of the requested size where they divide it, else one per column.
            var vtOptions = options
            if let g = options.groupSize, rank % g != 0 { vtOptions.groupSize = nil }
            let vtQ: QuantizedValues
            if let gram {
                let rounded = usQ.dequantized()
                let refitted = FactorQuantizer.refitVT(gram: gram, us: us, roundedUS: rounded, vt: vt, rows: inFeatures,
                                                       rank: rank, columns: outFeatures)
                let middle = FactorQuantizer.middleGram(gram, us: rounded, rows: inFeatures, rank: rank)
                vtQ = try FactorQuantizer.quantize(refitted, rows: rank, columns: outFeatures, options: vtOptions, gram: middle)
            } else {
                vtQ = try FactorQuantizer.quantize(vt, rows: rank, columns: outFeatures, options: vtOptions)
            }
            return (Tensor(quantized: usQ), Tensor(quantized: vtQ))
        } catch var error as ConversionError {
            if error.layer.isEmpty { error.layer = layer }
            throw error
        }
    }

    /// A dense layer's kernel as integer codes with scales (error feedback with calibration data).
    public static func quantizedDense(_ layer: Layer<Tensor>, options: ConversionOptions) throws -> Layer<Tensor> {
        guard let quantization = options.quantization, case let .dense(kernel, _, _) = layer.operation, kernel.shape.count == 2 else { return layer }
        return try quantizedDense(layer, quantization: quantization,
                                  gram: calibrationGram(forLayer: layer.name, inFeatures: kernel.shape[0], options: options))
    }

    /// A dense layer's kernel as integer codes with scales, with error feedback against `gram` (XᵀX of
    /// its inputs) when there is one.
    static func quantizedDense(_ layer: Layer<Tensor>, quantization: QuantizationOptions, gram: [Double]?) throws -> Layer<Tensor> {
        guard case let .dense(kernel, bias, activation) = layer.operation,
              kernel.quantization == nil, kernel.shape.count == 2 else { return layer }
        let (rows, columns) = (kernel.shape[0], kernel.shape[1])
        if quantization.dtype == .int4, (rows * columns) % 2 != 0 { return layer }
        var local = quantization
        if let g = local.groupSize, rows % g != 0 { local.groupSize = nil }
        do {
            let q = try FactorQuantizer.quantize(kernel.floats(), rows: rows, columns: columns, options: local,
                                                 gram: quantization.useCalibration ? gram : nil)
            return Layer(name: layer.name, operation: .dense(kernel: Tensor(quantized: q), bias: bias, activation: activation))
        } catch var error as ConversionError {
            if error.layer.isEmpty { error.layer = layer.name }
            throw error
        }
    }

    /// The truncation metric of one layer: the option's choice, built from its calibration statistics.
    static func truncationMetric(forLayer name: String, inFeatures: Int, options: ConversionOptions) throws -> TruncationMetric {
        switch options.metric {
        case .plain:
            return .plain
        case .whitened(let ridge):
            guard let statistics = options.calibration?.layers[name], statistics.features == inFeatures else {
                throw ConversionError(kind: .decomposition, layer: name, message: "no calibration statistics for this layer's \(inFeatures) inputs")
            }
            // XᵀX is accumulated in double but factorized in float: inputs past about 1.8·10¹⁹ overflow it. The
            // fault is in the data, not in the model: say so rather than report a failed factorization.
            if let largest = statistics.gram.lazy.map(abs).max(), !(largest <= Double(Float.greatestFiniteMagnitude)) {
                throw ConversionError(kind: .calibrationData, layer: name, message: "the calibration data reaching this layer is too large "
                                      + "for float32 (XᵀX reaches \(String(format: "%.2g", largest))): check the data's values and its scale (--input-scale)")
            }
            let meanDiagonal = (0..<inFeatures).reduce(0.0) { $0 + statistics.gram[$1 * inFeatures + $1] } / Double(inFeatures)
            var lambda = ridge * (meanDiagonal > 0 ? meanDiagonal : 1)
            // λ keeps rank-deficient inputs (MNIST's always-zero border pixels) positive definite;
            // if rounding still defeats the factorization, grow it tenfold (at most 6 times).
            for _ in 0..<6 {
                var regularized = statistics.gram
                for i in 0..<inFeatures { regularized[i * inFeatures + i] += lambda }
                do {
                    let lower = try Cholesky.factor(try Matrix(rows: inFeatures, columns: inFeatures, values: regularized.map(Float.init)),
                                                    precision: .double).lower
                    return .whitened(lower: lower, ridge: lambda)
                } catch let error as LinearAlgebraError {
                    guard case .notPositiveDefinite = error.kind else { throw error }
                    lambda *= 10
                }
            }
            throw ConversionError.notPositiveDefinite(layer: name, what: "XᵀX + λI", lambda: lambda, ridge: ridge, inputs: inFeatures, rows: statistics.rows)
        case .activationScaled(let alpha):
            guard let statistics = options.calibration?.layers[name], statistics.features == inFeatures else {
                throw ConversionError(kind: .decomposition, layer: name, message: "no calibration statistics for this layer's \(inFeatures) inputs")
            }
            // Features that are always zero get the smallest positive scale seen, so T stays invertible.
            let positive = statistics.meanAbsolute.filter { $0 > 0 }.min() ?? 1
            return .activationScaled(scales: statistics.meanAbsolute.map { Float(pow(max($0, positive), alpha)) }, alpha: alpha)
        }
    }

    /// ‖W − us·vt‖_F / ‖W‖_F, computed in float32 with the difference accumulated in Double.
    static func relativeError(of us: Matrix, _ vt: Matrix, against w: Matrix) throws -> Double {
        relativeDistance(try Matrix.product(us, vt), w)
    }
}

/// Bytes of working sets in flight: a layer starts when its own fits beside those running, or when
/// nothing runs (so the largest can always start).
final class WorkBudget: @unchecked Sendable {
    /// The smallest limit: layers this small run side by side whatever the largest needs.
    static let floor = 64 << 20
    let limit: Int
    private var inFlight = 0
    private let condition = NSCondition()

    init(limit: Int) { self.limit = limit }

    func acquire(_ bytes: Int) {
        condition.lock()
        while inFlight > 0 && (inFlight > limit - bytes) { condition.wait() }
        inFlight += bytes
        condition.unlock()
    }

    func release(_ bytes: Int) {
        condition.lock()
        inFlight -= bytes
        condition.broadcast()
        condition.unlock()
    }
}

/// Results written by concurrent workers, each to its own index.
private final class ResultBox: @unchecked Sendable {
    private var results: [Result<(Layer<Tensor>, LayerDecision), Error>?]
    private let lock = NSLock()
    private var taken = 0
    init(count: Int) { results = Array(repeating: nil, count: count) }
    /// The next job not yet taken, or nil when all are.
    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard taken < results.count else { return nil }
        taken += 1
        return taken - 1
    }
    private var finished = 0
    /// Stores job `index`'s result; returns how many jobs have finished, this one included.
    @discardableResult
    func set(_ index: Int, _ result: Result<(Layer<Tensor>, LayerDecision), Error>) -> Int {
        lock.lock(); defer { lock.unlock() }
        results[index] = result
        finished += 1
        return finished
    }
    func get(_ index: Int) -> Result<(Layer<Tensor>, LayerDecision), Error> {
        lock.lock(); defer { lock.unlock() }
        return results[index] ?? .failure(ConversionError(kind: .decomposition, layer: "?", message: "no result"))
    }
}
