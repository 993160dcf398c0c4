#!/usr/bin/env python3
"""Writes the small Keras fixtures with branches and merges in Tests/LRMKerasTests/Fixtures/dag.

Usage (from the package root), with Keras 3 on the JAX backend:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_dag_fixtures.py

Each model is tiny and seeded. For model NAME (prefixed k3_) it writes every layout Keras 3 saves:
    NAME.h5, NAME_weights.h5 (legacy full and weights-only), NAME.weights.h5, NAME.keras,
    NAME.pred.npz (x, and y = model(x, training=False) as computed by Keras itself).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")
import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "dag")
SEED = 2468
PREFIX = "k3_"


def path(name):
    return os.path.join(OUT, name)


def randomize(model, rng):
    """Seeded random values for every variable (BN variances positive), so each value must land in its place."""
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "variance" in variable.path:
                values.append(rng.uniform(0.5, 2.0, shape))
            else:
                values.append(rng.normal(0, 0.5, shape))
        if values:
            layer.set_weights([np.asarray(v).astype("float32") for v in values])


def save(model, name, x):
    name = PREFIX + name
    model.save(path(f"{name}.keras"))
    model.save_weights(path(f"{name}.weights.h5"))
    model.save(path(f"{name}.h5"))
    with h5py.File(path(f"{name}_weights.h5"), "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    y = np.asarray(model(x, training=False)).astype("float32")
    np.savez(path(f"{name}.pred.npz"), x=x, y=y)


def residual(rng):
    """A residual CNN: a stem (Conv2D + BatchNormalization folded), an identity block (two convolutions with
    BatchNormalization, added to the block's input, written Add([shortcut, branch])), a projection block (a strided
    branch added to a strided 1×1 convolution with BatchNormalization), then two branches joined by a Concatenate
    (a 1×1 convolution and a max pooling of the same input), global average pooling and a softmax Dense."""
    inputs = keras.Input((8, 8, 2), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="stem")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    y = layers.Conv2D(4, 3, padding="same", name="id_conv1")(x)
    y = layers.BatchNormalization(name="id_bn1")(y)
    y = layers.ReLU(name="id_relu1")(y)
    y = layers.Conv2D(4, 3, padding="same", use_bias=False, name="id_conv2")(y)
    y = layers.BatchNormalization(name="id_bn2")(y)
    x = layers.Add(name="id_add")([x, y])
    x = layers.Activation("relu", name="id_out")(x)
    y = layers.Conv2D(6, 3, strides=2, padding="same", name="proj_conv1")(x)
    y = layers.BatchNormalization(name="proj_bn1")(y)
    y = layers.Activation("relu", name="proj_relu1")(y)
    y = layers.Conv2D(6, 3, padding="same", name="proj_conv2")(y)
    s = layers.Conv2D(6, 1, strides=2, name="proj_short")(x)
    s = layers.BatchNormalization(name="proj_short_bn")(s)
    x = layers.Add(name="proj_add")([y, s])
    x = layers.ReLU(name="proj_out")(x)
    a = layers.Conv2D(3, 1, activation="relu", name="branch_conv")(x)
    b = layers.MaxPooling2D(3, strides=1, padding="same", name="branch_pool")(x)
    x = layers.Concatenate(name="join")([a, b])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(5, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="residual_cnn")
    randomize(model, rng)
    save(model, "residual", rng.uniform(0, 1, (6, 8, 8, 2)).astype("float32"))


def merges(rng):
    """Dense branches combined by every other merge: Subtract, Multiply, Average (three inputs), Maximum, Minimum,
    and a Concatenate with the model's input; a branch that starts from the input (stored before the first layer)."""
    inputs = keras.Input((6,), name="features")
    a = layers.Dense(4, activation="tanh", name="a")(inputs)
    b = layers.Dense(4, activation="tanh", name="b")(inputs)
    d = layers.Subtract(name="diff")([a, b])
    m = layers.Multiply(name="prod")([a, b])
    v = layers.Average(name="mean")([a, b, d])
    x = layers.Maximum(name="most")([m, v])
    x = layers.Minimum(name="least")([a, x])
    x = layers.Concatenate(name="with_input")([x, inputs])
    outputs = layers.Dense(3, name="out")(x)
    model = keras.Model(inputs, outputs, name="merges")
    randomize(model, rng)
    save(model, "merges", rng.normal(0, 1, (8, 6)).astype("float32"))


def residual1d(rng):
    """A residual 1-D CNN: Conv1D + BatchNormalization, a causal dilated Conv1D + BatchNormalization added to it,
    then a strided Conv1D and a strided 1×1 Conv1D joined by a Concatenate, GlobalAveragePooling1D, Dense softmax."""
    inputs = keras.Input((12, 3), name="sequence")
    x = layers.Conv1D(4, 3, padding="same", name="c1")(inputs)
    x = layers.BatchNormalization(name="c1_bn")(x)
    x = layers.ReLU(name="c1_relu")(x)
    y = layers.Conv1D(4, 3, padding="causal", dilation_rate=2, name="c2")(x)
    y = layers.BatchNormalization(name="c2_bn")(y)
    x = layers.Add(name="add")([x, y])
    y = layers.Conv1D(5, 3, strides=2, padding="same", activation="relu", name="wide")(x)
    s = layers.Conv1D(5, 1, strides=2, name="short")(x)
    x = layers.Concatenate(name="join")([y, s])
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = layers.Dense(3, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="residual_1d")
    randomize(model, rng)
    save(model, "residual1d", rng.normal(0, 1, (6, 12, 3)).astype("float32"))


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    residual(rng)
    merges(rng)
    residual1d(rng)


if __name__ == "__main__":
    main()
