import LRMHDF5
public import LRMFormat

/// Writes a ``Model`` as a Keras legacy full-model `.h5`: what `model.save("x.h5")` writes, loadable
/// with `keras.models.load_model(path)` without custom code.
///
/// | lrm layer | Keras layers |
/// |---|---|
/// | `dense` | `Dense(units, activation, use_bias)`, kernel `[in, out]`, bias `[out]` |
/// | `factorized_dense` `hidden` | `Dense` `hidden_factor_u` (in → k, kernel U·Σ, linear, no bias), then `Dense` `hidden` (k → out, kernel Vᵀ, with the bias and activation) |
/// | `activation` | `Activation` |
/// | `flatten` | `Flatten` (row-major, `channels_last`) |
/// | `reshape` | `Reshape(target_shape)` |
/// | `conv2d` | `Conv2D(filters, kernel_size, strides, padding, dilation_rate, channels_last)`, kernel `[kh, kw, cin, cout]` |
/// | `factorized_conv2d` `c` | `Conv2D` `c_factor_u` (k filters: `first`, no bias, linear; channel form: the layer's geometry, spatial form: its height half), then `Conv2D` `c` (`second` with the bias and activation; channel: 1×1, spatial: the width half) |
/// | `depthwise_conv2d` | `DepthwiseConv2D(kernel_size, depth_multiplier, …)` |
/// | `pool2d`, `global_pool2d` | `MaxPooling2D` / `AveragePooling2D`, `GlobalMaxPooling2D` / `GlobalAveragePooling2D` |
/// | `pad2d`, `crop2d`, `permute` | `ZeroPadding2D`, `Cropping2D`, `Permute(dims)` (1-based) |
/// | `scale_shift` | `BatchNormalization(axis=-1, epsilon=1e-3)` with gamma = scale, beta = shift (`center` off without one), moving mean 0, moving variance float32(1 − ε), so that it computes `x · scale + shift` |
/// | `layer_norm` (1.5) | `LayerNormalization(axis=-1, epsilon, center, scale)` with gamma, beta as stored (`scale`/`center` off without one) |
///
/// The model's input shape becomes the `InputLayer`'s. The input **preprocessing** (`x · scale + offset`)
/// is the first layer, so that the Keras model takes the raw inputs `lrm predict` takes (a drop-in
/// replacement): `Rescaling(scale, offset)` named `input_rescaling` when each is a single value (what a
/// Keras `Rescaling` first layer or `--input-scale 1/255` records), else a `BatchNormalization`
/// `input_normalization` as for `scale_shift` when the values are one per channel of an HWC image or one per
/// feature of a vector input. Other per-element or channels-first preprocessing cannot be one Keras layer:
/// the summary says so (``KerasExportedPreprocessing/notIncluded(reason:)``) and that model expects inputs
/// already scaled, as `InferenceModel.run(…, preprocess: false)`.
///
/// File layout (Keras's `save_model_to_hdf5`, tf-keras naming):
/// - root attributes `model_config` (the `Sequential` config as JSON, or `Functional` for a model with branches), `keras_version`, `backend`;
/// - group `model_weights` with attributes `layer_names` (every layer after the InputLayer, in order),
///   `keras_version`, `backend`; per layer a group `<layer>` with attribute `weight_names` (paths
///   relative to the group, `<layer>/kernel:0`, in Keras's legacy order: trainable variables, then
///   non-trainable ones) and the datasets; a layer without weights has an empty `weight_names` (float64,
///   shape (0,), as h5py stores an empty list). Lists longer than 2000 names are split over `name0`,
///   `name1`, …, as Keras does for attributes past HDF5's 64 KiB header limit.
/// - String attributes are variable-length UTF-8; weights are float32 (lrm computes in float32, so a
///   float16 or float64 model exports the values it runs with).
///
/// Names: `/` (which Keras 3 refuses in layer names) and NUL become `_`; clashes get `_2`, `_3`, ….
/// Activations are Keras 3's functions of the same name; `gelu_tanh` and `hard_sigmoid_keras2` have none and are
/// refused. Format 1.5's parametric activations become `LeakyReLU`, `ReLU`, `ELU` and `PReLU` layers.
/// tf-keras (Keras 2) defines `hard_sigmoid` differently (`clip(0.2·x + 0.5, 0, 1)`), so a model using
/// it predicts differently there.
///
/// `tools/check_keras_export.py` loads an exported file with `keras.models.load_model` and compares its
/// predictions with `lrm predict` on the same raw inputs; checked with Keras 3.15.1 (JAX and TensorFlow backends) and tf-keras 2.21.
public enum KerasExporter {
    /// The `keras_version` written: the Keras API whose layer and activation semantics the file follows.
    public static let kerasVersion = "3.0.0"
    /// The `backend` written. Keras reads it only to convert weights from Theano-era files.
    public static let backend = "tensorflow"
    /// The most names one list attribute holds before it is split (variable-length strings take 16 bytes
    /// each in the object header, which HDF5 caps at 64 KiB).
    static let maxNamesPerAttribute = 2000

