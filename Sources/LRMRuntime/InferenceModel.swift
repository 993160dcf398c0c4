public import LRMFormat
import LRMLinearAlgebra
import Synchronization

/// A model prepared for running: weights converted to float32 once, layers turned into steps.
///
/// `run` takes raw inputs (as they come from the data: pixels 0–255, say), applies the model's
/// preprocessing `x · scale + offset`, then the layers, batched through BLAS `sgemm`. Inputs and
/// outputs are row-major: sample after sample, each in the model's input (output) shape.
public final class InferenceModel: Sendable {
    /// A weight matrix as the runtime keeps it: float32, or quantized codes with their scales
    /// (dequantized one block of rows at a time during the product, never as a whole).
    enum Weights: Sendable {
        case floats([Float])
        case quantized(QuantizedValues, scales: [Float])
        /// float32 values used in place in a mapped `.lrm` file (``init(mapped:)``), never copied.
        case mapped(MappedWeights)

        init(_ tensor: Tensor) {
            if let q = tensor.quantization {
                self = .quantized(q, scales: q.scales.floats())
            } else {
                self = .floats(tensor.floats())
            }
        }
    }

    enum Step: Sendable {
        /// y = act(x · kernel + bias), kernel in × out.
        case dense(kernel: Weights, inFeatures: Int, outFeatures: Int, bias: [Float]?, activation: Activation)
        /// y = act((x · us) · vt + bias), us in × k, vt k × out.
        case factorized(us: Weights, vt: Weights, inFeatures: Int, rank: Int, outFeatures: Int, bias: [Float]?, activation: Activation)
        case activation(Activation)
        /// y = x · scale + shift over the last axis.
        case scaleShift(scale: [Float], shift: [Float]?)
        /// (1.5) Layer normalization over the last axis.
        case layerNorm(gamma: [Float]?, beta: [Float]?, epsilon: Double)
        /// Only the sample's shape changes (flatten, reshape).
        case reshape([Int])
        /// Convolutions run one after the other (one, or the two halves of a factorized one).
        case convolution([ConvolutionPlan])
        case depthwise(ConvolutionPlan, multiplier: Int)
        case pool(ConvolutionPlan, PoolMode)
        case globalPool(input: [Int], PoolMode)
        /// Zero padding (positive margins) or cropping (negative ones) of [h, w, c] samples.
        case shift(input: [Int], top: Int, left: Int, outH: Int, outW: Int)
        case permute(input: [Int], axes: [Int])
        /// (1.5) Each [h, w, c] sample upsampled (nearest or bilinear).
        case upsample(input: [Int], Upsampling)
        /// (1.5) A transposed convolution.
        case transposedConvolution(TransposedConvolution)
        /// (1.4) The current batch is kept in a slot; it stays the current one.
        case store(slot: Int)
        /// (1.4) The batch kept in a slot becomes the current one.
        case load(slot: Int)
        /// (1.4) The current batch combined with the slots' (`widths`: the last-axis sizes of the current sample and
        /// then of each slot's, for a concatenation), then the activation.
        case merge(MergeMode, slots: [Int], widths: [Int], activation: Activation)
        /// (1.5) An element-wise activation with parameters, and PReLU's alphas.
        case parametricActivation(ParametricActivation, alphas: BroadcastAlphas?)
    }

    /// (1.4) After step i, the slots whose batches no later step reads: they are dropped there, so a residual model
    /// holds only the batches it still needs.
    let slotReleases: [[Int]]

    public let name: String
    /// Shape of one input sample.
    public let inputShape: [Int]
    /// Shape of one output sample.
    public let outputShape: [Int]
    public let classNames: [String]
    public let input: InputSpec
    let steps: [Step]
    /// The sample shape after each step.
    let stepShapes: [[Int]]
    /// The most elements any sample has on its way through the model (input included).
    let largestSampleElementCount: Int
    /// How many elements a batch may hold in one buffer (64 MiB of floats): batches shrink to fit.
    static let maxBatchElements = 1 << 24
    /// The same for a model with convolution or pooling steps (4 MiB of floats): a CNN's feature maps make
    /// large samples, and a few dozen of them already give its matrix products tens of thousands of rows,
    /// while buffers this size are reused by the allocator instead of being mapped and faulted in afresh
    /// for every batch (`lrm verify` of the CIFAR-10 CNN: peak memory 169 → 71 MB, a fifth of the system time).
    static let maxSpatialBatchElements = 1 << 20
    /// Whether any step is a convolution, pooling, padding or permutation (``maxSpatialBatchElements`` applies).
    let hasSpatialSteps: Bool
    /// The most elements one sample may have at any step (2²⁸ floats, 1 GiB): a batch holds at least one
    /// sample, so this bounds what running a model allocates whatever its file claims. A file's shapes
    /// may claim up to 2³¹−1 elements per sample (8 GiB) from a few bytes (an input shape, zero padding);
    /// such a model is refused when it is prepared, before any buffer is made.
    public static let maxSampleElements = 1 << 28
    /// The recorded preprocessing, broadcast over each sample at run time (never expanded per element).
    let preprocessing: InputPreprocessing

