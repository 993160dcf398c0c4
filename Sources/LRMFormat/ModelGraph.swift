/// How a model's input is laid out and normalised before the first layer.
///
/// Preprocessing is `x' = x · scale + offset`, element-wise. `scale` and `offset` each hold
/// 0 values (identity), 1 value (for all elements), one value per channel (`layout` HWC or CHW),
/// or one value per input element.
public struct InputSpec: Sendable, Equatable {
    /// Shape of one sample, without the batch axis, row-major.
    public var shape: [Int]
    public var layout: InputLayout
    public var scale: [Double]
    public var offset: [Double]

    public init(shape: [Int], layout: InputLayout = .features, scale: [Double] = [], offset: [Double] = []) {
        self.shape = shape
        self.layout = layout
        self.scale = scale
        self.offset = offset
    }

    /// Number of scalars in one sample.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Number of channels under `layout`, or nil for `.features`.
    public var channelCount: Int? {
        switch layout {
        case .features: nil
        case .hwc: shape.last
        case .chw: shape.first
        }
    }
}

/// Meaning of the input axes. Keras image models see height × width × channels (HWC); CIFAR's
/// files store channel planes (CHW).
public enum InputLayout: UInt8, Sendable, CaseIterable {
    /// A plain feature vector or tensor with no image meaning.
    case features = 0
    case hwc = 1
    case chw = 2

    public var name: String {
        switch self {
        case .features: "features"
        case .hwc: "hwc"
        case .chw: "chw"
        }
    }

