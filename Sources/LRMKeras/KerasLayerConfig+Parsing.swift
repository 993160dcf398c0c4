import LRMHDF5
import LRMFormat

/// Reading a ``KerasLayerConfig`` from a layer's JSON config, and what each class stores as weights.
extension KerasLayerConfig {
    /// The layer classes this importer reads.
    static let supportedClassNames = [
        "Activation", "Add", "Average", "AveragePooling1D", "AveragePooling2D", "BatchNormalization", "Concatenate", "Conv1D",
        "Conv2D", "Cropping1D", "Cropping2D", "Dense", "DepthwiseConv1D", "DepthwiseConv2D", "Dropout", "ELU", "Flatten",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "InputLayer", "LayerNormalization", "LeakyReLU",
        "MaxPooling1D", "MaxPooling2D", "Maximum", "Minimum", "Multiply", "Normalization", "PReLU", "Permute", "ReLU", "Reshape",
        "Rescaling", "SeparableConv1D", "SeparableConv2D", "Softmax", "SpatialDropout1D", "SpatialDropout2D", "Subtract",
        "UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Conv1DTranspose", "Conv2DTranspose",
    ] + identityAtInferenceClassNames

    /// The classes that are the identity at inference whatever their config (checked against Keras 3.15.1's source
    /// and by running it: `layer(x, training=False)` returns `x` unchanged, same shape): the random augmentation layers
    /// apply their transformation only when training; the noise and dropout layers only when training;
    /// ActivityRegularization only adds a loss. Their `seed` and factors do not matter at inference.
    static let identityAtInferenceClassNames = [
        "ActivityRegularization", "AlphaDropout", "AugMix", "CutMix", "GaussianDropout", "GaussianNoise", "MixUp",
        "RandAugment", "RandomBrightness", "RandomColorDegeneration", "RandomColorJitter", "RandomContrast",
        "RandomElasticTransform", "RandomErasing", "RandomFlip", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
        "RandomInvert", "RandomPerspective", "RandomPosterization", "RandomRotation", "RandomSaturation",
        "RandomSharpness", "RandomShear", "RandomTranslation", "RandomZoom", "Solarization",
    ]

    /// Image preprocessing classes that are not the identity at inference, with why they are refused.
    static let refusedPreprocessingReasons = [
        "RandomCrop": "RandomCrop declares a cropped output but Keras 3 passes the image through uncropped at inference, so its model is not consistent; crop the images before the model",
        "Resizing": "Resizing changes the image size at inference, which lrm has no layer for; resize the images before the model",
        "CenterCrop": "CenterCrop crops (and resizes) the image at inference, which lrm has no layer for; crop the images before the model",
        "RandomHeight": "RandomHeight changes the image height, which lrm has no layer for; remove it from the model before saving",
        "RandomWidth": "RandomWidth changes the image width, which lrm has no layer for; remove it from the model before saving",
        "AutoContrast": "AutoContrast rescales each image's values at inference (it is not a random augmentation), which lrm has no layer for",
        "Equalization": "Equalization equalizes each image's histogram at inference, which lrm has no layer for",
        "CLAHE": "CLAHE equalizes each image's histogram at inference, which lrm has no layer for",
    ]

    /// Classes Keras also calls by their older names (`Convolution2D`, `MaxPool2D`, …).
    static let classAliases = [
        "Convolution2D": "Conv2D", "SeparableConvolution2D": "SeparableConv2D", "MaxPool2D": "MaxPooling2D",
        "AvgPool2D": "AveragePooling2D", "GlobalAvgPool2D": "GlobalAveragePooling2D", "GlobalMaxPool2D": "GlobalMaxPooling2D",
        "Convolution1D": "Conv1D", "SeparableConvolution1D": "SeparableConv1D", "MaxPool1D": "MaxPooling1D",
        "Convolution2DTranspose": "Conv2DTranspose", "Convolution1DTranspose": "Conv1DTranspose", "AvgPool1D": "AveragePooling1D", "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalMaxPool1D": "GlobalMaxPooling1D",
    ]

