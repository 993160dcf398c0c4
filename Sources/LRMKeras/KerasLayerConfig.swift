import LRMHDF5
public import LRMFormat
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
    /// `ELU`: `x > 0 ? x : alpha · (eˣ − 1)`.
    case elu(alpha: Double)
    /// `PReLU`: `x > 0 ? x : alpha · x`, its weight `alpha` of the sample's shape with 1 on each of `sharedAxes`
    /// (axes of the sample numbered from 1).
    case prelu(sharedAxes: [Int])
    /// `Softmax` along `axis` (Keras default −1).
    case softmax(axis: Int)
    /// `Dropout`: the identity at inference.
    case dropout(rate: Double)
    /// A layer that is the identity at inference (`model(x, training=False)`), whatever its config: Keras 3's random
    /// image augmentation layers (`RandomFlip`, `RandomRotation`, …), `GaussianNoise`, `GaussianDropout`,
    /// `AlphaDropout` and `ActivityRegularization` (``KerasLayerConfig/identityAtInferenceClassNames``). Dropped at
    /// import, as Dropout is; any state Keras keeps for it (a random seed) is ignored.
    case identityAtInference
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
    /// `LayerNormalization` (format 1.5's `layer_norm`): each sample normalized over `axis` with its own mean and
    /// biased variance, `y = (x − mean) · gamma / sqrt(variance + epsilon) + beta`; `gamma` absent (1) when `scale` is
    /// false, `beta` absent (0) when `center` is false. lrm imports it over the last axis only.
    case layerNormalization(axis: [Int], epsilon: Double, center: Bool, scale: Bool)
    /// `Conv2D`: kernel `[kh, kw, cin, filters]` (whatever the data format), bias `[filters]` when `useBias`.
    case conv2D(KerasConvolution)
    /// `DepthwiseConv2D`: kernel `[kh, kw, cin, depth_multiplier]`, bias `[cin · depth_multiplier]`.
    case depthwiseConv2D(KerasConvolution)
    /// `SeparableConv2D`: a depthwise kernel `[kh, kw, cin, depth_multiplier]` (no bias, no activation), then a
    /// pointwise kernel `[1, 1, cin · depth_multiplier, filters]` with the bias and the activation.
    case separableConv2D(KerasConvolution)
    /// `MaxPooling2D` (`mode` max) and `AveragePooling2D` (`mode` average).
    case pooling2D(KerasPooling)
    /// `GlobalMaxPooling2D` and `GlobalAveragePooling2D`: `[batch, channels]`, or `[batch, 1, 1, channels]`
    /// (channels-last) with `keepdims`.
    case globalPooling2D(mode: KerasPoolMode, dataFormat: KerasDataFormat, keepDims: Bool)
    /// `ZeroPadding2D` (`crop` false) and `Cropping2D` (`crop` true): rows and columns added or removed.
    case margins2D(top: Int, bottom: Int, left: Int, right: Int, crop: Bool, dataFormat: KerasDataFormat)
    /// `UpSampling2D`: each row and column repeated (`nearest`) or interpolated (`bilinear`) by integer factors (format 1.5).
    case upsampling2D(factorH: Int, factorW: Int, interpolation: UpsampleInterpolation, dataFormat: KerasDataFormat)
    /// `Conv2DTranspose`: kernel `[kh, kw, filters, cin]` (whatever the data format), bias `[filters]` (format 1.5).
    case convTranspose2D(KerasConvTranspose)
    /// `Permute`: output axis i is input axis `dims[i]`, axes of the sample numbered from 1.
    case permute(dims: [Int])
    /// `Flatten` with `data_format` channels-first: Keras moves axis 1 (the channels) last, then flattens.
    case flattenChannelsFirst
    /// A 1-D layer (`Conv1D`, `SeparableConv1D`, `DepthwiseConv1D`, `MaxPooling1D`, `AveragePooling1D`,
    /// `GlobalMaxPooling1D`, `GlobalAveragePooling1D`, `ZeroPadding1D`, `Cropping1D`, `UpSampling1D`, `Conv1DTranspose`;
    /// channels-last only) as its
    /// 2-D equivalent over a height of 1: lrm runs Keras's `[steps, channels]` sample as `[1, steps, channels]`.
    /// Window sizes, strides, dilations and margins are the width's (height 1, stride 1). `causalPadding` is the
    /// number of zero steps Keras's padding `causal` adds before the first one ((kernel − 1) · dilation), the
    /// convolution then being valid. Keras's kernels are `[k, cin, cout]`; lrm's are `[1, k, cin, cout]`.
    indirect case sequence(KerasLayerConfig, causalPadding: Int)
    /// `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum` and `Concatenate` (its `axis`, counting the
    /// batch axis; -1 the last): branches of a functional model joined (lrm's `merge`, format 1.4).
    case merge(KerasMerge, axis: Int)
}

