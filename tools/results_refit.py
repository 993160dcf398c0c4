#!/usr/bin/env python3
"""Writes the issue-13 section of docs/RESULTS.md from the JSON tools/reproduce_refit.sh leaves in out/results-refit/.

Usage: python3 tools/results_refit.py out/results-refit > section.md
"""
import glob
import json
import os
import sys

# Epochs asked for in tools/reproduce_refit.sh (early stopping may run fewer).
REQUESTED = {("mnist_mlp", "finetune"): 5, ("mnist_mlp", "finetune-long"): 10, ("cifar10_mlp", "finetune"): 6,
             ("cifar10_mlp", "finetune-long"): 12, ("cifar100_mlp", "finetune"): 3}
# Augmentation options of the finetune-aug rows.
AUGMENTED = {"mnist_mlp": ("--finetune 10 --finetune-shift 1"), "cifar10_mlp": "--finetune 12 --finetune-shift 2 --finetune-flip",
             "cifar100_mlp": "--finetune 6 --finetune-shift 2 --finetune-flip"}
# The same, with longer fine-tuning (finetune-aug-long rows).
AUGMENTED_LONG = {"cifar10_mlp": "--finetune 60 --finetune-shift 2 --finetune-flip"}
TARGETS = {"mnist_mlp": (0.06, 0.5), "cifar10_mlp": (0.05, 0.5), "cifar100_mlp": (0.10, 1.0)}
TAGS = {"no-refit": "truncation only (`--no-refit`)", "refit": "truncation + refit (default)",
        "finetune": "truncation + refit + `--finetune`", "finetune-long": "truncation + refit + `--finetune`",
        "finetune-aug": "truncation + refit + `--finetune`", "finetune-aug-long": "truncation + refit + `--finetune`", "old": "held-out estimate, no refit, no confirmation (lrm before issue 13)",
        "default": "default (refit, estimate chosen by the check, choice confirmed)",
        "refit-z1.645": "truncation + refit, `--confidence 1.645`", "refit-z2": "truncation + refit, `--confidence 2`"}


