/// An element-wise activation with parameters (format 1.5): the `function` of a `parametric_activation` layer
/// (kind 22). Definitions are those of `spec/FORMAT.md` section 3.8; `x` is one element of the layer's input.
public enum ParametricActivation: Sendable, Equatable {
    /// Keras's `ReLU` (and `LeakyReLU`): `x > threshold ? min(x, maxValue) : negativeSlope · (x − threshold)`.
    /// `negativeSlope` is finite, `threshold` finite and ≥ 0, `maxValue` ≥ 0 (+∞: no maximum).
    case relu(negativeSlope: Double, threshold: Double, maxValue: Double)
    /// `x > 0 ? x : alpha · (eˣ − 1)`, `alpha` finite (Keras's `ELU` layer; `elu` with α = 1 is activation code 8).
    case elu(alpha: Double)
    /// `x > 0 ? x : a · x`, `a` the element of the layer's `alphas` tensor that broadcasts to x (Keras's `PReLU`).
    case prelu

    /// The function's code in the file.
    public var code: UInt8 {
        switch self {
        case .relu: 0
        case .elu: 1
        case .prelu: 2
        }
    }

    /// The spec's name of the function.
    public var name: String {
        switch self {
        case .relu: "relu"
        case .elu: "elu"
        case .prelu: "prelu"
        }
    }

    /// The `parameters` field, in the spec's order.
    public var parameters: [Double] {
        switch self {
        case let .relu(slope, threshold, maxValue): [slope, threshold, maxValue]
        case .elu(let alpha): [alpha]
        case .prelu: []
        }
    }

    /// Whether the layer has an `alphas` tensor (required for `prelu`, absent otherwise).
    public var usesAlphas: Bool { self == .prelu }

    /// The function of `code` with `parameters`: nil for an unknown code [`unsupported_feature`], a problem for
    /// parameters of the wrong count or out of range [`bad_model`] (``problem``).
    public static func decoded(code: UInt8, parameters p: [Double]) -> Result<ParametricActivation, ParametricActivationProblem>? {
        let function: ParametricActivation
        switch code {
        case 0:
            guard p.count == 3 else { return .failure(.init("relu takes 3 parameters (negative_slope, threshold, max_value), found \(p.count)")) }
            function = .relu(negativeSlope: p[0], threshold: p[1], maxValue: p[2])
        case 1:
            guard p.count == 1 else { return .failure(.init("elu takes 1 parameter (alpha), found \(p.count)")) }
            function = .elu(alpha: p[0])
        case 2:
            guard p.isEmpty else { return .failure(.init("prelu takes no parameters, found \(p.count)")) }
            function = .prelu
        default:
            return nil
        }
        if let problem = function.problem { return .failure(problem) }
        return .success(function)
    }

    /// The first rule of `spec/FORMAT.md` section 3.8 the parameters break, or nil.
    public var problem: ParametricActivationProblem? {
        switch self {
        case let .relu(slope, threshold, maxValue):
            guard slope.isFinite else { return .init("relu has negative_slope \(slope), expected a finite value") }
            guard threshold.isFinite, threshold >= 0 else { return .init("relu has threshold \(threshold), expected a finite value ≥ 0") }
            guard maxValue >= 0 else { return .init("relu has max_value \(maxValue), expected a value ≥ 0 (+inf: none)") }
        case .elu(let alpha):
            guard alpha.isFinite else { return .init("elu has alpha \(alpha), expected a finite value") }
        case .prelu:
            break
        }
        return nil
    }

    /// A short description for tables: `relu(slope 0.1)`, `elu(alpha 0.5)`, `prelu`.
    public var summary: String {
        switch self {
        case let .relu(slope, threshold, maxValue):
            var parts: [String] = []
            if slope != 0 { parts.append("slope \(Self.format(slope))") }
            if threshold != 0 { parts.append("threshold \(Self.format(threshold))") }
            if maxValue.isFinite { parts.append("max \(Self.format(maxValue))") }
            return parts.isEmpty ? "relu" : "relu(\(parts.joined(separator: ", ")))"
        case .elu(let alpha): return "elu(alpha \(Self.format(alpha)))"
        case .prelu: return "prelu"
        }
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}

/// Why a `parametric_activation` record's parameters are refused.
public struct ParametricActivationProblem: Error, Sendable, Equatable {
    public var message: String
    init(_ message: String) { self.message = message }
}

extension ParametricActivation {
    /// Whether `alphas` of shape `alphaShape` broadcasts to samples of shape `sample` (numpy's rule, aligned at the
    /// last axis): at most as many axes, each 1 or the sample's size.
    public static func alphasBroadcast(_ alphaShape: [Int], to sample: [Int]) -> Bool {
        guard !alphaShape.isEmpty, alphaShape.count <= sample.count else { return false }
        return zip(alphaShape.reversed(), sample.reversed()).allSatisfy { $0 == 1 || $0 == $1 }
    }
}
