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

/// A dense-layer model as trainable parameters with a forward and a backward pass over row batches.
///
/// Stages follow the model's layers: dense (W, b), factorized dense (U·Σ, Vᵀ, b), element-wise
/// activations, scale-shift (fixed), flatten and reshape (no-ops on the row layout). The last layer's
/// pre-activation is the logits: its activation must be softmax or linear (or a dense layer with a linear
/// activation followed by a softmax layer). New layer kinds (convolutions) would add a stage with its
/// forward and backward here.
struct TrainableNetwork {
    enum Stage {
        case dense(kernel: Int, bias: Int?, inFeatures: Int, outFeatures: Int, activation: Activation)
        case factorized(us: Int, vt: Int, bias: Int?, inFeatures: Int, rank: Int, outFeatures: Int, activation: Activation)
        case activation(Activation)
        case scaleShift(scale: [Float], shift: [Float]?)
        case reshape(width: Int)
    }

    var stages: [Stage]
    /// Trainable arrays, row-major, in the order the stages name them.
    var parameters: [[Float]]
    /// Model layer index of each stage.
    let layerIndices: [Int]
    let inputWidth: Int
    let classCount: Int
    /// Identity model that applies the input preprocessing.
    private let preprocessor: InferenceModel

    static let supported: Set<Activation> = [.linear, .relu, .relu6, .sigmoid, .tanh, .elu, .selu, .softplus, .softsign, .silu,
                                             .hardSigmoid, .exponential]

