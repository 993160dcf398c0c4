#!/usr/bin/env python3
"""Makes lrm's own-data samples: two tabular data sets generated here (nothing downloaded) and a Keras model
trained on each, the kind of model a user brings that is not an image classifier.

    /tmp/lrm-train-venv/bin/python tools/make_tabular_samples.py --out samples        # data + models (Keras, JAX)
    python3 tools/make_tabular_samples.py --out /tmp/x --data-only                     # the data alone (numpy)

Writes into --out:
    churn.csv            2,000 customers: 10 numeric columns in their natural units (age, tenure in months,
                         monthly charge, …) and the label column `churned` (0/1), 4 significant digits
    churn_mlp.h5         Keras legacy HDF5: Normalization (adapted on the training records) → Dense 128 relu →
                         Dense 64 relu → Dense 1 sigmoid; trained on the first 64% of the records, with the next
                         16% as Keras's validation_split (what lrm's search validates on by default)
    housing_x.npy        2,000 × 20 float32 features (standardised: mean 0, variance 1 by construction)
    housing_y.npy        2,000 float32 targets (a price index, a non-linear function of the features plus noise)
    housing_mlp.h5       Keras legacy HDF5: Dense 128 relu → Dense 128 relu → Dense 1 (linear), trained as churn_mlp
    tabular_samples.json the recipe, the test-split metrics Keras measured (last 20% of the records) and versions
    tabular_samples.pred.npz  Keras's outputs on the test records: `churn` (400 probabilities) and `housing`
                         (400 predictions), float32, for checking lrm's outputs sample by sample

The last 20% of each data set is the test split, as `lrm convert --inputs …` holds it out by default
(`--test-fraction 0.2`), and nothing was tuned on it. Everything is seeded: the data are identical on every
machine (numpy's PCG64 with fixed seeds); a re-run of the training on the same machine gives the same weights.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

SEED = 20261204
N = 2000
TEST_FRACTION = 0.2
CHURN_COLUMNS = ["age", "tenure_months", "monthly_charge", "support_calls", "data_gb", "contract_years",
                 "late_payments", "devices", "discount_pct", "satisfaction"]


def churn_data():
    """Customers with a churn label drawn from a non-linear logistic model of their features."""
    rng = np.random.default_rng(SEED)
    age = rng.uniform(18, 80, N)
    tenure = rng.gamma(2.0, 12.0, N)
    charge = rng.normal(70, 25, N).clip(10, 200)
    calls = rng.poisson(1.5, N).astype(float)
    data = rng.lognormal(1.5, 0.8, N)
    contract = rng.integers(0, 3, N).astype(float)
    late = rng.poisson(0.6, N).astype(float)
    devices = rng.integers(1, 6, N).astype(float)
    discount = rng.choice([0.0, 5.0, 10.0, 20.0], N)
    satisfaction = rng.uniform(1, 10, N)
    x = np.stack([age, tenure, charge, calls, data, contract, late, devices, discount, satisfaction], axis=1)
    logit = (-0.6 + 0.035 * (charge - 70) - 0.05 * tenure + 0.55 * calls + 0.6 * late - 0.9 * contract
             - 0.35 * (satisfaction - 5.5) + 0.4 * np.sin(age / 8.0) + 0.02 * discount * (calls > 2))
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.uniform(0, 1, N) < p).astype(float)
    x = np.array([[float("%.4g" % v) for v in row] for row in x])
    return x, y


def housing_data():
    """Standardised features and a smooth non-linear target with noise."""
    rng = np.random.default_rng(SEED + 1)
    x = rng.standard_normal((N, 20))
    w = rng.standard_normal(20) / np.sqrt(20)
    y = (3.0 + x @ w + 0.8 * np.tanh(x[:, 0] * x[:, 1]) + 0.5 * np.sin(2 * x[:, 2]) + 0.3 * x[:, 3] ** 2
         + 0.1 * rng.standard_normal(N))
    return x.astype(np.float32), y.astype(np.float32)


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join(CHURN_COLUMNS + ["churned"]) + "\n")
        for row, label in zip(x, y):
            f.write(",".join("%.4g" % v for v in row) + ",%d\n" % int(label))


def train(args, cx, cy, hx, hy):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras
    from keras import layers

    cut = int(N * (1 - TEST_FRACTION))
    record = {"seed": SEED, "records": N, "test_fraction": TEST_FRACTION, "keras": keras.__version__,
              "backend": keras.backend.backend(), "numpy": np.__version__}

    keras.utils.set_random_seed(SEED)
    norm = layers.Normalization(name="normalization")
    fit = int(cut * 0.8)   # Keras's validation_split=0.2 holds out the last 20% of the training records
    norm.adapt(cx[:fit].astype(np.float32))
    churn = keras.Sequential([keras.Input(shape=(cx.shape[1],)), norm,
                              layers.Dense(128, activation="relu", name="dense_1"),
                              layers.Dense(64, activation="relu", name="dense_2"),
                              layers.Dense(1, activation="sigmoid", name="output")], name="churn_mlp")
    churn.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    started = time.time()
    churn.fit(cx[:cut].astype(np.float32), cy[:cut], epochs=40, batch_size=64, verbose=0, shuffle=True, validation_split=0.2)
    p = churn.predict(cx[cut:].astype(np.float32), verbose=0).ravel()
    record["churn"] = {"architecture": "Normalization-128-64-1 sigmoid", "epochs": 40, "batch_size": 64,
                       "parameters": int(churn.count_params()),
                       "test_accuracy": float(np.mean((p >= 0.5) == (cy[cut:] == 1))),
                       "test_positive_rate": float(np.mean(cy[cut:])), "seconds": round(time.time() - started, 1)}
    churn.save(os.path.join(args.out, "churn_mlp.h5"), include_optimizer=False)

    keras.utils.set_random_seed(SEED)
    housing = keras.Sequential([keras.Input(shape=(hx.shape[1],)),
                                layers.Dense(128, activation="relu", name="dense_1"),
                                layers.Dense(128, activation="relu", name="dense_2"),
                                layers.Dense(1, name="output")], name="housing_mlp")
    housing.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    started = time.time()
    housing.fit(hx[:cut], hy[:cut], epochs=60, batch_size=64, verbose=0, shuffle=True, validation_split=0.2)
    q = housing.predict(hx[cut:], verbose=0).ravel()
    e = q - hy[cut:]
    ss_tot = float(np.sum((hy[cut:] - hy[cut:].mean()) ** 2))
    record["housing"] = {"architecture": "20-128-128-1 linear", "epochs": 60, "batch_size": 64,
                         "parameters": int(housing.count_params()),
                         "test_mae": float(np.mean(np.abs(e))), "test_rmse": float(np.sqrt(np.mean(e ** 2))),
                         "test_r2": 1.0 - float(np.sum(e ** 2)) / ss_tot, "seconds": round(time.time() - started, 1)}
    housing.save(os.path.join(args.out, "housing_mlp.h5"), include_optimizer=False)
    np.savez(os.path.join(args.out, "tabular_samples.pred.npz"), churn=p.astype(np.float32), housing=q.astype(np.float32))
    with open(os.path.join(args.out, "tabular_samples.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-only", action="store_true", help="write the data files only (no Keras needed)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cx, cy = churn_data()
    hx, hy = housing_data()
    write_csv(os.path.join(args.out, "churn.csv"), cx, cy)
    np.save(os.path.join(args.out, "housing_x.npy"), hx)
    np.save(os.path.join(args.out, "housing_y.npy"), hy)
    if not args.data_only:
        print(json.dumps(train(args, cx, cy, hx, hy), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