    /// Parses the `config` object of a layer of class `className`.
    ///
    /// - Throws: ``KerasImportError`` of kind `unsupportedLayer` for other classes (with a specific message
    ///   for `Lambda`), or `invalidConfig` when a required field is missing or mistyped.
    static func parse(className: String, config: JSONValue, name: String,
                      source: String) throws(KerasImportError) -> KerasLayerConfig {
        let reader = FieldReader(config: config, location: KerasImportError.layerLocation(name, className), source: source)
        switch classAliases[className] ?? className {
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            let convolution = try reader.convolution(className: classAliases[className] ?? className)
            switch classAliases[className] ?? className {
            case "Conv2D": return .conv2D(convolution)
            case "DepthwiseConv2D": return .depthwiseConv2D(convolution)
            default: return .separableConv2D(convolution)
            }
        case "MaxPooling2D", "AveragePooling2D":
            let pool = try reader.pair("pool_size", default: (2, 2))
            let strides = try reader.pair("strides", default: pool)
            return .pooling2D(KerasPooling(mode: (classAliases[className] ?? className) == "MaxPooling2D" ? .max : .average,
                                           poolH: pool.0, poolW: pool.1, strideH: strides.0, strideW: strides.1,
                                           padding: try reader.padding(), dataFormat: try reader.dataFormat()))
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D":
            return .globalPooling2D(mode: (classAliases[className] ?? className) == "GlobalMaxPooling2D" ? .max : .average,
                                    dataFormat: try reader.dataFormat(), keepDims: try reader.bool("keepdims", default: false))
        case "ZeroPadding2D", "Cropping2D":
            let crop = className == "Cropping2D"
            let m = try reader.margins(crop ? "cropping" : "padding")
            return .margins2D(top: m.top, bottom: m.bottom, left: m.left, right: m.right, crop: crop, dataFormat: try reader.dataFormat())
        case "Conv2DTranspose":
            let kernel = try reader.pair("kernel_size")
            let strides = try reader.pair("strides", default: (1, 1))
            let dilation = try reader.pair("dilation_rate", default: (1, 1))
            let outputPadding = try reader.outputPadding(count: 2)
            return .convTranspose2D(KerasConvTranspose(filters: try reader.integer("filters"), kernelH: kernel.0, kernelW: kernel.1,
                                                       strideH: strides.0, strideW: strides.1, dilationH: dilation.0, dilationW: dilation.1,
                                                       padding: try reader.padding(), outputPaddingH: outputPadding?[0],
                                                       outputPaddingW: outputPadding?[1], dataFormat: try reader.dataFormat(),
                                                       activation: try reader.activation("activation"),
                                                       useBias: try reader.bool("use_bias", default: true)))
        case "UpSampling2D":
            let size = try reader.pair("size", default: (2, 2))
            return .upsampling2D(factorH: size.0, factorW: size.1, interpolation: try reader.interpolation(),
                                 dataFormat: try reader.dataFormat())
        case "Conv1D", "DepthwiseConv1D", "SeparableConv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D",
             "GlobalMaxPooling1D", "ZeroPadding1D", "Cropping1D", "UpSampling1D", "Conv1DTranspose":
            return try reader.sequenceLayer(className: classAliases[className] ?? className)
        case "Permute":
            let dims = config["dims"]?.array?.compactMap(\.integer) ?? []
            guard !dims.isEmpty, dims.count == config["dims"]?.array?.count, Set(dims) == Set(1...dims.count) else {
                throw reader.invalid("dims", expected: "a permutation of 1…n", found: config["dims"])
            }
            return .permute(dims: dims)
        case "SpatialDropout2D", "SpatialDropout1D":
            return .dropout(rate: try reader.optionalNumber("rate") ?? 0)
        case "InputLayer":
            let shape = config["batch_shape"] ?? config["batch_input_shape"]
            return .inputLayer(shape: try shape.map { value throws(KerasImportError) in try reader.batchShape(value) })
        case "Dense":
            return .dense(units: try reader.integer("units"), activation: try reader.activation("activation"),
                          useBias: try reader.bool("use_bias", default: true))
        case "Activation":
            return .activation(try reader.activation("activation"))
        case "ReLU":
            return .relu(maxValue: try reader.optionalNumber("max_value"),
                         negativeSlope: try reader.optionalNumber("negative_slope") ?? 0,
                         threshold: try reader.optionalNumber("threshold") ?? 0)
        case "LeakyReLU":
            let slope = try reader.optionalNumber("negative_slope")
            let alpha = try reader.optionalNumber("alpha")  // tf-keras spelling
            return .relu(maxValue: nil, negativeSlope: slope ?? alpha ?? 0.3, threshold: 0)
        case "ELU":
            return .elu(alpha: try reader.optionalNumber("alpha") ?? 1)
        case "PReLU":
            // Keras: None, one axis or a list of axes of the sample (numbered from 1).
            return .prelu(sharedAxes: config["shared_axes"].map(\.isNull) == false ? try reader.axes("shared_axes", default: []) : [])
        case "Softmax":
            let axis = try reader.axes("axis", default: [-1])
            guard axis.count == 1 else {
                throw reader.invalid("axis", expected: "a single axis", found: config["axis"])
            }
            return .softmax(axis: axis[0])
        case "Dropout":
            return .dropout(rate: try reader.optionalNumber("rate") ?? 0)
        case let name where identityAtInferenceClassNames.contains(name):
            return .identityAtInference
        case let name where refusedPreprocessingReasons[name] != nil:
            throw KerasImportError(.unsupportedLayer, file: source, location: reader.location, refusedPreprocessingReasons[name] ?? "")
        case "Flatten":
            return try reader.dataFormat() == .channelsFirst ? .flattenChannelsFirst : .flatten
        case "Reshape":
            guard let items = config["target_shape"]?.array else {
                throw reader.invalid("target_shape", expected: "a list of integers", found: config["target_shape"])
            }
            var target: [Int] = []
            for item in items {
                guard let value = item.integer else {
                    throw reader.invalid("target_shape", expected: "a list of integers", found: config["target_shape"])
                }
                target.append(value)
            }
            return .reshape(targetShape: target)
        case "Rescaling":
            return .rescaling(scale: try reader.scalar("scale", default: 1), offset: try reader.scalar("offset", default: 0))
        case "Normalization":
            return .normalization(axis: try reader.axes("axis", default: [-1]),
                                  mean: try reader.numberList("mean"), variance: try reader.numberList("variance"),
                                  invert: try reader.bool("invert", default: false))
        case "BatchNormalization":
            return .batchNormalization(axis: try reader.axes("axis", default: [-1]),
                                       epsilon: try reader.optionalNumber("epsilon") ?? 1e-3,
                                       center: try reader.bool("center", default: true),
                                       scale: try reader.bool("scale", default: true))
        case "LayerNormalization":
            // Keras 3's deprecated rms_scaling multiplies x (not x − mean) by 1/sqrt(variance + epsilon) and has no beta:
            // another function, which lrm has no kind for.
            if try reader.bool("rms_scaling", default: false) {
                throw KerasImportError(.unsupportedLayer, file: source, location: reader.location,
                                       "LayerNormalization with rms_scaling=True (x scaled by the variance, not centred) is not supported")
            }
            let epsilon = try reader.optionalNumber("epsilon") ?? 1e-3
            guard epsilon.isFinite, epsilon >= 0 else { throw reader.invalid("epsilon", expected: "a number of 0 or more", found: config["epsilon"]) }
            return .layerNormalization(axis: try reader.axes("axis", default: [-1]), epsilon: epsilon,
                                       center: try reader.bool("center", default: true), scale: try reader.bool("scale", default: true))
        case "Lambda":
            throw KerasImportError(.unsupportedLayer, file: source, location: reader.location,
                                   "Lambda layers hold Python code, which is never executed; rebuild the model with built-in layers")
        case "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate":
            guard let merge = KerasMerge(rawValue: className) else { preconditionFailure("a merge class") }
            let axes = merge == .concatenate ? try reader.axes("axis", default: [-1]) : [-1]
            guard axes.count == 1 else { throw reader.invalid("axis", expected: "one axis", found: config["axis"]) }
            return .merge(merge, axis: axes[0])
        case "Dot":
            throw KerasImportError(.unsupportedLayer, file: source, location: reader.location,
                                   "Dot merges have no lrm equivalent; Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate are imported")
        default:
            throw KerasImportError(.unsupportedLayer, file: source, location: reader.location,
                                   "layer class '\(className)' is not supported, expected one of \(supportedClassNames.joined(separator: ", "))")
        }
    }