    public init?(name: String) {
        guard let match = InputLayout.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// How a factorized layer was made: what `spec/FORMAT.md` calls the factorization record.
public struct Factorization: Sendable, Equatable {
    /// Rows of the original kernel W (input features).
    public var inFeatures: Int
    /// Columns of the original kernel W (output features).
    public var outFeatures: Int
    /// k: columns of U·Σ and rows of Vᵀ.
    public var rank: Int
    /// Σᵢ≤ₖ σᵢ² / Σ σᵢ² in 0…1 (in the metric the policy used; see `policy`).
    public var retainedEnergy: Double
    /// ‖W − (UΣ)Vᵀ‖_F / ‖W‖_F.
    public var relativeError: Double
    /// The rank policy that chose k, e.g. "energy", "entropy", "rank", "ratio", "error".
    public var policy: String
    /// Its parameter (τ, k, r, ε).
    public var policyParameter: Double
    /// How the factors were computed, e.g. "gesdd-f32", "gesdd-f64", "gram-f64", "randomized".
    public var method: String
    /// Singular values of W that are known, in descending order: at least k, at most min(in, out).
    public var singularValues: [Double]

    public init(inFeatures: Int, outFeatures: Int, rank: Int, retainedEnergy: Double, relativeError: Double,
                policy: String, policyParameter: Double, method: String, singularValues: [Double]) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.rank = rank
        self.retainedEnergy = retainedEnergy
        self.relativeError = relativeError
        self.policy = policy
        self.policyParameter = policyParameter
        self.method = method
        self.singularValues = singularValues
    }

    /// Parameters of the dense kernel: in·out.
    public var denseParameterCount: Int { cost.denseParameters }
    /// Parameters of the two factors: k·(in + out).
    public var factorParameterCount: Int { cost.factorParameters(rank: rank) }

    /// Whether the factors were changed after the truncation that chose the rank (refitted or fine-tuned: `method`
    /// holds `+refit` or `+finetune`, `spec/FORMAT.md` section 3.1): the record's retained energy and singular values
    /// are then the truncation's, not the stored factors'.
    public var movedAfterTruncation: Bool {
        method.contains("+refit") || method.contains("+finetune")
    }
}

/// What one layer does. `T` is how tensors are referred to: `Int` (an index into the tensor
/// table) in a file's header, `Tensor` in a model held in memory.
public enum LayerOperation<T: Sendable>: Sendable {
    /// y = activation(x · kernel + bias); kernel is in × out.
    case dense(kernel: T, bias: T?, activation: Activation)
    /// y = activation((x · us) · vt + bias); `us` is U·Σ, in × k; `vt` is Vᵀ, k × out.
    case factorizedDense(us: T, vt: T, bias: T?, activation: Activation, factorization: Factorization)
    case activation(Activation)
    /// Collapses all axes of a sample into one.
    case flatten
    /// Reinterprets a sample's elements (row-major) with a new shape of the same element count.
    case reshape([Int])
    /// y = x · scale + shift over the last axis (a folded normalisation).
    case scaleShift(scale: T, shift: T?)
    /// 2-D convolution of an [h, w, cin] sample; kernel [kh, kw, cin, cout], bias [cout] (format 1.1).
    case conv2D(kernel: T, bias: T?, activation: Activation, geometry: ConvGeometry)
    /// A convolution stored as two (format 1.1): `first` then `second`, then bias and activation.
    /// Channel form: first [kh, kw, cin, k] with `geometry`, second [1, 1, k, cout].
    /// Spatial form: first [kh, 1, cin, k] with the height half of `geometry`, second [1, kw, k, cout]
    /// with the width half. `factorization` describes the matrix that was split.
    case factorizedConv2D(first: T, second: T, bias: T?, activation: Activation, form: ConvFactorizationForm,
                          geometry: ConvGeometry, factorization: Factorization)
    /// Depthwise convolution; kernel [kh, kw, cin, m], output channel ci·m + j, bias [cin·m] (format 1.1).
    case depthwiseConv2D(kernel: T, bias: T?, activation: Activation, geometry: ConvGeometry)
    /// Max or average pooling over height and width (format 1.1).
    case pool2D(Pooling)
    /// Max or mean over height and width: [h, w, c] → [c] (format 1.1).
    case globalPool2D(PoolMode)
    /// Zero rows and columns added around an [h, w, c] sample (format 1.1).
    case pad2D(Margins)
    /// Rows and columns removed from the borders of an [h, w, c] sample (format 1.1).
    case crop2D(Margins)
    /// Reorders the sample's axes: output axis i is input axis `axes[i]` (numpy's transpose) (format 1.1).
    case permute([Int])
    /// Remembers the current sample in slot `slot`; the output is the input (format 1.4).
    case store(slot: Int)
    /// The sample held in slot `slot` becomes the current one (format 1.4).
    case load(slot: Int)
    /// Combines the current sample with the samples held in `slots` (in that order: the current one first), then
    /// applies `activation` (format 1.4).
    case merge(MergeMode, slots: [Int], activation: Activation)
    /// Each row and column of an [h, w, c] sample repeated (nearest) or interpolated (bilinear) by integer factors:
    /// [h·factor_h, w·factor_w, c] (format 1.5).
    case upsample2D(Upsampling)
    /// An element-wise activation with parameters (format 1.5); `alphas` (PReLU's, broadcast over the sample's trailing
    /// axes) is present exactly when `function` is ``ParametricActivation/prelu``.
    case parametricActivation(ParametricActivation, alphas: T?)
    /// Transposed 2-D convolution of an [h, w, cin] sample (format 1.5): kernel [kh, kw, cout, cin] (Keras's
    /// `Conv2DTranspose` layout), bias [cout]; each input position adds `x · kernel[a, b]ᵀ` at output position
    /// (i·s_h + a·d_h − crop_top, j·s_w + b·d_w − crop_left), in an [output_h, output_w, cout] map.
    case conv2DTranspose(kernel: T, bias: T?, activation: Activation, geometry: TransposedGeometry)
    /// Layer normalization over the last axis of each sample (format 1.5): with mean μ and biased variance σ² of the
    /// sample's last-axis vector, y = (x − μ) · γ / √(σ² + ε) + β; `gamma` and `beta` ([features]) are each optional
    /// (1 and 0 when absent).
    case layerNorm(gamma: T?, beta: T?, epsilon: Double)

