#!/usr/bin/env python3
"""Writes the small Keras fixtures in Tests/LRMKerasTests/Fixtures.

Usage (from the package root):
    python3 -m venv /tmp/lrm-fixtures-venv
    /tmp/lrm-fixtures-venv/bin/pip install -r tools/requirements-fixtures.txt
    KERAS_BACKEND=jax /tmp/lrm-fixtures-venv/bin/python tools/make_keras_fixtures.py

Every model is tiny (a few KB per file) and seeded, so re-running gives the same weights. For each model
NAME it writes, when Keras can save that layout:
    NAME.h5           legacy full model (model.save("x.h5"))
    NAME_weights.h5   legacy weights-only layout (root attribute layer_names, as tf-keras save_weights writes)
    NAME.weights.h5   Keras 3 weights-only layout (model.save_weights)
    NAME.keras        Keras 3 archive (config.json, metadata.json, model.weights.h5)
    NAME.ref.npz      every variable, keys w000, w001, ... in model.layers then layer.weights order
    NAME.ref.json     per key: layer, class, variable path, shape, dtype; plus dtype policy and input shape
    NAME.pred.npz     x (fixed inputs) and y = model(x, training=False), for forward-pass tests
Models the importer must refuse (conv, branch, lambda) get only the files the tests use.
Synthetic files written with h5py cover what Keras 3 cannot write itself: tf-keras style names
('/' in layer names, ':0' suffixes, layer_names split into fixed-length layer_names0/1) and every HDF5
attribute encoding, dataset type and defect the HDF5 reader handles.
Nothing here is executed by the importer: the files are data.
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LRMKerasTests", "Fixtures")
SEED = 1234


def seeded(seed):
    keras.utils.set_random_seed(seed)
    return np.random.default_rng(seed)


def path(name):
    return os.path.join(OUT, name)


def write_reference(model, name, x):
    weights, entries = {}, []
    for layer in model.layers:
        for variable in layer.weights:
            key = f"w{len(entries):03d}"
            value = keras.ops.convert_to_numpy(variable)
            dtype = str(value.dtype)
            # NumPy's .npy has no bfloat16: store the (exactly representable) float32 values, record the dtype.
            weights[key] = value.astype("float32") if dtype == "bfloat16" else value
            entries.append({"key": key, "layer": layer.name, "layer_class": type(layer).__name__,
                            "var": variable.path, "shape": list(value.shape), "dtype": dtype})
    np.savez(path(f"{name}.ref.npz"), **weights)
    policy = model.dtype_policy.name
    description = {"model": name, "library": f"keras {keras.__version__}", "backend": keras.backend.backend(),
                   "dtype_policy": policy, "input_shape": list(model.input_shape[1:]),
                   "layers": [[layer.name, type(layer).__name__] for layer in model.layers], "weights": entries}
    with open(path(f"{name}.ref.json"), "w") as f:
        json.dump(description, f, indent=1, ensure_ascii=False)
    # float32 so every reader can load it (bfloat16 would be saved as an opaque |V2 type).
    y = keras.ops.convert_to_numpy(model(x, training=False)).astype("float32")
    np.savez(path(f"{name}.pred.npz"), x=x, y=y)


def save_all_layouts(model, name, x, legacy=True):
    model.save(path(f"{name}.keras"))
    model.save_weights(path(f"{name}.weights.h5"))
    if legacy:
        model.save(path(f"{name}.h5"))
        with h5py.File(path(f"{name}_weights.h5"), "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    write_reference(model, name, x)


def randomize(model, rng):
    """Replaces every variable with seeded random values (BN variances positive), so that no weight is a
    constant and every layout must keep each value in its place."""
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            shape = tuple(variable.shape)
            if "variance" in variable.path:
                values.append(rng.uniform(0.5, 2.0, shape))
            elif "count" in variable.path:
                values.append(np.asarray(keras.ops.convert_to_numpy(variable)))
            else:
                values.append(rng.normal(0, 0.5, shape))
        if values:
            layer.set_weights([np.asarray(v).astype(keras.ops.convert_to_numpy(w).dtype)
                               for v, w in zip(values, layer.weights)])


def mlp():
    rng = seeded(SEED)
    model = keras.Sequential([
        keras.Input((6,)),
        layers.Rescaling(0.5, offset=0.25, name="rescale"),
        layers.Dense(5, activation="relu", name="hidden"),
        layers.Dropout(0.1, name="drop"),
        layers.Dense(4, use_bias=False, name="nobias"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("tanh", name="tanh"),
        layers.BatchNormalization(center=False, name="bn_nocenter"),
        layers.Dense(3, activation="softmax", name="out"),
    ], name="mlp")
    randomize(model, rng)
    save_all_layouts(model, "mlp", rng.normal(size=(8, 6)).astype("float32"))


def shapes():
    rng = seeded(SEED + 1)
    model = keras.Sequential([
        keras.Input((2, 3)),
        layers.Flatten(name="flat"),
        layers.Dense(4, name="d1"),
        layers.ReLU(max_value=6.0, negative_slope=0.1, name="relu6ish"),
        layers.Reshape((2, 2), name="reshape"),
        layers.Flatten(name="flat2"),
        layers.LeakyReLU(negative_slope=0.2, name="leaky"),
        layers.Dense(2, name="d2"),
        layers.Softmax(name="softmax"),
    ], name="shapes")
    randomize(model, rng)
    save_all_layouts(model, "shapes", rng.normal(size=(8, 2, 3)).astype("float32"))


def norm():
    rng = seeded(SEED + 2)
    adapted = layers.Normalization(name="norm_adapted")
    adapted.adapt(rng.normal(3.0, 2.0, size=(64, 4)).astype("float32"))
    model = keras.Sequential([
        keras.Input((4,)),
        adapted,
        layers.Normalization(mean=[0.5, -1.0, 0.0, 2.0], variance=[1.0, 4.0, 0.25, 9.0], name="norm_fixed"),
        layers.Dense(3, name="d"),
    ], name="norm")
    model.layers[-1].set_weights([rng.normal(0, 0.5, (4, 3)).astype("float32"), rng.normal(0, 0.5, (3,)).astype("float32")])
    save_all_layouts(model, "norm", rng.normal(3.0, 2.0, size=(8, 4)).astype("float32"))


def nested():
    rng = seeded(SEED + 3)
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu", name="inner_a"),
                              layers.Dense(3, name="inner_b")], name="inner")
    x = keras.Input((5,), name="x")
    h = layers.Dense(4, activation="relu", name="pre")(x)
    h = inner(h)
    y = layers.Dense(2, name="head")(h)
    model = keras.Model(x, y, name="nested")
    randomize(model, rng)
    randomize(inner, rng)
    save_all_layouts(model, "nested", rng.normal(size=(8, 5)).astype("float32"))


def low_precision(policy, name):
    rng = seeded(SEED + 4)
    keras.config.set_dtype_policy(policy)
    try:
        model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu", name="h"),
                                  layers.Dense(2, name="out")], name=name)
        randomize(model, rng)
        # Legacy .h5 cannot store bfloat16 (h5py has no such type); Keras 3's own layouts can.
        save_all_layouts(model, name, rng.normal(size=(8, 4)).astype("float32"), legacy=policy != "bfloat16")
    finally:
        keras.config.set_dtype_policy("float32")


def refused():
    seeded(SEED + 5)
    conv = keras.Sequential([keras.Input((4, 4, 1)), layers.Conv2D(2, 3, name="conv"), layers.Flatten(name="flat"),
                             layers.Dense(2, name="out")], name="conv")
    conv.save(path("conv.keras"))
    x = keras.Input((3,), name="x")
    a = layers.Dense(2, name="a")(x)
    b = layers.Dense(2, name="b")(x)
    branch = keras.Model(x, [a, b], name="branch")  # two heads on one input: not a chain
    branch.save(path("branch.keras"))
    lam = keras.Sequential([keras.Input((3,)), layers.Dense(2, name="d"), layers.Lambda(lambda t: t * 2, name="double")],
                           name="lam")
    lam.save(path("lambda.keras"))


def tfk_style():
    """A tf-keras style weights-only file and its config JSON, written with h5py: layer names with '/',
    weight names with ':0', layer_names split into fixed-length NUL-padded chunks (one name fills the
    whole width, so it has no terminator), and an empty weight_names stored as float64 of shape (0,)."""
    rng = np.random.default_rng(SEED + 6)
    names = ["input.x", "hidden/one", "block-2.dense", "out/final/probs"]
    sizes = [(5, 4), (4, 3), (3, 2)]
    config = {"class_name": "Functional", "config": {"name": "tfk_style", "layers": [], "input_layers": [["input.x", 0, 0]],
                                                     "output_layers": [["out/final/probs", 0, 0]]},
              "keras_version": "2.21.0", "backend": "tensorflow"}
    config["config"]["layers"].append({"class_name": "InputLayer", "name": "input.x", "inbound_nodes": [],
                                       "config": {"batch_input_shape": [None, 5], "dtype": "float32", "name": "input.x"}})
    previous = "input.x"
    for name, (n_in, n_out) in zip(names[1:], sizes):
        config["config"]["layers"].append({"class_name": "Dense", "name": name, "inbound_nodes": [[[previous, 0, 0, {}]]],
                                           "config": {"name": name, "dtype": "float32", "units": n_out,
                                                      "activation": "relu" if n_out > 2 else "softmax", "use_bias": True}})
        previous = name
    with open(path("tfk_style.json"), "w") as f:
        json.dump(config, f, indent=1)
    weights, entries = {}, []
    with h5py.File(path("tfk_style_weights.h5"), "w") as f:
        width = max(len(n.encode()) for n in names)  # 'out/final/probs' fills the width: no NUL
        f.attrs.create("layer_names0", np.array([n.encode() for n in names[:2]], dtype=f"S{width}"))
        f.attrs.create("layer_names1", np.array([n.encode() for n in names[2:]], dtype=f"S{width}"))
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.21.0"
        f.create_group("input.x").attrs["weight_names"] = np.zeros((0,), dtype="float64")
        # Groups are created in reverse so that no reader can get the order from creation order either.
        for name, (n_in, n_out) in reversed(list(zip(names[1:], sizes))):
            group = f.create_group(name)
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group[f"{name}/kernel:0"] = rng.normal(size=(n_in, n_out)).astype("float32")
            group[f"{name}/bias:0"] = rng.normal(size=(n_out,)).astype("float32")
        for name in names[1:]:
            for var in ("kernel", "bias"):
                value = f[name][f"{name}/{var}:0"][()]
                key = f"w{len(entries):03d}"
                weights[key] = value
                entries.append({"key": key, "layer": name, "layer_class": "Dense", "var": f"{name}/{var}:0",
                                "shape": list(value.shape), "dtype": "float32"})
    np.savez(path("tfk_style.ref.npz"), **weights)
    with open(path("tfk_style.ref.json"), "w") as f:
        json.dump({"model": "tfk_style", "dtype_policy": "float32", "input_shape": [5], "weights": entries}, f, indent=1)


def hdf5_cases():
    """Every attribute encoding and dataset type the HDF5 reader handles, and the defects it refuses."""
    with h5py.File(path("attributes.h5"), "w") as f:
        utf8 = h5py.string_dtype("utf-8")
        ascii_ = h5py.string_dtype("ascii")
        f.attrs.create("vlen_utf8_scalar", "modèle ☃", dtype=utf8)
        f.attrs.create("vlen_ascii_scalar", b"jax", dtype=ascii_)
        f.attrs.create("vlen_utf8_array", ["entrée", "скрытый_два", "出力_☃"], dtype=utf8)
        f.attrs.create("vlen_ascii_array_utf8_bytes", ["entrée".encode(), b"plain"], dtype=ascii_)
        f.attrs.create("fixed_nullpad_full_width", np.array([b"abcdef", b"ab", b"abcde"], dtype="S6"))
        fixed = h5py.h5t.C_S1.copy()
        fixed.set_size(5)
        fixed.set_strpad(h5py.h5t.STR_NULLTERM)
        space = h5py.h5s.create_simple((2,))
        attr = h5py.h5a.create(f.id, b"fixed_nullterm", fixed, space)
        attr.write(np.array([b"abcd", b"xy"], dtype="S5"), mtype=fixed)
        spaced = h5py.h5t.C_S1.copy()
        spaced.set_size(6)
        spaced.set_strpad(h5py.h5t.STR_SPACEPAD)
        attr = h5py.h5a.create(f.id, b"fixed_spacepad", spaced, h5py.h5s.create_simple((2,)))
        attr.write(np.array([b"ab    ", b"abcdef"], dtype="S6"), mtype=spaced)
        f.attrs.create("fixed_scalar", np.array(b"tensorflow", dtype="S10"))
        f.attrs["empty_float64"] = np.zeros((0,), dtype="float64")
        f.attrs["float_scalar"] = np.float64(0.125)
        f.attrs["int_array"] = np.array([3, -4, 5], dtype="int32")
        f.attrs["float32_matrix"] = np.arange(6, dtype="float32").reshape(2, 3)
        split = f.create_group("split")  # not on the root: this file must not look like a Keras weights file
        split.attrs.create("layer_names0", np.array([b"a", b"b"], dtype="S1"))
        split.attrs.create("layer_names1", np.array([b"c"], dtype="S1"))
        values = np.array([[1.5, -2.25, 0.0], [65504.0, 6.1035156e-05, -0.333251953125]])
        f["f16"] = values.astype("float16")
        f["f32"] = values.astype("float32")
        f["f64"] = np.array([[0.1, 1e-40, -3.0], [1e30, 2.0 ** -149, 7.0]])
        f["f32_big_endian"] = values.astype(">f4")
        f["i32"] = np.array([1, -2, 3], dtype="int32")
        f["u8"] = np.array([0, 255], dtype="uint8")
        f.create_dataset("scalar", data=np.float32(2.5))
        f.create_dataset("empty", shape=(0, 3), dtype="float32")
        import ml_dtypes
        bf = np.array([1.0, -2.5, 3.140625, 1e-3], dtype=ml_dtypes.bfloat16)
        ds = f.create_dataset("bf16", data=bf)
        ds.attrs["dtype"] = "bfloat16"
        f.create_dataset("opaque_untagged", data=np.frombuffer(b"\x01\x00\x02\x00", dtype="V2"))
        f["strings"] = np.array([b"a", b"b"], dtype="S1")
        f.create_dataset("chunked", data=np.arange(12, dtype="float32").reshape(3, 4), chunks=(1, 4), compression="gzip")
        f.create_dataset("huge", shape=(2 ** 20, 2 ** 20), dtype="float32")  # never written: claims 2^40 elements
        f.create_group("g/h/i")["leaf"] = np.array([1.0], dtype="float32")
        for n in ["dense_10", "dense_2", "dense_1"]:
            f.create_group(f"order/{n}")
        f["soft"] = h5py.SoftLink("/f32")
        f["external"] = h5py.ExternalLink("other.h5", "/data")
    # A legacy weights file whose kernel claims 2^40 elements, with its architecture.
    with h5py.File(path("huge_kernel_weights.h5"), "w") as f:
        f.attrs["layer_names"] = [b"d"]
        group = f.create_group("d")
        group.attrs["weight_names"] = [b"d/kernel:0", b"d/bias:0"]
        group.create_dataset("d/kernel:0", shape=(2 ** 20, 2 ** 20), dtype="float32")
        group["d/bias:0"] = np.zeros((2 ** 20,), dtype="float32")[:4]
    with open(path("huge_kernel.json"), "w") as f:
        json.dump({"class_name": "Sequential", "config": {"name": "huge", "layers": [
            {"class_name": "Dense", "config": {"name": "d", "units": 1048576, "batch_input_shape": [None, 1048576]}}]}}, f)


def readme():
    import jax
    text = f"""# Keras fixtures

