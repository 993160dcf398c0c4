#!/usr/bin/env python3
"""Writes docs/RESULTS.md (to stdout) from the JSON that tools/reproduce.sh leaves in out/results/.
Every number comes from those files; the reading at the end is computed from them too."""
import json
import os
import sys

SAMPLES = [("mnist_mlp", "MNIST", "784-512-256-10"), ("cifar10_mlp", "CIFAR-10", "3072-512-256-10"),
           ("cifar100_mlp", "CIFAR-100", "3072-512-256-100")]
METHODS = [("energy", "energy ARSVD (one τ, plain SVD)"), ("entropy", "entropy ARSVD (one τ)"),
           ("rank", "static rank (one k for every layer)"), ("ratio", "static ratio (one r for every layer)"),
           ("whitened", "whitened (SVD-LLM), energy rule on the whitened spectrum"),
           ("activation-scaled", "activation-scaled (ASVD, α = 0.5)")]


def load(directory, name):
    with open(os.path.join(directory, name)) as f:
        return json.load(f)


def pct(x):
    return f"{100 * x:.2f}%"


def delta(point, original, samples):
    d = (point["accuracy"] - original["accuracy"]) * 100
    images = point["correct"] - round(original["accuracy"] * samples)
    return f"{d:+.2f} pp ({images:+d})"


def ranks(point):
    return "/".join("dense" if r["rank"] is None else str(r["rank"]) for r in point["ranks"])


