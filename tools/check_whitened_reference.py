#!/usr/bin/env python3
"""Independent reference for lrm's whitened (SVD-LLM) truncation, checked against a converted file.

Usage:
  python3 tools/check_whitened_reference.py MODEL.h5 CONVERTED.lrm --data DIR --validation-samples V
      [--dataset mnist] [--input-scale 1/255] [--ridge 1e-6] [--data-seed 1] [--exclude PATTERN ...]
      [--omit INDEX] [--hypotheses]

CONVERTED.lrm is the output of, e.g. (from the project root):
  lrm convert samples/mnist_mlp.h5 --input-scale 1/255 --dataset mnist --data DIR \\
      --policy whitened:0.9 --no-refit --validation-samples 6000 --calibration-samples 54000 \\
      --factor-dtype f64 -o w.lrm

Written from the description of the method (README, `lrm convert --help`, spec/FORMAT.md), not from the
converter's sources. Python 3 with numpy and h5py; reads the .lrm with tools/lrm_reader.py.

The method. For each Dense layer with kernel W (in x out), X holds the layer's inputs on the calibration set
(one row per sample), computed with the ORIGINAL model (float32 forward pass, as Keras runs it).
    G = XᵀX (float64, not divided by the sample count),  λ = ridge · mean(diag G),
    G + λI = L·Lᵀ (Cholesky),  Lᵀ·W = U·Σ·Vᵀ,
    k = smallest k with Σ_{i≤k} σᵢ² / Σ σᵢ² ≥ τ (policy energy:τ), or k = min(r, in, out) (policy rank:r),
    W_k = W·V_k·V_kᵀ, stored as us = W·V_k (in x k) and vt = V_kᵀ (k x out),
and the layer stays dense when k·(in + out) ≥ in·out. `--hypotheses` also fits the alternatives (inputs of
the already-compressed model, an absolute ridge, XᵀX / n) so the report shows which one lrm implements.

The calibration set. lrm holds out the last V training records for validation (`--validation last`, the
default; a random hold-out cannot be checked here) and draws
`calibration.count` samples from the first N − V. With count = N − V (e.g. --validation-samples 6000
--calibration-samples 54000 on MNIST) that draw is the whole pool, whatever the sampler: the check is exact.
Builds before commit f8085c9 refused count = N − V (they required count + V < N); with count = N − V − 1
exactly one record of the pool is left out, and the script finds it from the file, without reproducing
lrm's sampler: removing record i changes each layer's Σσᵢ² and Σσᵢ⁴ by amounts known in closed form, so
the records whose removal best matches the recorded spectra's moments (two per layer) are short-listed, and
the one whose full spectra then match best is taken; it must fit clearly better than the runner-up (both
are printed). `--omit INDEX` names the record instead. Any other count is refused: the set would be unknown.

Tolerances. lrm's SVD is LAPACK gesdd in single precision by default (`method` "whitened gesdd-f32";
`--precision double` gives gesdd-f64), and the factors may be stored as f32; the calibration inputs are
float32 in both implementations (pixels · float32(1/255), float32 activations), so float32 rounding
(unit roundoff 6e-8, grown by the sums over ~54,000 samples) bounds the agreement. Measured on the MNIST
sample at τ = 0.9, 0.95, 0.99 and rank:32, single precision: singular values ≤ 7e-7 relative, energies
≤ 3e-8, relative errors ≤ 6e-8, products and subspaces ≤ 3e-5 (at gaps σ_k − σ_k+1 down to 3e-4·σ₁).
Each tolerance is 10 to 50 times its measurement, and below what a real difference produces: another ridge
or other inputs give 1e-4 to 1e-1 (see --hypotheses), and even leaving out the wrong one of the 54,000
calibration records gives 3e-5 on the singular values and 3e-4 on the subspace:
  SV_TOL        max |σ_lrm − σ_ref| / σ_ref over the top-k values (they choose k and form W_k), and
                max |σ_lrm − σ_ref| / σ₁ over all stored values (the tail is rounding-dominated);
  ENERGY_TOL    |retained_energy − reference energy at k|; also the margin below which a different k is
                reported as a tie (τ within rounding of a cumulative energy), not as a failure;
  REL_ERR_TOL   |relative_error − ‖W − W_k‖/‖W‖| (or the product tolerance, if larger);
  PRODUCT_TOL   ‖us·vt − W_k‖_F / ‖W_k‖_F and the sine of the largest principal angle between the row
                spaces of vt and V_kᵀ; raised to GAP_NOISE·σ₁/(σ_k − σ_k+1) when the gap at the cut is small
                (Davis–Kahan: the retained subspace is only determined to noise / gap);
  FORM_TOL      us = W·vtᵀ and vt·vtᵀ = I within the file itself (the stated form of the factors).
f16 and bf16 factors are rounded far more coarsely: the factor tolerances then widen to the dtype.

Exit status: 0 everything agrees; 1 a disagreement beyond tolerance; 2 bad usage or unusable inputs.
"""