Written by `tools/make_keras_fixtures.py` (seeded; see that file for what each model exercises) with
keras {keras.__version__} (backend {keras.backend.backend()}), jax {jax.__version__}, h5py {h5py.__version__}
(HDF5 {h5py.version.hdf5_version}), numpy {np.__version__}. Pinned in `tools/requirements-fixtures.txt`.

Per model NAME: `NAME.h5` (legacy full), `NAME_weights.h5` (legacy weights-only), `NAME.weights.h5`
(Keras 3 weights-only), `NAME.keras`, `NAME.ref.npz` + `NAME.ref.json` (every variable, keys w000…),
`NAME.pred.npz` (`x`, `y = model(x, training=False)`).

| model | what it exercises |
|---|---|
| mlp | Rescaling, Dense (relu, no bias, softmax), Dropout, BatchNormalization (4 and 3 variables), Activation |
| shapes | Flatten, ReLU(max_value, negative_slope), Reshape, LeakyReLU, Softmax, 2-D input |
| norm | Normalization adapted (weights mean/variance/count) and with mean/variance in the config |
| nested | a Sequential inside a functional model |
| fp16, bf16 | float16 weights; bfloat16 weights (2-byte opaque + `dtype` attribute; no legacy .h5: h5py cannot store it) |
| conv, branch, lambda | `.keras` files the importer must refuse (Conv2D, a model with two heads, a Lambda layer) |
| tfk_style | h5py-written tf-keras style weights-only file: `/` in layer names, `:0` suffixes, split fixed-length `layer_names0/1`, empty `weight_names` as float64 (0,); architecture in `tfk_style.json` |
| attributes.h5 | every string attribute encoding, dataset types (f16, f32, f64, big-endian f32, bf16, ints, chunked+gzip), a dataset claiming 2⁴⁰ elements, soft and external links |
| huge_kernel | legacy weights whose kernel claims 2⁴⁰ elements, with `huge_kernel.json` |
"""
    with open(path("README.md"), "w") as f:
        f.write(text)


def main():
    os.makedirs(OUT, exist_ok=True)
    mlp()
    shapes()
    norm()
    nested()
    low_precision("float16", "fp16")
    low_precision("bfloat16", "bf16")
    refused()
    tfk_style()
    hdf5_cases()
    readme()
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