    /// The code of this kind in the file.
    public var kindCode: UInt8 {
        switch self {
        case .dense: 1
        case .factorizedDense: 2
        case .activation: 3
        case .flatten: 4
        case .reshape: 5
        case .scaleShift: 6
        case .conv2D: 7
        case .factorizedConv2D: 8
        case .depthwiseConv2D: 9
        case .pool2D: 10
        case .globalPool2D: 11
        case .pad2D: 12
        case .crop2D: 13
        case .permute: 14
        case .store: LayerKindCode.store
        case .load: LayerKindCode.load
        case .merge: LayerKindCode.merge
        case .upsample2D: LayerKindCode.upsample2D
        case .parametricActivation: LayerKindCode.parametricActivation
        case .conv2DTranspose: LayerKindCode.conv2DTranspose
        case .layerNorm: LayerKindCode.layerNorm
        }
    }

    /// The lowest format minor version that has this kind.
    public var minimumMinorVersion: UInt16 {
        switch self {
        case .upsample2D, .parametricActivation, .conv2DTranspose, .layerNorm: 5
        case .store, .load, .merge: max(4, activationFunction?.minimumMinorVersion ?? 0)
        default: max(kindCode <= 6 ? 0 : 1, activationFunction?.minimumMinorVersion ?? 0)
        }
    }

    /// The activation code of the record, for the kinds that have one.
    public var activationFunction: Activation? {
        switch self {
        case .dense(_, _, let a), .factorizedDense(_, _, _, let a, _), .activation(let a), .conv2D(_, _, let a, _),
             .factorizedConv2D(_, _, _, let a, _, _, _), .depthwiseConv2D(_, _, let a, _), .merge(_, _, let a),
             .conv2DTranspose(_, _, let a, _):
            a
        default:
            nil
        }
    }

    /// Whether this is one of the slot kinds of format 1.4 (`store`, `load`, `merge`): a model with any is a graph
    /// whose layers do not simply each take the previous one's output.
    public var usesSlots: Bool {
        switch self {
        case .store, .load, .merge: true
        default: false
        }
    }

    /// The spec's name of this kind.
    public var kindName: String {
        switch self {
        case .dense: "dense"
        case .factorizedDense: "factorized_dense"
        case .activation: "activation"
        case .flatten: "flatten"
        case .reshape: "reshape"
        case .scaleShift: "scale_shift"
        case .conv2D: "conv2d"
        case .factorizedConv2D: "factorized_conv2d"
        case .depthwiseConv2D: "depthwise_conv2d"
        case .pool2D: "pool2d"
        case .globalPool2D: "global_pool2d"
        case .pad2D: "pad2d"
        case .crop2D: "crop2d"
        case .permute: "permute"
        case .store: "store"
        case .load: "load"
        case .merge: "merge"
        case .upsample2D: "upsample2d"
        case .parametricActivation: "parametric_activation"
        case .conv2DTranspose: "conv2d_transpose"
        case .layerNorm: "layer_norm"
        }
    }

