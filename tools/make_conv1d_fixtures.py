#!/usr/bin/env python3
"""Writes the small 1-D convolutional Keras fixtures (sequence models) in Tests/LRMKerasTests/Fixtures/cnn.

Usage (from the package root), all models or the ones named:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_conv1d_fixtures.py [basic|geometry|separable|mixed] [open_steps]

Keras 3 only (prefix k3_conv1d_); the layouts and the seeding are make_cnn_fixtures.py's (its save() and
randomize()): NAME.h5, NAME_weights.h5, NAME.weights.h5, NAME.keras and NAME.pred.npz with x and Keras's own
y = model(x, training=False).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
CHOSEN = sys.argv[1:]
sys.argv = sys.argv[:1] + ["keras3"]
import make_cnn_fixtures as cnn  # noqa: E402

keras, layers, np = cnn.keras, cnn.layers, cnn.np
SEED = 1234


def basic(rng):
    """Conv1D (valid, relu), MaxPooling1D, Conv1D (same, strides 2, no bias) + BatchNormalization folded,
    Activation, Dropout, Flatten (Keras's [steps, channels] order), Dense softmax."""
    model = keras.Sequential([
        keras.Input((20, 3)),
        layers.Conv1D(4, 3, activation="relu", name="c1"),
        layers.MaxPooling1D(2, name="pool"),
        layers.Conv1D(5, 3, strides=2, padding="same", use_bias=False, name="c2"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu", name="relu"),
        layers.Dropout(0.25, name="drop"),
        layers.Flatten(name="flat"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="conv1d_basic")
    cnn.randomize(model, rng)
    cnn.save(model, "conv1d_basic", rng.uniform(0, 1, (6, 20, 3)).astype("float32"))


def geometry(rng):
    """ZeroPadding1D (asymmetric), dilated causal Conv1D (tanh), AveragePooling1D (same, strides 2), Cropping1D,
    SpatialDropout1D, kernel-1 Conv1D, strided valid Conv1D (sigmoid), BatchNormalization kept (after an activation),
    GlobalAveragePooling1D, Dense."""
    model = keras.Sequential([
        keras.Input((17, 2)),
        layers.ZeroPadding1D((1, 2), name="pad"),
        layers.Conv1D(4, 3, dilation_rate=2, padding="causal", activation="tanh", name="causal"),
        layers.AveragePooling1D(3, strides=2, padding="same", name="avg"),
        layers.Cropping1D((1, 0), name="crop"),
        layers.SpatialDropout1D(0.2, name="sdrop"),
        layers.Conv1D(4, 1, name="pointwise"),
        layers.Conv1D(3, 2, strides=2, activation="sigmoid", name="strided"),
        layers.BatchNormalization(name="bn"),
        layers.GlobalAveragePooling1D(name="gap"),
        layers.Dense(3, name="out"),
    ], name="conv1d_geometry")
    cnn.randomize(model, rng)
    cnn.save(model, "conv1d_geometry", rng.normal(0, 1, (6, 17, 2)).astype("float32"))


def separable(rng):
    """SeparableConv1D (multiplier 2, same), DepthwiseConv1D (relu) + BatchNormalization kept, MaxPooling1D (same,
    strides 1), GlobalMaxPooling1D with keepdims ([1, channels]), Flatten, Dense."""
    model = keras.Sequential([
        keras.Input((16, 3)),
        layers.SeparableConv1D(5, 3, depth_multiplier=2, padding="same", name="sep"),
        layers.DepthwiseConv1D(3, activation="relu", name="dw"),
        layers.BatchNormalization(name="bn"),
        layers.MaxPooling1D(2, strides=1, padding="same", name="maxsame"),
        layers.GlobalMaxPooling1D(keepdims=True, name="gmp"),
        layers.Flatten(name="flat"),
        layers.Dense(4, name="out"),
    ], name="conv1d_separable")
    cnn.randomize(model, rng)
    cnn.save(model, "conv1d_separable", rng.normal(0, 1, (6, 16, 3)).astype("float32"))


def mixed(rng):
    """A functional chain: causal Conv1D with strides 2, a Dense applied to every step (last axis), Conv1D again,
    and a model that ends on the sequence ([steps, channels] output, no Flatten)."""
    x = keras.Input((12, 3), name="x")
    h = layers.Conv1D(4, 3, strides=2, padding="causal", name="c1")(x)
    h = layers.Dense(5, activation="relu", name="mix")(h)
    h = layers.Conv1D(3, 2, name="c2")(h)
    model = keras.Model(x, h, name="conv1d_mixed")
    cnn.randomize(model, rng)
    cnn.save(model, "conv1d_mixed", rng.normal(0, 1, (6, 12, 3)).astype("float32"))


def open_steps(rng):
    """Input((None, 3)): a number of steps left open (variable-length sequences), Conv1D, GlobalMaxPooling1D, Dense;
    Keras's predictions on 15 steps (lrm maps it for a given shape: --input-shape 15,3)."""
    model = keras.Sequential([
        keras.Input((None, 3)),
        layers.Conv1D(4, 3, padding="same", activation="relu", name="c"),
        layers.GlobalMaxPooling1D(name="gmp"),
        layers.Dense(2, name="out"),
    ], name="conv1d_open_steps")
    cnn.randomize(model, rng)
    cnn.save(model, "conv1d_open_steps", rng.normal(0, 1, (6, 15, 3)).astype("float32"))


def main():
    os.makedirs(cnn.OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    # The first four share one generator, in this order (naming any of them writes all four again);
    # open_steps, added later, has its own.
    first = [basic, geometry, separable, mixed]
    if not CHOSEN or any(make.__name__ in CHOSEN for make in first):
        rng = np.random.default_rng(SEED)
        for make in first:
            make(rng)
    if not CHOSEN or "open_steps" in CHOSEN:
        open_steps(np.random.default_rng([SEED, 5]))


if __name__ == "__main__":
    main()