import argparse
import fnmatch
import gzip
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - environment problem
    sys.exit("check_whitened_reference.py: needs h5py (pip install h5py numpy)")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lrm_reader  # noqa: E402  (the independent container reader, tools/lrm_reader.py)

SV_TOL = 1e-5
ENERGY_TOL = 1e-6
REL_ERR_TOL = 1e-6
PRODUCT_TOL = 1e-5
GAP_NOISE = 1e-7
FORM_TOL = 1e-5
# Factor dtypes coarser than f32: unit roundoff of the storage format (f16 2^-11, bf16 2^-8), times a margin.
DTYPE_FACTOR_TOL = {"f64": 0.0, "f32": 0.0, "f16": 10 * 2.0 ** -11, "bf16": 10 * 2.0 ** -8}
# A short-listed omitted record must fit at least this many times better than the runner-up.
OMIT_SEPARATION = 5.0
SHORTLIST = 16

# Folder and file names of the IDX data sets the script can read (same layout as lrm's --data folder).
IDX_TRAIN_IMAGES = {"mnist": "mnist/train-images-idx3-ubyte.gz",
                    "fashion-mnist": "fashion-mnist/train-images-idx3-ubyte.gz"}


def fail_usage(message):
    print("check_whitened_reference.py: error: " + message, file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------- inputs

def parse_scale(text):
    """A number or a fraction such as 1/255, as the float32 the model's inputs are multiplied by."""
    return np.float32(float(Fraction(text)))


def load_idx_images(path):
    """Training images of an IDX file (gzip), as uint8 rows of 28·28 pixels, row-major."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 0x00000803:
        fail_usage("%s: not an IDX image file (magic 0x%08x)" % (path, magic))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def keras_dense_chain(path):
    """The Dense layers of a legacy Keras .h5 Sequential MLP, in order: name, kernel, bias, activation.

    Only layers that do not change values between Dense layers are allowed around them (input, flatten,
    dropout); anything else would need a real Keras forward pass and is refused.
    """
    with h5py.File(path, "r") as f:
        if "model_config" not in f.attrs:
            fail_usage("%s: no model_config (give a full-model legacy .h5)" % path)
        config = json.loads(f.attrs["model_config"])
        weights = f["model_weights"]
        chain = []
        for layer in config["config"]["layers"]:
            kind, cfg = layer["class_name"], layer["config"]
            if kind in ("InputLayer", "Flatten", "Dropout"):
                continue
            if kind != "Dense":
                fail_usage("%s: layer %r is a %s; this check handles Dense MLPs only" % (path, cfg["name"], kind))
            group = weights[cfg["name"]]
            arrays = {}
            for wname in group.attrs["weight_names"]:
                wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                arrays[wname.split("/")[-1].split(":")[0]] = np.array(group[wname])
            chain.append({"name": cfg["name"], "kernel": arrays["kernel"].astype(np.float32),
                          "bias": arrays.get("bias"), "activation": cfg.get("activation", "linear")})
        return chain


def activate(name, z):
    if name == "relu":
        return np.maximum(z, np.float32(0))
    if name == "linear":
        return z
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return (1 / (1 + np.exp(-z))).astype(np.float32)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    fail_usage("activation %r is not handled" % name)


def dense_forward(x, kernel, bias, act):
    z = x @ kernel
    if bias is not None:
        z = z + bias.astype(np.float32)
    return activate(act, z.astype(np.float32))


def original_inputs(chain, x0):
    """Each Dense layer's inputs under the original model (float32, as Keras computes them)."""
    inputs, x = [], x0
    for layer in chain:
        inputs.append(x)
        x = dense_forward(x, layer["kernel"], layer["bias"], layer["activation"])
    return inputs


# --------------------------------------------------------------------------- the method

def gram(x):
    """XᵀX in float64, accumulated in chunks (the float64 copy of X is never whole in memory)."""
    g = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), 8192):
        c = x[start:start + 8192].astype(np.float64)
        g += c.T @ c
    return g


