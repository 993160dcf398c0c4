#!/usr/bin/env python3
"""Writes the small Keras fixtures of activations with parameters (format 1.5) in Tests/LRMKerasTests/Fixtures/activations.

Usage (from the package root), all models or the ones named:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_activation_fixtures.py [mlp|cnn|conv1d]

Keras 3 only (prefix k3_act_); the layouts and the seeding are make_cnn_fixtures.py's (its save() and randomize(),
which gives PReLU's alphas normal values of both signs): NAME.h5, NAME_weights.h5, NAME.weights.h5, NAME.keras and
NAME.pred.npz with x (normal, σ = 2: both sides of every threshold) and Keras's own y = model(x, training=False).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
CHOSEN = sys.argv[1:]
sys.argv = sys.argv[:1] + ["keras3"]
import make_cnn_fixtures as cnn  # noqa: E402

keras, layers, np = cnn.keras, cnn.layers, cnn.np
cnn.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "activations")
SEED = 1515


def mlp(rng):
    """Dense layers with every Keras 3 activation name lrm 1.5 adds (leaky_relu, mish, hard_silu, log_sigmoid,
    hard_tanh, celu, log_softmax), and the layers LeakyReLU (slope 0.1), ReLU (max_value, negative_slope,
    threshold), ELU (alpha 0.7) and PReLU (one alpha per feature)."""
    model = keras.Sequential([
        keras.Input((7,)),
        layers.Dense(8, activation="leaky_relu", name="d1"),
        layers.LeakyReLU(negative_slope=0.1, name="leaky"),
        layers.Dense(8, activation="mish", name="d2"),
        layers.ReLU(max_value=2.5, negative_slope=0.05, threshold=0.3, name="relu_full"),
        layers.Dense(6, activation="hard_silu", name="d3"),
        layers.ELU(alpha=0.7, name="elu"),
        layers.Dense(6, activation="log_sigmoid", name="d4"),
        layers.PReLU(name="prelu"),
        layers.Dense(5, activation="hard_tanh", name="d5"),
        layers.Activation("celu", name="celu"),
        layers.Activation("hard_swish", name="hswish"),
        layers.Dense(4, activation="log_softmax", name="out"),
    ], name="act_mlp")
    cnn.randomize(model, rng)
    cnn.save(model, "act_mlp", rng.normal(0, 2, (8, 7)).astype("float32"))


def cnn_model(rng):
    """Conv2D with leaky_relu, PReLU shared over height and width (one alpha per channel), Conv2D, PReLU with one
    alpha per element, ReLU(max_value=6) (relu6), ELU (alpha 1: code 8), LeakyReLU(0) (relu), ReLU with a threshold,
    global pooling, Dense softmax."""
    model = keras.Sequential([
        keras.Input((8, 8, 2)),
        layers.Conv2D(4, 3, activation="leaky_relu", name="c1"),
        layers.PReLU(shared_axes=[1, 2], name="prelu_channel"),
        layers.Conv2D(3, 3, strides=2, name="c2"),
        layers.PReLU(name="prelu_element"),
        layers.ReLU(max_value=6.0, name="relu6"),
        layers.ELU(alpha=1.0, name="elu1"),
        layers.LeakyReLU(negative_slope=0.0, name="plain"),
        layers.ReLU(threshold=0.2, name="thresholded"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="act_cnn")
    cnn.randomize(model, rng)
    cnn.save(model, "act_cnn", rng.normal(0, 2, (6, 8, 8, 2)).astype("float32"))


def conv1d(rng):
    """Conv1D, PReLU shared over the steps (alpha (1, channels)), Conv1D with mish, LeakyReLU, Flatten, Dense."""
    model = keras.Sequential([
        keras.Input((10, 3)),
        layers.Conv1D(4, 3, name="c1"),
        layers.PReLU(shared_axes=[1], name="prelu"),
        layers.Conv1D(3, 2, activation="mish", name="c2"),
        layers.LeakyReLU(negative_slope=0.3, name="leaky"),
        layers.Flatten(name="flat"),
        layers.Dense(2, name="out"),
    ], name="act_conv1d")
    cnn.randomize(model, rng)
    cnn.save(model, "act_conv1d", rng.normal(0, 2, (6, 10, 3)).astype("float32"))


def main():
    os.makedirs(cnn.OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    for index, make in enumerate([mlp, cnn_model, conv1d]):
        if not CHOSEN or make.__name__.replace("_model", "") in CHOSEN:
            make(np.random.default_rng([SEED, index]))


if __name__ == "__main__":
    main()
