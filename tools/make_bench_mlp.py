#!/usr/bin/env python3
"""Writes a synthetic Keras MLP as a tf-keras-style legacy full-model .h5, for benchmarks only (never committed).

Usage: make_bench_mlp.py OUT.h5 --widths 3072,1024,512,100 [--spectrum trained|low-rank] [--optimizer-state] [--seed 0]

The file has what tf-keras 2 writes (`model_config`, `model_weights/<layer>/<layer>/kernel:0`, `weight_names`,
`layer_names`, and with --optimizer-state an `optimizer_weights` group holding Adam's m and v for every variable),
so lrm and h5py read it as they would a real one. The kernels are not trained:
- `trained`: Glorot-scaled Gaussian noise plus a rank-32 component carrying about half the energy (the spectrum of a
  trained layer: a few large directions over a bulk); at energy 0.95 most such layers stay dense.
- `low-rank`: a rank-64 component with σᵢ ∝ 0.93^i plus 1e-3 relative noise, so a small rank keeps 95% of the energy.
Needs numpy and h5py.
"""
import argparse
import json

import h5py
import numpy as np


def kernel(rng, rows, cols, spectrum):
    if spectrum == "trained":
        noise = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(np.sqrt(2.0 / (rows + cols)))
        r = 32
        a = rng.standard_normal((rows, r), dtype=np.float32) / np.float32(np.sqrt(rows))
        b = rng.standard_normal((r, cols), dtype=np.float32) / np.float32(np.sqrt(r))
        signal = a @ b
        signal *= np.linalg.norm(noise) / max(np.linalg.norm(signal), 1e-30)
        return (noise + signal).astype(np.float32)
    r = min(64, rows, cols)
    a = np.linalg.qr(rng.standard_normal((rows, r), dtype=np.float32))[0]
    b = np.linalg.qr(rng.standard_normal((cols, r), dtype=np.float32))[0]
    w = (a * (0.93 ** np.arange(r, dtype=np.float32))) @ b.T
    w += rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(1e-3 * np.linalg.norm(w) / np.sqrt(rows * cols))
    return w.astype(np.float32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--widths", required=True)
    parser.add_argument("--spectrum", choices=["trained", "low-rank"], default="trained")
    parser.add_argument("--optimizer-state", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    rng = np.random.default_rng(args.seed)
    names = [f"dense_{i}" if i else "dense" for i in range(len(widths) - 1)]
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, widths[0]], "dtype": "float32",
                                                       "sparse": False, "ragged": False, "name": "input_1"}}]
    for i, name in enumerate(names):
        last = i == len(names) - 1
        layers.append({"class_name": "Dense", "config": {"name": name, "trainable": True, "dtype": "float32",
                                                         "units": widths[i + 1], "activation": "softmax" if last else "relu",
                                                         "use_bias": True}})
    config = {"class_name": "Sequential", "config": {"name": "bench_mlp", "layers": layers}}
    with h5py.File(args.out, "w") as f:
        f.attrs["backend"] = "tensorflow"
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = json.dumps(config)
        weights = f.create_group("model_weights")
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["keras_version"] = "2.15.0"
        weights.attrs["layer_names"] = np.array([n.encode() for n in names])
        variables = []
        for i, name in enumerate(names):
            group = weights.create_group(name)
            group.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
            k = kernel(rng, widths[i], widths[i + 1], args.spectrum)
            b = (0.01 * rng.standard_normal(widths[i + 1])).astype(np.float32)
            group.create_dataset(f"{name}/kernel:0", data=k)
            group.create_dataset(f"{name}/bias:0", data=b)
            variables += [(f"{name}/kernel:0", k.shape), (f"{name}/bias:0", b.shape)]
        if args.optimizer_state:
            optimizer = f.create_group("optimizer_weights")
            names_written = ["iteration:0"]
            optimizer.create_dataset("iteration:0", data=np.int64(1000))
            for slot in ["m", "v"]:
                for variable, shape in variables:
                    path = f"Adam/{slot}/{variable}"
                    optimizer.create_dataset(path, data=(1e-4 * rng.standard_normal(shape)).astype(np.float32))
                    names_written.append(path)
            optimizer.attrs["weight_names"] = np.array([n.encode() for n in names_written])


if __name__ == "__main__":
    main()
