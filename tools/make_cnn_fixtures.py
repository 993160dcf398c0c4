#!/usr/bin/env python3
"""Writes the small convolutional Keras fixtures in Tests/LRMKerasTests/Fixtures/cnn.

Usage (from the package root), once per Keras line:
    KERAS_BACKEND=jax /tmp/lrm-train-venv/bin/python tools/make_cnn_fixtures.py keras3
    /tmp/lrm-tfk-venv/bin/python tools/make_cnn_fixtures.py tf-keras

Each model is tiny and seeded. For model NAME (prefixed k3_ or tfk_) it writes every layout the library saves:
    NAME.h5, NAME_weights.h5 (legacy full and weights-only), NAME.weights.h5, NAME.keras,
    NAME.pred.npz (x, and y = model(x, training=False) as computed by Keras itself).
The tf-keras run also writes tfk_keras20.h5: a tf-keras legacy file whose model_config is rewritten into the
Keras 2.0 form (a Sequential whose config is a bare list, the input shape only as the first layer's
batch_input_shape, no InputLayer), the form of the oldest mnist_cnn.h5 files.
"""
import json
import os
import sys

LINE = sys.argv[1] if len(sys.argv) > 1 else "keras3"
if LINE == "keras3":
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    from keras import layers
    from keras.src.legacy.saving import legacy_h5_format
    PREFIX = "k3_"
else:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras as keras
    from tf_keras import layers
    legacy_h5_format = None
    PREFIX = "tfk_"

import h5py  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "cnn")
SEED = 4321


def path(name):
    return os.path.join(OUT, name)


def randomize(model, rng):
    """Seeded random values for every variable (BN variances positive), so each value must land in its place."""
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            name = variable.name if LINE != "keras3" else variable.path
            if "variance" in name:
                values.append(rng.uniform(0.5, 2.0, shape))
            else:
                values.append(rng.normal(0, 0.5, shape))
        if values:
            layer.set_weights([np.asarray(v).astype("float32") for v in values])


def save(model, name, x):
    name = PREFIX + name
    model.save(path(f"{name}.keras"))
    model.save_weights(path(f"{name}.weights.h5"))
    if LINE == "keras3":
        model.save(path(f"{name}.h5"))
        with h5py.File(path(f"{name}_weights.h5"), "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    else:
        model.save(path(f"{name}.h5"), save_format="h5")
        model.save_weights(path(f"{name}_weights.h5"), save_format="h5")
    y = np.asarray(model(x, training=False)).astype("float32")
    np.savez(path(f"{name}.pred.npz"), x=x, y=y)


def basic(rng):
    """Conv2D (valid, relu), MaxPooling2D, Conv2D (same, strides 2, no bias) + BatchNormalization folded,
    Activation, Dropout, Flatten, Dense softmax."""
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        layers.Conv2D(4, 3, activation="relu", name="conv_a"),
        layers.MaxPooling2D(2, name="pool_a"),
        layers.Conv2D(6, 3, strides=2, padding="same", use_bias=False, name="conv_b"),
        layers.BatchNormalization(name="bn_b"),
        layers.Activation("relu", name="relu_b"),
        layers.Dropout(0.25, name="drop"),
        layers.Flatten(name="flat"),
        layers.Dense(5, activation="softmax", name="out"),
    ], name="basic")
    randomize(model, rng)
    save(model, "basic", rng.uniform(0, 1, (6, 12, 12, 1)).astype("float32"))


def geometry(rng):
    """ZeroPadding2D (asymmetric), dilated non-square Conv2D (same, tanh), AveragePooling2D (same, strides 2),
    Cropping2D, SpatialDropout2D, 1×1 Conv2D, strided valid Conv2D (odd sizes), GlobalAveragePooling2D, Dense."""
    model = keras.Sequential([
        keras.Input((11, 10, 3)),
        layers.ZeroPadding2D(((1, 2), (0, 1)), name="pad"),
        layers.Conv2D(5, (3, 2), dilation_rate=2, padding="same", activation="tanh", name="dilated"),
        layers.AveragePooling2D(3, strides=2, padding="same", name="avg"),
        layers.Cropping2D(((1, 0), (0, 1)), name="crop"),
        layers.SpatialDropout2D(0.2, name="sdrop"),
        layers.Conv2D(4, 1, name="pointwise"),
        layers.Conv2D(4, (2, 3), strides=(1, 2), activation="sigmoid", name="strided"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, name="out"),
    ], name="geometry")
    randomize(model, rng)
    save(model, "geometry", rng.normal(0, 1, (6, 11, 10, 3)).astype("float32"))