/// The merge layers of Keras that lrm imports.
public enum KerasMerge: String, Sendable, Equatable, CaseIterable {
    case add = "Add", subtract = "Subtract", multiply = "Multiply", average = "Average", maximum = "Maximum"
    case minimum = "Minimum", concatenate = "Concatenate"

    /// Whether the order of the inputs does not matter.
    public var isCommutative: Bool { self != .subtract && self != .concatenate }
}

/// The settings of a Keras `Conv2D`, `DepthwiseConv2D` or `SeparableConv2D`.
public struct KerasConvolution: Sendable, Equatable {
    /// Output channels (`filters`); for `DepthwiseConv2D`, `cin · depthMultiplier` is only known from the kernel, so 0.
    public var filters: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var dilationH: Int
    public var dilationW: Int
    public var padding: KerasPadding
    public var dataFormat: KerasDataFormat
    public var activation: KerasActivation
    public var useBias: Bool
    /// `depth_multiplier` of depthwise and separable convolutions (1 for Conv2D).
    public var depthMultiplier: Int

    public init(filters: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1,
                dilationW: Int = 1, padding: KerasPadding = .valid, dataFormat: KerasDataFormat = .channelsLast,
                activation: KerasActivation = .linear, useBias: Bool = true, depthMultiplier: Int = 1) {
        self.filters = filters
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.padding = padding
        self.dataFormat = dataFormat
        self.activation = activation
        self.useBias = useBias
        self.depthMultiplier = depthMultiplier
    }
}

/// The settings of a Keras `Conv2DTranspose` (or, over a height of 1, `Conv1DTranspose`).
public struct KerasConvTranspose: Sendable, Equatable {
    public var filters: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var dilationH: Int
    public var dilationW: Int
    public var padding: KerasPadding
    /// `output_padding` per axis; nil: Keras's default for the padding (None).
    public var outputPaddingH: Int?
    public var outputPaddingW: Int?
    public var dataFormat: KerasDataFormat
    public var activation: KerasActivation
    public var useBias: Bool

    public init(filters: Int, kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1, dilationH: Int = 1, dilationW: Int = 1,
                padding: KerasPadding = .valid, outputPaddingH: Int? = nil, outputPaddingW: Int? = nil,
                dataFormat: KerasDataFormat = .channelsLast, activation: KerasActivation = .linear, useBias: Bool = true) {
        self.filters = filters
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.padding = padding
        self.outputPaddingH = outputPaddingH
        self.outputPaddingW = outputPaddingW
        self.dataFormat = dataFormat
        self.activation = activation
        self.useBias = useBias
    }
}

/// Keras's `padding` of convolutions and pooling.
public enum KerasPadding: String, Sendable, Equatable {
    case valid, same
}

/// Keras's `data_format`: where the channel axis is.
public enum KerasDataFormat: String, Sendable, Equatable {
    case channelsLast = "channels_last"
    case channelsFirst = "channels_first"
}

/// The settings of a Keras `MaxPooling2D` or `AveragePooling2D` (`strides` default to the pool size).
public struct KerasPooling: Sendable, Equatable {
    public var mode: KerasPoolMode
    public var poolH: Int
    public var poolW: Int
    public var strideH: Int
    public var strideW: Int
    public var padding: KerasPadding
    public var dataFormat: KerasDataFormat

    public init(mode: KerasPoolMode, poolH: Int, poolW: Int, strideH: Int, strideW: Int, padding: KerasPadding,
                dataFormat: KerasDataFormat) {
        self.mode = mode
        self.poolH = poolH
        self.poolW = poolW
        self.strideH = strideH
        self.strideW = strideW
        self.padding = padding
        self.dataFormat = dataFormat
    }
}

/// Max or average pooling.
public enum KerasPoolMode: String, Sendable, Equatable {
    case max, average
}

/// Keras's built-in activation functions, by their Keras names.
public enum KerasActivation: String, Sendable, Equatable, CaseIterable {
    case linear, relu, relu6, sigmoid, tanh, softmax, softplus, softsign, elu, selu, gelu, silu
    case exponential, mish, celu
    case leakyRelu = "leaky_relu"
    case logSoftmax = "log_softmax"
    case logSigmoid = "log_sigmoid"
    case hardSigmoid = "hard_sigmoid"
    case hardSilu = "hard_silu"
    case hardTanh = "hard_tanh"

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
