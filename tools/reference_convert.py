#!/usr/bin/env python3
"""Reference Python pipeline for `lrm convert`, for benchmarks: h5py reads a Keras legacy .h5,
scipy's gesdd computes each Dense kernel's thin SVD in float32 (numpy's SVD when scipy is missing), the
same energy rule and break-even rule choose k, and the factors are written with numpy (one .npz).
Prints per-layer SVD times and the total wall time.

Usage: reference_convert.py MODEL.h5 OUT.npz [--tau 0.95]
Needs h5py and numpy, scipy optional (pip install h5py numpy scipy).
"""
import argparse
import json
import resource
import sys
import time

import h5py
import numpy as np

try:
    import scipy.linalg

    def thin_svd(kernel):
        return scipy.linalg.svd(kernel, full_matrices=False, lapack_driver="gesdd", check_finite=False)

    DRIVER = "scipy gesdd"
except ImportError:
    def thin_svd(kernel):
        return np.linalg.svd(kernel, full_matrices=False)

    DRIVER = "numpy svd"


def attr_strings(value):
    if isinstance(value, bytes):
        return [value.decode()]
    return [v.decode() if isinstance(v, bytes) else str(v) for v in value]


def dense_kernels(path):
    """(name, kernel, bias) for each Dense layer, in order, from a legacy full-model .h5."""
    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
        weights = f["model_weights"]
        layers = []
        for layer in config["config"]["layers"]:
            if layer["class_name"] != "Dense":
                continue
            name = layer["config"]["name"]
            group = weights[name]
            arrays = {}
            for weight_name in attr_strings(group.attrs["weight_names"]):
                arrays[weight_name.split("/")[-1].split(":")[0]] = np.array(group[weight_name])
            layers.append((name, arrays["kernel"], arrays.get("bias")))
        return layers


def smallest_rank(sigma, tau):
    energy = np.cumsum(sigma.astype(np.float64) ** 2)
    return int(np.searchsorted(energy, tau * energy[-1] * (1 - 1e-12)) + 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--tau", type=float, default=0.95)
    args = parser.parse_args()
    start = time.perf_counter()
    layers = dense_kernels(args.model)
    factors = {}
    for name, kernel, bias in layers:
        t0 = time.perf_counter()
        u, s, vt = thin_svd(kernel)
        svd_seconds = time.perf_counter() - t0
        k = smallest_rank(s, args.tau)
        rows, cols = kernel.shape
        if k * (rows + cols) < rows * cols:
            factors[f"{name}/us"] = (u[:, :k] * s[:k]).astype(np.float32)
            factors[f"{name}/vt"] = vt[:k].astype(np.float32)
        else:
            factors[f"{name}/kernel"] = kernel
        if bias is not None:
            factors[f"{name}/bias"] = bias
        print(f"  {name:12s} {rows}×{cols}  k={k:4d}  svd {svd_seconds * 1000:8.1f} ms")
    np.savez(args.out, **factors)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python reference ({DRIVER}): {total:.3f} s end to end, peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
