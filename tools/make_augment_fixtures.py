#!/usr/bin/env python3
"""Writes the small Keras fixtures with layers that are the identity at inference (data augmentation, noise) in
Tests/LRMKerasTests/Fixtures/augment.

Usage (from the package root), with Keras 3 on the JAX backend:
    KERAS_BACKEND=jax /tmp/lead/venv/bin/python tools/make_augment_fixtures.py [cnn|mlp|branches|seeded] [residual]

Each model is tiny and seeded. For model NAME (prefixed k3_) it writes every layout Keras 3 saves, as
make_dag_fixtures.py does (its randomize() and save()): NAME.h5, NAME_weights.h5 (legacy full and weights-only),
NAME.weights.h5, NAME.keras, and NAME.pred.npz (x, and y = model(x, training=False) as computed by Keras itself).

Keras 3.15 saves no state for the random layers (their SeedGenerator's state is not among the saved variables), but a
file may hold one (another Keras version, a hand-edited file). k3_augment_seeded_* are k3_augment_cnn's four files with
a random generator's state added to the random layers, where each layout would keep it: a `vars/0` dataset in the
Keras 3 layouts, a `seed_generator_state` (and a tf-keras `StateVar`) listed in `weight_names` in the legacy ones.
"""
import io
import os
import shutil
import sys
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_dag_fixtures as dag  # noqa: E402

keras, layers, np, h5py = dag.keras, dag.layers, dag.np, dag.h5py
dag.OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures", "augment")
SEED = 8642


def cnn(rng):
    """The image classification tutorial's model, tiny: Rescaling(1/255), a nested Sequential of augmentation layers
    (RandomFlip, RandomRotation, RandomZoom, RandomTranslation, RandomContrast), Conv2D, MaxPooling2D, Dropout,
    Flatten and a softmax Dense. (RandomBrightness is left out: Keras 3.15 cannot write it to a legacy .h5.)"""
    augmentation = keras.Sequential([
        layers.RandomFlip("horizontal", name="flip"),
        layers.RandomRotation(0.1, name="rotate"),
        layers.RandomZoom(0.1, name="zoom"),
        layers.RandomTranslation(0.1, 0.1, name="shift"),
        layers.RandomContrast(0.2, name="contrast"),
    ], name="augmentation")
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        layers.Rescaling(1 / 255, name="rescale"),
        augmentation,
        layers.Conv2D(4, 3, padding="same", activation="relu", name="conv"),
        layers.MaxPooling2D(name="pool"),
        layers.Dropout(0.2, name="drop"),
        layers.Flatten(name="flat"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="augment_cnn")
    dag.randomize(model, rng)
    dag.save(model, "augment_cnn", rng.uniform(0, 255, (6, 8, 8, 3)).astype("float32"))


def mlp(rng):
    """An MLP with GaussianNoise, GaussianDropout, AlphaDropout and ActivityRegularization between Dense layers, and a
    BatchNormalization that folds into the Dense after it across a GaussianNoise."""
    model = keras.Sequential([
        keras.Input((6,)),
        layers.GaussianNoise(0.1, name="noise"),
        layers.Dense(8, activation="relu", name="d1", activity_regularizer="l2"),
        layers.ActivityRegularization(0.01, 0.01, name="actreg"),
        layers.GaussianDropout(0.2, name="gdrop"),
        layers.BatchNormalization(name="bn"),
        layers.GaussianNoise(0.2, name="noise2"),
        layers.Dense(5, activation="tanh", name="d2"),
        layers.AlphaDropout(0.1, name="adrop"),
        layers.Dense(2, name="out"),
    ], name="augment_mlp")
    dag.randomize(model, rng)
    dag.save(model, "augment_mlp", rng.normal(0, 1, (6, 6)).astype("float32"))