    /// The variables Keras stores for this layer, in its order (`layer.weights`).
    var expectedWeightNames: [String] {
        switch self {
        case .dense(_, _, let useBias): useBias ? ["kernel", "bias"] : ["kernel"]
        case .batchNormalization(_, _, let center, let scale):
            (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
        case .layerNormalization(_, _, let center, let scale): (scale ? ["gamma"] : []) + (center ? ["beta"] : [])
        case .normalization(_, let mean, _, _): mean == nil ? ["mean", "variance", "count"] : []
        case .conv2D(let c): c.useBias ? ["kernel", "bias"] : ["kernel"]
        case .convTranspose2D(let c): c.useBias ? ["kernel", "bias"] : ["kernel"]
        case .depthwiseConv2D(let c): c.useBias ? ["depthwise_kernel", "bias"] : ["depthwise_kernel"]
        case .separableConv2D(let c): ["depthwise_kernel", "pointwise_kernel"] + (c.useBias ? ["bias"] : [])
        case .sequence(let inner, _): inner.expectedWeightNames
        case .prelu: ["alpha"]
        default: []
        }
    }

    /// Whether a variable stored as `found` is the variable this importer calls `expected`: Keras 3 names a
    /// DepthwiseConv2D's kernel `kernel` where tf-keras says `depthwise_kernel`.
    static func weightName(_ found: String, matches expected: String) -> Bool {
        found == expected || (expected == "depthwise_kernel" && found == "kernel")
    }
}

/// Typed access to the fields of one layer's config, with errors naming the layer and the field.
private struct FieldReader {
    let config: JSONValue
    let location: String
    let source: String