def whitened_svd(g, w, ridge, relative=True, values_only=False):
    """Singular values and right singular vectors (rows) of Lᵀ·W with G + λI = L·Lᵀ, and L itself
    (or the singular values alone).

    λ = ridge · mean(diag G) when relative (the documented rule), else λ = ridge.
    """
    lam = ridge * float(np.mean(np.diag(g))) if relative else ridge
    chol = np.linalg.cholesky(g + lam * np.eye(len(g)))
    if values_only:
        return np.linalg.svd(chol.T @ w.astype(np.float64), compute_uv=False)
    _, s, vt = np.linalg.svd(chol.T @ w.astype(np.float64), full_matrices=False)
    return s, vt, chol


def cumulative_energy(s):
    e = np.cumsum(s.astype(np.float64) ** 2)
    return e / e[-1]


def rule_rank(policy, parameter, s):
    """k chosen by the layer's policy on the spectrum s, or None if the policy is not handled here."""
    if policy == "energy":
        return int(np.argmax(cumulative_energy(s) >= parameter)) + 1  # smallest k with E(k) ≥ τ
    if policy == "rank":
        return int(min(int(parameter), len(s)))
    return None


def tie_margin(policy, parameter, s, k):
    """How far τ is from the cumulative energies on either side of the cut k (inf for rank:k)."""
    if policy != "energy":
        return math.inf
    e = cumulative_energy(s)
    below = e[k - 2] if k >= 2 else 0.0
    return float(min(abs(parameter - below), abs(e[k - 1] - parameter)))


# --------------------------------------------------------------------------- the file

def lrm_layers(path):
    """The file's decoded content and its Dense/factorized layers, with float64 tensor values."""
    with lrm_reader.open_lrm(path) as f:
        f.verify()
        content = f.to_dict(values=False)
        tensors = {t["name"]: f.tensor_values64(i) for i, t in enumerate(f.tensors)}
    layers = []
    for layer in content["model"]["layers"]:
        if layer["kind"] == "flatten":
            continue
        if layer["kind"] not in ("dense", "factorized_dense"):
            fail_usage("%s: layer %r is %s; this check handles chains of Dense layers only"
                       % (path, layer["name"], layer["kind"]))
        def tensor(field):
            ref = layer.get(field)
            return None if ref is None else tensors[content["tensors"][ref]["name"]]
        entry = {"name": layer["name"], "kind": layer["kind"], "activation": layer["activation"],
                 "bias": tensor("bias")}
        if layer["kind"] == "dense":
            entry["kernel"] = tensor("kernel")
        else:
            entry.update(us=tensor("us"), vt=tensor("vt"), fact=layer["factorization"])
        layers.append(entry)
    return content, layers


def lrm_forward_inputs(layers, x0):
    """Each layer's inputs under the converted model (its own weights), float32 - for --hypotheses."""
    inputs, x = [], x0
    for layer in layers:
        inputs.append(x)
        kernel = layer["kernel"] if layer["kind"] == "dense" else layer["us"] @ layer["vt"]
        x = dense_forward(x, kernel.astype(np.float32), layer["bias"], layer["activation"])
    return inputs


def meta(content, key):
    entry = content["metadata"].get(key)
    return None if entry is None else entry["value"]


# --------------------------------------------------------------------------- the omitted record

def spectrum_misfit(s_file, s_ref):
    """Worst |σ_lrm − σ_ref| / σ_ref,1 over the stored values."""
    n = len(s_file)
    return float(np.max(np.abs(np.asarray(s_file) - s_ref[:n])) / s_ref[0])