    /// Writes `model` to `path` as a Keras legacy `.h5`, atomically: a temporary file in the same directory
    /// is written, closed, synced and renamed over `path`; on any failure `path` is untouched and no
    /// temporary file remains. The whole model is checked before anything is written.
    ///
    /// `keras.models.load_model` recognises the legacy format by the extension: name the file `.h5` or `.hdf5`.
    /// - Returns: the Keras layers written.
    /// - Throws: ``KerasExportError`` of kind `invalidModel` or `unsupportedActivation` (nothing written),
    ///   or `writeFailed`.
    @discardableResult
    public static func write(_ model: Model, to path: String) throws(KerasExportError) -> KerasExportSummary {
        let plan = try KerasExportPlan(model, file: path)
        do {
            try HDF5FileWriter.writeAtomically(to: path) { root throws(HDF5WriteError) in
                try fill(root, with: plan)
            }
        } catch {
            throw KerasExportError(error)
        }
        return plan.summary
    }

    /// Writes the attributes, groups and datasets of `plan` into the root group.
    static func fill(_ root: HDF5GroupWriter, with plan: KerasExportPlan) throws(HDF5WriteError) {
        try root.writeStringAttribute("model_config", plan.modelConfig.serialized())
        try root.writeStringAttribute("keras_version", kerasVersion)
        try root.writeStringAttribute("backend", backend)
        let weightsRoot = try root.createGroup("model_weights")
        try writeNameList("layer_names", plan.layers.map(\.name), on: weightsRoot)
        try weightsRoot.writeStringAttribute("backend", backend)
        try weightsRoot.writeStringAttribute("keras_version", kerasVersion)
        for layer in plan.layers {
            let group = try weightsRoot.createGroup(layer.name)
            try writeNameList("weight_names", layer.weights.map { "\(layer.name)/\($0.variable):0" }, on: group)
            guard !layer.weights.isEmpty else { continue }
            let variables = try group.createGroup(layer.name)
            for weight in layer.weights {
                try variables.writeFloat32Dataset("\(weight.variable):0", shape: weight.shape, values: weight.values)
            }
        }
    }

    /// A list of names the way Keras's `save_attributes_to_hdf5_group` stores it: an empty list as a
    /// float64 array of shape (0,), a long one split over `name0`, `name1`, ….
    static func writeNameList(_ name: String, _ values: [String], on group: HDF5GroupWriter) throws(HDF5WriteError) {
        if values.isEmpty {
            try group.writeFloat64ArrayAttribute(name, [])
        } else if values.count <= maxNamesPerAttribute {
            try group.writeStringArrayAttribute(name, values)
        } else {
            for (chunk, start) in stride(from: 0, to: values.count, by: maxNamesPerAttribute).enumerated() {
                let end = min(start + maxNamesPerAttribute, values.count)
                try group.writeStringArrayAttribute("\(name)\(chunk)", Array(values[start..<end]))
            }
        }
    }
}