def load(directory, name):
    path = os.path.join(directory, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    return json.loads(text) if text.strip() else None


def row(report):
    s = report["search"]
    val = 100 * (s["validation_accuracy_original"] - s["validation_accuracy"])
    test = 100 * (s["test_accuracy_original"] - s["test_accuracy"])
    return s, val, test


def more_validation(directory, w):
    """CIFAR-10 rows with more records to select and confirm on than the sample's 2,000 (skipped when not run)."""
    rows = [("cifar10_mlp", "testhalf-refit", "truncation + refit, `--estimate test-half`"),
            ("cifar10_mlp", "testhalf-finetune-long", "truncation + refit + `--finetune 12 --estimate test-half`"),
            ("cifar10_mlp", "testhalf-finetune-aug", "truncation + refit + `--finetune 12 --finetune-shift 2 --finetune-flip --estimate test-half`"),
            ("cifar10_mlp", "testhalf-finetune-aug-long", "truncation + refit + `--finetune 60 --finetune-shift 2 --finetune-flip --estimate test-half`"),
            ("cifar10_mlp_hold5k", "refit", "truncation + refit (default)"),
            ("cifar10_mlp_hold5k", "finetune-long", "truncation + refit + `--finetune 12`"),
            ("cifar10_mlp_hold5k", "finetune-aug", "truncation + refit + `--finetune 12 --finetune-shift 2 --finetune-flip`")]
    found = [(name, tag, method, load(directory, f"{name}-{tag}.json")) for name, tag, method in rows]
    found = [entry for entry in found if entry[3] is not None]
    if not found:
        return
    w("### CIFAR-10 with more records to select and confirm on")
    w("")
    w("Two ways to give the CIFAR-10 search 5,000 records instead of 2,000 (2,500 to select on and 2,500 to confirm on "
      "instead of 1,000 and 1,000). `--estimate test-half` (opt-in) selects and confirms on the first 5,000 test records; "
      "its **Δ test** is on the other 5,000, which nothing was selected on. `cifar10_mlp_hold5k` is the sample's recipe "
      "trained with the last 5,000 of the 20,000 training records held out instead of 2,000 "
      "(`tools/train_samples.py --only cifar10_mlp_hold5k`; 15,000 trained on), searched with `--validation-samples 5000`; "
      "it is a different, weaker original (test accuracy below), so its rows do not count for the sample's target.")
    w("")
    w("| model (original's test accuracy) | method | hidden fraction | validation drop (SE) | Δ test | 0.5 pp kept on test? | ≤ 0.05? |")
    w("|---|---|---:|---:|---:|---|---|")
    for name, tag, method, report in found:
        s, val, test = row(report)
        ft = s.get("finetune")
        method += f" ({len(ft['epochs']) - 1} epochs run, {ft['candidates']} candidates)" if ft else ""
        where = "second test half" if s.get("estimate") == "test-half" else "test"
        w(f"| {name} ({100 * report['test']['accuracy_original']:.2f}%) | {method} | {s['hidden_fraction']:.3f} "
          f"| {val:.2f} pp ({100 * s['validation_drop_standard_error']:.2f}) | {-test:+.2f} pp ({s['test_images_change']:+d}, {where}) "
          f"| {'yes' if test <= 0.5 + 1e-9 else '**no**'} | {'yes' if s['hidden_fraction'] <= 0.05 + 1e-9 else 'no'} |")
    w("")


def main():
    directory = sys.argv[1]
    out = []
    w = out.append
    w("## Refit, fine-tuning, and models trained on every record (issue 13)")
    w("")
    w("Measured with `tools/reproduce_refit.sh` (JSON in `out/results-refit/`). Every row is an accuracy-targeted search "
      "(`lrm convert MODEL --input-scale 1/255 --dataset D --validation-samples N --target-accuracy-drop X`); candidates "
      "are chosen on training records only, and **Δ test** is on the test split, which nothing was selected or tuned on. "
      "Fine-tuning trains on the training records outside the validation ones, minus a tenth that early stopping watches. "
      "By default the search selects on a random half of the validation records and re-judges its choice (and the fine-tuned "
      "candidates) on the other half, stepping back to a larger accepted candidate when the choice misses the budget there; "
      "**validation drop (SE)** is measured on that confirmation half, which nothing was selected on.")
    w("")
    w("### The samples")
    w("")
    w("| sample | budget | method | hidden fraction | validation drop (SE) | Δ test | budget kept on test? | target |")
    w("|---|---:|---|---:|---:|---:|---|---|")
    for name, (target, budget) in TARGETS.items():
        for tag in ("no-refit", "refit", "refit-z1.645", "refit-z2", "finetune", "finetune-long", "finetune-aug", "finetune-aug-long"):
            report = load(directory, f"{name}-{tag}.json")
            if report is None and tag in ("refit-z1.645", "refit-z2", "finetune-long", "finetune-aug", "finetune-aug-long"):
                continue
            if report is None:
                w(f"| {name} | {budget} pp | {TAGS[tag]} | not run | | | | |")
                continue
            s, val, test = row(report)
            ft = s.get("finetune")
            asked = REQUESTED.get((name, tag))
            method = TAGS[tag].replace("`--finetune`", f"`--finetune {asked}`" if asked else "`--finetune`")
            if tag == "finetune-aug":
                method = TAGS[tag].replace("`--finetune`", f"`{AUGMENTED[name]}`")
            if tag == "finetune-aug-long":
                method = TAGS[tag].replace("`--finetune`", f"`{AUGMENTED_LONG[name]}`")
            method += f" ({len(ft['epochs']) - 1} epochs run, {ft['candidates']} candidates)" if ft else ""
            if ft and ft.get("schedule"):
                method = method.replace(" epochs run,", f" epochs run, {ft['schedule']} rate,")
            if not ft and (s.get("confirmation") or {}).get("fine_tune_rejected"):
                method += " (no fine-tuned candidate kept the budget on the confirmation half: the search's choice, not fine-tuned)"
            met = s["hidden_fraction"] <= target + 1e-9 and test <= budget + 1e-9
            w(f"| {name} | {budget} pp | {method} | {s['hidden_fraction']:.3f} | {val:.2f} pp ({100 * s['validation_drop_standard_error']:.2f}) "
              f"| {-test:+.2f} pp ({s['test_images_change']:+d}) | {'yes' if test <= budget + 1e-9 else '**no**'} "
              f"| ≤ {target}: {'met' if met else 'not met'} |")
    w("")
    more_validation(directory, w)
    w("### MNIST MLPs trained on all 60,000 training records")
    w("")
    w("`mnist_mlp_all` is the sample's recipe with no record held out (`tools/train_samples.py --only mnist_mlp_all`); the "
      "`all_*` models come from `tools/train_all_records.py` (other architectures, batch sizes and seeds, one with "
      "BatchNormalization). lrm's validation records (the last 5,000) were trained on. The check compares the original's "
      "loss on them with its loss on the calibration records; `z` below 3 means no measurable gap. Then the memorization check "
      "compares the original's overconfidence (cross-entropy minus the entropy of its output) on the calibration records with "
      "that on the same records shifted by up to a pixel: when the difference is measurable (z ≥ 3) and at least a quarter of "
      "the loss on the shifted records, the validation records look seen, and the default judges candidates on them shifted "
      "by up to one pixel.")
    w("")
    w("| model | selection | estimate (z) | hidden fraction | validation drop (SE) | Δ test | 0.5 pp kept on test? |")
    w("|---|---|---|---:|---:|---:|---|")
    names = sorted(os.path.basename(p)[:-len("-old.json")] for p in glob.glob(os.path.join(directory, "*-old.json")))
    for name in names:
        for tag in ("old", "default", "finetune"):
            report = load(directory, f"{name}-{tag}.json")
            if report is None:
                continue
            s, val, test = row(report)
            exposure = s.get("exposure") or {}
            estimate = s.get("estimate", "held-out") + (f" ({exposure['z']:.1f})" if "z" in exposure else "")
            method = TAGS.get(tag, tag) if tag != "finetune" else "default + `--finetune 5`"
            w(f"| {name} | {method} | {estimate} | {s['hidden_fraction']:.3f} | {val:.2f} pp ({100 * s['validation_drop_standard_error']:.2f}) "
              f"| {-test:+.2f} pp ({s['test_images_change']:+d}) | {'yes' if test <= 0.5 + 1e-9 else '**no**'} |")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
