import Foundation
public import LRMFormat
import LRMRuntime

/// Why a model cannot be fine-tuned, or why fine-tuning stopped.
public typealias FineTuneError = KindedError<FineTuneErrorKind>

/// The kinds of ``FineTuneError``.
public enum FineTuneErrorKind: String, Sendable {
    /// The model's output is neither a softmax nor linear logits, so there is nothing to distil.
    case noLogits = "no_logits"
    /// A layer or activation the trainer has no gradient for.
    case unsupportedLayer = "unsupported_layer"
    /// The loss became NaN or infinite.
    case diverged = "diverged"
    /// Inputs that do not fit the model, or bad settings.
    case invalidInput = "invalid_input"
}

/// A model as trainable parameters with a forward and a backward pass over batches of samples (row-major, each sample
/// in its shape, images as [h, w, c]).
///
/// Stages follow the model's layers: dense (W, b), factorized dense (U·Σ, Vᵀ, b), element-wise activations, scale-shift
/// over the last axis (fixed), (1.5) layer normalization over the last axis (γ and β trained), flatten and reshape (only the shape changes), and the spatial layers: convolutions (kernel
/// and bias; any stride, dilation and padding), factorized convolutions (both halves and the bias, in the channel and the
/// spatial form), depthwise convolutions, max and average pooling, global pooling, zero padding, cropping, axis
/// permutations and (1.5) nearest and bilinear upsampling (its adjoint: each gradient back to its source positions with
/// the forward pass's weights) and transposed convolutions (the adjoint of a convolution, so their backward pass is that
/// convolution's forward and kernel-gradient passes), whose passes are in ``SpatialTraining`` (convolutions through im2col and `sgemm`), and format 1.4's
/// slots (`store`, `load`, `merge`: a model with branches; the backward pass gathers each slot's gradient from the loads
/// and merges that read it and adds it at the store). The last layer's
/// pre-activation is the logits: it must be a dense layer whose activation is softmax or linear (or a dense layer with a
/// linear activation followed by a softmax layer), producing one vector per sample.
struct TrainableNetwork {
    enum Stage {
        case dense(kernel: Int, bias: Int?, inFeatures: Int, outFeatures: Int, activation: Activation)
        case factorized(us: Int, vt: Int, bias: Int?, inFeatures: Int, rank: Int, outFeatures: Int, activation: Activation)
        /// One convolution, or the two halves of a factorized one (the trace keeps the first half's output).
        case convolution(parts: [ConvolutionPart], bias: Int?, activation: Activation)
        case depthwise(kernel: Int, bias: Int?, window: TrainingWindow, multiplier: Int, activation: Activation)
        case pool(TrainingWindow, PoolMode)
        case globalPool(input: [Int], PoolMode)
        /// Zero padding (positive offsets) or cropping (negative ones) of [h, w, c] samples.
        case shift(input: [Int], top: Int, left: Int, outH: Int, outW: Int)
        case permute(input: [Int], axes: [Int])
        /// (1.5) Nearest or bilinear upsampling of [h, w, c] samples.
        case upsample(input: [Int], Upsampling)
        /// (1.5) A transposed convolution: `kernel` [kh, kw, cout, cin] (the (kh·kw·cout) × cin matrix of `window`'s
        /// convolution, whose adjoint it is), `plan` its forward pass.
        case transposed(kernel: Int, bias: Int?, plan: TransposedConvolution, window: TrainingWindow, activation: Activation)
        case activation(Activation)
        case scaleShift(scale: [Float], shift: [Float]?)
        /// (1.5) Layer normalization over the last axis; γ and β (when present) are trained, as biases are.
        case layerNorm(gamma: Int?, beta: Int?, epsilon: Double)
        /// Only the sample's shape changes (flatten, reshape).
        case reshape(shape: [Int])
        /// (1.4) The current batch kept in a slot (the output is the input).
        case store(slot: Int)
        /// (1.4) The batch kept in a slot becomes the current one.
        case load(slot: Int)
        /// (1.4) The current batch combined with the slots' (`widths`: the last axes, the current one's first), then the activation.
        case merge(MergeMode, slots: [Int], widths: [Int], activation: Activation)
        /// (1.5) An element-wise activation with parameters; PReLU's alphas are trained (`alphas`, a parameter), broadcast
        /// over a sample as `broadcast` says (its values are the alphas the network started with).
        case parametric(ParametricActivation, alphas: Int?, broadcast: BroadcastAlphas?)
    }

    var stages: [Stage]
    /// Trainable arrays, row-major, in the order the stages name them.
    var parameters: [[Float]]
    /// Model layer index of each stage.
    let layerIndices: [Int]
    /// The sample shape each stage takes.
    let stageInputShapes: [[Int]]
    let inputShape: [Int]
    let inputWidth: Int
    let classCount: Int
    /// Identity model that applies the input preprocessing.
    private let preprocessor: InferenceModel

    static let supported: Set<Activation> = [.linear, .relu, .relu6, .sigmoid, .tanh, .elu, .selu, .softplus, .softsign, .silu,
                                             .hardSigmoid, .exponential, .mish, .hardSilu, .logSigmoid, .hardTanh, .logSoftmax,
                                             .hardSigmoidKeras2]