def find_omitted(grams, inputs, kernels, fact_layers, ridge):
    """The pool record lrm left out of calibration (see the module docstring).

    Returns (index, problem, lines): problem is None when the record is identified, else why not (index is
    then the best fit, so that the comparison can still show where the spectra disagree).

    Removing record i (input x, a = Wᵀx) turns M = Wᵀ(G + λI)W into M − a·aᵀ + (λᵢ − λ)·WᵀW, with
    λᵢ = ridge·(tr G − ‖x‖²)/in, and Σσ² = tr M, Σσ⁴ = ‖M‖_F². Both are computed in closed form for every
    record and compared with the file's spectra (two numbers per layer); the short list is then decided on
    the whole spectra.
    """
    n_pool = len(inputs[0])
    score = np.zeros(n_pool)
    for j, fact in fact_layers.items():
        x, w, g = inputs[j], kernels[j].astype(np.float64), grams[j]
        s_file = np.asarray(fact["singular_values"], dtype=np.float64)
        if len(s_file) < min(w.shape):
            continue  # a partial (randomized) spectrum has no moments to compare
        p_mat = w.T @ g @ w
        q_mat = w.T @ w
        a_sq, x_sq, a_p_a, a_q_a = (np.zeros(n_pool) for _ in range(4))
        for start in range(0, n_pool, 8192):
            chunk = slice(start, start + 8192)
            c = x[chunk].astype(np.float64)
            a = c @ w
            a_sq[chunk] = np.sum(a * a, axis=1)
            x_sq[chunk] = np.sum(c * c, axis=1)
            a_p_a[chunk] = np.sum((a @ p_mat) * a, axis=1)
            a_q_a[chunk] = np.sum((a @ q_mat) * a, axis=1)
        lam = ridge * (np.trace(g) - x_sq) / w.shape[0]
        moment2 = np.trace(p_mat) - a_sq + lam * np.trace(q_mat)
        moment4 = (np.sum(p_mat * p_mat) + a_sq ** 2 + lam ** 2 * np.sum(q_mat * q_mat) - 2 * a_p_a
                   + 2 * lam * np.sum(p_mat * q_mat) - 2 * lam * a_q_a)
        for moment, want in ((moment2, np.sum(s_file ** 2)), (moment4, np.sum(s_file ** 4))):
            score += ((moment - want) / want) ** 2
    shortlist = np.argsort(score)[:SHORTLIST]
    fits = []
    for i in shortlist:
        worst = 0.0
        for j, fact in fact_layers.items():
            xi = inputs[j][i].astype(np.float64)
            s = whitened_svd(grams[j] - np.outer(xi, xi), kernels[j], ridge, values_only=True)
            worst = max(worst, spectrum_misfit(fact["singular_values"], s))
        fits.append((worst, int(i)))
    fits.sort()
    lines = ["omitted calibration record: short list by Σσ², Σσ⁴ (then by the worst spectrum misfit / σ₁):"]
    lines += ["  training record %6d: moment misfit %.2e, spectrum misfit %.2e" % (i, math.sqrt(score[i]), f)
              for f, i in fits]
    best, runner_up = fits[0], fits[1]
    if best[0] > SV_TOL:
        problem = ("no single left-out record explains the recorded spectra (best misfit %.1e > %.0e): the "
                   "calibration set, the ridge or the inputs differ from the reference" % (best[0], SV_TOL))
    elif best[0] * OMIT_SEPARATION > runner_up[0]:
        problem = ("the left-out record is ambiguous: %d fits only %.1fx better than %d (need %.0fx); name it "
                   "with --omit" % (best[1], runner_up[0] / max(best[0], 1e-300), runner_up[1], OMIT_SEPARATION))
    else:
        lines.append("  taking record %d (%.0fx better than the runner-up)" % (best[1], runner_up[0] / best[0]))
        return best[1], None, lines
    lines.append("  " + problem + "; comparing with record %d left out" % best[1])
    return best[1], problem, lines


# --------------------------------------------------------------------------- checks

class Verdict:
    def __init__(self):
        self.failures = []
        self.notes = []

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok


def principal_sine(vt_a, vt_b):
    """sin of the largest principal angle between the row spaces of two k x out matrices."""
    qa, _ = np.linalg.qr(vt_a.T)
    qb, _ = np.linalg.qr(vt_b.T)
    c = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(math.sqrt(max(0.0, 1.0 - float(np.min(c)) ** 2)))


