#!/usr/bin/env python3
"""Trains lrm's sample models: plain Keras MLPs on MNIST, CIFAR-10 and CIFAR-100 (the ARSVD paper's kind of model).

Usage (from the package root):
    python3 -m venv /tmp/lrm-train-venv
    /tmp/lrm-train-venv/bin/pip install -r tools/requirements-train.txt
    /tmp/lrm-train-venv/bin/python tools/train_samples.py --data ../shared/datasets --out samples

The data folder is read in place (--data, else $LRM_DATA, else ../shared/datasets beside the package root);
nothing is ever downloaded. For each model NAME (mnist_mlp, cifar10_mlp, cifar100_mlp, the small CNNs mnist_cnn
and cifar10_cnn, and the residual CNN mnist_resnet) it writes into --out:
    NAME.h5        legacy Keras full-model HDF5 (architecture + weights, no optimizer state)
    NAME.json      dataset, preprocessing (input_scale 1/255, input_layout), accuracies, macro-F1, recipe, versions
    NAME.pred.npz  x = the first 64 raw test images (float32 0-255, HWC) and y = model(x * (1/255)) (float32)
The 1/255 scaling is part of the data pipeline, not of the model: users give `lrm convert ... --input-scale 1/255`.
Everything is seeded (keras.utils.set_random_seed, fixed shuffles), so a re-run on the same machine gives the same
weights. Training all three takes a few minutes on 2 CPU cores.
"""
import argparse
import gzip
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SEED = 20240601
# One constant for the pipeline, the .pred.npz reference and the JSON: float32(1/255), which is what lrm multiplies
# each byte by for `--input-scale 1/255`.
SCALE = np.float32(1.0 / 255.0)
N_PRED = 64

# Per model: dataset, architecture, recipe. Epochs, learning rate and dropout were chosen on the validation split
# only (never on the test set).
MODELS = {
    "mnist_mlp": dict(dataset="mnist", hidden=(512, 256), dropout=0.0, lr=5e-4, batch=128, epochs=15),
    "cifar10_mlp": dict(dataset="cifar10", hidden=(512, 256), dropout=0.0, lr=5e-4, batch=128, epochs=20),
    "cifar100_mlp": dict(dataset="cifar100", hidden=(512, 256), dropout=0.0, lr=5e-4, batch=128, epochs=20),
    # Small CNNs of the kind people save as mnist_cnn.h5 / cifar10_cnn.h5: (filters, pool after) per 3×3 Conv2D
    # (relu, "same" padding), then Flatten and a Dense head, which holds most of the parameters.
    "mnist_cnn": dict(dataset="mnist", conv=((16, True), (32, True)), hidden=(128,), dropout=0.25, lr=1e-3, batch=128,
                      epochs=3),
    "cifar10_cnn": dict(dataset="cifar10", conv=((16, True), (32, True)), hidden=(128,), dropout=0.25, lr=1e-3,
                        batch=64, epochs=10),
    # A small residual CNN (a functional model with Add merges): a stem (3×3 Conv2D, BatchNormalization, relu,
    # MaxPooling2D 2), then per (filters, stride) one residual block of two 3×3 convolutions with BatchNormalization,
    # added to its shortcut: the block's input (identity) when filters and size are unchanged, else a 1×1 Conv2D with
    # that stride and BatchNormalization (projection); then GlobalAveragePooling2D and a softmax Dense.
    "mnist_resnet": dict(dataset="mnist", resnet=dict(stem=32, blocks=((32, 1), (64, 2))), hidden=(), dropout=0.0,
                         lr=1e-3, batch=128, epochs=3),
    # Trained on every training record (what `mnist.load_data()` users do): no record is held out, so lrm's default
    # validation records were seen in training. For checking that lrm's accuracy budget still holds on such models.
    "mnist_mlp_all": dict(dataset="mnist", hidden=(512, 256), dropout=0.0, lr=5e-4, batch=128, epochs=15,
                          all_records=True),
    # The CIFAR-10 sample's recipe with the last 25% (5,000 records) held out instead of 10% (2,000): for measuring
    # what a larger validation split buys an accuracy-budgeted search (docs/RESULTS.md, issue 13). The recipe was
    # chosen on the sample's 2,000 validation records, which are the last 2,000 of these 5,000.
    "cifar10_mlp_hold5k": dict(dataset="cifar10", hidden=(512, 256), dropout=0.0, lr=5e-4, batch=128, epochs=20,
                               val_fraction=0.25),
}
VAL_FRACTION = 0.1  # the last 10% of the training records (in file order) are the validation split
# Models for measurements only, not bundled in samples/: trained only when named with --only.
MEASUREMENT_ONLY = ("mnist_mlp_all", "cifar10_mlp_hold5k")


