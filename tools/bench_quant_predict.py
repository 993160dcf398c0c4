#!/usr/bin/env python3
"""Forward-pass time of the same factorized model with f32, f16, i8 and i4 factors (`lrm predict`).

The i8/i4 runtime keeps codes in memory and dequantizes one block of rows at a time into float32 before each
sgemm; this prints the wall time of `lrm predict` on N random inputs (best of R runs) and the file sizes, so the
cost of that dequantization can be read off against f32.

    python3 tools/bench_quant_predict.py --lrm .build/release/lrm [--samples 20000] [--rank 64] [--runs 3]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lrm", default=".build/release/lrm")
    p.add_argument("--model", default="samples/mnist_mlp.h5")
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--rank", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        x = np.random.default_rng(0).uniform(0, 255, size=(a.samples, 28, 28)).astype(np.float32)
        inputs = os.path.join(tmp, "x.npy")
        np.save(inputs, x)
        print("lrm predict on %d inputs, %s at rank %d (all layers' kernels in the dtype), best of %d:"
              % (a.samples, a.model, a.rank, a.runs))
        for dtype in ("f32", "f16", "i8", "i4"):
            path = os.path.join(tmp, dtype + ".lrm")
            subprocess.run([a.lrm, "convert", a.model, "--input-scale", "1/255", "--policy", "rank:%d" % a.rank,
                            "--factor-dtype", dtype, "--all-kernels", "-o", path], check=True, capture_output=True)
            best = float("inf")
            for _ in range(a.runs):
                start = time.perf_counter()
                subprocess.run([a.lrm, "predict", path, "--input", inputs, "-o", os.path.join(tmp, "y.npy")],
                               check=True, capture_output=True)
                best = min(best, time.perf_counter() - start)
            print("  %-4s %9d bytes  %.3f s" % (dtype, os.path.getsize(path), best))


if __name__ == "__main__":
    sys.exit(main())
