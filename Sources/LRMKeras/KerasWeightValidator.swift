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
        case .batchNormalization:
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