def compare_layer(layer_ref, layer_file, g, args, verdict):
    """One row of the table, after recording every disagreement of this layer in verdict."""
    name, w = layer_ref["name"], layer_ref["kernel"].astype(np.float64)
    n_in, n_out = w.shape
    s_ref, vt_ref, chol = whitened_svd(g, w, args.ridge)
    row = {"layer": name, "shape": "%dx%d" % (n_in, n_out)}

    def bad(ok, what):
        return verdict.check(ok, "%s: %s" % (name, what))

    excluded = any(fnmatch.fnmatchcase(name, p) for p in args.exclude)
    if layer_file["kind"] == "dense":
        # Kept dense: by --exclude, or because its rank does not pay. Its kernel must be the original.
        bad(np.array_equal(layer_file["kernel"], w), "kept dense but its kernel differs from the original")
        k_rule = rule_rank(args.policy, args.parameter, s_ref)
        if excluded:
            status = "dense (excluded)"
        elif k_rule is None:
            status = "dense (policy %r not checked)" % args.policy
        elif k_rule * (n_in + n_out) >= n_in * n_out:
            status = "dense: k=%d does not pay" % k_rule
        else:
            status = "dense, but k=%d pays !" % k_rule
            bad(False, "kept dense although the reference rank %d pays (%d < %d)"
                % (k_rule, k_rule * (n_in + n_out), n_in * n_out))
        row.update(k="-/%s" % ("?" if k_rule is None else k_rule), status=status)
        return row

    fact, us, vt = layer_file["fact"], layer_file["us"], layer_file["vt"]
    k = int(fact["rank"])
    bad(not excluded, "factorized although excluded")
    bad((fact["in_features"], fact["out_features"]) == (n_in, n_out), "in/out features differ from the kernel")
    bad(k * (n_in + n_out) < n_in * n_out, "factorized at rank %d, which does not pay" % k)

    # The rank by the layer's own policy, on the reference spectrum.
    k_rule = rule_rank(fact["policy"], fact["policy_parameter"], s_ref)
    status = "ok"
    if k_rule is None:
        verdict.notes.append("%s: policy %r is not checked; compared at the file's rank" % (name, fact["policy"]))
        status = "policy not checked"
    elif k_rule != k:
        margin = tie_margin(fact["policy"], fact["policy_parameter"], s_ref, k_rule)
        if margin < ENERGY_TOL:
            verdict.notes.append("%s: rank %d vs %d is a tie (τ is %.1e from a cumulative energy)"
                                 % (name, k, k_rule, margin))
            status = "rank tie"
        else:
            bad(False, "rank %d, the reference rule gives %d (τ is %.1e from that cut)" % (k, k_rule, margin))

    # Everything below is compared at the file's rank k, so that a rank difference is reported once.
    e_ref = float(cumulative_energy(s_ref)[k - 1])
    d_energy = fact["retained_energy"] - e_ref
    bad(abs(d_energy) <= ENERGY_TOL, "retained_energy %.9f, reference %.9f" % (fact["retained_energy"], e_ref))

    s_file = np.asarray(fact["singular_values"], dtype=np.float64)
    m = min(k, len(s_file))
    bad(m == k, "only %d singular values stored for rank %d" % (len(s_file), k))
    d_top = float(np.max(np.abs(s_file[:m] - s_ref[:m]) / s_ref[:m]))
    d_all = spectrum_misfit(s_file, s_ref)
    bad(d_top <= SV_TOL, "top-%d singular values differ by up to %.2e (relative)" % (k, d_top))
    bad(d_all <= SV_TOL, "stored singular values differ by up to %.2e of σ₁" % d_all)
    if len(s_file) == min(n_in, n_out):  # the whole spectrum: the recorded energy must be its own
        e_file = float(cumulative_energy(s_file)[k - 1])
        bad(abs(fact["retained_energy"] - e_file) <= ENERGY_TOL,
            "retained_energy %.9f, but the stored spectrum gives %.9f" % (fact["retained_energy"], e_file))

    # The factors: W_k = W·V_k·V_kᵀ, stored as us = W·V_k and vt = V_kᵀ. They are unique only up to signs
    # (and rotations within equal singular values), so the product and the subspace are compared.
    v_k = vt_ref[:k]
    w_k = w @ v_k.T @ v_k
    product = us @ vt
    gap = (s_ref[k - 1] - s_ref[k]) if k < len(s_ref) else s_ref[k - 1]
    dtype_tol = DTYPE_FACTOR_TOL.get(args.factor_dtype, 0.0)
    product_tol = max(PRODUCT_TOL, GAP_NOISE * s_ref[0] / gap, dtype_tol)
    d_product = float(np.linalg.norm(product - w_k) / np.linalg.norm(w_k))
    sine = principal_sine(vt, v_k)
    bad(d_product <= product_tol, "‖us·vt − W_k‖/‖W_k‖ = %.2e (tolerance %.1e)" % (d_product, product_tol))
    bad(sine <= product_tol, "row space of vt is %.2e (sin) from V_k (tolerance %.1e)" % (sine, product_tol))
    d_form = max(float(np.linalg.norm(us - w @ vt.T) / np.linalg.norm(us)),
                 float(np.max(np.abs(vt @ vt.T - np.eye(k)))))
    bad(d_form <= max(FORM_TOL, dtype_tol), "factors are not W·V_k and an orthonormal V_kᵀ (%.2e)" % d_form)

    # The plain relative error of the spec: recorded vs the reference W_k and vs the file's own product.
    w_norm = np.linalg.norm(w)
    rel_ref = float(np.linalg.norm(w - w_k) / w_norm)
    rel_file = float(np.linalg.norm(w - product) / w_norm)
    d_rel = fact["relative_error"] - rel_ref
    bad(abs(d_rel) <= max(REL_ERR_TOL, product_tol),
        "relative_error %.9f, reference %.9f" % (fact["relative_error"], rel_ref))
    bad(abs(fact["relative_error"] - rel_file) <= max(REL_ERR_TOL, dtype_tol),
        "relative_error %.9f, but the stored factors give %.9f" % (fact["relative_error"], rel_file))

    # Optimality in the whitened metric (Eckart–Young there): ‖Lᵀ(W − us·vt)‖ / ‖LᵀW‖ = √(1 − E).
    white = float(np.linalg.norm(chol.T @ (w - product)) / np.linalg.norm(chol.T @ w))
    d_white = white - math.sqrt(max(0.0, 1.0 - e_ref))
    bad(abs(d_white) <= max(ENERGY_TOL, product_tol),
        "whitened error of the stored factors %.9f, optimum √(1 − E) %.9f" % (white, white - d_white))

    if any(f.startswith(name + ":") for f in verdict.failures):
        status = "DISAGREES"
    row.update(k="%d/%s" % (k, "?" if k_rule is None else k_rule), energy="%.6f" % fact["retained_energy"],
               d_energy="%.1e" % d_energy, d_top="%.1e" % d_top, d_all="%.1e" % d_all,
               product="%.1e" % d_product, sine="%.1e" % sine, tol="%.0e" % product_tol,
               form="%.1e" % d_form, rel_err="%.6f" % fact["relative_error"], d_rel="%.1e" % d_rel,
               white="%.6f" % white, d_white="%.1e" % d_white, method=fact["method"], status=status)
    return row


