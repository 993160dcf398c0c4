#!/usr/bin/env python3
"""Writes the small Keras fixtures with LayerNormalization in Tests/LRMKerasTests/Fixtures/layernorm.

Usage (from the package root), with Keras 3 on the JAX backend:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_layernorm_fixtures.py

Each model is tiny and seeded, its gamma and beta random (not Keras's initial 1 and 0). For model NAME (prefixed k3_)
it writes every layout Keras 3 saves, as make_dag_fixtures.py does (its randomize() and save()): NAME.h5,
NAME_weights.h5 (legacy full and weights-only), NAME.weights.h5, NAME.keras, and NAME.pred.npz (x, and
y = model(x, training=False) as computed by Keras itself); k3_ln_mlp.keras.config.json is that archive's config.json.
The inputs are scaled and shifted (x·3 + 1) so that
the mean each normalization removes is not near 0.
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_dag_fixtures as dag  # noqa: E402

keras, layers, np = dag.keras, dag.layers, dag.np
dag.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "layernorm")
SEED = 2626


def inputs(rng, shape):
    return (rng.normal(0, 1, shape) * 3 + 1).astype("float32")


def mlp(rng):
    """LayerNormalization between Dense layers (the default: epsilon 1e-3, center and scale), one after a linear
    Dense (which must not be folded into it), one with epsilon 1e-5 and no beta (center=False); a softmax classifier."""
    model = keras.Sequential([
        keras.Input((6,)),
        layers.Dense(8, activation="relu", name="d1"),
        layers.LayerNormalization(name="ln1"),
        layers.Dense(7, name="d2"),
        layers.LayerNormalization(epsilon=1e-5, center=False, name="ln_no_center"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="ln_mlp")
    dag.randomize(model, rng)
    dag.save(model, "ln_mlp", inputs(rng, (6, 6)))
    # Its architecture alone (the archive's config.json, one line), which CLI tests edit into bad configs.
    with zipfile.ZipFile(dag.path("k3_ln_mlp.keras")) as archive:
        config = json.loads(archive.read("config.json"))
    with open(dag.path("k3_ln_mlp.keras.config.json"), "w") as f:
        f.write(json.dumps(config) + "\n")


def variants(rng):
    """LayerNormalization with scale=False (beta only), with neither (axis=[-1] as a list), first in the model."""
    model = keras.Sequential([
        keras.Input((5,)),
        layers.LayerNormalization(axis=[-1], center=False, scale=False, name="ln_plain"),
        layers.Dense(6, activation="tanh", name="d1"),
        layers.LayerNormalization(scale=False, epsilon=0.01, name="ln_no_scale"),
        layers.Dense(3, name="out"),
    ], name="ln_variants")
    dag.randomize(model, rng)
    dag.save(model, "ln_variants", inputs(rng, (6, 5)))


def conv1d(rng):
    """A [steps, channels] sequence: Conv1D, LayerNormalization over the channels (axis -1 and axis 2), global
    pooling, a softmax Dense."""
    model = keras.Sequential([
        keras.Input((7, 3)),
        layers.Conv1D(4, 3, activation="relu", name="c1"),
        layers.LayerNormalization(name="ln1"),
        layers.Conv1D(3, 2, padding="same", name="c2"),
        layers.LayerNormalization(axis=2, name="ln2"),
        layers.GlobalAveragePooling1D(name="gap"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="ln_conv1d")
    dag.randomize(model, rng)
    dag.save(model, "ln_conv1d", inputs(rng, (5, 7, 3)))


def image(rng):
    """An [h, w, c] image: Conv2D, LayerNormalization over the channels, Conv2D, Flatten, Dense."""
    model = keras.Sequential([
        keras.Input((5, 4, 2)),
        layers.Conv2D(3, 2, name="c1"),
        layers.LayerNormalization(name="ln"),
        layers.Conv2D(2, 2, activation="relu", name="c2"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="ln_image")
    dag.randomize(model, rng)
    dag.save(model, "ln_image", inputs(rng, (4, 5, 4, 2)))


def channels_first(rng):
    """A channels-first Conv2D, then LayerNormalization over Keras's last axis (the width, not the channels)."""
    model = keras.Sequential([
        keras.Input((2, 4, 5)),
        layers.Conv2D(3, 2, data_format="channels_first", name="c1"),
        layers.LayerNormalization(name="ln_width"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="ln_channels_first")
    dag.randomize(model, rng)
    dag.save(model, "ln_channels_first", inputs(rng, (4, 2, 4, 5)))


def main():
    os.makedirs(dag.OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    for make in [mlp, variants, conv1d, image, channels_first]:
        make(rng)


if __name__ == "__main__":
    main()
