#!/usr/bin/env python3
"""Trains MNIST MLPs the way most users do: on all 60,000 training records (`mnist.load_data()`), nothing held out.

For checking lrm's accuracy budget on models whose validation records (lrm's "last N training records") were seen
in training. Several architectures and seeds, in the styles of MLPs found in the wild (with and without
BatchNormalization, Adam at Keras's default rate, 10-20 epochs). Not the project's samples: written to --out
(default /tmp/lrm-allrec), never committed.

Usage (from the package root):
    /tmp/lrm-train-venv/bin/python tools/train_all_records.py [--data ../shared/datasets] [--out DIR] [--only NAME ...]

Per model NAME it writes NAME.h5 (legacy Keras full model, no optimizer state) and NAME.json (architecture, seed,
epochs, test accuracy, accuracy on the last 6,000 training records). Inputs are bytes × 1/255
(`lrm convert ... --input-scale 1/255`). Seeded: a re-run on the same machine gives the same weights.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_samples import ROOT, check_no_optimizer, load_mnist, scale  # noqa: E402

# name: hidden units, BatchNormalization after each hidden activation, epochs, batch size, seed.
MODELS = {
    "all_64": dict(hidden=(64,), bn=False, epochs=15, batch=32, seed=101),
    "all_64_32_16": dict(hidden=(64, 32, 16), bn=False, epochs=15, batch=64, seed=102),
    "all_128_32": dict(hidden=(128, 32), bn=False, epochs=12, batch=128, seed=103),
    "all_256_128_64_bn": dict(hidden=(256, 128, 64), bn=True, epochs=10, batch=128, seed=104),
    "all_512_256": dict(hidden=(512, 256), bn=False, epochs=15, batch=128, seed=105),
    "all_300_100": dict(hidden=(300, 100), bn=False, epochs=20, batch=128, seed=106),
}
HELD = 6000  # lrm's default validation: the last 6,000 training records (trained on here)


def train(name, spec, data, out):
    (xtr_raw, ytr), (xte_raw, yte), classes, _ = load_mnist(data)
    x, y = scale(xtr_raw), ytr.astype(np.int32)
    x_test, y_test = scale(xte_raw), yte.astype(np.int32)
    keras.utils.set_random_seed(spec["seed"])
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=(28, 28), name="input"))
    model.add(layers.Flatten(name="flatten"))
    for i, units in enumerate(spec["hidden"], start=1):
        model.add(layers.Dense(units, activation="relu", name=f"dense_{i}"))
        if spec["bn"]:
            model.add(layers.BatchNormalization(name=f"bn_{i}"))
    model.add(layers.Dense(classes, activation="softmax", name="output"))
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, batch_size=spec["batch"], epochs=spec["epochs"], shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    _, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    _, held_acc = model.evaluate(x[-HELD:], y[-HELD:], batch_size=1000, verbose=0)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{name}.h5")
    if os.path.exists(path):
        os.remove(path)
    model.save(path, include_optimizer=False)
    check_no_optimizer(path)
    summary = dict(model=name, architecture=[784, *spec["hidden"], classes], batch_normalization=spec["bn"],
                   epochs=spec["epochs"], batch_size=spec["batch"], seed=spec["seed"], train_samples=len(y),
                   test_accuracy=float(test_acc), last_6000_training_accuracy=float(held_acc),
                   train_seconds=round(seconds, 1), keras=keras.__version__)
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=os.environ.get("LRM_DATA") or os.path.join(ROOT, "..", "shared", "datasets"))
    parser.add_argument("--out", default="/tmp/lrm-allrec")
    parser.add_argument("--only", nargs="*", choices=sorted(MODELS))
    args = parser.parse_args()
    for name in args.only or MODELS:
        s = train(name, MODELS[name], args.data, args.out)
        print(f"{name:<20} {'-'.join(map(str, s['architecture'])):<22} test {s['test_accuracy']:.4f}  "
              f"last-6000-train {s['last_6000_training_accuracy']:.4f}  {s['train_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
