#!/usr/bin/env python3
"""Times Keras's own model.evaluate on a test set, for tools/bench_verify.sh.
Usage: keras_evaluate.py MODEL.h5 DATASET DATA_DIR   (needs keras with a backend, e.g. the train venv)"""
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
start_all = time.perf_counter()
import gzip  # noqa: E402

import numpy as np  # noqa: E402
import keras  # noqa: E402


def load(dataset, root):
    if dataset == "mnist":
        with gzip.open(f"{root}/mnist/t10k-images-idx3-ubyte.gz") as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(f"{root}/mnist/t10k-labels-idx1-ubyte.gz") as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)
        return x, y
    size, label = (3073, 0) if dataset == "cifar-10" else (3074, 1)
    path = f"{root}/cifar-10/test_batch.bin" if dataset == "cifar-10" else f"{root}/cifar-100/test.bin"
    records = np.fromfile(path, np.uint8).reshape(-1, size)
    x = records[:, size - 3072:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, records[:, label]


model_path, dataset, root = sys.argv[1:4]
x, y = load(dataset, root)
x = x.astype(np.float32) * np.float32(1 / 255)
model = keras.models.load_model(model_path, compile=False)
x = x.reshape((-1,) + tuple(model.input_shape[1:]))  # MNIST CNNs take (28, 28, 1)
model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
start = time.perf_counter()
_, accuracy = model.evaluate(x, y, batch_size=1000, verbose=0)
evaluate = time.perf_counter() - start
print(f"keras model.evaluate: {evaluate:.3f} s (accuracy {accuracy:.4f}); whole script {time.perf_counter() - start_all:.3f} s")