    /// The same operation with every tensor reference transformed.
    public func map<U>(_ transform: (T, String) throws -> U) rethrows -> LayerOperation<U> {
        switch self {
        case let .dense(kernel, bias, activation):
            return .dense(kernel: try transform(kernel, "kernel"), bias: try bias.map { try transform($0, "bias") },
                          activation: activation)
        case let .factorizedDense(us, vt, bias, activation, factorization):
            return .factorizedDense(us: try transform(us, "us"), vt: try transform(vt, "vt"),
                                    bias: try bias.map { try transform($0, "bias") },
                                    activation: activation, factorization: factorization)
        case .activation(let activation): return .activation(activation)
        case .flatten: return .flatten
        case .reshape(let shape): return .reshape(shape)
        case let .scaleShift(scale, shift):
            return .scaleShift(scale: try transform(scale, "scale"), shift: try shift.map { try transform($0, "shift") })
        case let .conv2D(kernel, bias, activation, geometry):
            return .conv2D(kernel: try transform(kernel, "kernel"), bias: try bias.map { try transform($0, "bias") },
                           activation: activation, geometry: geometry)
        case let .factorizedConv2D(first, second, bias, activation, form, geometry, factorization):
            return .factorizedConv2D(first: try transform(first, "first"), second: try transform(second, "second"),
                                     bias: try bias.map { try transform($0, "bias") }, activation: activation,
                                     form: form, geometry: geometry, factorization: factorization)
        case let .depthwiseConv2D(kernel, bias, activation, geometry):
            return .depthwiseConv2D(kernel: try transform(kernel, "kernel"), bias: try bias.map { try transform($0, "bias") },
                                    activation: activation, geometry: geometry)
        case .pool2D(let pooling): return .pool2D(pooling)
        case .globalPool2D(let mode): return .globalPool2D(mode)
        case .pad2D(let margins): return .pad2D(margins)
        case .crop2D(let margins): return .crop2D(margins)
        case .permute(let axes): return .permute(axes)
        case .store(let slot): return .store(slot: slot)
        case .load(let slot): return .load(slot: slot)
        case let .merge(mode, slots, activation): return .merge(mode, slots: slots, activation: activation)
        case .upsample2D(let upsampling): return .upsample2D(upsampling)
        case let .parametricActivation(function, alphas):
            return .parametricActivation(function, alphas: try alphas.map { try transform($0, "alphas") })
        case let .conv2DTranspose(kernel, bias, activation, geometry):
            return .conv2DTranspose(kernel: try transform(kernel, "kernel"), bias: try bias.map { try transform($0, "bias") },
                                    activation: activation, geometry: geometry)
        case let .layerNorm(gamma, beta, epsilon):
            return .layerNorm(gamma: try gamma.map { try transform($0, "gamma") }, beta: try beta.map { try transform($0, "beta") },
                              epsilon: epsilon)
        }
    }

    /// The tensors this operation uses, with their roles, in the order of the record.
    public var tensors: [(role: String, tensor: T)] {
        var result: [(String, T)] = []
        _ = map { tensor, role -> T in result.append((role, tensor)); return tensor }
        return result
    }
}

/// Where a quantized weight's scales are in a file (format 1.2): the index of the scale tensor in
/// the tensor table and the number of rows that share a scale; (1.3) the index of its zero points.
public struct WeightQuantization: Sendable, Equatable {
    public var scales: Int
    public var groupSize: Int
    /// (1.3) The zero-point tensor, nil for symmetric codes.
    public var zeroPoints: Int?

    public init(scales: Int, groupSize: Int, zeroPoints: Int? = nil) {
        self.scales = scales
        self.groupSize = groupSize
        self.zeroPoints = zeroPoints
    }
}

/// One named layer.
public struct Layer<T: Sendable>: Sendable {
    public var name: String
    public var operation: LayerOperation<T>
    /// In a file's header (`Layer<Int>`): the scales of each quantized weight, by role (`kernel`,
    /// or `us` and `vt`); a layer with any is a `quantized_dense` or `quantized_factorized_dense`
    /// record. Empty in a model held in memory, whose quantized tensors carry their own scales.
    public var quantization: [String: WeightQuantization]

    public init(name: String, operation: LayerOperation<T>, quantization: [String: WeightQuantization] = [:]) {
        self.name = name
        self.operation = operation
        self.quantization = quantization
    }

    /// Whether the record is one of the quantized kinds.
    public var isQuantized: Bool { !quantization.isEmpty }

    /// Whether the record is one of the quantized kinds with zero points (format 1.3).
    public var hasZeroPoints: Bool { quantization.values.contains { $0.zeroPoints != nil } }

    /// The kind code of the record: the operation's, or 15 / 16 for a quantized dense / factorized
    /// layer, 17 / 18 for one with zero points.
    public var kindCode: UInt8 {
        guard isQuantized else { return operation.kindCode }
        if case .dense = operation { return hasZeroPoints ? LayerKindCode.zeroPointDense : LayerKindCode.quantizedDense }
        return hasZeroPoints ? LayerKindCode.zeroPointFactorizedDense : LayerKindCode.quantizedFactorizedDense
    }