COLUMNS = [("layer", "layer"), ("shape", "in×out"), ("k", "k lrm/ref"), ("energy", "energy"),
           ("d_energy", "Δenergy"), ("d_top", "Δσ top-k"), ("d_all", "Δσ all/σ₁"), ("product", "Δ us·vt"),
           ("sine", "sin∠V_k"), ("tol", "tol"), ("form", "form"), ("rel_err", "rel.err"), ("d_rel", "Δrel.err"),
           ("white", "whitened err"), ("d_white", "Δ√(1−E)"), ("method", "method"), ("status", "status")]
LEGEND = """\
  k lrm/ref   the file's rank / the rank the layer's policy picks on the reference spectrum
  energy      recorded retained_energy; Δenergy = recorded − reference Σᵢ≤ₖσᵢ²/Σσᵢ² (at the file's k)
  Δσ top-k    max |σ_lrm − σ_ref| / σ_ref over i ≤ k;  Δσ all/σ₁: max |σ_lrm − σ_ref| / σ₁ over all stored
  Δ us·vt     ‖us·vt − W_k‖_F / ‖W_k‖_F;  sin∠V_k: largest principal angle between row spaces of vt and V_kᵀ;
              tol: the tolerance of both, max(PRODUCT_TOL, GAP_NOISE·σ₁/(σ_k − σ_k+1), factor dtype)
  form        max(‖us − W·vtᵀ‖/‖us‖, max|vt·vtᵀ − I|): the factors are W·V_k and V_kᵀ
  rel.err     recorded relative_error; Δrel.err = recorded − ‖W − W_k‖/‖W‖
  whitened err ‖Lᵀ(W − us·vt)‖/‖LᵀW‖ of the file's factors; Δ√(1−E) = that − √(1 − E_ref) (Eckart–Young)"""