def branches(rng):
    """A model with branches: RandomFlip and GaussianNoise on the input, then a convolution whose output goes to a
    GaussianDropout branch and a convolution branch joined by an Add, global pooling and a Dense."""
    inputs = keras.Input((6, 6, 2), name="image")
    x = layers.RandomFlip(name="flip")(inputs)
    x = layers.GaussianNoise(0.1, name="noise")(x)
    x = layers.Conv2D(3, 3, padding="same", activation="relu", name="stem")(x)
    a = layers.GaussianDropout(0.3, name="gdrop")(x)
    b = layers.Conv2D(3, 3, padding="same", name="branch")(x)
    b = layers.RandomContrast(0.3, name="contrast")(b)
    x = layers.Add(name="add")([a, b])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(2, name="out")(x)
    model = keras.Model(inputs, outputs, name="augment_branches")
    dag.randomize(model, rng)
    dag.save(model, "augment_branches", rng.normal(0, 1, (6, 6, 6, 2)).astype("float32"))


def residual(rng):
    """A functional model with branches whose augmentation is a nested Sequential (RandomFlip, RandomRotation), as the
    tutorials build it: data_augmentation(inputs), a convolution, an Add of it and a convolution of it, pooling, Dense."""
    augmentation = keras.Sequential([layers.RandomFlip(name="flip"), layers.RandomRotation(0.2, name="rotate")],
                                    name="data_augmentation")
    inputs = keras.Input((6, 6, 2), name="image")
    x = augmentation(inputs)
    x = layers.Conv2D(3, 3, padding="same", activation="relu", name="stem")(x)
    y = layers.Conv2D(3, 3, padding="same", name="branch")(x)
    x = layers.Add(name="add")([x, y])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(2, name="out")(x)
    model = keras.Model(inputs, outputs, name="augment_residual")
    dag.randomize(model, rng)
    dag.save(model, "augment_residual", rng.normal(0, 1, (6, 6, 6, 2)).astype("float32"))


STATE = np.array([8642, 0], dtype="uint32")


def seeded():
    """k3_augment_cnn's files with a seed state stored for the random layers (see the module's docstring)."""
    src, dst = dag.PREFIX + "augment_cnn", dag.PREFIX + "augment_seeded"
    random_layers = ["flip", "rotate", "zoom", "shift", "contrast"]

    def legacy(group):
        nested = group["augmentation"]
        names = []
        for layer in random_layers:
            nested.create_dataset(f"augmentation/{layer}/seed_generator_state", data=STATE)
            names.append(f"augmentation/{layer}/seed_generator_state")
        nested.create_dataset("augmentation/flip/StateVar:0", data=STATE.astype("int64"))
        names.append("augmentation/flip/StateVar:0")
        nested.attrs["weight_names"] = np.array([n.encode() for n in names])

    def v3(f):
        base = "layers/sequential/layers"
        for index, name in enumerate(["random_flip", "random_rotation", "random_zoom", "random_translation",
                                      "random_contrast"]):
            f[f"{base}/{name}/vars"].create_dataset("0", data=STATE)

    shutil.copy(dag.path(f"{src}.h5"), dag.path(f"{dst}.h5"))
    with h5py.File(dag.path(f"{dst}.h5"), "a") as f:
        legacy(f["model_weights"])
    shutil.copy(dag.path(f"{src}_weights.h5"), dag.path(f"{dst}_weights.h5"))
    with h5py.File(dag.path(f"{dst}_weights.h5"), "a") as f:
        legacy(f)
    shutil.copy(dag.path(f"{src}.weights.h5"), dag.path(f"{dst}.weights.h5"))
    with h5py.File(dag.path(f"{dst}.weights.h5"), "a") as f:
        v3(f)
    with zipfile.ZipFile(dag.path(f"{src}.keras")) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO(entries["model.weights.h5"])
    with h5py.File(buffer, "a") as f:
        v3(f)
    entries["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(dag.path(f"{dst}.keras"), "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    shutil.copy(dag.path(f"{src}.pred.npz"), dag.path(f"{dst}.pred.npz"))


def main():
    """All models, or the ones named on the command line. The first four share one generator, in this order (naming
    any of them writes all four again); residual, added later, has its own."""
    chosen = sys.argv[1:]
    os.makedirs(dag.OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    if not chosen or set(chosen) & {"cnn", "mlp", "branches", "seeded"}:
        rng = np.random.default_rng(SEED)
        cnn(rng)
        mlp(rng)
        branches(rng)
        seeded()
    if not chosen or "residual" in chosen:
        residual(np.random.default_rng([SEED, 1]))


if __name__ == "__main__":
    main()