def depthwise(rng):
    """DepthwiseConv2D (multiplier 2, same, strides 2, relu) + BatchNormalization kept as a per-channel affine,
    SeparableConv2D (multiplier 2), BatchNormalization folded into it, MaxPooling2D (same, strides 1),
    GlobalMaxPooling2D, Dense."""
    model = keras.Sequential([
        keras.Input((10, 9, 3)),
        layers.DepthwiseConv2D(3, depth_multiplier=2, strides=2, padding="same", activation="relu", name="dw"),
        layers.BatchNormalization(name="bn_dw"),
        layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", name="sep"),
        layers.BatchNormalization(name="bn_sep"),
        layers.ReLU(name="relu"),
        layers.DepthwiseConv2D(2, use_bias=False, name="dw_nobias"),
        layers.MaxPooling2D(2, strides=1, padding="same", name="maxsame"),
        layers.GlobalMaxPooling2D(name="gmp"),
        layers.Dense(4, name="out"),
    ], name="depthwise")
    randomize(model, rng)
    save(model, "depthwise", rng.normal(0, 1, (6, 10, 9, 3)).astype("float32"))


def channels_first(rng):
    """channels_first: Conv2D, BatchNormalization(axis=1) folded, MaxPooling2D, ZeroPadding2D, then a Flatten in
    Keras's default (channels_last) order, so the CHW order must come back before it; Dense."""
    cf = "channels_first"
    model = keras.Sequential([
        keras.Input((2, 9, 8)),
        layers.Conv2D(4, 3, data_format=cf, name="conv"),
        layers.BatchNormalization(axis=1, name="bn"),
        layers.Activation("relu", name="relu"),
        layers.MaxPooling2D(2, data_format=cf, name="pool"),
        layers.ZeroPadding2D(1, data_format=cf, name="pad"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="channels_first")
    randomize(model, rng)
    save(model, "channels_first", rng.normal(0, 1, (6, 2, 9, 8)).astype("float32"))


def channels_first_flatten(rng):
    """channels_first Conv2D, AveragePooling2D and Cropping2D, then Flatten(data_format='channels_first')
    (Keras moves the channels last before flattening) and GlobalAveragePooling2D-free Dense head."""
    cf = "channels_first"
    model = keras.Sequential([
        keras.Input((3, 8, 7)),
        layers.Conv2D(4, 3, padding="same", data_format=cf, activation="relu", name="conv"),
        layers.AveragePooling2D(2, data_format=cf, name="avg"),
        layers.Cropping2D((1, 0), data_format=cf, name="crop"),
        layers.Flatten(data_format=cf, name="flat"),
        layers.Dense(3, name="out"),
    ], name="channels_first_flatten")
    randomize(model, rng)
    save(model, "channels_first_flatten", rng.normal(0, 1, (6, 3, 8, 7)).astype("float32"))


def keras20(rng):
    """A tf-keras legacy .h5 rewritten into Keras 2.0's config form (list config, batch_input_shape)."""
    model = keras.Sequential([
        layers.Conv2D(3, 3, activation="relu", input_shape=(8, 8, 1), name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Dropout(0.25, name="dropout_1"),
        layers.Flatten(name="flatten_1"),
        layers.Dense(4, activation="softmax", name="dense_1"),
    ], name="sequential_1")
    randomize(model, rng)
    name = PREFIX + "keras20"
    model.save(path(f"{name}.h5"), save_format="h5")
    x = rng.uniform(0, 1, (6, 8, 8, 1)).astype("float32")
    np.savez(path(f"{name}.pred.npz"), x=x, y=np.asarray(model(x, training=False)).astype("float32"))
    with h5py.File(path(f"{name}.h5"), "r+") as f:
        config = json.loads(f.attrs["model_config"])
        entries = [entry for entry in config["config"]["layers"] if entry["class_name"] != "InputLayer"]
        for entry in entries:
            entry.pop("module", None)
            entry.pop("registered_name", None)
            entry.pop("build_config", None)
            entry["config"]["dtype"] = "float32"
        entries[0]["config"]["batch_input_shape"] = [None, 8, 8, 1]
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": entries}).encode()
        f.attrs["keras_version"] = b"2.0.8"


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED if LINE == "keras3" else SEED + 1)
    basic(rng)
    geometry(rng)
    depthwise(rng)
    channels_first(rng)
    channels_first_flatten(rng)
    if LINE != "keras3":
        keras20(rng)


if __name__ == "__main__":
    main()
