#!/usr/bin/env python3
"""Writes the small Keras fixtures with upsampling layers and transposed convolutions in Tests/LRMKerasTests/Fixtures/upsample.

Usage (from the package root), with Keras 3 on the JAX backend, all models or one group:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_upsample_fixtures.py [upsampling|transpose]

Each model is tiny and seeded. For model NAME (prefixed k3_) it writes every layout Keras 3 saves, as
make_dag_fixtures.py does (its randomize() and save()): NAME.h5, NAME_weights.h5 (legacy full and weights-only),
NAME.weights.h5, NAME.keras, and NAME.pred.npz (x, and y = model(x, training=False) as computed by Keras itself);
k3_up2d.keras.config.json is that archive's config.json.
"""
import json
import os
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_dag_fixtures as dag  # noqa: E402

keras, layers, np = dag.keras, dag.layers, dag.np
dag.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "upsample")
SEED = 3579


def up2d(rng):
    """UpSampling2D nearest (2×2) and bilinear ((2, 3), odd sizes), between convolutions, then global pooling and a
    softmax Dense: a classifier, so that data-aware conversion and fine-tuning can run on it."""
    model = keras.Sequential([
        keras.Input((5, 4, 2)),
        layers.Conv2D(3, 2, activation="relu", name="c1"),
        layers.UpSampling2D(2, name="up_nearest"),
        layers.Conv2D(4, 3, padding="same", name="c2"),
        layers.UpSampling2D((2, 3), interpolation="bilinear", name="up_bilinear"),
        layers.Conv2D(3, 3, strides=2, activation="tanh", name="c3"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="up2d")
    dag.randomize(model, rng)
    dag.save(model, "up2d", rng.normal(0, 1, (5, 5, 4, 2)).astype("float32"))
    # Its architecture alone (the archive's config.json, one line), which CLI tests edit into bad configs.
    with zipfile.ZipFile(dag.path("k3_up2d.keras")) as archive:
        config = json.loads(archive.read("config.json"))
    with open(dag.path("k3_up2d.keras.config.json"), "w") as f:
        f.write(json.dumps(config) + "\n")


def channels_first(rng):
    """Channels-first Conv2D and UpSampling2D (bilinear (3, 2), then nearest (1, 2)), Flatten in Keras's
    channels-first order, Dense."""
    model = keras.Sequential([
        keras.Input((2, 4, 3)),
        layers.Conv2D(3, 2, padding="same", data_format="channels_first", name="c1"),
        layers.UpSampling2D((3, 2), data_format="channels_first", interpolation="bilinear", name="up_a"),
        layers.UpSampling2D((1, 2), data_format="channels_first", name="up_b"),
        layers.Conv2D(2, 3, data_format="channels_first", activation="relu", name="c2"),
        layers.Flatten(name="flat"),
        layers.Dense(4, name="out"),
    ], name="up2d_channels_first")
    dag.randomize(model, rng)
    dag.save(model, "up2d_channels_first", rng.normal(0, 1, (5, 2, 4, 3)).astype("float32"))


def up1d(rng):
    """Conv1D, UpSampling1D (3), Conv1D (same), UpSampling1D (default 2), Flatten, Dense."""
    model = keras.Sequential([
        keras.Input((6, 2)),
        layers.Conv1D(3, 2, activation="relu", name="c1"),
        layers.UpSampling1D(3, name="up_a"),
        layers.Conv1D(2, 3, padding="same", name="c2"),
        layers.UpSampling1D(name="up_b"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="up1d")
    dag.randomize(model, rng)
    dag.save(model, "up1d", rng.normal(0, 1, (5, 6, 2)).astype("float32"))


def unet(rng):
    """A tiny U-Net-like model: an encoder convolution, max pooling, a convolution, UpSampling2D back to the encoder's
    size, a Concatenate with the encoder's output (a skip connection), and a 1×1 convolution giving a map per pixel."""
    inputs = keras.Input((8, 6, 2), name="image")
    e = layers.Conv2D(3, 3, padding="same", activation="relu", name="enc")(inputs)
    d = layers.MaxPooling2D(2, name="pool")(e)
    d = layers.Conv2D(4, 3, padding="same", activation="relu", name="mid")(d)
    d = layers.UpSampling2D(2, interpolation="bilinear", name="up")(d)
    j = layers.Concatenate(name="skip")([d, e])
    outputs = layers.Conv2D(2, 1, activation="sigmoid", name="head")(j)
    model = keras.Model(inputs, outputs, name="unet")
    dag.randomize(model, rng)
    dag.save(model, "unet", rng.normal(0, 1, (4, 8, 6, 2)).astype("float32"))


def transpose2d(rng):
    """Conv2DTranspose in Keras's geometries: valid with strides 2 (kernel 3), same with strides (2, 3) and no bias,
    same with an output_padding, valid with strides 3 over a 2×2 kernel (stride > kernel) and an output_padding,
    dilation 2 (same, stride 1), then a Dense softmax on the flattened map."""
    model = keras.Sequential([
        keras.Input((3, 2, 2)),
        layers.Conv2DTranspose(3, 3, strides=2, activation="relu", name="t_valid"),
        layers.Conv2DTranspose(2, (3, 2), strides=(2, 3), padding="same", use_bias=False, name="t_same"),
        layers.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=(1, 0), activation="tanh", name="t_outpad"),
        layers.Conv2DTranspose(2, 2, strides=3, output_padding=(2, 1), name="t_wide"),
        layers.Conv2DTranspose(2, 3, dilation_rate=2, padding="same", activation="sigmoid", name="t_dilated"),
        layers.GlobalAveragePooling2D(name="gap"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="transpose2d")
    dag.randomize(model, rng)
    dag.save(model, "transpose2d", rng.normal(0, 1, (4, 3, 2, 2)).astype("float32"))


def transpose2d_channels_first(rng):
    """Channels-first Conv2DTranspose (same, strides 2), then a channels-first Conv2D and Flatten in Keras's order."""
    model = keras.Sequential([
        keras.Input((2, 3, 4)),
        layers.Conv2DTranspose(3, 2, strides=2, padding="same", data_format="channels_first", activation="relu", name="t"),
        layers.Conv2D(2, 3, data_format="channels_first", name="c"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="transpose2d_channels_first")
    dag.randomize(model, rng)
    dag.save(model, "transpose2d_channels_first", rng.normal(0, 1, (4, 2, 3, 4)).astype("float32"))


def transpose1d(rng):
    """Conv1DTranspose (valid, strides 2), Conv1D, Conv1DTranspose (same, strides 3, output_padding 1), Flatten, Dense."""
    model = keras.Sequential([
        keras.Input((5, 2)),
        layers.Conv1DTranspose(3, 3, strides=2, activation="relu", name="t1"),
        layers.Conv1D(2, 2, name="c"),
        layers.Conv1DTranspose(2, 4, strides=3, padding="same", output_padding=1, name="t2"),
        layers.Flatten(name="flat"),
        layers.Dense(3, name="out"),
    ], name="transpose1d")
    dag.randomize(model, rng)
    dag.save(model, "transpose1d", rng.normal(0, 1, (4, 5, 2)).astype("float32"))


def unet_transpose(rng):
    """The U-Net of unet() with a Conv2DTranspose (2×2, strides 2) in place of the UpSampling2D."""
    inputs = keras.Input((8, 6, 2), name="image")
    e = layers.Conv2D(3, 3, padding="same", activation="relu", name="enc")(inputs)
    d = layers.MaxPooling2D(2, name="pool")(e)
    d = layers.Conv2D(4, 3, padding="same", activation="relu", name="mid")(d)
    d = layers.Conv2DTranspose(3, 2, strides=2, name="up")(d)
    j = layers.Concatenate(name="skip")([d, e])
    outputs = layers.Conv2D(2, 1, activation="sigmoid", name="head")(j)
    model = keras.Model(inputs, outputs, name="unet_transpose")
    dag.randomize(model, rng)
    dag.save(model, "unet_transpose", rng.normal(0, 1, (4, 8, 6, 2)).astype("float32"))


def main():
    os.makedirs(dag.OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    # The upsampling models share one generator, in this order; the transposed convolutions, added later, have their own.
    chosen = sys.argv[1:]
    if not chosen or "upsampling" in chosen:
        rng = np.random.default_rng(SEED)
        for make in [up2d, channels_first, up1d, unet]:
            make(rng)
    if not chosen or "transpose" in chosen:
        rng = np.random.default_rng([SEED, 24])
        for make in [transpose2d, transpose2d_channels_first, transpose1d, unet_transpose]:
            make(rng)


if __name__ == "__main__":
    main()