def print_table(rows):
    widths = {key: max(len(title), *(len(str(r.get(key, ""))) for r in rows)) for key, title in COLUMNS}
    print("  ".join(title.ljust(widths[key]) for key, title in COLUMNS).rstrip())
    for r in rows:
        print("  ".join(str(r.get(key, "")).ljust(widths[key]) for key, _ in COLUMNS).rstrip())
    print(LEGEND)


# --------------------------------------------------------------------------- --hypotheses

def hypotheses(chain, inputs_lrm, grams, file_layers, n, ridge):
    """How well each alternative definition explains the recorded spectra.

    Two numbers per fit: max |σ_lrm − σ_ref| / σ₁ (sensitive to the inputs and the overall scale) and
    max |σ_lrm − σ_ref| / σ_ref over all stored values (sensitive to the ridge, which only moves the tail).
    """
    print()
    print("hypotheses: worst |σ_lrm − σ_ref| / σ₁ and / σ_ref over the stored values (lrm: the smallest)")
    rows = []
    for j, layer in enumerate(chain):
        if file_layers[j]["kind"] != "factorized_dense":
            continue
        s_file = np.asarray(file_layers[j]["fact"]["singular_values"])
        w, g = layer["kernel"], grams[j]
        mean_diag = float(np.mean(np.diag(g)))
        def absolute(lam):
            return whitened_svd(g, w, lam, relative=False, values_only=True)
        fits = [
            ("documented: original-model inputs, λ = ridge·mean diag XᵀX", lambda: absolute(ridge * mean_diag)),
            ("inputs from the compressed model (earlier layers factorized)",
             lambda: whitened_svd(gram(inputs_lrm[j]), w, ridge, values_only=True) if j else None),
            ("λ = ridge (absolute)", lambda: absolute(ridge)),
            ("λ = ridge·mean diag (XᵀX / n), added to XᵀX", lambda: absolute(ridge * mean_diag / n)),
            ("λ = ridge·trace XᵀX", lambda: absolute(ridge * mean_diag * len(g))),
            ("λ = 0", lambda: absolute(0.0)),
            ("G = XᵀX / n (σ scaled by 1/√n)", lambda: whitened_svd(g / n, w, ridge, values_only=True)),
        ]
        for what, fit in fits:
            try:
                s = fit()
            except np.linalg.LinAlgError:
                rows.append((layer["name"], what, "Cholesky fails (XᵀX singular)"))
                continue
            if s is None:
                rows.append((layer["name"], what, "same as documented (first layer)"))
                continue
            m = len(s_file)
            rows.append((layer["name"], what, "%.2e  %.2e" % (spectrum_misfit(s_file, s),
                                                             float(np.max(np.abs(s_file - s[:m]) / s[:m])))))
    width = max(len(r[1]) for r in rows)
    for name, what, fit in rows:
        print("  %-8s %s  %s" % (name, what.ljust(width), fit))