# ----------------------------------------------------------------------------------------------------------- data

def _read_idx(path, magic, dims):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = np.frombuffer(raw, dtype=">u4", count=1 + dims)
    if int(header[0]) != magic:
        raise ValueError(f"{path}: bad IDX magic {int(header[0]):#010x}")
    shape = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + dims))
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: expected {int(np.prod(shape))} bytes of data, found {data.size}")
    return data.reshape(shape)


def load_mnist(root):
    d = os.path.join(root, "mnist")
    xtr = _read_idx(os.path.join(d, "train-images-idx3-ubyte.gz"), 0x803, 3)
    ytr = _read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz"), 0x801, 1)
    xte = _read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"), 0x803, 3)
    yte = _read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), 0x801, 1)
    return (xtr, ytr), (xte, yte), 10, "features"


def _read_cifar(path, label_bytes, label_index):
    raw = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + 3072
    if raw.size % record:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of the {record}-byte record")
    raw = raw.reshape(-1, record)
    labels = raw[:, label_index].copy()
    # Records store channel planes (CHW: 1024 R, 1024 G, 1024 B); Keras images are HWC.
    images = raw[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return images, labels


def load_cifar10(root):
    d = os.path.join(root, "cifar-10")
    parts = [_read_cifar(os.path.join(d, f"data_batch_{i}.bin"), 1, 0) for i in (1, 2)]
    xtr = np.concatenate([p[0] for p in parts])
    ytr = np.concatenate([p[1] for p in parts])
    xte, yte = _read_cifar(os.path.join(d, "test_batch.bin"), 1, 0)
    return (xtr, ytr), (xte, yte), 10, "hwc"


def load_cifar100(root):
    d = os.path.join(root, "cifar-100")
    # Two label bytes per record: coarse (0-19) then fine (0-99); the models use the fine label.
    xtr, ytr = _read_cifar(os.path.join(d, "train-25k.bin"), 2, 1)
    xte, yte = _read_cifar(os.path.join(d, "test.bin"), 2, 1)
    return (xtr, ytr), (xte, yte), 100, "hwc"


LOADERS = {"mnist": load_mnist, "cifar10": load_cifar10, "cifar100": load_cifar100}


def scale(x):
    """The data pipeline's preprocessing: bytes 0-255 times float32(1/255)."""
    return x.astype(np.float32) * SCALE


# -------------------------------------------------------------------------------------------------------- metrics

def macro_f1(y_true, y_pred, classes):
    """Unweighted mean over classes of 2TP / (2TP + FP + FN); a class with no true and no predicted sample counts 0."""
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    tp = np.diag(confusion).astype(np.float64)
    fp = confusion.sum(axis=0) - tp
    fn = confusion.sum(axis=1) - tp
    denominator = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1.mean())


# ----------------------------------------------------------------------------------------------------------- model

def build(name, input_shape, classes, hidden, dropout, conv=()):
    model = keras.Sequential(name=name)
    if conv and len(input_shape) == 2:
        input_shape = tuple(input_shape) + (1,)  # MNIST images get their single channel axis
    model.add(keras.Input(shape=input_shape, name="input"))
    for i, (filters, pool) in enumerate(conv, start=1):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{i}"))
        if pool:
            model.add(layers.MaxPooling2D(2, name=f"pool_{i}"))
    if conv and dropout:
        model.add(layers.Dropout(dropout, name="dropout_conv"))
    model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(hidden, start=1):
        model.add(layers.Dense(units, activation="relu", name=f"dense_{i}"))
        if dropout:
            model.add(layers.Dropout(dropout, name=f"dropout_{i}"))
    model.add(layers.Dense(classes, activation="softmax", name="output"))
    return model