    init(_ model: Model) throws {
        var stages: [Stage] = []
        var parameters: [[Float]] = []
        var indices: [Int] = []
        var width = model.input.shape.last ?? 0
        func add(_ tensor: Tensor?) -> Int? {
            guard let tensor else { return nil }
            parameters.append(tensor.floats())
            return parameters.count - 1
        }
        for (index, layer) in model.layers.enumerated() {
            switch layer.operation {
            case let .dense(kernel, bias, activation):
                stages.append(.dense(kernel: add(kernel) ?? 0, bias: add(bias), inFeatures: kernel.shape[0], outFeatures: kernel.shape[1],
                                     activation: activation))
                width = kernel.shape[1]
            case let .factorizedDense(us, vt, bias, activation, f):
                stages.append(.factorized(us: add(us) ?? 0, vt: add(vt) ?? 0, bias: add(bias), inFeatures: f.inFeatures, rank: f.rank,
                                          outFeatures: f.outFeatures, activation: activation))
                width = f.outFeatures
            case .activation(let activation):
                stages.append(.activation(activation))
            case let .scaleShift(scale, shift):
                stages.append(.scaleShift(scale: scale.floats(), shift: shift?.floats()))
            case .flatten:
                width = model.input.elementCount
                stages.append(.reshape(width: width))
            case .reshape(let target):
                width = target.last ?? width
                stages.append(.reshape(width: width))
            default:
                throw FineTuneError(.unsupportedLayer, "layer '\(layer.name)' is a \(layer.operation.kindName) layer: fine-tuning trains dense models only")
            }
            indices.append(index)
        }
        // The logits: the last weighted stage's pre-activation; its softmax (as its activation or as the
        // activation layer after it) is dropped from the trained network and applied by the loss.
        while case .reshape = stages.last { stages.removeLast(); indices.removeLast() }
        if case .activation(let last) = stages.last {
            guard last == .softmax || last == .linear else {
                throw FineTuneError(.noLogits, "the model ends in a \(last.name) activation: distillation needs a softmax or linear (logit) output")
            }
            stages.removeLast()
            indices.removeLast()
        }
        switch stages.last {
        case let .dense(kernel, bias, inFeatures, outFeatures, activation)? where activation == .softmax || activation == .linear:
            stages[stages.count - 1] = .dense(kernel: kernel, bias: bias, inFeatures: inFeatures, outFeatures: outFeatures, activation: .linear)
        case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation)? where activation == .softmax || activation == .linear:
            stages[stages.count - 1] = .factorized(us: us, vt: vt, bias: bias, inFeatures: inFeatures, rank: rank, outFeatures: outFeatures,
                                                   activation: .linear)
        default:
            throw FineTuneError(.noLogits, "the model's output layer is not a dense layer with a softmax or linear (logit) output: distillation needs one")
        }
        for stage in stages {
            switch stage {
            case .dense(_, _, _, _, let a), .factorized(_, _, _, _, _, _, let a), .activation(let a):
                guard TrainableNetwork.supported.contains(a) else {
                    throw FineTuneError(.unsupportedLayer, "fine-tuning has no gradient for the \(a.name) activation inside the model")
                }
            default: break
            }
        }
        self.stages = stages
        self.parameters = parameters
        layerIndices = indices
        inputWidth = model.input.elementCount
        classCount = width
        preprocessor = try InferenceModel(Model(name: "preprocessing", input: model.input, layers: []))
    }

    /// Raw samples to preprocessed rows.
    func preprocess(_ raw: ArraySlice<Float>, count: Int) throws -> [Float] {
        try raw.withUnsafeBufferPointer { try preprocessor.run($0, sampleCount: count, batchSize: max(1, count)) }
    }

    /// What the backward pass needs from the forward pass: each stage's input and, for weighted stages,
    /// the product with U·Σ and the output after the activation.
    struct Trace {
        var inputs: [[Float]] = []
        var middles: [[Float]?] = []
        var outputs: [[Float]] = []
        /// Pre-activations of stages whose derivative the output does not determine (SiLU is not monotonic).
        var preActivations: [[Float]?] = []
        var logits: [Float] = []
    }

    /// Logits for `count` preprocessed samples (rows × classCount), with the trace when `keep`.
    func forward(_ x: [Float], count: Int, keep: Bool) throws -> Trace {
        var trace = Trace()
        var current = x
        var width = inputWidth
        for stage in stages {
            let rows = current.count / max(width, 1)
            if keep { trace.inputs.append(current) }
            var middle: [Float]?
            var pre: [Float]?
            switch stage {
            case let .dense(kernel, bias, inFeatures, outFeatures, activation):
                current = try affine(current, rows: rows, inFeatures, parameters[kernel], outFeatures, bias.map { parameters[$0] })
                if keep && activation == .silu { pre = current }
                apply(activation, &current, rows: rows, width: outFeatures)
                width = outFeatures
            case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation):
                let h = try affine(current, rows: rows, inFeatures, parameters[us], rank, nil)
                current = try affine(h, rows: rows, rank, parameters[vt], outFeatures, bias.map { parameters[$0] })
                if keep && activation == .silu { pre = current }
                apply(activation, &current, rows: rows, width: outFeatures)
                if keep { middle = h }
                width = outFeatures
            case .activation(let activation):
                if keep && activation == .silu { pre = current }
                apply(activation, &current, rows: rows, width: width)
            case let .scaleShift(scale, shift):
                for r in 0..<rows { for c in 0..<width { current[r * width + c] = current[r * width + c] * scale[c] + (shift?[c] ?? 0) } }
            case .reshape(let target):
                width = target
            }
            if keep { trace.middles.append(middle); trace.outputs.append(current); trace.preActivations.append(pre) }
        }
        trace.logits = current
        return trace
    }

    /// Gradients of the loss with respect to every parameter, given the loss's gradient with respect to the logits.
    func backward(_ trace: Trace, logitGradient: [Float]) throws -> [[Float]] {
        var gradients = parameters.map { [Float](repeating: 0, count: $0.count) }
        var delta = logitGradient
        for (position, stage) in stages.enumerated().reversed() {
            let input = trace.inputs[position], output = trace.outputs[position], pre = trace.preActivations[position]
            switch stage {
            case let .dense(kernel, bias, inFeatures, outFeatures, activation):
                let rows = input.count / inFeatures
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre)
                gradients[kernel] = try DenseAlgebra.product(input, rows, inFeatures, transposeA: true, delta, rows, outFeatures)
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: rows, columns: outFeatures).map(Float.init) }
                if position > 0 { delta = try DenseAlgebra.product(delta, rows, outFeatures, parameters[kernel], inFeatures, outFeatures, transposeB: true) }
            case let .factorized(us, vt, bias, inFeatures, rank, outFeatures, activation):
                let rows = input.count / inFeatures
                let h = trace.middles[position] ?? []
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre)
                gradients[vt] = try DenseAlgebra.product(h, rows, rank, transposeA: true, delta, rows, outFeatures)
                if let bias { gradients[bias] = DenseAlgebra.columnSums(delta, rows: rows, columns: outFeatures).map(Float.init) }
                let dh = try DenseAlgebra.product(delta, rows, outFeatures, parameters[vt], rank, outFeatures, transposeB: true)
                gradients[us] = try DenseAlgebra.product(input, rows, inFeatures, transposeA: true, dh, rows, rank)
                if position > 0 { delta = try DenseAlgebra.product(dh, rows, rank, parameters[us], inFeatures, rank, transposeB: true) }
            case .activation(let activation):
                multiplyByDerivative(activation, &delta, output: output, preActivation: pre)
            case let .scaleShift(scale, _):
                let width = scale.count
                for i in delta.indices { delta[i] *= scale[i % width] }
            case .reshape:
                break
            }
        }
        return gradients
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
    private func multiplyByDerivative(_ activation: Activation, _ delta: inout [Float], output y: [Float], preActivation z: [Float]?) {
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
            default:
                break
            }
        }
        return updated
    }
}