    func invalid(_ field: String, expected: String, found: JSONValue?) -> KerasImportError {
        KerasImportError(.invalidConfig, file: source, location: location,
                         "config field '\(field)': expected \(expected), found \(found?.brief ?? "nothing")")
    }

    func integer(_ field: String) throws(KerasImportError) -> Int {
        guard let value = config[field]?.integer, value > 0 else {
            throw invalid(field, expected: "a positive integer", found: config[field])
        }
        return value
    }

    func bool(_ field: String, default fallback: Bool) throws(KerasImportError) -> Bool {
        guard let value = config[field], !value.isNull else { return fallback }
        guard let flag = value.bool else { throw invalid(field, expected: "true or false", found: value) }
        return flag
    }

    func optionalNumber(_ field: String) throws(KerasImportError) -> Double? {
        guard let value = config[field], !value.isNull else { return nil }
        guard let number = value.number else { throw invalid(field, expected: "a number", found: value) }
        return number
    }

    /// A number, or a one-element list of a number.
    func scalar(_ field: String, default fallback: Double) throws(KerasImportError) -> Double {
        guard let value = config[field], !value.isNull else { return fallback }
        if let number = value.number { return number }
        if let items = value.array, items.count == 1, let number = items[0].number { return number }
        throw invalid(field, expected: "a single number (per-channel values are not supported)", found: value)
    }

    /// `null`, a number, or a (nested) list of numbers, flattened in row-major order.
    func numberList(_ field: String) throws(KerasImportError) -> [Double]? {
        guard let value = config[field], !value.isNull else { return nil }
        var out: [Double] = []
        func collect(_ item: JSONValue) -> Bool {
            if let number = item.number { out.append(number); return true }
            if let items = item.array { return items.allSatisfy(collect) }
            return false
        }
        guard collect(value) else { throw invalid(field, expected: "a number or a list of numbers", found: value) }
        return out
    }

    func axes(_ field: String, default fallback: [Int]) throws(KerasImportError) -> [Int] {
        guard let value = config[field], !value.isNull else { return fallback }
        if let axis = value.integer { return [axis] }
        if let items = value.array {
            let axes = items.compactMap(\.integer)
            if axes.count == items.count { return axes }
        }
        throw invalid(field, expected: "an integer or a list of integers", found: value)
    }

