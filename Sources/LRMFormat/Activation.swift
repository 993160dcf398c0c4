/// The closed set of element-wise (softmax: row-wise) activations. Raw values are the codes
/// stored in the file; `name` is the spec's and Keras's name.
public enum Activation: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case linear = 0
    case relu = 1
    case sigmoid = 2
    case tanh = 3
    /// Softmax over the last axis.
    case softmax = 4
    /// GELU with the exact error function: x·Φ(x).
    case gelu = 5
    /// GELU's tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    case geluTanh = 6
    /// x·sigmoid(x) (Keras: silu, swish).
    case silu = 7
    /// x for x > 0, else exp(x) − 1.
    case elu = 8
    /// 1.0507009873554805·elu with α = 1.6732632423543772.
    case selu = 9
    /// ln(1 + exp(x)).
    case softplus = 10
    /// x / (1 + |x|).
    case softsign = 11
    /// min(max(x, 0), 6).
    case relu6 = 12
    /// relu6(x + 3) / 6 (Keras 3's definition).
    case hardSigmoid = 13
    /// exp(x).
    case exponential = 14
    /// x·tanh(softplus(x)) (format 1.5).
    case mish = 15
    /// x·relu6(x + 3) / 6 (Keras: hard_silu, hard_swish) (format 1.5).
    case hardSilu = 16
    /// −softplus(−x) = ln(sigmoid(x)) (format 1.5).
    case logSigmoid = 17
    /// min(max(x, −1), 1) (format 1.5).
    case hardTanh = 18
    /// x − ln Σⱼ eˣʲ over the last axis (format 1.5).
    case logSoftmax = 19
    /// min(max(0.2·x + 0.5, 0), 1): Keras 2's and tf-keras's `hard_sigmoid` (format 1.5).
    case hardSigmoidKeras2 = 20

    public var name: String {
        switch self {
        case .linear: "linear"
        case .relu: "relu"
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .softmax: "softmax"
        case .gelu: "gelu"
        case .geluTanh: "gelu_tanh"
        case .silu: "silu"
        case .elu: "elu"
        case .selu: "selu"
        case .softplus: "softplus"
        case .softsign: "softsign"
        case .relu6: "relu6"
        case .hardSigmoid: "hard_sigmoid"
        case .exponential: "exponential"
        case .mish: "mish"
        case .hardSilu: "hard_silu"
        case .logSigmoid: "log_sigmoid"
        case .hardTanh: "hard_tanh"
        case .logSoftmax: "log_softmax"
        case .hardSigmoidKeras2: "hard_sigmoid_keras2"
        }
    }

    public init?(name: String) {
        guard let match = Activation.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    public var description: String { name }

    /// The lowest format minor version that has this code: 0 for codes 0–14, 5 for 15 and up.
    public var minimumMinorVersion: UInt16 { rawValue <= 14 ? 0 : 5 }

    /// Whether the function acts on each row (the last axis) as a whole rather than on each element: softmax and
    /// log_softmax.
    public var isRowWise: Bool { self == .softmax || self == .logSoftmax }
}