    public var inputElementCount: Int { inputShape.reduce(1, *) }
    public var outputElementCount: Int { outputShape.reduce(1, *) }

    /// Weights in a mapped file: the pointer stays valid while `file` lives (the model keeps it).
    struct MappedWeights: @unchecked Sendable {
        let values: UnsafeBufferPointer<Float>
        let file: ContainerFile
        let tensor: Int
    }

    /// The mapped file the weights are read from (``init(mapped:)``), kept alive with the model.
    let file: ContainerFile?
    /// Whether weights are used in place in a mapped file (``init(mapped:releaseThreshold:)``).
    public var usesMappedWeights: Bool { file != nil }
    /// Whether a mapped layer's pages are dropped from resident memory after each use (large models:
    /// they stay in the page cache and are read again for the next batch).
    let releasesMappedPages: Bool
    /// Mapped weights above this many bytes in all are released after each use (by default).
    public static let releaseThreshold = 64 << 20

    public convenience init(_ model: Model) throws {
        try self.init(model, file: nil, mapped: [:])
    }

    /// Runs a model in place from its mapped file: float32 weights of dense and factorized layers are
    /// used where they lie in the mapping (checked against their checksums once, here), and when they
    /// add up to more than 64 MiB each layer's pages are released after each use, so resident memory
    /// holds about one layer's weights at a time rather than the model (`releaseThreshold` sets that
    /// size). Everything else is loaded. `checksumsVerified`: the caller has just checked every checksum
    /// of the file (``MappedModel/verifyTensors()``), so they are not checked a second time here.
    public convenience init(mapped model: MappedModel, releaseThreshold: Int = InferenceModel.releaseThreshold,
                            checksumsVerified: Bool = false) throws {
        let file = model.file
        let header = file.header
        for index in header.tensors.indices where !checksumsVerified {
            try file.verifyChecksum(index)
            file.releasePages(ofTensor: index)
        }
        var mapped: [Int: [String: MappedWeights]] = [:]
        var cache: [Int: Tensor] = [:]
        var layers: [Layer<Tensor>] = []
        for (layerIndex, layer) in header.model.layers.enumerated() {
            var inPlace: [String: MappedWeights] = [:]
            let operation = try layer.operation.map { tensorIndex, role -> Tensor in
                let info = header.tensors[tensorIndex]
                switch layer.operation {
                case .dense where role == "kernel", .factorizedDense where role == "us" || role == "vt":
                    if layer.quantization[role] == nil, let values = file.float32Values(inPlace: tensorIndex) {
                        inPlace[role] = MappedWeights(values: values, file: file, tensor: tensorIndex)
                        return Tensor(shape: info.shape, storage: .float32([]))
                    }
                default:
                    break
                }
                if let q = layer.quantization[role] {
                    return Tensor(quantized: try file.quantizedValues(codes: tensorIndex, quantization: q))
                }
                if let known = cache[tensorIndex] { return known }
                let value = file.tensor(tensorIndex)
                file.releasePages(ofTensor: tensorIndex)
                cache[tensorIndex] = value
                return value
            }
            if !inPlace.isEmpty { mapped[layerIndex] = inPlace }
            layers.append(Layer(name: layer.name, operation: operation))
        }
        let described = Model(name: model.name, input: model.input, classNames: model.classNames, layers: layers,
                              metadata: model.metadata, userMetadata: model.userMetadata)
        try self.init(described, file: file, mapped: mapped, releaseThreshold: releaseThreshold)
    }

    /// How many models this process has prepared to run (each preparation converts or maps every weight): lets a test
    /// see that a command prepares a model once (`LRM_TEST_COUNT_PREPARED_MODELS=1` makes lrm print it at exit).
    package static var preparedCount: Int { preparedCounter.load(ordering: .relaxed) }
    private static let preparedCounter = Atomic<Int>(0)