def main():
    directory = sys.argv[1]
    out = []
    w = out.append
    w("# Results: ARSVD and the alternatives on the bundled samples")
    w("")
    w("This is this project's reimplementation of the ARSVD experiment (arXiv 2504.20078): the paper's own tables are not")
    w("available to us, so nothing here is the paper's number. The models are the three MLPs in `samples/` (Keras 3, plain")
    w("Adam, see `samples/README.md`), evaluated on the full test sets in `../shared/datasets` (10,000 images each; on")
    w("CIFAR-10 the pixels are JPEG-recovered, see that folder's README). No fine-tuning in these first sections.")
    w("")
    w("The sections up to the issue-7 targets are written by `tools/results_markdown.py` from the JSON that")
    w("`tools/reproduce.sh` leaves in `out/results/` (the searches take minutes on 2 cores, the two sweeps of each sample")
    w("longer); each later section says which script measured it. Definitions:")
    w("")
    w("- **compression ratio**: original parameters ÷ stored parameters, every weight and bias of every layer counted;")
    w("- **hidden fraction**: kept fraction of the kernel parameters of the hidden dense layers (all but the output layer); a")
    w("  layer whose rank does not pay (k·(in+out) ≥ in·out) stays dense and counts as 1;")
    w("- **Δ**: test accuracy change in percentage points, with the number of test images behind it in brackets")
    w("  (0.5 pp = 50 images);")
    w("- **macro-F1**: unweighted mean of per-class F1 (the paper's \"F1\" is most likely this); weighted-F1 is in the JSON;")
    w("- **agree**: fraction of test images whose top-1 class is the original model's.")
    w("")
    w("The exact commands `tools/reproduce.sh` runs, for each sample (`mnist_mlp` with `mnist` and 6000 validation")
    w("samples, `cifar10_mlp` with `cifar-10` and 2000, `cifar100_mlp` with `cifar-100` and 2500: the last 10% of each")
    w("training split, which the samples were not trained on):")
    w("")
    w("```sh")
    w("lrm sweep samples/NAME.h5 --input-scale 1/255 --dataset DATASET --json > out/results/NAME-grid.json")
    w("lrm sweep samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N --fine --json > out/results/NAME-fine.json")
    w("lrm convert samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N --target-accuracy-drop 0.5 --json -o out/results/NAME-target-0.5.lrm")
    w("lrm convert samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N --target-accuracy-drop 1.0 --json -o out/results/NAME-target-1.0.lrm")
    w("lrm convert samples/NAME.h5 --input-scale 1/255 --dataset DATASET --validation-samples N --target-accuracy-drop 0.5 --confidence 0 --json -o out/results/NAME-target-0.5-z0.lrm")
    w("```")
    w("")
    reading = []
    for name, title, arch in SAMPLES:
        try:
            grid = load(directory, f"{name}-grid.json")
            fine = load(directory, f"{name}-fine.json")
        except FileNotFoundError:
            w(f"## {title}: not run (no results in {directory})")
            continue
        original = grid["original"]
        n = original["samples"]
        w(f"## {title} ({arch})")
        w("")
        w(f"Original: accuracy {pct(original['accuracy'])}, macro-F1 {pct(original['f1_macro'])} on {n:,} test images "
          f"(lrm's forward pass; identical to Keras's `model.evaluate`).")
        w("")
        w("### The paper's grid, with static baselines at the same parameter budget")
        w("")
        w("For each ARSVD point (energy τ or entropy τ, one threshold for every layer), the static baselines are placed at the")
        w("same total size: the largest single rank k, and the largest single parameter ratio r, whose model is no larger.")
        w("")
        w("| method | parameter | ranks | params | ratio | accuracy | Δ | macro-F1 | agree |")
        w("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for p in grid["points"]:
            param = f"{p['parameter']:.4g}"
            w(f"| {p['method']} | {param} | {ranks(p)} | {p['parameters']:,} | {p['compression_ratio']:.2f}× | "
              f"{pct(p['accuracy'])} | {delta(p, original, n)} | {pct(p['f1_macro'])} | {pct(p['agreement'])} |")
        w("")
        # Reading: adaptive vs static at equal budget, each baseline separately.
        points = grid["points"]
        counts = {"rank": [0, 0, 0], "ratio": [0, 0, 0]}
        compressing = 0
        for i, p in enumerate(points):
            if p["method"] not in ("energy", "entropy"):
                continue
            if any(r["rank"] is not None for r in p["ranks"][:-1]):
                compressing += 1
            for q in points[i + 1:i + 3]:
                key = q["method"].split(" ")[0]
                if abs(q["accuracy"] - p["accuracy"]) * n < 5:
                    counts[key][1] += 1
                elif p["accuracy"] > q["accuracy"]:
                    counts[key][0] += 1
                else:
                    counts[key][2] += 1
        arsvd = [p for p in points if p["method"] in ("energy", "entropy")]
        reading.append(f"- **{title}**: {compressing} of {len(arsvd)} ARSVD grid points factorize a hidden layer at all (the "
                       f"others keep them dense because k·(in+out) ≥ in·out). At the same size ARSVD was better than one rank "
                       f"for every layer {counts['rank'][0]} times, within 5 images {counts['rank'][1]}, worse {counts['rank'][2]}; "
                       f"better than one parameter ratio for every layer {counts['ratio'][0]} times, within 5 images "
                       f"{counts['ratio'][1]}, worse {counts['ratio'][2]}.")
        w("### The smallest model within 0.5 and 1 point of accuracy")
        w("")
        w("A fine grid of every method on the test split (selected on test: an optimistic view of the static methods), and")
        w("the accuracy-targeted search, which chooses on a validation split of held-out training records and is then")
        w("reported on test.")
        w("")
        w("| method | hidden fraction, Δ ≤ 0.5 pp | hidden fraction, Δ ≤ 1 pp |")
        w("|---|---:|---:|")
        best = {}
        for key, label in METHODS:
            cells = []
            for limit in (0.5, 1.0):
                ok = [p for p in fine["points"] if p["method"] == key and (original["accuracy"] - p["accuracy"]) * 100 <= limit + 1e-9]
                if ok:
                    p = min(ok, key=lambda p: p["hidden_fraction"])
                    cells.append(f"{p['hidden_fraction']:.3f} ({delta(p, original, n)})")
                    best[(key, limit)] = p["hidden_fraction"]
                else:
                    cells.append("none")
            w(f"| {label} | {cells[0]} | {cells[1]} |")
        search = {}
        for limit in ("0.5", "1.0"):
            try:
                s = load(directory, f"{name}-target-{limit}.json")["search"]
            except (FileNotFoundError, KeyError):
                continue
            search[limit] = s
        if search:
            cells = []
            for limit in ("0.5", "1.0"):
                s = search.get(limit)
                if s is None:
                    cells.append("not run")
                    continue
                d = (s["test_accuracy"] - s["test_accuracy_original"]) * 100
                cells.append(f"{s['hidden_fraction']:.3f} ({d:+.2f} pp ({s['test_images_change']:+d}))")
            w(f"| **accuracy-targeted search** (`lrm convert --target-accuracy-drop X`), whitened | {cells[0]} | {cells[1]} |")
            w("")
            s = search.get("0.5")
            if s:
                c = s.get("confirmation")
                if c:
                    w(f"The search ({s['candidates']} candidates) selected on {c['selection_samples']:,} of the last "
                      f"{c['selection_samples'] + c['confirmation_samples']:,} training records (held out when the sample was trained) "
                      f"and re-judged its choice on the other {c['confirmation_samples']:,}, which nothing was selected on"
                      + (f" (its own choice, {c['selected_hidden_fraction']:.3f}, missed the budget there: the result is {c['steps_back']} "
                         f"of its {c['path_length']} accepted candidates back)" if c["steps_back"] else " (its choice kept the budget there)")
                      + f": validation accuracy on those {pct(s['validation_accuracy_original'])} → "
                      f"{pct(s['validation_accuracy'])}, standard error of the drop {100 * s['validation_drop_standard_error']:.2f} pp; "
                      f"a candidate counts as within budget when its drop plus {s['confidence']:.0f} standard error is, on both parts.")
                else:
                    w(f"The search ({s['candidates']} candidates) validated on the last {s['validation_samples']:,} training records "
                      f"(held out when the sample was trained): validation accuracy {pct(s['validation_accuracy_original'])} → "
                      f"{pct(s['validation_accuracy'])}, standard error of the drop {100 * s['validation_drop_standard_error']:.2f} pp; "
                      f"a candidate counts as within budget when its drop plus {s['confidence']:.0f} standard error is.")
                s1 = search.get("0.5")
                reading.append(f"- **{title}**, accuracy-targeted search within 0.5 pp: hidden fraction "
                               f"{s1['hidden_fraction']:.3f} at {100 * (s1['test_accuracy'] - s1['test_accuracy_original']):+.2f} pp on test; "
                               f"best energy ARSVD point within 0.5 pp on test: "
                               f"{best.get(('energy', 0.5), float('nan')):.3f}; whitened energy rule selected on test: "
                               f"{best.get(('whitened', 0.5), float('nan')):.3f}.")
        w("")
    w("## Reading")
    w("")
    w("Computed from the tables above:")
    w("")
    out.extend(reading)
    w("")
    w("What follows, as `../shared/FIDELITY-NOTES.md` found on other people's MLPs: one energy threshold for every layer buys")
    w("little on these models (τ = 0.95 and above keeps the hidden layers dense: the spectra of plain-Adam MLPs are flat),")
    w("and adaptive rank by energy loses to one rank for every layer at equal size, while beating one parameter ratio for")
    w("every layer (which starves the narrow layers). Measuring the truncation error on")
    w("each layer's real inputs (whitening) is the lever: at the same accuracy it keeps several times fewer parameters.")
    w("The accuracy-targeted search is more conservative than selecting on test (it counts the validation noise, and it")
    w("confirms its choice on validation records it did not select on, against the winner's curse of keeping the smallest")
    w("of many candidates), so its fractions are larger than the best whitened points picked with hindsight, but it never")
    w("looked at the test split.")
    w("")
    w("### Targets of issue 7")
    w("")
    for name, title, target in [("mnist_mlp", "MNIST", 0.25), ("cifar10_mlp", "CIFAR-10", 0.10)]:
        try:
            s = load(directory, f"{name}-target-0.5.json")["search"]
        except (FileNotFoundError, KeyError):
            w(f"- {title}: not run.")
            continue
        d = (s["test_accuracy"] - s["test_accuracy_original"]) * 100
        met = s["hidden_fraction"] <= target and -d <= 0.5
        w(f"- {title}: target hidden fraction ≤ {target} within 0.5 pp on test; reached {s['hidden_fraction']:.3f} at "
          f"{d:+.2f} pp ({s['test_images_change']:+d} images): **{'met' if met else 'not met'}**.")
        if not met:
            fine = load(directory, f"{name}-fine.json")
            original = fine["original"]["accuracy"]
            ok = [p for p in fine["points"] if p["method"] == "whitened" and (original - p["accuracy"]) * 100 <= 0.5]
            hindsight = min(ok, key=lambda p: p["hidden_fraction"]) if ok else None
            c = s.get("confirmation")
            judged = (f"{c['selection_samples']:,} of the {c['selection_samples'] + c['confirmation_samples']:,} held-out training records "
                      f"and confirm its choice on the other {c['confirmation_samples']:,}" if c
                      else f"the {s['validation_samples']:,} held-out training records")
            w(f"  Why: the search can only judge candidates on {judged} "
              f"(0.5 pp = {s['validation_samples'] // 200} images there; standard error of a drop ≈ "
              f"{100 * s['validation_drop_standard_error']:.2f} pp), and it counts a candidate as within budget only when its drop "
              f"plus one standard error is. Smaller whitened models exist"
              + (f" (the fine grid, selected on test with hindsight, has {hindsight['hidden_fraction']:.3f} at "
                 f"{100 * (hindsight['accuracy'] - original):+.2f} pp)" if hindsight else "")
              + ", but no validation set of that size can tell them apart from ones that lose a point; with "
              "`--confidence 0` (the validation drop alone) the search reaches "
              + (lambda t: f"{t['hidden_fraction']:.3f} at {100 * (t['test_accuracy'] - t['test_accuracy_original']):+.2f} pp on test"
                 )(load(directory, f"{name}-target-0.5-z0.json")["search"])
              + ". The 1-point search reaches "
              + (lambda t: f"{t['hidden_fraction']:.3f} at {100 * (t['test_accuracy'] - t['test_accuracy_original']):+.2f} pp"
                 )(load(directory, f"{name}-target-1.0.json")["search"]) + ".")
    w("")
    # Quantized factors (issue 15): written by tools/quant_curves.py when reproduce.sh ran it.
    quant = os.path.join(directory, "quant.md")
    if os.path.exists(quant):
        with open(quant) as f:
            w(f.read().rstrip("\n"))
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