    /// An integer or a list of two (height, width), each in 1…65,535.
    func pair(_ field: String, default fallback: (Int, Int)? = nil) throws(KerasImportError) -> (Int, Int) {
        let expected = "a positive integer or a list of two"
        guard let value = config[field], !value.isNull else {
            guard let fallback else { throw invalid(field, expected: expected, found: nil) }
            return fallback
        }
        let items = value.array ?? [value]
        let numbers = items.compactMap(\.integer)
        let range = 1...65_535
        guard numbers.count == items.count, numbers.allSatisfy(range.contains) else {
            throw invalid(field, expected: expected + " from 1 to 65535", found: value)
        }
        switch numbers.count {
        case 1: return (numbers[0], numbers[0])
        case 2: return (numbers[0], numbers[1])
        default: throw invalid(field, expected: expected, found: value)
        }
    }

    /// `padding`: 'valid' or 'same' (and 'causal' where `causalAllowed`, which the caller handles; named in the error).
    func padding(causalAllowed: Bool = false) throws(KerasImportError) -> KerasPadding {
        guard let value = config["padding"], !value.isNull else { return .valid }
        guard let name = value.string?.lowercased(), let padding = KerasPadding(rawValue: name) else {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "padding \(value.brief) is not supported, expected \(causalAllowed ? "'valid', 'same' or 'causal'" : "'valid' or 'same'")")
        }
        return padding
    }

    /// A transposed convolution's `output_padding`: null (Keras's default), or `count` integers (an integer for all axes),
    /// each 0 to 65,535.
    func outputPadding(count: Int) throws(KerasImportError) -> [Int]? {
        guard let value = config["output_padding"], !value.isNull else { return nil }
        let items = value.array ?? [value]
        let numbers = items.compactMap(\.integer)
        guard numbers.count == items.count, numbers.allSatisfy((0...65_535).contains), value.array == nil || numbers.count == count else {
            throw invalid("output_padding", expected: "null, or an integer or \(count == 1 ? "a list of one" : "a list of \(count)") from 0 to 65535",
                          found: value)
        }
        return numbers.count == count ? numbers : Array(repeating: numbers[0], count: count)
    }

