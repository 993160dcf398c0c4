import LRMHDF5
/// A model's architecture as read from its Keras config: the layer tree, before weights are attached.
struct KerasArchitecture {
    /// One entry of a model's `layers`: a layer with a typed config, or a nested model.
    struct Node {
        enum Content {
            case layer(KerasLayerConfig)
            case model(children: [Node])
        }

        var name: String
        var className: String
        var content: Content
        var dtypePolicy: KerasDTypePolicy?
        /// The names of the enclosing nested models, outermost first (empty for top-level entries).
        var parentPath: [String]

        /// The layers below this node in order, nested models expanded; a layer is its own single leaf.
        /// Nested models' `InputLayer`s are dropped (they compute nothing and hold no weights).
        var leaves: [Node] {
            switch content {
            case .layer: [self]
            case .model(let children):
                children.flatMap(\.leaves).filter {
                    if case .layer(.inputLayer) = $0.content { return false }
                    return true
                }
            }
        }

        var location: String { KerasImportError.layerLocation(name, className) }

        /// Whether the node computes nothing at inference: a Dropout or identity layer, or a nested model of only such
        /// layers (and InputLayers).
        var isIdentityAtInference: Bool {
            switch content {
            case .layer(let config): config.isIdentityAtInference
            case .model(let children): children.allSatisfy { child in
                if case .layer(.inputLayer) = child.content { return true }
                return child.isIdentityAtInference
            }
            }
        }

        /// Identifies the node within the model: enclosing model names, then its own name.
        var key: [String] { parentPath + [name] }

        /// The variable names Keras stores for this layer, in order (empty for nested models).
        var expectedWeightNames: [String] {
            if case .layer(let config) = content { return config.expectedWeightNames }
            return []
        }
    }

    /// The model's name.
    var name: String
    /// `Sequential`, `Functional` or `Model`.
    var className: String
    /// The model's own dtype policy, when its config names one.
    var dtypePolicy: KerasDTypePolicy?
    /// The input shape without the batch dimension, when the config gives it.
    var inputShape: [Int?]?
    /// The top-level entries in order (a top-level `InputLayer` included when the config lists one).
    var nodes: [Node]
    /// The Keras version and backend, when the architecture source names them (`metadata.json`, HDF5 attributes).
    var kerasVersion: String?
    var backend: String?
    /// How the top-level layers connect, when they are not a simple chain (a functional model with branches and
    /// merges); nil for a chain. Its indices are those of ``nodes`` (every one a layer, no nested model).
    var graph: KerasGraph?

    /// Every layer in order, nested models expanded, top-level `InputLayer` kept.
    var leaves: [Node] {
        nodes.flatMap { node -> [Node] in
            if case .model = node.content { return node.leaves }
            return [node]
        }
    }

    /// The top-level entry called `name`.
    func node(named name: String) -> Node? {
        nodes.first { $0.name == name }
    }
}

/// The connections of a functional model whose layers are not a simple chain: layer i takes the outputs of the
/// layers `inputs[i]`, in call order (a merge's inputs in the order of its list); the `InputLayer`s take none.
/// Indices are positions in the model's layer list, which Keras writes in a topological order (every input an
/// earlier layer).
public struct KerasGraph: Sendable, Equatable {
    public var inputs: [[Int]]
    /// The layer whose output is the model's output.
    public var output: Int

    public init(inputs: [[Int]], output: Int) {
        self.inputs = inputs
        self.output = output
    }
}
