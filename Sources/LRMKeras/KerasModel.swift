import LRMHDF5
/// A Keras model read from a file: its architecture as a flat, ordered list of layers with typed
/// configurations, and every layer's weights converted to `Float32`.
///
/// Orientation, for whoever maps this to another representation:
/// - Weights are row-major (C order, last index fastest), exactly as Keras stores them.
/// - A Dense kernel has shape `[in, out]` (rows = inputs, columns = outputs) and the layer computes
///   `y = activation(x · kernel + bias)` for a row vector `x`.
/// - Nested models (a Sequential inside a model) are flattened in place: their layers appear in order,
///   with ``KerasLayer/parentPath`` naming the enclosing models.
public struct KerasModel: Sendable, Equatable {
    /// The model's name from its config (`"sequential"`, `"modèle_names"`, …).
    public var name: String
    /// The Keras version that wrote the file (`"3.15.1"`, `"2.21.0"`), when the file says.
    public var kerasVersion: String?
    /// The backend that wrote the file (`"jax"`, `"tensorflow"`), when the file says.
    public var backend: String?
    /// Which of the Keras file layouts the weights came from.
    public var layout: KerasFileLayout
    /// The model's dtype policy (for tf-keras models, which have none of their own, the first weighted layer's).
    public var dtypePolicy: KerasDTypePolicy
    /// The input shape without the batch dimension; `nil` entries are dimensions left open in the config.
    /// `nil` when the config does not say.
    public var inputShape: [Int?]?
    /// The layers in the config's order: a simple chain (nested models flattened), or, with ``graph``, a topological
    /// order of a functional model's branches.
    public var layers: [KerasLayer]
    /// How the layers connect when they are not a simple chain (indices into ``layers``); nil for a chain.
    public var graph: KerasGraph?

    public init(name: String, kerasVersion: String?, backend: String?, layout: KerasFileLayout,
                dtypePolicy: KerasDTypePolicy, inputShape: [Int?]?, layers: [KerasLayer], graph: KerasGraph? = nil) {
        self.name = name
        self.kerasVersion = kerasVersion
        self.backend = backend
        self.layout = layout
        self.dtypePolicy = dtypePolicy
        self.inputShape = inputShape
        self.layers = layers
        self.graph = graph
    }

    /// The first layer called `name`, if any.
    public func layer(named name: String) -> KerasLayer? {
        layers.first { $0.name == name }
    }

    /// Every weight of every layer, in layer order then variable order (Keras's `model.weights` order).
    public var allWeights: [KerasWeight] {
        layers.flatMap(\.weights)
    }
}

/// The file layouts Keras writes.
public enum KerasFileLayout: String, Sendable, Equatable, CaseIterable {
    /// `model.save("x.h5")`: root attribute `model_config` (JSON) and a `model_weights` group with
    /// `layer_names` / `weight_names` attributes.
    case legacyFullModel = "legacy-h5"
    /// tf-keras `model.save_weights("x.h5")`: `layer_names` on the root, no architecture.
    case legacyWeightsOnly = "legacy-weights-h5"
    /// Keras 3 `model.save_weights("x.weights.h5")`: groups `layers/<class>_<n>/vars/<i>`, no architecture.
    case kerasWeights = "weights-h5"
    /// Keras 3 `model.save("x.keras")`: a ZIP with `config.json`, `metadata.json`, `model.weights.h5`.
    case kerasArchive = "keras-zip"
}

/// A layer of a ``KerasModel``.
public struct KerasLayer: Sendable, Equatable {
    /// The layer's name as given in Keras (any Unicode, may contain `/`, `.`, spaces).
    public var name: String
    /// The Keras class name (`"Dense"`, `"BatchNormalization"`, …).
    public var className: String
    /// The typed configuration.
    public var config: KerasLayerConfig
    /// The names of the models enclosing this layer, outermost first; empty for a top-level layer.
    public var parentPath: [String]
    /// The layer's dtype policy, when its config names one.
    public var dtypePolicy: KerasDTypePolicy?
    /// The weights in Keras's variable order (Dense: kernel, bias; BatchNormalization: gamma, beta,
    /// moving_mean, moving_variance, without the ones `scale`/`center` turn off).
    public var weights: [KerasWeight]

    public init(name: String, className: String, config: KerasLayerConfig, parentPath: [String] = [],
                dtypePolicy: KerasDTypePolicy? = nil, weights: [KerasWeight] = []) {
        self.name = name
        self.className = className
        self.config = config
        self.parentPath = parentPath
        self.dtypePolicy = dtypePolicy
        self.weights = weights
    }

    /// The weight called `name` (`"kernel"`, `"bias"`, `"gamma"`, …), if the layer has it.
    public func weight(named name: String) -> KerasWeight? {
        weights.first { $0.name == name }
    }
}

/// One variable of a layer, converted to `Float32`.
public struct KerasWeight: Sendable, Equatable {
    /// The variable's name without scope or `:0` suffix: `kernel`, `bias`, `gamma`, `beta`,
    /// `moving_mean`, `moving_variance`, `mean`, `variance`, `count`.
    public var name: String
    /// Dimensions, outermost first; a Dense kernel is `[in, out]`.
    public var shape: [Int]
    /// The elements in row-major order, converted to `Float` (exact from float16, bfloat16 and float32;
    /// rounded to nearest from float64 and integers).
    public var values: [Float]
    /// The elements exactly as stored, for float64 weights (nil otherwise), so float64 models import losslessly.
    public var doubleValues: [Double]?
    /// The element type stored in the file.
    public var sourceDType: KerasDType
    /// Where the values were read: the HDF5 path inside the file (for `.keras`, inside `model.weights.h5`).
    public var sourcePath: String

    public init(name: String, shape: [Int], values: [Float], sourceDType: KerasDType, sourcePath: String) {
        self.name = name
        self.shape = shape
        self.values = values
        self.sourceDType = sourceDType
        self.sourcePath = sourcePath
    }
}

/// Element types found in Keras weight files.
public enum KerasDType: String, Sendable, Equatable, CaseIterable {
    case float16, bfloat16, float32, float64
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
}

/// A Keras dtype policy such as `float32`, `float16`, `mixed_float16` or `mixed_bfloat16`.
public struct KerasDTypePolicy: Sendable, Equatable, CustomStringConvertible {
    /// The policy name as written in the config.
    public var name: String

    public init(name: String) {
        self.name = name
    }

    /// The type variables are stored in: `float32` for the mixed policies, else the policy's own type.
    public var variableDType: KerasDType? {
        name.hasPrefix("mixed_") ? .float32 : KerasDType(rawValue: name)
    }

    /// The type layers compute in: `float16` for `mixed_float16`, else the policy's own type.
    public var computeDType: KerasDType? {
        name.hasPrefix("mixed_") ? KerasDType(rawValue: String(name.dropFirst(6))) : KerasDType(rawValue: name)
    }

    public var description: String { name }

    /// Keras's default policy.
    public static let float32 = KerasDTypePolicy(name: "float32")
}