    /// Activations whose derivative their output does not determine (not monotonic): the forward pass keeps the
    /// pre-activation for them.
    static let needsPreActivation: Set<Activation> = [.silu, .mish, .hardSilu]

    /// Whether an output activation leaves logits the loss can use: softmax and log_softmax (softmax(log_softmax z) =
    /// softmax z) are dropped and applied by the loss; linear outputs are the logits.
    static func isLogitOutput(_ activation: Activation) -> Bool {
        activation == .softmax || activation == .linear || activation == .logSoftmax
    }

    init(_ model: Model) throws {
        var stages: [Stage] = []
        var parameters: [[Float]] = []
        var indices: [Int] = []
        var inputShapes: [[Int]] = []
        var shape = model.input.shape
        var slotShapes = SlotShapes()
        func add(_ tensor: Tensor?) -> Int? {
            guard let tensor else { return nil }
            parameters.append(tensor.floats())
            return parameters.count - 1
        }
        for (index, layer) in model.layers.enumerated() {
            let output: [Int]
            let slotsBefore = slotShapes
            do {
                output = try layer.outputShape(input: shape, slots: &slotShapes)
            } catch {
                throw FineTuneError(.invalidInput, "layer '\(escaped(layer.name))' does not fit its input \(shape): \(error)")
            }
            func window(_ kernelH: Int, _ kernelW: Int, strides: (Int, Int), dilation: (Int, Int), padding: WindowPadding,
                        on input: [Int]) throws -> TrainingWindow {
                guard let w = TrainingWindow(input: input, kernelH: kernelH, kernelW: kernelW, strides: strides, dilation: dilation,
                                             padding: padding) else {
                    throw FineTuneError(.invalidInput, "layer '\(escaped(layer.name))': its window does not fit its input \(input)")
                }
                return w
            }
            let stage: Stage
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                stage = .dense(kernel: add(kernel) ?? 0, bias: add(bias), inFeatures: kernel.shape[0], outFeatures: kernel.shape[1],
                               activation: activation)
            case let .factorizedDense(us, vt, bias, activation, f):
                stage = .factorized(us: add(us) ?? 0, vt: add(vt) ?? 0, bias: add(bias), inFeatures: f.inFeatures, rank: f.rank,
                                    outFeatures: f.outFeatures, activation: activation)
            case let .conv2D(kernel, bias, activation, g):
                let w = try window(kernel.shape[0], kernel.shape[1], strides: (g.strideH, g.strideW), dilation: (g.dilationH, g.dilationW),
                                   padding: g.padding, on: shape)
                stage = .convolution(parts: [ConvolutionPart(kernel: add(kernel) ?? 0, window: w, outChannels: kernel.shape[3])],
                                     bias: add(bias), activation: activation)
            case let .factorizedConv2D(first, second, bias, activation, form, g, _):
                // As the runtime runs it: channel form, the kh×kw half with the layer's geometry then a 1×1 one; spatial form,
                // the kh×1 half with the height's stride and dilation, then the 1×kw half with the width's.
                let a: TrainingWindow, b: TrainingWindow
                switch form {
                case .channel:
                    a = try window(first.shape[0], first.shape[1], strides: (g.strideH, g.strideW), dilation: (g.dilationH, g.dilationW),
                                   padding: g.padding, on: shape)
                    b = try window(second.shape[0], second.shape[1], strides: (1, 1), dilation: (1, 1), padding: .valid,
                                   on: [a.outH, a.outW, first.shape[3]])
                case .spatial:
                    a = try window(first.shape[0], first.shape[1], strides: (g.strideH, 1), dilation: (g.dilationH, 1), padding: g.padding, on: shape)
                    b = try window(second.shape[0], second.shape[1], strides: (1, g.strideW), dilation: (1, g.dilationW), padding: g.padding,
                                   on: [a.outH, a.outW, first.shape[3]])
                }
                stage = .convolution(parts: [ConvolutionPart(kernel: add(first) ?? 0, window: a, outChannels: first.shape[3]),
                                             ConvolutionPart(kernel: add(second) ?? 0, window: b, outChannels: second.shape[3])],
                                     bias: add(bias), activation: activation)
            case let .depthwiseConv2D(kernel, bias, activation, g):
                let w = try window(kernel.shape[0], kernel.shape[1], strides: (g.strideH, g.strideW), dilation: (g.dilationH, g.dilationW),
                                   padding: g.padding, on: shape)
                stage = .depthwise(kernel: add(kernel) ?? 0, bias: add(bias), window: w, multiplier: kernel.shape[3], activation: activation)
            case .pool2D(let p):
                stage = .pool(try window(p.poolH, p.poolW, strides: (p.strideH, p.strideW), dilation: (1, 1), padding: p.padding, on: shape), p.mode)
            case .globalPool2D(let mode):
                stage = .globalPool(input: shape, mode)
            case .pad2D(let m):
                stage = .shift(input: shape, top: m.top, left: m.left, outH: output[0], outW: output[1])
            case .crop2D(let m):
                stage = .shift(input: shape, top: -m.top, left: -m.left, outH: output[0], outW: output[1])
            case .permute(let axes):
                stage = .permute(input: shape, axes: axes)
            case .upsample2D(let upsampling):
                stage = .upsample(input: shape, upsampling)
            case let .conv2DTranspose(kernel, bias, activation, g):
                guard let plan = TransposedConvolution(input: shape, kernelShape: kernel.shape, kernel: [], bias: nil, activation: .linear,
                                                       geometry: g),
                      let w = TrainingWindow(transposedInput: shape, kernelH: kernel.shape[0], kernelW: kernel.shape[1],
                                             outChannels: kernel.shape[2], geometry: g) else {
                    throw FineTuneError(.invalidInput, "layer '\(escaped(layer.name))': its transposed kernel does not fit its input \(shape)")
                }
                stage = .transposed(kernel: add(kernel) ?? 0, bias: add(bias), plan: plan, window: w, activation: activation)
            case .activation(let activation):
                stage = .activation(activation)
            case let .scaleShift(scale, shift):
                stage = .scaleShift(scale: scale.floats(), shift: shift?.floats())
            case let .layerNorm(gamma, beta, epsilon):
                stage = .layerNorm(gamma: add(gamma), beta: add(beta), epsilon: epsilon)
            case .flatten, .reshape:
                stage = .reshape(shape: output)
            case .store(let slot):
                stage = .store(slot: slot)
            case .load(let slot):
                stage = .load(slot: slot)
            case let .merge(mode, slots, activation):
                stage = .merge(mode, slots: slots, widths: [shape.last ?? 1] + slots.map { slotsBefore.shapes[$0]?.last ?? 1 },
                               activation: activation)
            case let .parametricActivation(function, alphas):
                var broadcast: BroadcastAlphas?
                if let alphas {
                    guard let b = BroadcastAlphas(alphas.floats(), shape: alphas.shape, sample: shape) else {
                        throw FineTuneError(.invalidInput, "layer '\(escaped(layer.name))': its alphas \(alphas.shape) do not broadcast to its input \(shape)")
                    }
                    broadcast = b
                }
                stage = .parametric(function, alphas: add(alphas), broadcast: broadcast)
            }
            stages.append(stage)
            indices.append(index)
            inputShapes.append(shape)
            shape = output
        }
        // The logits: the last weighted stage's pre-activation; its softmax (as its activation or as the
        // activation layer after it) is dropped from the trained network and applied by the loss.
        while case .reshape = stages.last { stages.removeLast(); indices.removeLast(); inputShapes.removeLast() }
        if case .activation(let last) = stages.last {
            guard TrainableNetwork.isLogitOutput(last) else {
                throw FineTuneError(.noLogits, "the model ends in a \(last.name) activation: distillation needs a softmax or linear (logit) output")
            }
            stages.removeLast()
            indices.removeLast()
            inputShapes.removeLast()
        }
        switch stages.last {
        case let .dense(kernel, bias, inFeatures, outFeatures, activation)? where TrainableNetwork.isLogitOutput(activation):
            stages[stages.count - 1] = .dense(kernel: kernel, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures, activation: .linear)
        case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation)? where TrainableNetwork.isLogitOutput(activation):
            stages[stages.count - 1] = .factorized(us: us, vt: vt, bias: bias, inFeatures: inFeatures, rank: rank, outFeatures: outFeatures,
                                                   activation: .linear)
        default:
            let last = indices.last.map { model.layers[$0] }
            let named = last.map { " '\(escaped($0.name))'" } ?? ""
            switch stages.last {
            case .dense(_, _, _, _, let activation)?, .factorized(_, _, _, _, _, _, let activation)?:
                // A dense output whose activation is the problem (a sigmoid: one probability, no logits to distil).
                throw FineTuneError(.noLogits, "the model's output layer\(named) is a dense layer with a \(activation.name) activation: "
                                    + "distillation needs a softmax or linear (logit) output")
            default:
                let kind = last.map { " (a \($0.operation.kindName) layer)" } ?? ""
                throw FineTuneError(.noLogits, "the model's output layer\(named)\(kind) is not a dense layer with a softmax or linear (logit) "
                                    + "output: distillation needs one")
            }
        }
        // One vector of class scores per sample: a dense layer over the last axis of an [h, w, c] map gives one per position.
        guard let lastShape = inputShapes.last, lastShape.count == 1 else {
            let name = indices.last.map { model.layers[$0].name } ?? ""
            throw FineTuneError(.noLogits, "the model's output layer '\(escaped(name))' gives class scores for each position of an "
                                + "\(inputShapes.last ?? []) input, not one vector per sample: distillation needs one")
        }
        for (position, stage) in stages.enumerated() {
            switch stage {
            case .dense(_, _, _, _, let a), .factorized(_, _, _, _, _, _, let a), .activation(let a), .convolution(_, _, let a),
                 .depthwise(_, _, _, _, let a), .merge(_, _, _, let a), .transposed(_, _, _, _, let a):
                guard TrainableNetwork.supported.contains(a) else {
                    throw FineTuneError(.unsupportedLayer, "fine-tuning has no gradient for the \(a.name) activation of layer "
                                        + "'\(escaped(model.layers[indices[position]].name))'")
                }
            default: break
            }
        }
        self.stages = stages
        self.parameters = parameters
        layerIndices = indices
        stageInputShapes = inputShapes
        inputShape = model.input.shape
        inputWidth = model.input.elementCount
        classCount = stages.last.map { stage -> Int in
            switch stage {
            case .dense(_, _, _, let out, _), .factorized(_, _, _, _, _, let out, _): out
            default: 0
            }
        } ?? 0
        preprocessor = try InferenceModel(Model(name: "preprocessing", input: model.input, layers: []))
    }

    /// Raw samples to preprocessed rows.
    func preprocess(_ raw: ArraySlice<Float>, count: Int) throws -> [Float] {
        try raw.withUnsafeBufferPointer { try preprocessor.run($0, sampleCount: count, batchSize: max(1, count)) }
    }

    /// What the backward pass needs from the forward pass: each stage's input and output (after the activation), for
    /// weighted stages with two halves the first half's output, and pre-activations where the output does not give the derivative.
    struct Trace {
        var inputs: [[Float]] = []
        var middles: [[Float]?] = []
        var outputs: [[Float]] = []
        /// Pre-activations of stages whose derivative the output does not determine (SiLU is not monotonic).
        var preActivations: [[Float]?] = []
        /// (1.4) The slots' batches each merge combined, by stage position.
        var mergedSlots: [Int: [[Float]]] = [:]
        var logits: [Float] = []
    }

    /// Logits for `count` preprocessed samples (rows × classCount), with the trace when `keep`.
    func forward(_ x: [Float], count: Int, keep: Bool) throws -> Trace {
        var trace = Trace()
        var current = x
        var slots: [Int: [Float]] = [:]
        for (position, stage) in stages.enumerated() {
            let shape = stageInputShapes[position]
            let width = shape.last ?? 1
            let rows = current.count / max(width, 1)
            if keep { trace.inputs.append(current) }
            var middle: [Float]?
            var pre: [Float]?
            func activate(_ activation: Activation, width: Int) {
                if keep && TrainableNetwork.needsPreActivation.contains(activation) { pre = current }
                apply(activation, &current, rows: current.count / max(width, 1), width: width)
            }
            switch stage {
            case let .dense(kernel, bias, inFeatures, outFeatures, activation):
                current = try affine(current, rows: rows, inFeatures, parameters[kernel], outFeatures, bias.map { parameters[$0] })
                activate(activation, width: outFeatures)
            case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation):
                let h = try affine(current, rows: rows, inFeatures, parameters[us], rank, nil)
                current = try affine(h, rows: rows, rank, parameters[vt], outFeatures, bias.map { parameters[$0] })
                activate(activation, width: outFeatures)
                if keep { middle = h }
            case let .convolution(parts, bias, activation):
                for (index, part) in parts.enumerated() {
                    current = try SpatialTraining.convolve(current, samples: count, window: part.window, kernel: parameters[part.kernel],
                                                           outChannels: part.outChannels,
                                                           bias: index == parts.count - 1 ? bias.map { parameters[$0] } : nil)
                    if keep && index == 0 && parts.count > 1 { middle = current }
                }
                activate(activation, width: parts.last?.outChannels ?? 1)
            case let .depthwise(kernel, bias, window, multiplier, activation):
                current = SpatialTraining.depthwise(current, samples: count, window: window, kernel: parameters[kernel], multiplier: multiplier,
                                                    bias: bias.map { parameters[$0] })
                activate(activation, width: window.channels * multiplier)
            case let .pool(window, mode):
                current = SpatialTraining.pool(current, samples: count, window: window, mode: mode)
            case let .globalPool(input, mode):
                current = SpatialKernels.globalPool(current, samples: count, shape: input, mode: mode)
            case let .shift(input, top, left, outH, outW):
                current = SpatialKernels.shift(current, samples: count, shape: input, top: top, left: left, outH: outH, outW: outW)
            case let .permute(input, axes):
                current = SpatialKernels.permute(current, samples: count, shape: input, axes: axes)
            case let .upsample(input, upsampling):
                current = SpatialKernels.upsample(current, samples: count, shape: input, upsampling)
            case let .transposed(kernel, bias, plan, _, activation):
                var p = plan
                p.kernel = parameters[kernel]
                current = try p.apply(current, samples: count, finish: false)
                if let bias {
                    let b = parameters[bias]
                    for i in current.indices { current[i] += b[i % plan.outChannels] }
                }
                activate(activation, width: plan.outChannels)
            case .activation(let activation):
                activate(activation, width: width)
            case let .scaleShift(scale, shift):
                for r in 0..<rows { for c in 0..<width { current[r * width + c] = current[r * width + c] * scale[c] + (shift?[c] ?? 0) } }
            case let .layerNorm(gamma, beta, epsilon):
                LayerNormalization.apply(&current, features: width, gamma: gamma.map { parameters[$0] }, beta: beta.map { parameters[$0] },
                                         epsilon: epsilon)
            case .reshape:
                break
            case .store(let slot):
                slots[slot] = current
            case .load(let slot):
                current = slots[slot] ?? []
            case let .merge(mode, slotList, widths, activation):
                let others = slotList.map { slots[$0] ?? [] }
                if keep { trace.mergedSlots[position] = others }
                current = InferenceModel.merge(mode, current, others, widths: widths)
                activate(activation, width: mode == .concatenate ? widths.reduce(0, +) : widths[0])
            case let .parametric(function, alphas, broadcast):
                var trained = broadcast
                if let alphas { trained?.values = parameters[alphas] }
                current.withUnsafeMutableBufferPointer { function.apply(to: $0, alphas: trained) }
            }
            if keep { trace.middles.append(middle); trace.outputs.append(current); trace.preActivations.append(pre) }
        }
        trace.logits = current
        return trace
    }

    /// Gradients of the loss with respect to every parameter, given the loss's gradient with respect to the logits.
    func backward(_ trace: Trace, logitGradient: [Float]) throws -> [[Float]] {
        try gradients(trace, logitGradient: logitGradient, inputGradient: false).parameters
    }

    /// Gradients of the loss with respect to every parameter and, when `inputGradient`, to the (preprocessed) input.
    func gradients(_ trace: Trace, logitGradient: [Float], inputGradient: Bool) throws -> (parameters: [[Float]], input: [Float]?) {
        var gradients = parameters.map { [Float](repeating: 0, count: $0.count) }
        var delta = logitGradient
        let count = (trace.inputs.first?.count ?? 0) / max(inputWidth, 1)
        // (1.4) The gradient with respect to each slot's batch, gathered from the loads and merges that read it.
        var slotGradients: [Int: [Float]] = [:]
        func accumulate(_ slot: Int, _ values: [Float]) {
            guard var sum = slotGradients[slot] else { slotGradients[slot] = values; return }
            for i in sum.indices { sum[i] += values[i] }
            slotGradients[slot] = sum
        }
        for (position, stage) in stages.enumerated().reversed() {
            let input = trace.inputs[position], output = trace.outputs[position], pre = trace.preActivations[position]
            let shape = stageInputShapes[position]
            // Whether the stage's input gradient is needed: by an earlier stage, or by the caller.
            let propagate = position > 0 || inputGradient
            switch stage {
            case let .dense(kernel, bias, inFeatures, outFeatures, activation):
                let rows = input.count / inFeatures
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: outFeatures)
                gradients[kernel] = try DenseAlgebra.product(input, rows, inFeatures, transposeA: true, delta, rows, outFeatures)
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: rows, columns: outFeatures).map(Float.init) }
                if propagate { delta = try DenseAlgebra.product(delta, rows, outFeatures, parameters[kernel], inFeatures, outFeatures, transposeB: true) }
            case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation):
                let rows = input.count / inFeatures
                let h = trace.middles[position] ?? []
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: outFeatures)
                gradients[vt] = try DenseAlgebra.product(h, rows, rank, transposeA: true, delta, rows, outFeatures)
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: rows, columns: outFeatures).map(Float.init) }
                let dh = try DenseAlgebra.product(delta, rows, outFeatures, parameters[vt], rank, outFeatures, transposeB: true)
                gradients[us] = try DenseAlgebra.product(input, rows, inFeatures, transposeA: true, dh, rows, rank)
                if propagate { delta = try DenseAlgebra.product(dh, rows, rank, parameters[us], inFeatures, rank, transposeB: true) }
            case let .convolution(parts, bias, activation):
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: parts.last?.outChannels ?? 1)
                let channels = parts.last?.outChannels ?? 1
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: delta.count / channels, columns: channels).map(Float.init) }
                for (index, part) in parts.enumerated().reversed() {
                    let partInput = index == 0 ? input : (trace.middles[position] ?? [])
                    let (kernel, back) = try SpatialTraining.convolutionGradients(
                        partInput, samples: count, window: part.window, kernel: parameters[part.kernel], outChannels: part.outChannels,
                        outputGradient: delta, inputGradient: index > 0 || propagate)
                    gradients[part.kernel] = kernel
                    delta = back ?? []
                }
            case let .depthwise(kernel, bias, window, multiplier, activation):
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: window.channels * multiplier)
                let channels = window.channels * multiplier
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: delta.count / channels, columns: channels).map(Float.init) }
                let (dk, back) = SpatialTraining.depthwiseGradients(input, samples: count, window: window, kernel: parameters[kernel],
                                                                    multiplier: multiplier, outputGradient: delta, inputGradient: propagate)
                gradients[kernel] = dk
                delta = back ?? []
            case let .pool(window, mode):
                if propagate { delta = SpatialTraining.poolGradient(input, samples: count, window: window, mode: mode, outputGradient: delta) }
            case let .globalPool(input: poolShape, mode):
                if propagate { delta = SpatialTraining.globalPoolGradient(input, samples: count, shape: poolShape, mode: mode, outputGradient: delta) }
            case let .shift(input: from, top, left, outH, outW):
                if propagate {
                    // A pad or crop is its own adjoint with the offsets negated and the shapes swapped.
                    delta = SpatialKernels.shift(delta, samples: count, shape: [outH, outW, from[2]], top: -top, left: -left, outH: from[0], outW: from[1])
                }
            case let .permute(input: from, axes):
                if propagate {
                    // A permutation's adjoint is its inverse.
                    delta = SpatialKernels.permute(delta, samples: count, shape: axes.map { from[$0] }, axes: SpatialTraining.inverse(axes))
                }
            case let .transposed(kernel, bias, plan, window, activation):
                // (1.5) The adjoint of the convolution over `window`: its input gradient is that convolution of the output's
                // gradient, its kernel gradient that convolution's kernel gradient with the roles of input and output swapped.
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: plan.outChannels)
                let channels = plan.outChannels
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: delta.count / channels, columns: channels).map(Float.init) }
                let (dk, _) = try SpatialTraining.convolutionGradients(delta, samples: count, window: window, kernel: parameters[kernel],
                                                                       outChannels: plan.inChannels, outputGradient: input, inputGradient: false)
                gradients[kernel] = dk
                if propagate {
                    delta = try SpatialTraining.convolve(delta, samples: count, window: window, kernel: parameters[kernel],
                                                         outChannels: plan.inChannels, bias: nil)
                }
            case let .upsample(input: from, upsampling):
                // (1.5) Linear in its input: the gradient goes back to the source positions with the forward pass's weights.
                if propagate { delta = SpatialKernels.upsampleGradient(delta, samples: count, shape: from, upsampling) }
            case .activation(let activation):
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre, width: shape.last ?? 1)
            case let .scaleShift(scale, _):
                let width = shape.last ?? scale.count
                for i in delta.indices { delta[i] *= scale[i % width] }
            case let .layerNorm(gamma, beta, epsilon):
                let width = shape.last ?? 1
                let (dx, dGamma, dBeta) = TrainableNetwork.layerNormGradients(input, width: width, gamma: gamma.map { parameters[$0] },
                                                                               epsilon: epsilon, outputGradient: delta)
                if let gamma { gradients[gamma] = dGamma }
                if let beta { gradients[beta] = dBeta }
                if propagate { delta = dx }
            case .reshape:
                break
            case .store(let slot):
                // The output is the input, and the slot's readers' gradient joins it.
                if let kept = slotGradients.removeValue(forKey: slot) { for i in delta.indices { delta[i] += kept[i] } }
            case .load(let slot):
                accumulate(slot, delta)
                delta = [Float](repeating: 0, count: input.count)  // the batch before the load is not used after it
            case let .merge(mode, slotList, widths, activation):
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre,
                                     width: mode == .concatenate ? widths.reduce(0, +) : widths[0])
                let others = trace.mergedSlots[position] ?? []
                let (current, parts) = TrainableNetwork.mergeGradients(mode, input: input, others: others, widths: widths, outputGradient: delta)
                for (slot, part) in zip(slotList, parts) { accumulate(slot, part) }
                delta = current
            case let .parametric(function, alphas, broadcast):
                // The stage's input is the pre-activation x.
                if let alphas, let broadcast, broadcast.sampleCount > 0 {
                    // PReLU: y = a·x where x < 0, so ∂L/∂a sums g·x over those elements of every sample that use a, and
                    // ∂L/∂x = a·g there.
                    let a = parameters[alphas]
                    var g = [Float](repeating: 0, count: a.count)
                    for start in stride(from: 0, to: delta.count - broadcast.sampleCount + 1, by: broadcast.sampleCount) {
                        broadcast.forEachElement { element, alpha in
                            let i = start + element
                            if input[i] < 0 {
                                g[alpha] += delta[i] * input[i]
                                delta[i] *= a[alpha]
                            }
                        }
                    }
                    gradients[alphas] = g
                } else {
                    TrainableNetwork.multiplyByDerivative(function, &delta, input: input)
                }
            }
        }
        return (gradients, inputGradient ? delta : nil)
    }

    /// (1.5) The gradients of a layer normalization over rows of `width` (x̂ = (x − μ)·r, r = 1/√(σ² + ε), y = γ·x̂ + β):
    /// ∂L/∂β = Σ g, ∂L/∂γ = Σ g·x̂ over the rows, and per row ∂L/∂x = r·(d − mean(d) − x̂·mean(d·x̂)) with d = g·γ.
    static func layerNormGradients(_ x: [Float], width: Int, gamma: [Float]?, epsilon: Double,
                                   outputGradient g: [Float]) -> (input: [Float], gamma: [Float], beta: [Float]) {
        var dx = [Float](repeating: 0, count: x.count)
        var dGamma = [Double](repeating: 0, count: width), dBeta = [Double](repeating: 0, count: width)
        guard width > 0 else { return (dx, [], []) }
        var xhat = [Double](repeating: 0, count: width), d = [Double](repeating: 0, count: width)
        x.withUnsafeBufferPointer { all in
            for start in stride(from: 0, to: x.count - width + 1, by: width) {
                let (mean, r) = LayerNormalization.moments(UnsafeBufferPointer(rebasing: all[start..<(start + width)]), epsilon: epsilon)
                var sumD = 0.0, sumDX = 0.0
                for c in 0..<width {
                    xhat[c] = (Double(all[start + c]) - mean) * r
                    let gc = Double(g[start + c])
                    dBeta[c] += gc
                    dGamma[c] += gc * xhat[c]
                    d[c] = gc * Double(gamma?[c] ?? 1)
                    sumD += d[c]
                    sumDX += d[c] * xhat[c]
                }
                let n = Double(width)
                for c in 0..<width { dx[start + c] = Float(r * (d[c] - sumD / n - xhat[c] * sumDX / n)) }
            }
        }
        return (dx, dGamma.map(Float.init), dBeta.map(Float.init))
    }

    /// (1.4) The gradients of a merge's inputs (the current batch `input`, then `others`, the slots' in order) given
    /// its output's (before the activation). Maximum and minimum send each element's gradient to the first input that
    /// holds the extreme.
    static func mergeGradients(_ mode: MergeMode, input: [Float], others: [[Float]], widths: [Int],
                               outputGradient g: [Float]) -> (current: [Float], slots: [[Float]]) {
        let all = [input] + others
        switch mode {
        case .concatenate:
            let total = widths.reduce(0, +)
            let rows = g.count / max(total, 1)
            var column = 0
            var parts: [[Float]] = []
            for width in widths {
                var part = [Float](repeating: 0, count: rows * width)
                for r in 0..<rows { for c in 0..<width { part[r * width + c] = g[r * total + column + c] } }
                parts.append(part)
                column += width
            }
            return (parts[0], Array(parts.dropFirst()))
        case .add:
            return (g, others.map { _ in g })
        case .subtract:
            return (g, others.map { _ in g.map { -$0 } })
        case .average:
            let share = g.map { $0 / Float(all.count) }
            return (share, others.map { _ in share })
        case .multiply:
            let parts = all.indices.map { k in
                g.indices.map { i in all.indices.reduce(g[i]) { $1 == k ? $0 : $0 * all[$1][i] } }
            }
            return (parts[0], Array(parts.dropFirst()))
        case .maximum, .minimum:
            var parts = all.map { [Float](repeating: 0, count: $0.count) }
            for i in g.indices {
                var best = 0
                for k in 1..<all.count where mode == .maximum ? all[k][i] > all[best][i] : all[k][i] < all[best][i] { best = k }
                parts[best][i] = g[i]
            }
            return (parts[0], Array(parts.dropFirst()))
        }
    }

    private func affine(_ x: [Float], rows: Int, _ inFeatures: Int, _ w: [Float], _ outFeatures: Int, _ bias: [Float]?) throws -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        if let bias { for r in 0..<rows { for c in 0..<outFeatures { y[r * outFeatures + c] = bias[c] } } }
        try DenseAlgebra.accumulate(x, rows, inFeatures, w, inFeatures, outFeatures, into: &y, beta: bias == nil ? 0 : 1)
        return y
    }

    private func apply(_ activation: Activation, _ values: inout [Float], rows: Int, width: Int) {
        values.withUnsafeMutableBufferPointer { activation.apply(to: $0, rows: rows, width: width) }
    }

    /// delta ⊙ act′, the derivative written in terms of the activation's output y (for SiLU, which y does
    /// not determine, in terms of the pre-activation z the forward pass kept).
    private func multiplyByDerivative(_ activation: Activation, _ delta: inout [Float], output y: [Float], preActivation z: [Float]?,
                                      width: Int) {
        switch activation {
        case .linear: return
        case .relu: for i in delta.indices where y[i] <= 0 { delta[i] = 0 }
        case .relu6: for i in delta.indices where y[i] <= 0 || y[i] >= 6 { delta[i] = 0 }
        case .sigmoid: for i in delta.indices { delta[i] *= y[i] * (1 - y[i]) }
        case .tanh: for i in delta.indices { delta[i] *= 1 - y[i] * y[i] }
        case .elu: for i in delta.indices where y[i] < 0 { delta[i] *= y[i] + 1 }
        case .selu:
            let scale: Float = 1.0507009873554805, alpha: Float = 1.6732632423543772
            for i in delta.indices { delta[i] *= y[i] > 0 ? scale : y[i] + scale * alpha }
        case .softplus: for i in delta.indices { delta[i] *= 1 - exp(-y[i]) }  // σ(z) = 1 − e^(−softplus z)
        case .softsign: for i in delta.indices { let s = 1 - abs(y[i]); delta[i] *= s * s }  // 1/(1+|z|)² = (1 − |y|)²
        case .hardSigmoid: for i in delta.indices { delta[i] *= y[i] > 0 && y[i] < 1 ? 1 / 6 : 0 }
        case .exponential: for i in delta.indices { delta[i] *= y[i] }
        case .logSigmoid: for i in delta.indices { delta[i] *= 1 - exp(y[i]) }  // σ(−z) = 1 − σ(z) = 1 − e^y
        case .hardSigmoidKeras2: for i in delta.indices { delta[i] *= y[i] > 0 && y[i] < 1 ? 0.2 : 0 }
        case .hardTanh: for i in delta.indices where !(y[i] > -1 && y[i] < 1) { delta[i] = 0 }
        case .logSoftmax:
            // ∂L/∂zᵢ = gᵢ − softmax(z)ᵢ · Σⱼ gⱼ, softmax(z) = e^y, per row.
            let width = max(width, 1)
            for start in stride(from: 0, to: delta.count, by: width) {
                var total: Float = 0
                for i in start..<(start + width) { total += delta[i] }
                for i in start..<(start + width) { delta[i] -= exp(y[i]) * total }
            }
        case .mish:
            guard let z else { return }
            for i in delta.indices {
                // d/dz z·tanh(sp(z)) = tanh(sp) + z·(1 − tanh²(sp))·σ(z).
                let x = z[i]
                let t = Foundation.tanh(max(x, 0) + log1p(exp(-abs(x))))
                let s = 1 / (1 + exp(-x))
                delta[i] *= t + x * (1 - t * t) * s
            }
        case .hardSilu:
            guard let z else { return }
            for i in delta.indices { delta[i] *= z[i] < -3 ? 0 : z[i] > 3 ? 1 : (2 * z[i] + 3) / 6 }
        case .silu:
            // y = z·σ(z) is not monotonic (two z below −1.278 give the same y): the forward pass kept z.
            guard let z else { return }
            for i in delta.indices {
                let s = 1 / (1 + exp(-z[i]))
                delta[i] *= s + z[i] * s * (1 - s)
            }
        default: return
        }
    }

    /// delta ⊙ f′(x) for a relu or elu with parameters (format 1.5), from its input x (PReLU's is in the backward pass).
    static func multiplyByDerivative(_ function: ParametricActivation, _ delta: inout [Float], input x: [Float]) {
        switch function {
        case let .relu(slope, threshold, maxValue):
            let a = Float(slope), t = Float(threshold), m = Float(maxValue)
            for i in delta.indices { delta[i] *= x[i] > t ? (x[i] < m ? 1 : 0) : a }
        case .elu(let alpha):
            let a = Float(alpha)
            for i in delta.indices where !(x[i] > 0) { delta[i] *= a * exp(x[i]) }
        case .prelu:
            return  // with its alphas, in the backward pass
        }
    }

    /// The model with this network's parameters written back into its layers.
    func write(into model: Model, methodSuffix: String) -> Model {
        var updated = model
        for (position, stage) in stages.enumerated() {
            let index = layerIndices[position]
            let layer = model.layers[index]
            switch (stage, layer.operation) {
            case let (.dense(kernel, bias, _, _, _), .dense(oldKernel, oldBias, activation)):
                updated.layers[index] = Layer(name: layer.name, operation: .dense(
                    kernel: Tensor(shape: oldKernel.shape, floats: parameters[kernel], dtype: oldKernel.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation))
            case let (.factorized(us, vt, bias, _, _, _, _), .factorizedDense(oldUs, oldVt, oldBias, activation, factorization)):
                var record = factorization
                if !record.method.hasSuffix(methodSuffix) { record.method += methodSuffix }
                updated.layers[index] = Layer(name: layer.name, operation: .factorizedDense(
                    us: Tensor(shape: oldUs.shape, floats: parameters[us], dtype: oldUs.dtype),
                    vt: Tensor(shape: oldVt.shape, floats: parameters[vt], dtype: oldVt.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation, factorization: record))
            case let (.convolution(parts, bias, _), .conv2D(oldKernel, oldBias, activation, geometry)):
                updated.layers[index] = Layer(name: layer.name, operation: .conv2D(
                    kernel: Tensor(shape: oldKernel.shape, floats: parameters[parts[0].kernel], dtype: oldKernel.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation, geometry: geometry))
            case let (.convolution(parts, bias, _), .factorizedConv2D(oldFirst, oldSecond, oldBias, activation, form, geometry, factorization))
                where parts.count == 2:
                var record = factorization
                if !record.method.hasSuffix(methodSuffix) { record.method += methodSuffix }
                updated.layers[index] = Layer(name: layer.name, operation: .factorizedConv2D(
                    first: Tensor(shape: oldFirst.shape, floats: parameters[parts[0].kernel], dtype: oldFirst.dtype),
                    second: Tensor(shape: oldSecond.shape, floats: parameters[parts[1].kernel], dtype: oldSecond.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation, form: form, geometry: geometry, factorization: record))
            case let (.depthwise(kernel, bias, _, _, _), .depthwiseConv2D(oldKernel, oldBias, activation, geometry)):
                updated.layers[index] = Layer(name: layer.name, operation: .depthwiseConv2D(
                    kernel: Tensor(shape: oldKernel.shape, floats: parameters[kernel], dtype: oldKernel.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation, geometry: geometry))
            case let (.parametric(_, alphas?, _), .parametricActivation(function, oldAlphas?)):
                updated.layers[index] = Layer(name: layer.name, operation: .parametricActivation(
                    function, alphas: Tensor(shape: oldAlphas.shape, floats: parameters[alphas], dtype: oldAlphas.dtype)))
            case let (.layerNorm(gamma, beta, _), .layerNorm(oldGamma, oldBeta, epsilon)):
                updated.layers[index] = Layer(name: layer.name, operation: .layerNorm(
                    gamma: gamma.flatMap { g in oldGamma.map { Tensor(shape: $0.shape, floats: parameters[g], dtype: $0.dtype) } },
                    beta: beta.flatMap { b in oldBeta.map { Tensor(shape: $0.shape, floats: parameters[b], dtype: $0.dtype) } },
                    epsilon: epsilon))
            case let (.transposed(kernel, bias, _, _, _), .conv2DTranspose(oldKernel, oldBias, activation, geometry)):
                updated.layers[index] = Layer(name: layer.name, operation: .conv2DTranspose(
                    kernel: Tensor(shape: oldKernel.shape, floats: parameters[kernel], dtype: oldKernel.dtype),
                    bias: bias.map { Tensor(shape: oldBias?.shape ?? [parameters[$0].count], floats: parameters[$0], dtype: oldBias?.dtype ?? .float32) },
                    activation: activation, geometry: geometry))
            default:
                break
            }
        }
        return updated
    }
}
