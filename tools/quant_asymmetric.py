#!/usr/bin/env python3
"""Symmetric codes against asymmetric codes with zero points, for lrm's factors (issue 15).

Issue 15 asks for asymmetric quantization (a zero point per group) only "if it measures better". This
script measures it. For each sample it converts the model with one whitened energy threshold and f32
factors (`lrm convert --policy whitened:TAU --factor-dtype f32 --all-kernels`), then rounds every stored
weight (U·Σ, Vᵀ and the kernels kept dense) to i8 or i4 codes in two ways, with the same rounding rule
(round to nearest, each group's range searched over the same 21 clipping levels that lrm uses) and no
error feedback, so that the zero point is the only difference:

- symmetric (format 1.2): value = code · scale, codes −127…127 (i8) or −7…7 (i4), one f16 scale per group;
- asymmetric: value = (code − zero) · scale, codes 0…255 or 0…15, one f16 scale and one zero point (a
  code, 8 or 4 bits) per group: the full 2^b levels, placed on [min, max] of the group.

It reports the weights' relative error ‖Ŵ − W‖/‖W‖ (all layers pooled), bits per parameter including
scales and zero points, and the accuracy on the test split of the model with the rounded weights
(numpy forward pass of `tools/python/lrm`, the same definitions as `lrm predict`). Nothing is chosen on
the test split: the thresholds and group sizes are fixed below.

    python3 tools/quant_asymmetric.py --lrm .build/release/lrm --out out/asym [--samples mnist_mlp,...]
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

SAMPLES = {  # dataset folder, lrm dataset name, whitened τ
    "mnist_mlp": ("mnist", "mnist", 0.98),
    "cifar10_mlp": ("cifar-10", "cifar-10", 0.995),
    "cifar100_mlp": ("cifar-100", "cifar-100", 0.998),
}
CLIPS = [1 - 0.025 * s for s in range(21)]


def f16(x):
    return np.asarray(x, dtype=np.float16).astype(np.float32)


def symmetric(w, bits, group):
    """Round-to-nearest symmetric codes per (group of rows, column), best of 21 clipping levels."""
    qmax = 2 ** (bits - 1) - 1
    rows, cols = w.shape
    g = w.reshape(rows // group, group, cols)
    amax = np.abs(g).max(axis=1, keepdims=True)
    def rounded(c):
        s = f16(np.where(amax > 0, amax * c / qmax, 1.0))
        s = np.where(s > 0, s, np.float32(2 ** -24))
        return np.clip(np.round(g / s), -qmax, qmax) * s
    return best_per_group(g, map(rounded, CLIPS)).reshape(rows, cols)


def best_per_group(g, candidates):
    """Per group (axis 1) and column, the candidate rounding of g with the least squared error (the first on ties)."""
    best, best_err = None, None
    for q in candidates:
        err = ((q - g) ** 2).sum(axis=1, keepdims=True)
        if best is None:
            best, best_err = q, err
        else:
            take = err < best_err
            best = np.where(take, q, best)
            best_err = np.where(take, err, best_err)
    return best


def asymmetric(w, bits, group):
    """Round-to-nearest codes 0…2^b−1 with an integer zero point per group, range [min, max] shrunk by
    the same 21 clipping levels (toward zero)."""
    levels = 2 ** bits - 1
    rows, cols = w.shape
    g = w.reshape(rows // group, group, cols)
    lo, hi = g.min(axis=1, keepdims=True), g.max(axis=1, keepdims=True)
    lo, hi = np.minimum(lo, 0), np.maximum(hi, 0)   # zero stays representable (as in common practice)
    def rounded(c):
        s = f16(np.where(hi > lo, (hi - lo) * c / levels, 1.0))
        s = np.where(s > 0, s, np.float32(2 ** -24))
        zero = np.clip(np.round(-lo * c / s), 0, levels)
        return (np.clip(np.round(g / s) + zero, 0, levels) - zero) * s
    return best_per_group(g, map(rounded, CLIPS)).reshape(rows, cols)


def load_test(folder, dataset):
    if dataset == "mnist":
        with gzip.open(os.path.join(folder, "t10k-images-idx3-ubyte.gz")) as fh:
            x = np.frombuffer(fh.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")) as fh:
            y = np.frombuffer(fh.read(), np.uint8, offset=8)
        return x.astype(np.float32), y
    if dataset == "cifar-10":
        raw = np.fromfile(os.path.join(folder, "test_batch.bin"), np.uint8).reshape(-1, 3073)
        y, x = raw[:, 0], raw[:, 1:]
    else:
        raw = np.fromfile(os.path.join(folder, "test.bin"), np.uint8).reshape(-1, 3074)
        y, x = raw[:, 1], raw[:, 2:]
    x = x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)   # the files are CHW, the samples HWC
    return x.astype(np.float32), y


def weight_items(model):
    for layer in model.layers:
        for key in ("us", "vt", "kernel"):
            w = layer.weights.get(key)
            if w is not None and w.ndim == 2:
                yield layer, key, w


def group_for(rows, group):
    return rows if group is None or rows % group else group


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lrm", default=".build/release/lrm")
    p.add_argument("--out", default="out/asym")
    p.add_argument("--samples", default=",".join(SAMPLES))
    p.add_argument("--data", default=os.environ.get("LRM_DATA", "../shared/datasets"))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = []
    for name in a.samples.split(","):
        folder, dataset, tau = SAMPLES[name]
        path = os.path.join(a.out, "%s-f32-%g.lrm" % (name, tau))
        if not os.path.exists(path):
            subprocess.run([a.lrm, "convert", "samples/%s.h5" % name, "--input-scale", "1/255", "--dataset", dataset,
                            "--data", a.data, "--policy", "whitened:%g" % tau, "--factor-dtype", "f32", "--all-kernels",
                            "-o", path], check=True, capture_output=True)
        x, y = load_test(os.path.join(a.data, folder), dataset)
        model = lrm.load(path)
        original = {(l.name, k): w.copy() for l, k, w in weight_items(model)}
        base = float((model.predict(x).argmax(axis=1) == y).mean())
        for bits in (8, 4):
            for group in (None, 64):
                row = {"sample": name, "tau": tau, "bits": bits, "group": group or "column", "f32_accuracy": base}
                for scheme, fn in (("symmetric", symmetric), ("asymmetric", asymmetric)):
                    num = den = 0.0
                    params = groups = 0
                    for layer in model.layers:
                        for key in ("us", "vt", "kernel"):
                            if (layer.name, key) not in original:
                                continue
                            w = original[(layer.name, key)]
                            gsize = group_for(w.shape[0], group)
                            q = fn(w, bits, gsize).astype(np.float32)
                            layer.weights[key] = q
                            num += float(((q - w) ** 2).sum())
                            den += float((w ** 2).sum())
                            params += w.size
                            groups += (w.shape[0] // gsize) * w.shape[1]
                    extra = 16 + (bits if scheme == "asymmetric" else 0)   # f16 scale (+ zero point) per group
                    row[scheme] = {"relative_error": (num / den) ** 0.5, "bits_per_parameter": bits + extra * groups / params,
                                   "test_accuracy": float((model.predict(x).argmax(axis=1) == y).mean())}
                for l, k, w in weight_items(model):
                    l.weights[k] = original[(l.name, k)]
                print(json.dumps(row), file=sys.stderr)
                results.append(row)
    with open(os.path.join(a.out, "asymmetric.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    print("| sample | τ | bits | group | f32 | symmetric: error, bits/param, test | asymmetric: error, bits/param, test |")
    print("|---|---:|---:|---|---:|---|---|")
    for r in results:
        s, z = r["symmetric"], r["asymmetric"]
        print("| %s | %g | %d | %s | %.2f%% | %.4f, %.3f, %.2f%% | %.4f, %.3f, %.2f%% |" % (
            r["sample"], r["tau"], r["bits"], r["group"], r["f32_accuracy"] * 100, s["relative_error"], s["bits_per_parameter"],
            s["test_accuracy"] * 100, z["relative_error"], z["bits_per_parameter"], z["test_accuracy"] * 100))


if __name__ == "__main__":
    main()