    init(_ model: Model, file: ContainerFile?, mapped: [Int: [String: MappedWeights]], releaseThreshold: Int = InferenceModel.releaseThreshold) throws {
        InferenceModel.preparedCounter.add(1, ordering: .relaxed)
        self.file = file
        var mappedBytes = 0
        var counted = Set<Int>()
        for weights in mapped.values { for w in weights.values where counted.insert(w.tensor).inserted { mappedBytes += w.values.count * 4 } }
        releasesMappedPages = mappedBytes > releaseThreshold
        name = model.name
        input = model.input
        inputShape = model.input.shape
        classNames = model.classNames
        var shape = model.input.shape
        try InferenceModel.checkSampleSize(shape, of: "its input", model: model.name)
        try InferenceModel.checkSpatialWork(model)
        var steps: [Step] = []
        var stepShapes: [[Int]] = []
        var slots = SlotShapes()
        for (layerIndex, layer) in model.layers.enumerated() {
            let features = shape.last ?? 0
            func weights(_ tensor: Tensor, _ role: String) -> Weights {
                mapped[layerIndex]?[role].map(Weights.mapped) ?? Weights(tensor)
            }
            switch layer.operation {
            case .conv2D, .factorizedConv2D, .depthwiseConv2D, .pool2D, .globalPool2D, .pad2D, .crop2D, .permute, .upsample2D,
                 .conv2DTranspose:
                let (step, output) = try InferenceModel.spatialStep(layer, input: shape)
                steps.append(step)
                shape = output
            case let .dense(kernel, bias, activation):
                guard kernel.shape.count == 2, kernel.shape[0] == features else {
                    throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': kernel \(kernel.shape) does not take \(features) features")
                }
                steps.append(.dense(kernel: weights(kernel, "kernel"), inFeatures: features, outFeatures: kernel.shape[1],
                                    bias: bias?.floats(), activation: activation))
                shape = shape.dropLast() + [kernel.shape[1]]
            case let .factorizedDense(us, vt, bias, activation, f):
                guard us.shape == [features, f.rank], vt.shape == [f.rank, f.outFeatures] else {
                    throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': factors \(us.shape), \(vt.shape) do not take \(features) features")
                }
                steps.append(.factorized(us: weights(us, "us"), vt: weights(vt, "vt"), inFeatures: features, rank: f.rank,
                                         outFeatures: f.outFeatures, bias: bias?.floats(), activation: activation))
                shape = shape.dropLast() + [f.outFeatures]
            case .activation(let activation):
                steps.append(.activation(activation))
            case let .scaleShift(scaleTensor, shiftTensor):
                steps.append(.scaleShift(scale: scaleTensor.floats(), shift: shiftTensor?.floats()))
            case let .layerNorm(gamma, beta, epsilon):
                guard [gamma, beta].allSatisfy({ $0 == nil || $0?.shape == [features] }), epsilon.isFinite, epsilon >= 0 else {
                    throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': gamma/beta do not have \(features) values or epsilon \(epsilon) is not 0 or more")
                }
                steps.append(.layerNorm(gamma: gamma?.floats(), beta: beta?.floats(), epsilon: epsilon))
            case .flatten:
                shape = [shape.reduce(1, *)]
                steps.append(.reshape(shape))
            case .reshape(let target):
                shape = target
                steps.append(.reshape(shape))
            case .store(let slot):
                slots.shapes[slot] = shape
                steps.append(.store(slot: slot))
            case .load(let slot):
                guard let stored = slots.shapes[slot] else {
                    throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))' uses slot \(slot), which no earlier layer stored")
                }
                shape = stored
                steps.append(.load(slot: slot))
            case let .merge(mode, slotList, activation):
                let output: [Int]
                do {
                    output = try layer.outputShape(input: shape, slots: &slots)
                } catch {
                    throw RuntimeError(.invalidModel, "\(error)")
                }
                let widths = [shape.last ?? 1] + slotList.map { slots.shapes[$0]?.last ?? 1 }
                steps.append(.merge(mode, slots: slotList, widths: widths, activation: activation))
                shape = output
            case let .parametricActivation(function, alphas):
                if let problem = function.problem { throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': \(problem.message)") }
                var expanded: BroadcastAlphas?
                if let alphas {
                    guard let broadcast = BroadcastAlphas(alphas.floats(), shape: alphas.shape, sample: shape) else {
                        throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))': alphas \(alphas.shape) do not broadcast to \(shape)")
                    }
                    expanded = broadcast
                } else if function.usesAlphas {
                    throw RuntimeError(.invalidModel, "layer '\(escaped(layer.name))' (prelu) has no alphas")
                }
                steps.append(.parametricActivation(function, alphas: expanded))
            }
            try InferenceModel.checkSampleSize(shape, of: "layer '\(escaped(layer.name))'", model: model.name)
            stepShapes.append(shape)
        }
        try Self.checkWork(steps, outputShapes: stepShapes)
        self.steps = steps
        hasSpatialSteps = steps.contains {
            switch $0 {
            case .convolution, .depthwise, .pool, .globalPool, .shift, .permute, .upsample, .transposedConvolution: true
            default: false
            }
        }
        self.stepShapes = stepShapes
        let releases = InferenceModel.slotReleases(steps)
        slotReleases = releases
        // A batch holds the current samples and those kept in slots: size batches by the most held at once.
        var held: [Int: Int] = [:]
        var largest = model.input.shape.reduce(1, *)
        for (index, step) in steps.enumerated() {
            if case .store(let slot) = step { held[slot] = stepShapes[index].reduce(1, *) }
            let (total, overflow) = held.values.reduce((stepShapes[index].reduce(1, *), false)) { sum, count in
                let (next, over) = sum.0.addingReportingOverflow(count)
                return (next, sum.1 || over)
            }
            guard !overflow, total <= InferenceModel.maxSampleElements else {
                throw RuntimeError(.tooLarge, "model '\(escaped(model.name))': layer '\(escaped(model.layers[index].name))' holds "
                                   + "\(overflow ? "more than 2⁶³" : String(total)) elements per sample with the slots it keeps; "
                                   + "lrm runs at most \(InferenceModel.maxSampleElements) elements (1 GiB) per sample")
            }
            largest = max(largest, total)
            for slot in releases[index] { held[slot] = nil }
        }
        largestSampleElementCount = largest
        outputShape = shape
        preprocessing = try InputPreprocessing(model.input)
    }

    /// Refuses a model whose input or any layer's samples have more than ``maxSampleElements`` elements, from the
    /// shapes alone (`layers`: each layer's name and output sample shape, in order), with the message preparing it
    /// to run gives: lets a command refuse such a model before it sizes anything by its outputs (own data's class
    /// names, say), as preparing it would.
    public static func checkSampleSizes(model: String, input: [Int], layers: [(name: String, shape: [Int])]) throws(RuntimeError) {
        try checkSampleSize(input, of: "its input", model: model)
        for layer in layers {
            try checkSampleSize(layer.shape, of: "layer '\(escaped(layer.name))'", model: model)
        }
    }

    /// Refuses a sample shape of more than ``maxSampleElements`` elements (`what` names the input or the
    /// layer producing it), before anything of that size is allocated.
    static func checkSampleSize(_ shape: [Int], of what: String, model: String) throws(RuntimeError) {
        var count = 1
        for size in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: max(size, 0))
            count = overflow ? Int.max : product
        }
        guard count > maxSampleElements else { return }
        let gibibytes = Double(count) * 4 / Double(1 << 30)
        throw RuntimeError(.tooLarge, "model '\(escaped(model))': \(what) has samples of shape \(shape), \(count) elements "
                           + "(\((gibibytes * 10).rounded() / 10) GiB as float32 for one sample); lrm runs at most "
                           + "\(maxSampleElements) elements (1 GiB) per sample")
    }

    /// Runs `sampleCount` samples from `inputs` (raw, row-major), in batches of at most
    /// `batchSize`, and returns the outputs (row-major, `outputElementCount` per sample).
    /// With `preprocess` false the inputs are taken as already preprocessed.
    public func run(_ inputs: UnsafeBufferPointer<Float>, sampleCount: Int, preprocess: Bool = true,
                    batchSize: Int = 1024, observe: LayerObserver? = nil) throws -> [Float] {
        let inWidth = inputElementCount
        guard inputs.count == sampleCount * inWidth else {
            throw RuntimeError(.inputShape, "got \(inputs.count) input values for \(sampleCount) samples of shape \(inputShape) (\(inWidth) each)")
        }
        var outputs = [Float](repeating: 0, count: sampleCount * outputElementCount)
        let limit = hasSpatialSteps ? InferenceModel.maxSpatialBatchElements : InferenceModel.maxBatchElements
        let batchSize = max(1, min(batchSize, limit / max(largestSampleElementCount, 1)))
        var start = 0
        while start < sampleCount {
            let count = min(batchSize, sampleCount - start)
            let batch = try runBatch(UnsafeBufferPointer(rebasing: inputs[(start * inWidth)..<((start + count) * inWidth)]),
                                     sampleCount: count, preprocess: preprocess, observe: observe)
            outputs.replaceSubrange((start * outputElementCount)..<((start + count) * outputElementCount), with: batch)
            start += count
        }
        return outputs
    }

    /// Runs `sampleCount` samples from `inputs` (raw, row-major) through the layers before `layer` only, in batches as
    /// ``run(_:sampleCount:preprocess:batchSize:observe:)`` makes them, and calls `observe` with each batch's inputs to
    /// every layer up to `layer` (its own included), as `run` would: the layers from `layer` on are not run.
    public func runLayers(before layer: Int, _ inputs: UnsafeBufferPointer<Float>, sampleCount: Int, preprocess: Bool = true,
                          batchSize: Int = 1024, observe: @escaping LayerObserver) throws {
        let inWidth = inputElementCount
        guard inputs.count == sampleCount * inWidth else {
            throw RuntimeError(.inputShape, "got \(inputs.count) input values for \(sampleCount) samples of shape \(inputShape) (\(inWidth) each)")
        }
        let limit = hasSpatialSteps ? InferenceModel.maxSpatialBatchElements : InferenceModel.maxBatchElements
        let batchSize = max(1, min(batchSize, limit / max(largestSampleElementCount, 1)))
        var start = 0
        while start < sampleCount {
            let count = min(batchSize, sampleCount - start)
            _ = try runBatch(UnsafeBufferPointer(rebasing: inputs[(start * inWidth)..<((start + count) * inWidth)]),
                             sampleCount: count, preprocess: preprocess, observe: observe, stopBefore: layer)
            start += count
        }
    }

    /// Convenience for arrays.
    public func run(_ inputs: [Float], sampleCount: Int, preprocess: Bool = true) throws -> [Float] {
        try inputs.withUnsafeBufferPointer { try run($0, sampleCount: sampleCount, preprocess: preprocess) }
    }

    /// Called with the index of a model layer and that layer's input for one batch: `rows` rows of
    /// `features` values (row-major). The buffer is valid only during the call.
    public typealias LayerObserver = (_ layer: Int, _ inputs: UnsafeBufferPointer<Float>, _ rows: Int, _ features: Int) -> Void

    /// One batch through the layers (those before `stopBefore` only, if given: then the result is that layer's inputs).
    private func runBatch(_ inputs: UnsafeBufferPointer<Float>, sampleCount: Int, preprocess: Bool,
                          observe: LayerObserver? = nil, stopBefore: Int? = nil) throws -> [Float] {
        var current = Array(inputs)
        let width = inputElementCount
        if preprocess && !preprocessing.isIdentity {
            current.withUnsafeMutableBufferPointer { preprocessing.apply(to: $0, samples: sampleCount, width: width) }
        }
        var shape = inputShape
        var slots: [Int: [Float]] = [:]
        for (layerIndex, step) in steps.enumerated() {
            let features = shape.last ?? 1
            let rows = current.count / max(features, 1)
            if let observe { current.withUnsafeBufferPointer { observe(layerIndex, $0, rows, features) } }
            if layerIndex == stopBefore { return current }
            switch step {
            case let .dense(kernel, inFeatures, outFeatures, bias, activation):
                current = try InferenceModel.affine(current, rows: rows, inFeatures: inFeatures, kernel, outFeatures: outFeatures, bias: bias)
                current.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: rows, width: outFeatures) }
                release(kernel)
            case let .factorized(us, vt, inFeatures, rank, outFeatures, bias, activation):
                let middle = try InferenceModel.affine(current, rows: rows, inFeatures: inFeatures, us, outFeatures: rank, bias: nil)
                release(us)
                current = try InferenceModel.affine(middle, rows: rows, inFeatures: rank, vt, outFeatures: outFeatures, bias: bias)
                current.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: rows, width: outFeatures) }
                release(vt)
            case .activation(let activation):
                current.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: rows, width: features) }
            case let .scaleShift(scale, shift):
                for r in 0..<rows {
                    for c in 0..<features { current[r * features + c] = current[r * features + c] * scale[c] + (shift?[c] ?? 0) }
                }
            case let .layerNorm(gamma, beta, epsilon):
                LayerNormalization.apply(&current, features: features, gamma: gamma, beta: beta, epsilon: epsilon)
            case .reshape:
                break
            case .convolution(let plans):
                for plan in plans { current = try plan.apply(current, samples: sampleCount) }
            case let .depthwise(plan, multiplier):
                current = SpatialKernels.depthwise(current, samples: sampleCount, plan: plan, multiplier: multiplier)
            case let .pool(plan, mode):
                current = SpatialKernels.pool(current, samples: sampleCount, plan: plan, mode: mode)
            case let .globalPool(input, mode):
                current = SpatialKernels.globalPool(current, samples: sampleCount, shape: input, mode: mode)
            case let .shift(input, top, left, outH, outW):
                current = SpatialKernels.shift(current, samples: sampleCount, shape: input, top: top, left: left, outH: outH, outW: outW)
            case let .permute(input, axes):
                current = SpatialKernels.permute(current, samples: sampleCount, shape: input, axes: axes)
            case let .upsample(input, upsampling):
                current = SpatialKernels.upsample(current, samples: sampleCount, shape: input, upsampling)
            case .transposedConvolution(let plan):
                current = try plan.apply(current, samples: sampleCount)
            case .store(let slot):
                slots[slot] = current
            case .load(let slot):
                current = slots[slot] ?? []
            case let .merge(mode, slotList, widths, activation):
                current = InferenceModel.merge(mode, current, slotList.map { slots[$0] ?? [] }, widths: widths)
                let width = stepShapes[layerIndex].last ?? 1
                current.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: $0.count / max(width, 1), width: width) }
            case let .parametricActivation(function, alphas):
                current.withUnsafeMutableBufferPointer { function.apply(to: $0, alphas: alphas) }
            }
            for slot in slotReleases[layerIndex] { slots[slot] = nil }
            shape = stepShapes[layerIndex]
        }
        return current
    }

    /// For each step, the slots no later step reads once it has run (a slot's batch is dropped after its last
    /// `load` or `merge`, or right after its `store` when nothing reads it before it is stored again).
    static func slotReleases(_ steps: [Step]) -> [[Int]] {
        var releases = [[Int]](repeating: [], count: steps.count)
        var lastUse: [Int: Int] = [:]
        for (index, step) in steps.enumerated() {
            switch step {
            case .store(let slot):
                if let previous = lastUse[slot] { releases[previous].append(slot) }
                lastUse[slot] = index
            case .load(let slot):
                lastUse[slot] = index
            case let .merge(_, slotList, _, _):
                for slot in slotList { lastUse[slot] = index }
            default:
                break
            }
        }
        for (slot, index) in lastUse.sorted(by: { $0.key < $1.key }) { releases[index].append(slot) }
        return releases
    }

    /// (1.4) A `merge` of a batch: `current` and `others` (each of whole samples, their last axes `widths`, the
    /// current one's first) combined element-wise, or joined along the last axis by a concatenation.
    package static func merge(_ mode: MergeMode, _ current: [Float], _ others: [[Float]], widths: [Int]) -> [Float] {
        var result = current
        switch mode {
        case .concatenate:
            let rows = current.count / max(widths[0], 1)
            let total = widths.reduce(0, +)
            result = [Float](repeating: 0, count: rows * total)
            let pieces = [current] + others
            result.withUnsafeMutableBufferPointer { out in
                var column = 0
                for (piece, width) in zip(pieces, widths) {
                    piece.withUnsafeBufferPointer { source in
                        for r in 0..<rows {
                            for c in 0..<width { out[r * total + column + c] = source[r * width + c] }
                        }
                    }
                    column += width
                }
            }
        case .add, .average:
            for other in others { for i in result.indices { result[i] += other[i] } }
            if mode == .average {
                let count = Float(others.count + 1)
                for i in result.indices { result[i] /= count }
            }
        case .subtract:
            for other in others { for i in result.indices { result[i] -= other[i] } }
        case .multiply:
            for other in others { for i in result.indices { result[i] *= other[i] } }
        case .maximum:
            for other in others { for i in result.indices { result[i] = max(result[i], other[i]) } }
        case .minimum:
            for other in others { for i in result.indices { result[i] = min(result[i], other[i]) } }
        }
        return result
    }

    /// Drops a mapped weight's pages from resident memory when the model is large (see ``releasesMappedPages``).
    private func release(_ weights: Weights) {
        guard releasesMappedPages, case .mapped(let m) = weights else { return }
        m.file.releasePages(ofTensor: m.tensor)
    }

    /// Elements of one dequantized block of a quantized weight (256 KiB of float32): the block's
    /// rows are dequantized, multiplied and accumulated before the next block.
    static let dequantizationBlockElements = 65_536

    /// x (rows × in) · w (in × out) + bias. A quantized w is dequantized in blocks of its rows
    /// (inputs): y = bias + Σ_blocks x[:, block] · W[block, :], each block through sgemm with beta = 1.
    static func affine(_ x: [Float], rows: Int, inFeatures: Int, _ w: Weights, outFeatures: Int, bias: [Float]?) throws -> [Float] {
        switch w {
        case .floats(let values):
            return try values.withUnsafeBufferPointer { try affine(x, rows: rows, inFeatures: inFeatures, $0, outFeatures: outFeatures, bias: bias) }
        case .mapped(let m):
            return try affine(x, rows: rows, inFeatures: inFeatures, m.values, outFeatures: outFeatures, bias: bias)
        case let .quantized(q, scales):
            let blockRows = min(inFeatures, max(1, dequantizationBlockElements / max(outFeatures, 1)))
            if blockRows >= inFeatures {
                var block = [Float](repeating: 0, count: inFeatures * outFeatures)
                block.withUnsafeMutableBufferPointer { q.dequantizeRows(0, inFeatures, scales: scales, into: $0.baseAddress!) }
                return try block.withUnsafeBufferPointer { try affine(x, rows: rows, inFeatures: inFeatures, $0, outFeatures: outFeatures, bias: bias) }
            }
            var y = [Float](repeating: 0, count: rows * outFeatures)
            if let bias {
                for r in 0..<rows { for c in 0..<outFeatures { y[r * outFeatures + c] = bias[c] } }
            }
            var block = [Float](repeating: 0, count: blockRows * outFeatures)
            var xBlock = [Float](repeating: 0, count: rows * blockRows)
            var start = 0
            var first = bias == nil
            while start < inFeatures {
                let end = min(inFeatures, start + blockRows)
                let width = end - start
                block.withUnsafeMutableBufferPointer { q.dequantizeRows(start, end, scales: scales, into: $0.baseAddress!) }
                for r in 0..<rows {
                    for c in 0..<width { xBlock[r * width + c] = x[r * inFeatures + start + c] }
                }
                try block.withUnsafeBufferPointer { try multiply(xBlock, rows: rows, inner: width, $0, outFeatures: outFeatures, into: &y, beta: first ? 0 : 1) }
                first = false
                start = end
            }
            return y
        }
    }

    /// x (rows × in) · w (in × out) + bias, through sgemm (bias broadcast first, beta = 1).
    static func affine(_ x: [Float], rows: Int, inFeatures: Int, _ w: UnsafeBufferPointer<Float>, outFeatures: Int, bias: [Float]?) throws -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        if let bias {
            for r in 0..<rows { for c in 0..<outFeatures { y[r * outFeatures + c] = bias[c] } }
        }
        try multiply(x, rows: rows, inner: inFeatures, w, outFeatures: outFeatures, into: &y, beta: bias == nil ? 0 : 1)
        return y
    }

    /// y = x (rows × inner) · w (inner × out) + beta · y, through sgemm.
    static func multiply(_ x: [Float], rows: Int, inner inFeatures: Int, _ wp: UnsafeBufferPointer<Float>, outFeatures: Int,
                         into y: inout [Float], beta: Float) throws {
        do {
            try x.withUnsafeBufferPointer { xp in
                try y.withUnsafeMutableBufferPointer { yp in
                    try GEMM.multiply(xp, shape: MatrixShape(rows: rows, columns: inFeatures),
                                      wp, shape: MatrixShape(rows: inFeatures, columns: outFeatures),
                                      into: yp, shape: MatrixShape(rows: rows, columns: outFeatures),
                                      alpha: 1, beta: beta)
                }
            }
        } catch {
            throw RuntimeError(.computation, "matrix product failed: \(error)")
        }
    }
}
