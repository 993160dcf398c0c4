import LRMHDF5
/// How a weights-only file's layers are paired with the architecture's (legacy HDF5 layout).
public enum KerasWeightMatching: String, Sendable, CaseIterable {
    /// By name when every file layer with weights has a namesake in the architecture, else by order.
    case auto
    /// By layer name.
    case name
    /// By position among the layers that hold weights, as Keras's `load_weights` does.
    case order
}

/// Reads weights stored in the legacy HDF5 layout (`model.save("x.h5")`'s `model_weights` group, or the root
/// of a tf-keras `save_weights("x.h5")` file).
///
/// The group's `layer_names` attribute (possibly split into `layer_names0`, `layer_names1`, …) lists the
/// layers in model order; each layer's group has a `weight_names` attribute whose entries are dataset
/// paths relative to that group (`dense/kernel:0`, `<model>/dense/kernel`). Only these attributes are
/// followed: no path is guessed and link order is never used.
enum KerasLegacyWeightsReader {
    /// Returns each layer's weights keyed by ``KerasArchitecture/Node/key``.
    ///
    /// `match` says how the file's layers find the architecture's: `.name` by layer name; `.order` as
    /// Keras's `load_weights` does for these files (tf-keras and Keras 3 alike): the file's layers that
    /// hold weights, in `layer_names` order, go to the model's top-level layers that have weights, in
    /// order, and the counts must agree; `.auto` matches by name when every file layer with weights has a
    /// namesake in the architecture, else by order. Listed layers without weights (Dropout, Flatten) are
    /// never matched.
    static func read(_ weightsRoot: HDF5Group, architecture: KerasArchitecture, source: String,
                     match: KerasWeightMatching = .auto) throws(KerasImportError) -> [[String]: [KerasWeight]] {
        let names: [String]?
        do {
            names = try weightsRoot.kerasStringList("layer_names")
        } catch {
            throw KerasImportError(error)
        }
        guard let layerNames = names else {
            throw KerasImportError(.unrecognizedLayout, file: source, location: weightsRoot.path,
                                   "no 'layer_names' attribute, expected the legacy Keras weights layout")
        }
        var fileLayers: [(name: String, weights: [(fileName: String, weight: KerasWeight)])] = []
        var seen: Set<String> = []
        for layerName in layerNames {
            guard seen.insert(layerName).inserted else {
                throw KerasImportError(.unexpectedWeights, file: source, location: weightsRoot.path,
                                       "layer '\(layerName)' appears twice in 'layer_names'")
            }
            let weights = try readLayer(weightsRoot, layerName: layerName, source: source)
            if !weights.isEmpty { fileLayers.append((layerName, weights)) }
        }
        let modelLayers = architecture.nodes.filter { node in node.leaves.contains { !$0.expectedWeightNames.isEmpty } }
        func lists() -> String {
            "layers with weights: in the file " + (fileLayers.isEmpty ? "none" : fileLayers.map(\.name).joined(separator: ", "))
                + "; in the architecture " + (modelLayers.isEmpty ? "none" : modelLayers.map(\.name).joined(separator: ", "))
        }
        let byName = match == .name || (match == .auto && fileLayers.allSatisfy { architecture.node(named: $0.name) != nil })
        var result: [[String]: [KerasWeight]] = [:]
        if byName {
            for layer in fileLayers {
                guard let node = architecture.node(named: layer.name) else {
                    throw KerasImportError(.unexpectedWeights, file: source, location: weightsRoot.path,
                                           "the file has weights for layer '\(layer.name)', which the architecture does not have (\(lists())); "
                                           + "is it the right architecture? --match order pairs them by position, as Keras's load_weights does")
                }
                try distribute(layer.weights, over: node, into: &result, source: source)
            }
        } else {
            guard fileLayers.count == modelLayers.count else {
                throw KerasImportError(.unexpectedWeights, file: source, location: weightsRoot.path,
                                       "matching by order (as Keras's load_weights): the file has \(fileLayers.count) layers with weights, "
                                       + "the architecture \(modelLayers.count) (\(lists())); is it the right architecture?")
            }
            for (layer, node) in zip(fileLayers, modelLayers) {
                try distribute(layer.weights, over: node, into: &result, source: source)
            }
        }
        for leaf in architecture.leaves where !leaf.expectedWeightNames.isEmpty && result[leaf.key] == nil {
            throw KerasImportError(.missingWeights, file: source, location: leaf.location,
                                   "no weights in the file, expected \(leaf.expectedWeightNames.joined(separator: ", ")) (\(lists()))")
        }
        return result
    }

    /// Reads the datasets a layer group's `weight_names` lists, in that order.
    private static func readLayer(_ weightsRoot: HDF5Group, layerName: String,
                                  source: String) throws(KerasImportError) -> [(fileName: String, weight: KerasWeight)] {
        do {
            let group = try weightsRoot.openGroup(layerName)
            let names = try group.kerasStringList("weight_names") ?? []
            var weights: [(String, KerasWeight)] = []
            for name in names where !isRandomState(variableName(name)) {
                let dataset = try group.openDataset(name)
                weights.append((name, try dataset.kerasWeight(named: variableName(name))))
            }
            return weights
        } catch {
            throw KerasImportError(error)
        }
    }

    /// Hands a top-level layer's weights to its leaves in order: a plain layer takes them all, a nested
    /// model's layers take as many as each expects. Every variable name must match what Keras stores.
    private static func distribute(_ weights: [(fileName: String, weight: KerasWeight)], over node: KerasArchitecture.Node,
                                   into result: inout [[String]: [KerasWeight]], source: String) throws(KerasImportError) {
        var remaining = weights[...]
        for leaf in node.leaves {
            let expected = leaf.expectedWeightNames
            guard !expected.isEmpty else { continue }
            guard remaining.count >= expected.count else {
                throw KerasImportError(.missingWeights, file: source, location: leaf.location,
                                       "expected weights \(expected.joined(separator: ", ")), found \(remaining.count) left in 'weight_names' of '\(node.name)'")
            }
            let taken = remaining.prefix(expected.count)
            remaining = remaining.dropFirst(expected.count)
            var named: [KerasWeight] = []
            for (entry, name) in zip(taken, expected) {
                guard KerasLayerConfig.weightName(entry.weight.name, matches: name) else {
                    throw KerasImportError(.unexpectedWeights, file: source, location: leaf.location,
                                           "weight '\(entry.fileName)' is not the expected variable, expected '\(name)', found '\(entry.weight.name)'")
                }
                var weight = entry.weight
                weight.name = name
                named.append(weight)
            }
            result[leaf.key] = named
        }
        if let extra = remaining.first {
            throw KerasImportError(.unexpectedWeights, file: source, location: node.location,
                                   "the file has \(remaining.count) more weight(s) than the layer config accounts for, starting with '\(extra.fileName)'")
        }
    }

    /// Whether a variable is a random generator's state, which Dropout and the random augmentation layers (identity at
    /// inference) may keep beside their weights: Keras 3's `SeedGenerator` (`seed_generator_state`) and tf-keras's
    /// `tf.random.Generator` (`StateVar`). No layer lrm imports has a weight of these names; they are skipped.
    static func isRandomState(_ name: String) -> Bool {
        name == "seed_generator_state" || name == "StateVar"
    }

    /// The variable name in a weight path: the last component without a `:0` suffix
    /// (`dense/kernel:0` → `kernel`, `model/dense/bias` → `bias`).
    static func variableName(_ path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        if let colon = last.lastIndex(of: ":"), last[last.index(after: colon)...].allSatisfy(\.isNumber) {
            return String(last[..<colon])
        }
        return last
    }
}
