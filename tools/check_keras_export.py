#!/usr/bin/env python3
"""Checks a Keras .h5 written by `lrm export --to keras` against `lrm predict` on the .lrm it came from.

    check_keras_export.py MODEL.lrm OUT.h5 --lrm .build/debug/lrm [--samples 64] [--framework keras|tf-keras]
                          [--scale S] [--no-preprocess]

Loads OUT.h5 with `keras.models.load_model` (Keras 3; the backend is $KERAS_BACKEND, else jax) or
`tf_keras.models.load_model` (--framework tf-keras), runs it on seeded random inputs of the model's input
shape (standard normal, times --scale: raw inputs, e.g. --scale 255 for pixel models; a dimension the export
left open, None, at the size MODEL.lrm records), runs
`lrm predict MODEL.lrm` on the same inputs (the export holds the model's preprocessing as its first layer,
so both take raw inputs; --no-preprocess for a file whose preprocessing the export left out), and compares
sample by sample:
a sample passes when every output satisfies |keras - lrm| <= atol + rtol * |lrm| (defaults 1e-5, 1e-5).

Prints the Keras layers, the maximum absolute difference and `N passed, M failed`; exits 0 when all
samples pass, 1 when some fail, 2 when the file does not load or lrm fails.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the .lrm file that was exported")
    parser.add_argument("keras_file", help="the .h5 written by lrm export")
    parser.add_argument("--lrm", required=True, help="path of the built lrm binary")
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--framework", choices=["keras", "tf-keras"], default="keras")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the standard normal inputs by this")
    parser.add_argument("--no-preprocess", action="store_true",
                        help="run lrm predict --no-preprocess (the export left the preprocessing out)")
    return parser.parse_args()


def load_keras_model(path, framework):
    if framework == "tf-keras":
        import tf_keras
        return tf_keras.models.load_model(path, compile=False), "tf-keras " + tf_keras.__version__
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    return keras.models.load_model(path, compile=False), f"keras {keras.__version__} ({keras.backend.backend()})"


def main():
    arguments = parse_arguments()
    import numpy as np

    try:
        model, version = load_keras_model(arguments.keras_file, arguments.framework)
    except Exception as error:  # what the loader raises is the finding
        print(f"FAIL: {arguments.keras_file} does not load: {type(error).__name__}: {error}")
        print("0 passed, 1 failed")
        return 2
    print(f"loaded {arguments.keras_file} with {version}")
    for layer in model.layers:
        weights = ", ".join("x".join(str(d) for d in w.shape) for w in layer.get_weights())
        print(f"  {layer.name:<32} {type(layer).__name__:<20} {weights}")

    sample_shape = tuple(model.input_shape[1:])
    if None in sample_shape:
        # Dimensions the export left open (metadata source.open_input_dims): the sizes the .lrm was mapped for.
        inspect = subprocess.run([arguments.lrm, "inspect", arguments.model, "--json"], capture_output=True, text=True)
        if inspect.returncode != 0:
            print(f"FAIL: lrm inspect exited with {inspect.returncode}: {inspect.stderr.strip()}")
            print("0 passed, 1 failed")
            return 2
        mapped = json.loads(inspect.stdout)["model"]["input"]["shape"]
        sample_shape = tuple(mapped[i] if d is None else d for i, d in enumerate(sample_shape))
        print(f"open input dimensions filled from {arguments.model}: {sample_shape}")
    rng = np.random.default_rng(arguments.seed)
    x = (rng.standard_normal((arguments.samples,) + sample_shape) * arguments.scale).astype(np.float32)
    keras_y = np.asarray(model.predict(x, verbose=0), dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="lrm-check-export-") as directory:
        inputs = os.path.join(directory, "x.npy")
        outputs = os.path.join(directory, "y.npy")
        np.save(inputs, x)
        command = [arguments.lrm, "predict", arguments.model, "--input", inputs, "-o", outputs]
        if arguments.no_preprocess:
            command.append("--no-preprocess")
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL: lrm predict exited with {run.returncode}: {run.stderr.strip()}")
            print("0 passed, 1 failed")
            return 2
        lrm_y = np.load(outputs)

    if keras_y.shape != lrm_y.shape:
        print(f"FAIL: Keras outputs have shape {keras_y.shape}, lrm's {lrm_y.shape}")
        print("0 passed, 1 failed")
        return 1
    difference = np.abs(keras_y.astype(np.float64) - lrm_y.astype(np.float64))
    allowed = arguments.atol + arguments.rtol * np.abs(lrm_y.astype(np.float64))
    per_sample_ok = (difference <= allowed).reshape(arguments.samples, -1).all(axis=1)
    passed = int(per_sample_ok.sum())
    failed = arguments.samples - passed
    print(f"inputs {x.shape}, outputs {keras_y.shape}, output magnitude up to {np.abs(lrm_y).max():.4g}")
    print(f"max abs difference: {difference.max():.3g} (tolerance {arguments.atol:g} + {arguments.rtol:g}·|y|)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