    /// The spec's name of the record's kind.
    public var kindName: String {
        guard isQuantized else { return operation.kindName }
        let suffix = hasZeroPoints ? "_zp" : ""
        if case .dense = operation { return "quantized_dense" + suffix }
        return "quantized_factorized_dense" + suffix
    }

    /// The weights a quantized record of this operation stores as codes and scales, in record order.
    public var quantizableRoles: [String] {
        switch operation {
        case .dense: ["kernel"]
        case .factorizedDense: ["us", "vt"]
        default: []
        }
    }
}

/// How a `merge` layer (format 1.4) combines the current sample with the samples of its slots.
public enum MergeMode: UInt8, Sendable, CaseIterable {
    /// Element-wise sum.
    case add = 0
    /// The current sample minus the one slot's (exactly one slot).
    case subtract = 1
    /// Element-wise product.
    case multiply = 2
    /// Element-wise mean.
    case average = 3
    /// Element-wise maximum.
    case maximum = 4
    /// Element-wise minimum.
    case minimum = 5
    /// Joined along the last axis, the current sample's values first, then each slot's in order.
    case concatenate = 6

    public var name: String {
        switch self {
        case .add: "add"
        case .subtract: "subtract"
        case .multiply: "multiply"
        case .average: "average"
        case .maximum: "maximum"
        case .minimum: "minimum"
        case .concatenate: "concatenate"
        }
    }

    public init?(name: String) {
        guard let match = MergeMode.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// Layer kind codes of format 1.2.
public enum LayerKindCode {
    public static let quantizedDense: UInt8 = 15
    public static let quantizedFactorizedDense: UInt8 = 16
    /// Format 1.3: quantized layers whose weights have zero points.
    public static let zeroPointDense: UInt8 = 17
    public static let zeroPointFactorizedDense: UInt8 = 18
    /// Format 1.4: the slot kinds (`store`, `load`, `merge`).
    public static let store: UInt8 = 19
    public static let load: UInt8 = 20
    public static let merge: UInt8 = 21
    /// Format 1.5: `upsample2d`.
    public static let upsample2D: UInt8 = 23
    /// Format 1.5: an element-wise activation with parameters (`parametric_activation`).
    public static let parametricActivation: UInt8 = 22
    /// Format 1.5: `conv2d_transpose`.
    public static let conv2DTranspose: UInt8 = 24
    /// (1.5) Layer normalization over the last axis.
    public static let layerNorm: UInt8 = 26
}

extension Layer where T == Int {
    /// Every tensor the record refers to, with its role, in record order: a quantized weight's
    /// scales (role `<role>_scales`) and (1.3) zero points (`<role>_zero_points`) follow its codes.
    public var references: [(role: String, tensor: Int)] {
        var result: [(role: String, tensor: Int)] = []
        for (role, index) in operation.tensors {
            result.append((role, index))
            if let q = quantization[role] {
                result.append((role + "_scales", q.scales))
                if let zeroPoints = q.zeroPoints { result.append((role + "_zero_points", zeroPoints)) }
            }
        }
        return result
    }
}

/// The model section of a header: input, class names and the ordered layers, with tensors
/// referred to by their index in the tensor table.
public struct ModelDescription: Sendable {
    public var name: String
    public var input: InputSpec
    /// Empty, or one name per output unit.
    public var classNames: [String]
    public var layers: [Layer<Int>]

    public init(name: String, input: InputSpec, classNames: [String] = [], layers: [Layer<Int>]) {
        self.name = name
        self.input = input
        self.classNames = classNames
        self.layers = layers
    }
}

extension LayerOperation: Equatable where T: Equatable {}
extension Layer: Equatable where T: Equatable {}
extension ModelDescription: Equatable {}
