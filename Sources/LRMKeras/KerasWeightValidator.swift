import LRMHDF5
/// Checks each layer's weights against its config, so that a mapped model can trust the shapes.
enum KerasWeightValidator {
    /// - Throws: ``KerasImportError`` of kind `shapeMismatch` naming the layer, the weight, and the
    ///   expected and found shapes; `missingWeights` when a layer lacks weights its config implies.
    static func validate(_ layer: KerasLayer, source: String) throws(KerasImportError) {
        let expectedNames = layer.config.expectedWeightNames
        let location = KerasImportError.layerLocation(layer.name, layer.className)
        guard layer.weights.map(\.name) == expectedNames else {
            throw KerasImportError(.missingWeights, file: source, location: location,
                                   "expected weights [\(expectedNames.joined(separator: ", "))], found [\(layer.weights.map(\.name).joined(separator: ", "))]")
        }
        func mismatch(_ weight: KerasWeight, expected: String) -> KerasImportError {
            KerasImportError(.shapeMismatch, file: source, location: location,
                             "weight '\(weight.name)' (\(weight.sourcePath)) has the wrong shape, expected \(expected), found \(format(weight.shape))")
        }
        /// Every weight has the shape `expected` gives for its name; the input channels (from the first kernel) are positive.
        func check(_ expected: [String: [Int]], requirePositive channels: Int) throws(KerasImportError) {
            for weight in layer.weights {
                guard let shape = expected[weight.name], weight.shape == shape, channels > 0 else {
                    let wanted = expected[weight.name].map { $0.map { $0 == 0 ? "cin" : String($0) } } ?? []
                    throw mismatch(weight, expected: "(" + wanted.joined(separator: ", ") + ")")
                }
            }
        }
        switch layer.config {
        case .dense(let units, _, _):
            for weight in layer.weights {
                switch weight.name {
                case "kernel":
                    guard weight.shape.count == 2, weight.shape[1] == units, weight.shape[0] > 0 else {
                        throw mismatch(weight, expected: "(in, \(units))")
                    }
                default:
                    guard weight.shape == [units] else { throw mismatch(weight, expected: format([units])) }
                }
            }
        case .conv2D(let c):
            let cin = layer.weights.first?.shape.count == 4 ? layer.weights[0].shape[2] : 0
            try check(["kernel": [c.kernelH, c.kernelW, cin, c.filters], "bias": [c.filters]], requirePositive: cin)
        case .depthwiseConv2D(let c):
            let cin = layer.weights.first?.shape.count == 4 ? layer.weights[0].shape[2] : 0
            try check(["depthwise_kernel": [c.kernelH, c.kernelW, cin, c.depthMultiplier], "bias": [cin * c.depthMultiplier]],
                      requirePositive: cin)
        case .convTranspose2D(let c):
            // (1.5) Keras's transposed kernel is [kh, kw, filters, cin].
            let cin = layer.weights.first?.shape.count == 4 ? layer.weights[0].shape[3] : 0
            try check(["kernel": [c.kernelH, c.kernelW, c.filters, cin], "bias": [c.filters]], requirePositive: cin)
        case .separableConv2D(let c):
            let cin = layer.weights.first?.shape.count == 4 ? layer.weights[0].shape[2] : 0
            try check(["depthwise_kernel": [c.kernelH, c.kernelW, cin, c.depthMultiplier],
                       "pointwise_kernel": [1, 1, cin * c.depthMultiplier, c.filters], "bias": [c.filters]], requirePositive: cin)
        case .sequence(let inner, _):
            // Keras's 1-D kernels: [k, cin, cout], [k, cin, multiplier], pointwise [1, cin · multiplier, filters].
            let cin = layer.weights.first?.shape.count == 3 ? layer.weights[0].shape[1] : 0
            switch inner {
            case .convTranspose2D(let c):
                // Conv1DTranspose: [k, filters, cin].
                let inputs = layer.weights.first?.shape.count == 3 ? layer.weights[0].shape[2] : 0
                try check(["kernel": [c.kernelW, c.filters, inputs], "bias": [c.filters]], requirePositive: inputs)
            case .conv2D(let c):
                try check(["kernel": [c.kernelW, cin, c.filters], "bias": [c.filters]], requirePositive: cin)
            case .depthwiseConv2D(let c):
                try check(["depthwise_kernel": [c.kernelW, cin, c.depthMultiplier], "bias": [cin * c.depthMultiplier]], requirePositive: cin)
            case .separableConv2D(let c):
                try check(["depthwise_kernel": [c.kernelW, cin, c.depthMultiplier],
                           "pointwise_kernel": [1, cin * c.depthMultiplier, c.filters], "bias": [c.filters]], requirePositive: cin)
            default:
                break
            }
        case .batchNormalization:
            guard let first = layer.weights.first else { return }
            for weight in layer.weights where weight.shape != first.shape || weight.shape.count != 1 {
                throw mismatch(weight, expected: "a vector shaped like '\(first.name)' \(format(first.shape))")
            }
        case .layerNormalization:
            // gamma and beta: one value per normalized feature, the same count.
            guard let first = layer.weights.first else { return }
            for weight in layer.weights where weight.shape != first.shape || weight.shape.count != 1 {
                throw mismatch(weight, expected: "a vector shaped like '\(first.name)' \(format(first.shape))")
            }
        case .normalization:
            let vectors = layer.weights.filter { $0.name != "count" }
            if let first = vectors.first {
                for weight in vectors where weight.shape != first.shape {
                    throw mismatch(weight, expected: "the shape of '\(first.name)' \(format(first.shape))")
                }
            }
        default:
            break
        }
    }

    private static func format(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
