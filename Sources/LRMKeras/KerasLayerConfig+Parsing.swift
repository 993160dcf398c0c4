import LRMFormat

/// Reading a ``KerasLayerConfig`` from a layer's JSON config, and what each class stores as weights.
extension KerasLayerConfig {
    /// The layer classes this importer reads.
    static let supportedClassNames = [
        "Activation", "BatchNormalization", "Dense", "Dropout", "Flatten", "InputLayer", "LeakyReLU",
        "Normalization", "ReLU", "Reshape", "Rescaling", "Softmax",
    ]

    /// Parses the `config` object of a layer of class `className`.
    ///
    /// - Throws: ``KerasImportError`` of kind `unsupportedLayer` for other classes (with a specific message
    ///   for `Lambda`), or `invalidConfig` when a required field is missing or mistyped.
    static func parse(className: String, config: JSONValue, name: String,
                      source: String) throws(KerasImportError) -> KerasLayerConfig {
        let reader = FieldReader(config: config, location: KerasImportError.layerLocation(name, className), source: source)
        switch className {
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
        case "Softmax":
            let axis = try reader.axes("axis", default: [-1])
            guard axis.count == 1 else {
                throw reader.invalid("axis", expected: "a single axis", found: config["axis"])
            }
            return .softmax(axis: axis[0])
        case "Dropout":
            return .dropout(rate: try reader.optionalNumber("rate") ?? 0)
        case "Flatten":
            return .flatten
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
        case "Lambda":
            throw KerasImportError(.unsupportedLayer, file: source, location: reader.location,
                                   "Lambda layers hold Python code, which is never executed; rebuild the model with built-in layers")
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
        case .normalization(_, let mean, _, _): mean == nil ? ["mean", "variance", "count"] : []
        default: []
        }
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
