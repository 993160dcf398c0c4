#!/usr/bin/env python3
"""Accuracy drop of compressed models against their original on each part of the data an accuracy-budgeted search
sees and does not see: the validation records (the last N training records, which the search selects and confirms
on), and the test split's first and second halves and whole. Computed here with the independent Python reader
(tools/python/lrm), not with lrm itself.

    python3 tools/drop_by_part.py --dataset mnist --validation 6000 --reference ORIGINAL.lrm MODEL.lrm...

ORIGINAL.lrm is the original as a .lrm file (`lrm import samples/mnist_mlp.h5 --input-scale 1/255 -o orig.lrm`).
Each line: the drop in points (original minus model; positive = the model is worse) with the standard error of the
paired difference, per part. Data from --data, else $LRM_DATA, else ../shared/datasets.
"""
import argparse
import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
from lrm.model import load  # noqa: E402


def mnist(root, part):
    prefix = "train" if part == "train" else "t10k"
    with gzip.open(f"{root}/mnist/{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(f"{root}/mnist/{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x.astype(np.float32), y.astype(int)


def cifar(root, name, part):
    size, label = (3073, 0) if name == "cifar-10" else (3074, 1)
    if name == "cifar-10":
        files = ["data_batch_1.bin", "data_batch_2.bin"] if part == "train" else ["test_batch.bin"]
        paths = [f"{root}/cifar-10/{f}" for f in files if os.path.exists(f"{root}/cifar-10/{f}")]
    else:
        names = ["train.bin", "train-25k.bin"] if part == "train" else ["test.bin"]  # the shared copy has the first 25,000
        paths = [f"{root}/cifar-100/{f}" for f in names if os.path.exists(f"{root}/cifar-100/{f}")][:1]
    records = np.concatenate([np.fromfile(p, np.uint8).reshape(-1, size) for p in paths])
    # Stored CHW; the Keras samples take HWC, flattened for an MLP.
    x = records[:, size - 3072:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).reshape(-1, 3072)
    return x.astype(np.float32), records[:, label].astype(int)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["mnist", "cifar-10", "cifar-100"], required=True)
    parser.add_argument("--data", default=os.environ.get("LRM_DATA", "../shared/datasets"))
    parser.add_argument("--validation", type=int, required=True, help="the search's --validation-samples")
    parser.add_argument("--reference", required=True, help="the original, as a .lrm file")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    read = (lambda part: mnist(args.data, part)) if args.dataset == "mnist" else (lambda part: cifar(args.data, args.dataset, part))
    (xtr, ytr), (xte, yte) = read("train"), read("test")
    half = len(yte) // 2
    parts = {"validation": (xtr[-args.validation:], ytr[-args.validation:]), "test first half": (xte[:half], yte[:half]),
             "test second half": (xte[half:], yte[half:]), "test": (xte, yte)}

    def correct(path):
        model = load(path)
        return {name: model.predict(x).argmax(1) == y for name, (x, y) in parts.items()}

    original = correct(args.reference)
    print(f"original ({os.path.basename(args.reference)}): "
          + ", ".join(f"{name} {100 * hits.mean():.2f}%" for name, hits in original.items()))
    for path in args.models:
        hits = correct(path)
        cells = []
        for name in parts:
            difference = original[name].astype(int) - hits[name].astype(int)
            cells.append(f"{name} {100 * difference.mean():+.2f} ({100 * difference.std() / np.sqrt(len(difference)):.2f})")
        print(f"{os.path.basename(path)}: " + ", ".join(cells))


if __name__ == "__main__":
    main()
