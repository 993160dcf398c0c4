#!/usr/bin/env python3
"""Accuracy against bytes on disk for f32, f16, i8 and i4 factors (docs/RESULTS.md, "Quantized factors").

For each sample and each factor dtype, converts at a grid of whitened energy thresholds (calibrated on the
training split; i8/i4 rounded with error feedback on the same calibration data; kernels that stay dense stored
in the same dtype, --all-kernels) and measures the written file's size and its accuracy on the test split
(lrm verify). The curves are measurements at fixed settings: nothing is chosen on the test split. The smallest
files within 0.5 and 1 point come from `lrm convert --target-accuracy-drop X --minimize bytes`, which chooses on a
validation split of the training records and reports the test split.

    python3 tools/quant_curves.py --lrm .build/release/lrm --out out/quant [--samples mnist_mlp,...]

Writes OUT/curves.json and prints the markdown tables.
"""
import argparse
import json
import math
import os
import subprocess
import sys

SAMPLES = {
    "mnist_mlp": ("mnist", 6000),
    "cifar10_mlp": ("cifar-10", 2000),
    "cifar100_mlp": ("cifar-100", 2500),
}
DTYPES = ["f32", "f16", "i8", "i4"]
LABELS = DTYPES + ["i8z", "i4z"]   # i8z/i4z: integer codes with zero points (--quant-scheme asymmetric)
# The thresholds of the tables in docs/RESULTS.md (whitened thresholds below 0.99 lose more than 10 points on
# the CIFAR samples).
TAUS = {
    "mnist_mlp": [0.9, 0.95, 0.97, 0.98, 0.99, 0.995],
    "cifar10_mlp": [0.99, 0.995, 0.998, 0.999],
    "cifar100_mlp": [0.99, 0.995, 0.998, 0.999],
}


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        sys.exit("failed (%d): %s\n%s" % (result.returncode, " ".join(cmd), result.stderr))
    return result.stdout


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lrm", default=".build/release/lrm")
    p.add_argument("--out", default="out/quant")
    p.add_argument("--samples", default=",".join(SAMPLES))
    p.add_argument("--dtypes", default=",".join(DTYPES))
    p.add_argument("--taus", help="comma-separated thresholds (default: each sample's in TAUS)")
    p.add_argument("--skip-targets", action="store_true")
    p.add_argument("--equal-bytes", action="store_true",
                   help="also convert i8 at each f16 point's bytes: the largest τ whose i8 file is no larger (chosen by size only)")
    p.add_argument("--quant-scheme", default="symmetric", choices=["symmetric", "asymmetric"],
                   help="integer codes without or with zero points (format 1.3); asymmetric points are labelled i8z/i4z")
    p.add_argument("--data", help="data folder passed to lrm (else $LRM_DATA, else ../shared/datasets)")
    p.add_argument("--markdown", help="also write the markdown section to this file")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    results = {}
    for name in a.samples.split(","):
        dataset, validation = SAMPLES[name]
        taus = [float(t) for t in a.taus.split(",")] if a.taus else TAUS[name]
        sample = "samples/%s.h5" % name
        data = ["--data", a.data] if a.data else []
        common = ["--input-scale", "1/255", "--dataset", dataset, "--validation-samples", str(validation)] + data
        points = []
        scheme = ["--quant-scheme", a.quant_scheme] if a.quant_scheme != "symmetric" else []
        for dtype in a.dtypes.split(","):
            integer = dtype in ("i8", "i4")
            label = dtype + ("z" if integer and scheme else "")
            for tau in taus:
                path = os.path.join(a.out, "%s-%s-%g.lrm" % (name, label, tau))
                run([a.lrm, "convert", sample] + common + ["--policy", "whitened:%g" % tau, "--factor-dtype", dtype,
                                                           "--all-kernels", "-o", path, "--json"] + (scheme if integer else []))
                report = json.loads(run([a.lrm, "verify", path, "--reference", sample, "--dataset", dataset, "--json"] + data))
                point = {"dtype": label, "tau": tau, "bytes": os.path.getsize(path),
                         "accuracy": report["compressed"]["accuracy"], "reference": report["reference"]["accuracy"]}
                print(name, point, file=sys.stderr)
                points.append(point)
        if a.equal_bytes:
            integer_scheme = scheme
            label = "i8" + ("z" if integer_scheme else "")
            for f16 in [q for q in points if q["dtype"] == "f16"]:
                point = equal_bytes_point(a, name, sample, dataset, common, data, integer_scheme, label, f16)
                print(name, point, file=sys.stderr)
                points.append(point)
        targets = []
        if not a.skip_targets:
            for drop in (0.5, 1.0):
                path = os.path.join(a.out, "%s-min-bytes-%g.lrm" % (name, drop))
                out = json.loads(run([a.lrm, "convert", sample] + common + ["--target-accuracy-drop", str(drop), "--minimize", "bytes",
                                                                            "-o", path, "--json"] + scheme))
                s = out["search"]
                targets.append({"drop": drop, "bytes": os.path.getsize(path), "storage": s.get("storage"),
                                "validation_drop": (s["validation_accuracy_original"] - s["validation_accuracy"]) * 100,
                                "test_accuracy": s["test_accuracy"], "test_reference": s["test_accuracy_original"]})
                print(name, targets[-1], file=sys.stderr)
        results[name] = {"points": points, "targets": targets}
    with open(os.path.join(a.out, "curves.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    text = markdown(results)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(text + "\n")
    print(text)


def equal_bytes_point(a, name, sample, dataset, common, data, scheme, label, f16):
    """i8 at the f16 point's bytes: the largest whitened τ whose i8 file is no larger than the f16 file.

    τ is bisected on x = −log10(1 − τ) between the f16 point's own τ (an i8 file of the same ranks is about half
    the size) and τ = 1 − 10⁻⁶, by the written file's size alone: no accuracy is looked at before the chosen file
    is verified on test, once."""
    def convert(x, path):
        tau = float("%.6g" % (1 - 10 ** -x))   # six digits, as the table prints it
        run([a.lrm, "convert", sample] + common + ["--policy", "whitened:%g" % tau, "--factor-dtype", "i8",
                                                   "--all-kernels", "-o", path, "--json"] + scheme)
        return tau, os.path.getsize(path)
    budget = f16["bytes"]
    best = os.path.join(a.out, "%s-%s-bytes-%d.lrm" % (name, label, budget))
    probe = best[:-len(".lrm")] + "-probe.lrm"
    lo, hi = -math.log10(1 - f16["tau"]), 6.0
    tau, size = convert(lo, best)
    if size > budget:
        sys.exit("%s: i8 at τ = %g (%d bytes) is larger than f16 (%d bytes)" % (name, f16["tau"], size, budget))
    steps = 0
    while hi - lo > 0.002 and steps < 14:
        mid = (lo + hi) / 2
        t, s = convert(mid, probe)
        if s <= budget:
            lo, tau, size = mid, t, s
            os.replace(probe, best)
        else:
            hi = mid
        steps += 1
    if os.path.exists(probe):
        os.remove(probe)
    report = json.loads(run([a.lrm, "verify", best, "--reference", sample, "--dataset", dataset, "--json"] + data))
    return {"dtype": label, "tau": tau, "bytes": size, "equal_bytes_to": budget,
            "accuracy": report["compressed"]["accuracy"], "reference": report["reference"]["accuracy"]}


def markdown(results):
    lines = [
        "## Quantized factors: accuracy against bytes on disk (issue 15)",
        "",
        "Each row converts with one whitened energy threshold τ for every layer (calibrated on 5,000 training records),",
        "the factors stored as f32, f16, or i8/i4 codes with f16 scales (one per output column; i8/i4 rounded with error",
        "feedback against the same calibration inputs), and the kernels of layers that stay dense in the same dtype",
        "(`--all-kernels`). Bytes are the written file's size on disk; accuracy is on the test split (10,000 images) at",
        "these fixed settings: nothing in the curves is chosen on test. The smallest files within 0.5 and 1 point come",
        "from `--target-accuracy-drop X --minimize bytes`, which chooses ranks and storage on the validation split only",
        "(the last training records) and is then measured on test. Written by `tools/quant_curves.py`:",
        "",
        "```sh",
        "lrm convert samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N --policy whitened:τ \\",
        "    --factor-dtype f32|f16|i8|i4 --all-kernels -o NAME-DTYPE-τ.lrm",
        "lrm verify NAME-DTYPE-τ.lrm --reference samples/NAME.h5 --dataset DATASET --json",
        "lrm convert samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N \\",
        "    --target-accuracy-drop X --minimize bytes --json -o NAME-min-bytes-X.lrm",
        "```",
        "",
    ]
    for name, r in results.items():
        ref = r["points"][0]["reference"] * 100
        lines.append("### %s (original %.2f%% on test)\n" % (name, ref))
        dtypes = [d for d in LABELS if any(p["dtype"] == d for p in r["points"])]
        lines.append("| τ | " + " | ".join("%s bytes | %s accuracy" % (d, d) for d in dtypes) + " |")
        lines.append("|---:|" + "---:|---:|" * len(dtypes))
        taus = sorted({p["tau"] for p in r["points"]})
        for tau in taus:
            row = ["%g" % tau]
            for d in dtypes:
                p = next((p for p in r["points"] if p["dtype"] == d and p["tau"] == tau), None)
                row += ["{:,}".format(p["bytes"]), "%.2f%%" % (p["accuracy"] * 100)] if p else ["", ""]
            lines.append("| " + " | ".join(row) + " |")
        # at equal bytes: for every f16 point, the best i8 point no larger (on the τ grid alone, and with the
        # --equal-bytes points), and the i8 point at its bytes alone
        f16s = [q for q in r["points"] if q["dtype"] == "f16"]
        def best_no_larger(p, grid_only):
            i8 = [q for q in r["points"] if q["dtype"] == "i8" and q["bytes"] <= p["bytes"]
                  and not (grid_only and "equal_bytes_to" in q)]
            best = max((q["accuracy"] for q in i8), default=None)
            return best is not None and best >= p["accuracy"]
        grid = [best_no_larger(p, True) for p in f16s]
        lines.append("\nAt equal bytes (every f16 point against the best i8 point no larger): i8 at least as accurate in %d of %d"
                     " on the τ grid alone." % (sum(grid), len(grid)))
        equal = [q for q in r["points"] if "equal_bytes_to" in q]
        if equal:
            both = [best_no_larger(p, False) for p in f16s]
            one = [any(q["equal_bytes_to"] == p["bytes"] and q["accuracy"] >= p["accuracy"] for q in equal) for p in f16s]
            lines.append("With the i8 points at each f16 point's bytes: %d of %d; each f16 point against the i8 point at its"
                         " bytes alone: %d of %d." % (sum(both), len(both), sum(one), len(one)))
        for t in r["targets"]:
            lines.append("- smallest within %.1f pp (validation): **{:,} bytes** ({}), test %.2f%% → %.2f%% (%+.2f pp)".format(
                t["bytes"], t["storage"]) % (t["drop"], t["test_reference"] * 100, t["test_accuracy"] * 100,
                                            (t["test_accuracy"] - t["test_reference"]) * 100))
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
