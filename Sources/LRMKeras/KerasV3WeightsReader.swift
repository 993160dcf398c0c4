import LRMHDF5
/// Reads weights stored in the Keras 3 layout (`model.save_weights("x.weights.h5")`, and the
/// `model.weights.h5` inside a `.keras` archive; tf-keras writes the same layout for these names).
///
/// Groups are named after the layer's class, not the layer: `layers/dense`, `layers/dense_1`, … counted
/// per class within each model, in the order of the model's layers; a nested model's layers live under
/// `layers/<model class>/layers/…`. A layer's variables are datasets `vars/0`, `vars/1`, … in Keras's
/// variable order. The mapping to layers therefore comes from the architecture, in layer order; Keras 3.15
/// and later also record the layer name as the attribute `vars@name`, which is checked when present.
enum KerasV3WeightsReader {
    /// Returns each layer's weights keyed by ``KerasArchitecture/Node/key``.
    static func read(_ root: HDF5Group, architecture: KerasArchitecture,
                     source: String) throws(KerasImportError) -> [[String]: [KerasWeight]] {
        var result: [[String]: [KerasWeight]] = [:]
        do {
            try walk(root, container: "layers", nodes: architecture.nodes, into: &result, source: source)
        } catch let error as KerasImportError {
            throw error
        } catch let error as HDF5Error {
            throw KerasImportError(error)
        } catch {
            throw KerasImportError(.hdf5, file: source, "\(error)")
        }
        return result
    }

    /// Keras's group name for a class: `to_snake_case(class name)`, then `_1`, `_2`, … for repeats.
    static func snakeCase(_ className: String) -> String {
        let scalars = Array(className.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" })
        var out = ""
        for (index, scalar) in scalars.enumerated() {
            let isUpper = scalar.properties.isUppercase
            if isUpper, index > 0 {
                let previous = scalars[index - 1]
                let next = index + 1 < scalars.count ? scalars[index + 1] : nil
                // `(.)([A-Z][a-z]+)` and `([a-z])([A-Z])` in Keras's naming.to_snake_case.
                let startsWord = next.map { $0.properties.isLowercase } ?? false
                if startsWord || previous.properties.isLowercase { out += "_" }
            }
            out.unicodeScalars.append(contentsOf: String(scalar).lowercased().unicodeScalars)
        }
        return out
    }

    private static func walk(_ root: HDF5Group, container: String, nodes: [KerasArchitecture.Node],
                             into result: inout [[String]: [KerasWeight]], source: String) throws {
        var used: [String: Int] = [:]
        var groupNames: Set<String> = []
        for node in nodes {
            var groupName = snakeCase(node.className)
            if let count = used[groupName] {
                used[groupName] = count + 1
                groupName += "_\(count + 1)"
            } else {
                used[groupName] = 0
            }
            groupNames.insert(groupName)
            let path = "\(container)/\(groupName)"
            switch node.content {
            case .model(let children):
                try walk(root, container: "\(path)/layers", nodes: children, into: &result, source: source)
            case .layer:
                result[node.key] = try readLayer(root, path: path, node: node, source: source)
            }
        }
        if try root.contains(container) {
            let extra = try root.openGroup(container).childNames().subtracting(groupNames)
            if !extra.isEmpty {
                throw KerasImportError(.unexpectedWeights, file: source, location: "/\(container)",
                                       "group(s) \(extra.sorted().map { "'\($0)'" }.joined(separator: ", ")) match no layer of the architecture; is it the right architecture?")
            }
        }
    }

    private static func readLayer(_ root: HDF5Group, path: String, node: KerasArchitecture.Node,
                                  source: String) throws -> [KerasWeight] {
        let expected = node.expectedWeightNames
        let varsPath = "\(path)/vars"
        guard try root.contains(varsPath) else {
            guard expected.isEmpty else {
                throw KerasImportError(.missingWeights, file: source, location: node.location,
                                       "group '/\(varsPath)' not found, expected weights \(expected.joined(separator: ", "))")
            }
            return []
        }
        let vars = try root.openGroup(varsPath)
        if case .layer(let config) = node.content, config.isIdentityAtInference {
            // Dropout and the random augmentation layers compute nothing at inference; a Keras version that saves
            // their seed generator's state (`vars/0`) saves nothing lrm reads.
            return []
        }
        if let recorded = try vars.kerasString("name"), recorded != node.name {
            throw KerasImportError(.unexpectedWeights, file: source, location: node.location,
                                   "group '/\(varsPath)' holds the weights of layer '\(recorded)', expected '\(node.name)'; is it the right architecture?")
        }
        var weights: [KerasWeight] = []
        for (index, name) in expected.enumerated() {
            guard try vars.contains(String(index)) else {
                throw KerasImportError(.missingWeights, file: source, location: node.location,
                                       "dataset '/\(varsPath)/\(index)' (\(name)) not found, expected \(expected.count) variable(s)")
            }
            weights.append(try vars.openDataset(String(index)).kerasWeight(named: name))
        }
        if try vars.contains(String(expected.count)) {
            throw KerasImportError(.unexpectedWeights, file: source, location: node.location,
                                   "the file has more variables than the layer config accounts for, expected \(expected.count), found '/\(varsPath)/\(expected.count)'")
        }
        return weights
    }
}