    /// UpSampling2D's `interpolation`: 'nearest' (Keras's default) or 'bilinear'; Keras's others (bicubic, lanczos3,
    /// lanczos5, and tf-keras's area, gaussian, mitchellcubic) are refused.
    func interpolation() throws(KerasImportError) -> UpsampleInterpolation {
        guard let value = config["interpolation"], !value.isNull else { return .nearest }
        guard let name = value.string?.lowercased(), let interpolation = UpsampleInterpolation(name: name) else {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "interpolation \(value.brief) is not supported, expected 'nearest' or 'bilinear'")
        }
        return interpolation
    }

    /// `data_format`; `null` is Keras's default, channels-last.
    func dataFormat() throws(KerasImportError) -> KerasDataFormat {
        guard let value = config["data_format"], !value.isNull else { return .channelsLast }
        guard let name = value.string, let format = KerasDataFormat(rawValue: name) else {
            throw invalid("data_format", expected: "'channels_last' or 'channels_first'", found: value)
        }
        return format
    }

    /// ZeroPadding2D's `padding` or Cropping2D's `cropping`: n, (h, w) or ((top, bottom), (left, right)), each 0…65,535.
    func margins(_ field: String) throws(KerasImportError) -> (top: Int, bottom: Int, left: Int, right: Int) {
        let expected = "an integer, two integers, or two pairs of integers from 0 to 65535"
        guard let value = config[field], !value.isNull else { throw invalid(field, expected: expected, found: nil) }
        let range = 0...65_535
        if let n = value.integer, range.contains(n) { return (n, n, n, n) }
        guard let items = value.array, items.count == 2 else { throw invalid(field, expected: expected, found: value) }
        if let h = items[0].integer, let w = items[1].integer, range.contains(h), range.contains(w) { return (h, h, w, w) }
        let rows = items[0].array?.compactMap(\.integer) ?? [], columns = items[1].array?.compactMap(\.integer) ?? []
        guard rows.count == 2, columns.count == 2, (rows + columns).allSatisfy(range.contains) else {
            throw invalid(field, expected: expected, found: value)
        }
        return (rows[0], rows[1], columns[0], columns[1])
    }

    /// The settings shared by Conv2D, DepthwiseConv2D and SeparableConv2D; grouped convolutions are refused.
    func convolution(className: String) throws(KerasImportError) -> KerasConvolution {
        let kernel = try pair("kernel_size")
        let strides = try pair("strides", default: (1, 1))
        let dilation = try pair("dilation_rate", default: (1, 1))
        if let groups = config["groups"], !groups.isNull, groups.integer != 1 {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "grouped convolution (groups \(groups.brief)) has no lrm equivalent, expected groups 1")
        }
        let multiplier = className == "Conv2D" ? 1 : (config["depth_multiplier"]?.integer ?? 1)
        guard (1...65_535).contains(multiplier) else {
            throw invalid("depth_multiplier", expected: "an integer from 1 to 65535", found: config["depth_multiplier"])
        }
        return KerasConvolution(filters: className == "DepthwiseConv2D" ? 0 : try integer("filters"),
                                kernelH: kernel.0, kernelW: kernel.1, strideH: strides.0, strideW: strides.1,
                                dilationH: dilation.0, dilationW: dilation.1, padding: try padding(),
                                dataFormat: try dataFormat(), activation: try activation("activation"),
                                useBias: try bool("use_bias", default: true), depthMultiplier: multiplier)
    }

    /// A 1-D layer (class `canonical`, aliases resolved) as ``KerasLayerConfig/sequence(_:causalPadding:)``: its 2-D
    /// equivalent over a height of 1. Channels-first 1-D layers are refused.
    func sequenceLayer(className canonical: String) throws(KerasImportError) -> KerasLayerConfig {
        // Cropping1D has no data_format (Keras's is always channels-last); the others default to channels-last.
        if try dataFormat() == .channelsFirst {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "data_format 'channels_first' ([channels, steps] samples) is not supported for 1-D layers, expected 'channels_last'")
        }
        switch canonical {
        case "Conv1D", "DepthwiseConv1D", "SeparableConv1D":
            let kernel = try single("kernel_size")
            let stride = try single("strides", default: 1)
            let dilation = try single("dilation_rate", default: 1)
            if let groups = config["groups"], !groups.isNull, groups.integer != 1 {
                throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                       "grouped convolution (groups \(groups.brief)) has no lrm equivalent, expected groups 1")
            }
            let multiplier = canonical == "Conv1D" ? 1 : (config["depth_multiplier"]?.integer ?? 1)
            guard (1...65_535).contains(multiplier) else {
                throw invalid("depth_multiplier", expected: "an integer from 1 to 65535", found: config["depth_multiplier"])
            }
            let causal = config["padding"]?.string?.lowercased() == "causal"
            if causal && (kernel - 1) * dilation > 65_535 {
                throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                       "padding 'causal' adds (kernel − 1)·dilation = \((kernel - 1) * dilation) steps, more than the 65535 lrm pads")
            }
            let convolution = KerasConvolution(filters: canonical == "DepthwiseConv1D" ? 0 : try integer("filters"),
                                               kernelH: 1, kernelW: kernel, strideW: stride, dilationW: dilation,
                                               padding: causal ? .valid : try padding(causalAllowed: true),
                                               activation: try activation("activation"),
                                               useBias: try bool("use_bias", default: true), depthMultiplier: multiplier)
            let inner: KerasLayerConfig = switch canonical {
            case "Conv1D": .conv2D(convolution)
            case "DepthwiseConv1D": .depthwiseConv2D(convolution)
            default: .separableConv2D(convolution)
            }
            return .sequence(inner, causalPadding: causal ? (kernel - 1) * dilation : 0)
        case "MaxPooling1D", "AveragePooling1D":
            let pool = try single("pool_size", default: 2)
            let stride = try single("strides", default: pool)
            return .sequence(.pooling2D(KerasPooling(mode: canonical == "MaxPooling1D" ? .max : .average, poolH: 1, poolW: pool,
                                                     strideH: 1, strideW: stride, padding: try padding(), dataFormat: .channelsLast)),
                             causalPadding: 0)
        case "GlobalAveragePooling1D", "GlobalMaxPooling1D":
            return .sequence(.globalPooling2D(mode: canonical == "GlobalMaxPooling1D" ? .max : .average, dataFormat: .channelsLast,
                                              keepDims: try bool("keepdims", default: false)), causalPadding: 0)
        case "Conv1DTranspose":
            let outputPadding = try outputPadding(count: 1)
            return .sequence(.convTranspose2D(KerasConvTranspose(
                filters: try integer("filters"), kernelH: 1, kernelW: try single("kernel_size"), strideW: try single("strides", default: 1),
                dilationW: try single("dilation_rate", default: 1), padding: try padding(), outputPaddingW: outputPadding?[0],
                activation: try activation("activation"), useBias: try bool("use_bias", default: true))), causalPadding: 0)
        case "UpSampling1D":
            // Keras repeats each step `size` times (nearest; the class has no other interpolation).
            return .sequence(.upsampling2D(factorH: 1, factorW: try single("size", default: 2), interpolation: .nearest,
                                           dataFormat: .channelsLast), causalPadding: 0)
        default:  // ZeroPadding1D, Cropping1D
            let crop = canonical == "Cropping1D"
            let (before, after) = try margins1D(crop ? "cropping" : "padding")
            return .sequence(.margins2D(top: 0, bottom: 0, left: before, right: after, crop: crop, dataFormat: .channelsLast),
                             causalPadding: 0)
        }
    }

    /// A 1-D window size, stride or dilation: an integer or a list of one, from 1 to 65,535.
    func single(_ field: String, default fallback: Int? = nil) throws(KerasImportError) -> Int {
        let expected = "a positive integer or a list of one"
        guard let value = config[field], !value.isNull else {
            guard let fallback else { throw invalid(field, expected: expected, found: nil) }
            return fallback
        }
        let items = value.array ?? [value]
        guard items.count == 1, let number = items[0].integer, (1...65_535).contains(number) else {
            throw invalid(field, expected: expected + " from 1 to 65535", found: value)
        }
        return number
    }

    /// ZeroPadding1D's `padding` or Cropping1D's `cropping`: n or (before, after), each 0…65,535; Keras's default is 1.
    func margins1D(_ field: String) throws(KerasImportError) -> (Int, Int) {
        guard let value = config[field], !value.isNull else { return (1, 1) }
        let range = 0...65_535
        if let n = value.integer, range.contains(n) { return (n, n) }
        guard let items = value.array, items.count == 2, let before = items[0].integer, let after = items[1].integer,
              range.contains(before), range.contains(after) else {
            throw invalid(field, expected: "an integer or two integers from 0 to 65535", found: value)
        }
        return (before, after)
    }

    func activation(_ field: String) throws(KerasImportError) -> KerasActivation {
        guard let value = config[field], !value.isNull else { return .linear }
        guard let name = value.string else {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "activation \(value.brief) is not a built-in activation name; custom functions are never executed")
        }
        guard let activation = KerasActivation(kerasName: name) else {
            throw KerasImportError(.unsupportedLayer, file: source, location: location,
                                   "activation '\(name)' is not supported, expected one of \(KerasActivation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return activation
    }

    /// A `batch_shape` list without its first (batch) entry; `null` entries become `nil`.
    func batchShape(_ value: JSONValue) throws(KerasImportError) -> [Int?] {
        guard let items = value.array, !items.isEmpty else {
            throw invalid("batch_shape", expected: "a list starting with the batch dimension", found: value)
        }
        var shape: [Int?] = []
        for item in items.dropFirst() {
            if item.isNull { shape.append(nil); continue }
            guard let dimension = item.integer, dimension >= 0 else {
                throw invalid("batch_shape", expected: "non-negative integers or null", found: value)
            }
            shape.append(dimension)
        }
        return shape
    }
}