def build_resnet(name, input_shape, classes, stem, blocks):
    """The residual recipe (see MODELS["mnist_resnet"]): Conv2D → BatchNormalization → relu, Add with the shortcut,
    relu after the Add (the original ResNet's block)."""
    if len(input_shape) == 2:
        input_shape = tuple(input_shape) + (1,)
    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(stem, 3, padding="same", name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    channels = stem
    for i, (filters, stride) in enumerate(blocks, start=1):
        y = layers.Conv2D(filters, 3, strides=stride, padding="same", name=f"block{i}_conv1")(x)
        y = layers.BatchNormalization(name=f"block{i}_bn1")(y)
        y = layers.Activation("relu", name=f"block{i}_relu1")(y)
        y = layers.Conv2D(filters, 3, padding="same", name=f"block{i}_conv2")(y)
        y = layers.BatchNormalization(name=f"block{i}_bn2")(y)
        if filters == channels and stride == 1:
            shortcut = x
        else:
            shortcut = layers.Conv2D(filters, 1, strides=stride, name=f"block{i}_proj")(x)
            shortcut = layers.BatchNormalization(name=f"block{i}_proj_bn")(shortcut)
        x = layers.Add(name=f"block{i}_add")([shortcut, y])
        x = layers.Activation("relu", name=f"block{i}_out")(x)
        channels = filters
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def check_no_optimizer(path):
    with h5py.File(path, "r") as f:
        groups = list(f.keys())
        if any("optimizer" in g for g in groups):
            raise RuntimeError(f"{path}: has optimizer state: {groups}")
        if "model_weights" not in f or "model_config" not in f.attrs:
            raise RuntimeError(f"{path}: not a legacy full-model file: groups {groups}, attrs {list(f.attrs)}")
        return groups


def train_one(name, spec, data_root, out, epochs_override=None, verbose=2):
    cfg = dict(spec)
    if epochs_override is not None:
        cfg["epochs"] = epochs_override
    (xtr_raw, ytr), (xte_raw, yte), classes, layout = LOADERS[cfg["dataset"]](data_root)
    if (cfg.get("conv") or cfg.get("resnet")) and xtr_raw.ndim == 3:
        xtr_raw, xte_raw, layout = xtr_raw[..., None], xte_raw[..., None], "hwc"  # (N, 28, 28) → (N, 28, 28, 1)
    n_val = int(round(len(xtr_raw) * cfg.get("val_fraction", VAL_FRACTION)))
    n_fit = len(xtr_raw) if cfg.get("all_records") else len(xtr_raw) - n_val
    x_fit, y_fit = scale(xtr_raw[:n_fit]), ytr[:n_fit].astype(np.int32)
    # With all_records the "validation" records (the last 10%) were trained on too: val_accuracy is then a training figure.
    x_val, y_val = scale(xtr_raw[-n_val:]), ytr[-n_val:].astype(np.int32)
    x_test, y_test = scale(xte_raw), yte.astype(np.int32)

    keras.utils.set_random_seed(SEED)
    if cfg.get("resnet"):
        model = build_resnet(name, xtr_raw.shape[1:], classes, **cfg["resnet"])
    else:
        model = build(name, xtr_raw.shape[1:], classes, cfg["hidden"], cfg["dropout"], cfg.get("conv", ()))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg["lr"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # Deterministic order: one fixed permutation per epoch from a seeded generator, fit without Keras' own shuffle.
    rng = np.random.default_rng(SEED)
    history = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    start = time.perf_counter()
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n_fit)
        h = model.fit(x_fit[order], y_fit[order], batch_size=cfg["batch"], epochs=epoch + 1, initial_epoch=epoch,
                      shuffle=False, validation_data=(x_val, y_val), verbose=verbose)
        for key in history:
            history[key].append(float(h.history[key][-1]))
    train_seconds = time.perf_counter() - start

    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    val_loss, val_acc = model.evaluate(x_val, y_val, batch_size=1000, verbose=0)
    probs = model.predict(x_test, batch_size=1000, verbose=0)
    predicted = probs.argmax(axis=1)
    f1 = macro_f1(y_test, predicted, classes)
    numpy_acc = float((predicted == y_test).mean())

    os.makedirs(out, exist_ok=True)
    h5_path = os.path.join(out, f"{name}.h5")
    if os.path.exists(h5_path):
        os.remove(h5_path)
    model.save(h5_path, include_optimizer=False)
    groups = check_no_optimizer(h5_path)

    x_pred = xte_raw[:N_PRED].astype(np.float32)  # raw 0-255, (64, 28, 28) or (64, 32, 32, 3) HWC
    y_pred = keras.ops.convert_to_numpy(model(scale(x_pred), training=False)).astype(np.float32)
    np.savez(os.path.join(out, f"{name}.pred.npz"), x=x_pred, y=y_pred)

    # The saved file must reproduce the in-memory model.
    reloaded = keras.saving.load_model(h5_path, compile=False)
    y_reloaded = keras.ops.convert_to_numpy(reloaded(scale(x_pred), training=False))
    if not np.allclose(y_reloaded, y_pred, rtol=1e-5, atol=1e-6):
        raise RuntimeError(f"{h5_path}: reloaded model disagrees with the trained one")

    summary = {
        "model": name,
        "dataset": cfg["dataset"],
        "input_shape": list(xtr_raw.shape[1:]),
        "input_scale": float(SCALE),
        "input_scale_text": "1/255",
        "input_layout": layout,
        "classes": classes,
        "architecture": [int(np.prod(xtr_raw.shape[1:]))] + [f"conv{f}" for f, _ in cfg.get("conv", ())]
                        + ([f"stem{cfg['resnet']['stem']}"] + [f"res{f}/{s}" for f, s in cfg["resnet"]["blocks"]]
                           if cfg.get("resnet") else [])
                        + list(cfg["hidden"]) + [classes],
        "parameters": int(model.count_params()),
        "test_accuracy": float(test_acc),
        "test_macro_f1": f1,
        "test_loss": float(test_loss),
        "test_samples": int(len(y_test)),
        "val_accuracy": float(val_acc),
        "val_samples": int(n_val),
        "train_samples": int(n_fit),
        "validation_records_trained_on": bool(cfg.get("all_records", False)),
        "epochs": cfg["epochs"],
        "batch_size": cfg["batch"],
        "optimizer": "adam",
        "learning_rate": cfg["lr"],
        "dropout": cfg["dropout"],
        **({"resnet": {"stem": cfg["resnet"]["stem"], "blocks": [list(b) for b in cfg["resnet"]["blocks"]]}}
           if cfg.get("resnet") else {}),
        "seed": SEED,
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "h5_groups": groups,
        "versions": versions(),
    }
    if abs(numpy_acc - test_acc) > 1e-6:
        raise RuntimeError(f"{name}: numpy accuracy {numpy_acc} differs from Keras' {test_acc}")
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    summary["h5_bytes"] = os.path.getsize(h5_path)
    return summary


def versions():
    import jax
    import jaxlib
    return {"python": sys.version.split()[0], "keras": keras.__version__, "backend": keras.backend.backend(),
            "jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__, "h5py": h5py.__version__}


def main():
    default_data = os.environ.get("LRM_DATA") or os.path.join(ROOT, "..", "shared", "datasets")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=default_data, help="dataset folder (default: $LRM_DATA or ../shared/datasets)")
    parser.add_argument("--out", default=os.path.join(ROOT, "samples"), help="output folder (default: samples/)")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS),
                        help=f"train only these models (default: the bundled samples; {', '.join(MEASUREMENT_ONLY)} only when named)")
    parser.add_argument("--epochs", type=int, help="override every model's epoch count (for experiments)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    args = parser.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"train_samples: data folder {args.data} not found (give --data or set LRM_DATA)")
    if keras.backend.backend() != "jax":
        print(f"train_samples: note: Keras backend is {keras.backend.backend()}, the pinned recipe uses jax")

    results = []
    total = time.perf_counter()
    for name in args.only or [name for name in MODELS if name not in MEASUREMENT_ONLY]:
        print(f"== {name}", flush=True)
        results.append(train_one(name, MODELS[name], args.data, args.out, args.epochs, 0 if args.quiet else 2))
    total = time.perf_counter() - total

    print()
    header = f"{'model':<14}{'arch':<20}{'params':>10}{'epochs':>8}{'val acc':>9}{'test acc':>10}{'macro-F1':>10}" \
             f"{'train s':>9}{'h5 bytes':>11}"
    print(header)
    print("-" * len(header))
    for r in results:
        arch = "-".join(str(a) for a in r["architecture"])
        print(f"{r['model']:<14}{arch:<20}{r['parameters']:>10,}{r['epochs']:>8}{r['val_accuracy']:>9.4f}"
              f"{r['test_accuracy']:>10.4f}{r['test_macro_f1']:>10.4f}{r['train_seconds']:>9.1f}{r['h5_bytes']:>11,}")
    print(f"total {total:.1f} s; {json.dumps(versions())}")


if __name__ == "__main__":
    main()
