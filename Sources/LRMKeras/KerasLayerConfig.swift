/// The configuration of a supported Keras layer class. Anything else is refused at import with
/// ``KerasImportError/Kind-swift.enum/unsupportedLayer``.
public enum KerasLayerConfig: Sendable, Equatable {
    /// `InputLayer`: the input shape without the batch dimension (`nil` = open dimension).
    case inputLayer(shape: [Int?]?)
    /// `Dense`: `y = activation(x · kernel + bias)`, kernel `[in, units]`, bias `[units]` when `useBias`.
    case dense(units: Int, activation: KerasActivation, useBias: Bool)
    /// `Activation`: applies the named function elementwise (softmax along the last axis).
    case activation(KerasActivation)
    /// `ReLU` (and `LeakyReLU` as `maxValue: nil, threshold: 0`):
    /// `x ≥ threshold ? min(x, maxValue) : negativeSlope · (x − threshold)`.
    case relu(maxValue: Double?, negativeSlope: Double, threshold: Double)
    /// `Softmax` along `axis` (Keras default −1).
    case softmax(axis: Int)
    /// `Dropout`: the identity at inference.
    case dropout(rate: Double)
    /// `Flatten`: reshapes to `[batch, product of the other dimensions]`, row-major.
    case flatten
    /// `Reshape`: to `targetShape` (without the batch dimension; one entry may be −1).
    case reshape(targetShape: [Int])
    /// `Rescaling`: `y = x · scale + offset`.
    case rescaling(scale: Double, offset: Double)
    /// `Normalization`: `y = (x − mean) / sqrt(variance)` (`invert`: `y = x · sqrt(variance) + mean`).
    /// `mean`/`variance` come from the config when given there; otherwise they are the layer's
    /// weights `mean`, `variance` (and `count`), set by `adapt()`.
    case normalization(axis: [Int], mean: [Double]?, variance: [Double]?, invert: Bool)
    /// `BatchNormalization` at inference:
    /// `y = gamma · (x − moving_mean) / sqrt(moving_variance + epsilon) + beta`;
    /// `gamma` is absent (1) when `scale` is false, `beta` absent (0) when `center` is false.
    case batchNormalization(axis: [Int], epsilon: Double, center: Bool, scale: Bool)
}

/// Keras's built-in activation functions, by their Keras names.
public enum KerasActivation: String, Sendable, Equatable, CaseIterable {
    case linear, relu, relu6, sigmoid, tanh, softmax, softplus, softsign, elu, selu, gelu, silu
    case exponential, mish
    case leakyRelu = "leaky_relu"
    case logSoftmax = "log_softmax"
    case hardSigmoid = "hard_sigmoid"
    case hardSilu = "hard_silu"

    /// Parses a Keras activation name, accepting the aliases Keras accepts (`swish` = `silu`,
    /// `hard_swish` = `hard_silu`, `None`/empty = `linear`).
    public init?(kerasName: String) {
        switch kerasName {
        case "swish": self = .silu
        case "hard_swish": self = .hardSilu
        case "", "None": self = .linear
        default: self.init(rawValue: kerasName)
        }
    }
}