# --------------------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(
        description="Independent reference for lrm's whitened truncation, checked against a converted file.",
        epilog="See the top of this script for the method, the calibration set and the tolerances.")
    parser.add_argument("model", help="the original Keras legacy full-model .h5 (a Dense MLP)")
    parser.add_argument("converted", help="the .lrm written by lrm convert with the whitened metric")
    parser.add_argument("--data", required=True, help="folder with the data sets (as lrm's --data)")
    parser.add_argument("--dataset", default="mnist", choices=sorted(IDX_TRAIN_IMAGES))
    parser.add_argument("--validation-samples", type=int, required=True,
                        help="as given to lrm convert (the last V training records are held out)")
    parser.add_argument("--input-scale", default="1/255", help="as given to lrm convert (default 1/255)")
    parser.add_argument("--ridge", type=float, default=1e-6, help="as given to lrm convert (default 1e-6)")
    parser.add_argument("--data-seed", type=int, default=1, help="as given to lrm convert (default 1)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="as given to lrm convert (repeatable)")
    parser.add_argument("--omit", type=int, metavar="INDEX",
                        help="the pool record lrm left out of calibration (default: find it)")
    parser.add_argument("--hypotheses", action="store_true",
                        help="also fit alternative definitions (inputs, ridge scaling, XᵀX / n)")
    args = parser.parse_args()

    verdict = Verdict()
    chain = keras_dense_chain(args.model)
    try:
        content, file_layers = lrm_layers(args.converted)
    except lrm_reader.LrmError as e:
        fail_usage(e.line())
    if [l["name"] for l in file_layers] != [l["name"] for l in chain]:
        fail_usage("the .lrm's dense layers %s are not the model's %s"
                   % ([l["name"] for l in file_layers], [l["name"] for l in chain]))
    args.policy = meta(content, "conversion.policy")
    args.parameter = meta(content, "conversion.parameter")
    args.factor_dtype = meta(content, "conversion.factor_dtype") or "f32"
    images = load_idx_images(os.path.join(args.data, IDX_TRAIN_IMAGES[args.dataset]))
    pool_size = len(images) - args.validation_samples
    scale = parse_scale(args.input_scale)

    # Metadata: the metric and the calibration set, against what this check was told.
    print("metadata:")
    expected = [("conversion.metric", "whitened"), ("calibration.dataset", args.dataset),
                ("calibration.split", "train"), ("calibration.seed", args.data_seed),
                ("calibration.ridge", args.ridge)]
    for key, want in expected:
        got = meta(content, key)
        ok = verdict.check(got == want, "metadata %s is %r, expected %r" % (key, got, want))
        print("  %-24s %-12r %s" % (key, got, "ok" if ok else "expected %r" % (want,)))
    count = meta(content, "calibration.count")
    usable = count in (pool_size, pool_size - 1)
    print("  %-24s %-12r %s" % ("calibration.count", count,
                                 "ok: the first %d training records%s" % (pool_size, "" if count == pool_size
                                                                          else " but one") if usable else
                                 "cannot be checked: needs N − V = %d or N − V − 1" % pool_size))
    for key in ("conversion.policy", "conversion.parameter", "conversion.factor_dtype"):
        print("  %-24s %r" % (key, meta(content, key)))
    file_scale = content["model"]["input"]["scale"]
    verdict.check(len(file_scale) == 1 and np.float32(file_scale[0]) == scale,
                  "the file's input scale %r is not %s" % (file_scale, args.input_scale))
    if meta(content, "conversion.metric") != "whitened":
        print("FAIL " + "\nFAIL ".join(verdict.failures))
        print("DISAGREES: not a whitened conversion")
        return 1
    if not usable:
        fail_usage("calibration.count %r: rerun lrm convert with --calibration-samples %d (N − V)"
                   % (count, pool_size))

    # Calibration inputs under the original model, their Gram matrices, minus the omitted record if any.
    x0 = images[:pool_size].astype(np.float32) * scale
    inputs = original_inputs(chain, x0)
    grams = [gram(x) for x in inputs]
    omitted = args.omit
    if count == pool_size - 1:
        if omitted is None:
            fact_layers = {j: f["fact"] for j, f in enumerate(file_layers) if f["kind"] == "factorized_dense"}
            if not fact_layers:
                fail_usage("no factorized layer to locate the omitted calibration record with; give --omit")
            omitted, problem, lines = find_omitted(grams, inputs, [l["kernel"] for l in chain], fact_layers,
                                                   args.ridge)
            print("\n".join(lines))
            if problem:
                verdict.check(False, problem)
        if not 0 <= omitted < pool_size:
            fail_usage("--omit %d is not a record of the pool (0 to %d)" % (omitted, pool_size - 1))
        for j, x in enumerate(inputs):
            xi = x[omitted].astype(np.float64)
            grams[j] -= np.outer(xi, xi)
    elif omitted is not None:
        fail_usage("--omit given, but calibration.count is the whole pool")

    print()
    rows = [compare_layer(chain[j], file_layers[j], grams[j], args, verdict) for j in range(len(chain))]
    print_table(rows)

    if args.hypotheses:
        keep = np.ones(pool_size, dtype=bool)
        if omitted is not None:
            keep[omitted] = False
        inputs_lrm = lrm_forward_inputs(file_layers, x0[keep])
        hypotheses(chain, inputs_lrm, grams, file_layers, int(keep.sum()), args.ridge)

    print()
    for note in verdict.notes:
        print("note: " + note)
    for failure in verdict.failures:
        print("FAIL " + failure)
    print("%s: %d disagreement(s) beyond tolerance" % ("DISAGREES" if verdict.failures else "AGREES",
                                                       len(verdict.failures)))
    return 1 if verdict.failures else 0


if __name__ == "__main__":
    sys.exit(main())
