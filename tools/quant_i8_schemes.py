#!/usr/bin/env python3
"""i8 rounding schemes against f16, judged on the validation split only (issue 15).

The target "at equal bytes, the best i8 point is at least as accurate as the best f16 point" is measured on
the test split (tools/quant_curves.py). Any choice made to meet it (a group size for the scales, zero points)
must not look at that split. This script converts each sample at the curves' whitened thresholds with f16
factors and with i8 codes under several schemes, and measures bytes on disk and accuracy on the validation
records only: the last N training records (the same ones `lrm convert --validation-samples N` holds out;
the samples were not trained on them, and the conversions calibrate on other training records). The
forward pass is the numpy one of tools/python/lrm (the definitions of `lrm predict`).

    python3 tools/quant_i8_schemes.py --lrm .build/release/lrm --out out/i8schemes [--samples mnist_mlp,...]

A scheme is `f16`, `i8` (one f16 scale per output column, the default), `i8:gN` (a scale per N rows where N
divides the rows; other weights keep one per column) or `i8z` (zero points, --quant-scheme asymmetric); a
`-norefit` suffix converts with --no-refit (no least-squares refit of the factors before they are stored). Prints, per
sample and threshold, bytes and validation accuracy of each, and writes OUT/schemes.json.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))
import lrm  # noqa: E402

SAMPLES = {  # dataset folder, lrm dataset name, validation records (the last N of the training split)
    "mnist_mlp": ("mnist", "mnist", 6000),
    "cifar10_mlp": ("cifar-10", "cifar-10", 2000),
    "cifar100_mlp": ("cifar-100", "cifar-100", 2500),
}
TAUS = {   # the thresholds of tools/quant_curves.py
    "mnist_mlp": [0.9, 0.95, 0.97, 0.98, 0.99, 0.995],
    "cifar10_mlp": [0.99, 0.995, 0.998, 0.999],
    "cifar100_mlp": [0.99, 0.995, 0.998, 0.999],
}


def load_validation(folder, dataset, count):
    """The last `count` records of the training split, as lrm orders it (CIFAR-10: data_batch_N by N)."""
    if dataset == "mnist":
        with gzip.open(os.path.join(folder, "train-images-idx3-ubyte.gz")) as fh:
            x = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(folder, "train-labels-idx1-ubyte.gz")) as fh:
            y = np.frombuffer(fh.read(), np.uint8, offset=8)
        return x[-count:].astype(np.float32), y[-count:]
    if dataset == "cifar-10":
        names = sorted((f for f in os.listdir(folder) if f.startswith("data_batch_") and f.endswith(".bin")),
                       key=lambda f: int(f[len("data_batch_"):-len(".bin")]))
        raw = np.concatenate([np.fromfile(os.path.join(folder, f), np.uint8).reshape(-1, 3073) for f in names])
        y, x = raw[:, 0], raw[:, 1:]
    else:
        train = "train.bin" if os.path.exists(os.path.join(folder, "train.bin")) else "train-25k.bin"
        raw = np.fromfile(os.path.join(folder, train), np.uint8).reshape(-1, 3074)
        y, x = raw[:, 1], raw[:, 2:]
    x = x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)   # the files are CHW, the samples HWC
    return x[-count:].astype(np.float32), y[-count:]


def options(scheme):
    if scheme.endswith("-norefit"):
        return options(scheme[:-len("-norefit")]) + ["--no-refit"]
    if scheme == "f16":
        return ["--factor-dtype", "f16"]
    if scheme == "i8z":
        return ["--factor-dtype", "i8", "--quant-scheme", "asymmetric"]
    if scheme.startswith("i8:g"):
        return ["--factor-dtype", "i8", "--group-size", scheme[len("i8:g"):]]
    assert scheme == "i8", scheme
    return ["--factor-dtype", "i8"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lrm", default=".build/release/lrm")
    p.add_argument("--out", default="out/i8schemes")
    p.add_argument("--samples", default=",".join(SAMPLES))
    p.add_argument("--schemes", default="f16,i8,i8z")
    p.add_argument("--taus", help="comma-separated thresholds (default: each sample's in TAUS)")
    p.add_argument("--data", default=os.environ.get("LRM_DATA", "../shared/datasets"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = []
    for name in a.samples.split(","):
        folder, dataset, count = SAMPLES[name]
        x, y = load_validation(os.path.join(a.data, folder), dataset, count)
        taus = [float(t) for t in a.taus.split(",")] if a.taus else TAUS[name]
        for tau in taus:
            for scheme in a.schemes.split(","):
                path = os.path.join(a.out, "%s-%s-%g.lrm" % (name, scheme.replace(":", ""), tau))
                cmd = [a.lrm, "convert", "samples/%s.h5" % name, "--input-scale", "1/255", "--dataset", dataset,
                       "--data", a.data, "--validation-samples", str(count), "--policy", "whitened:%g" % tau,
                       "--all-kernels", "-o", path] + options(scheme)
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit("failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stderr))
                correct = int((lrm.load(path).predict(x).argmax(axis=1) == y).sum())
                row = {"sample": name, "tau": tau, "scheme": scheme, "bytes": os.path.getsize(path),
                       "validation_correct": correct, "validation_records": count}
                print(json.dumps(row), file=sys.stderr)
                results.append(row)
    with open(os.path.join(a.out, "schemes.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    print("| sample | τ | scheme | bytes | validation accuracy (correct) |")
    print("|---|---:|---|---:|---:|")
    for r in results:
        print("| %s | %g | %s | {:,} | %.2f%% (%d) |".format(r["bytes"]) % (
            r["sample"], r["tau"], r["scheme"], 100.0 * r["validation_correct"] / r["validation_records"],
            r["validation_correct"]))


if __name__ == "__main__":
    main()
