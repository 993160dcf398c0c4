#!/usr/bin/env bash
# The CNN rows of docs/RESULTS.md: for the two CNN samples (and the residual CNN, whose rows are in "A residual CNN"), the smallest model within 0.5 and 1 point of test
# accuracy (searched on the validation split) with the dense layers alone compressed (--conv none), and with the
# convolutions searched together with the dense layers (--conv auto: each convolution is a candidate of the search,
# factorized only where that saves more parameters per point lost than the other moves and the budget, counted from
# the original model, still holds); every resulting file verified against the original on the full test set.
# Prints one markdown table row per file; the JSON and .lrm files are left in out/cnn-results/.
# Usage: tools/reproduce_cnn.sh [--data DIR]   (LRM=path/to/lrm to use another binary)
set -euo pipefail
extra=("$@")
cd "$(dirname "$0")/.."
if [[ -z "${LRM:-}" ]]; then swift build -c release --product lrm >/dev/null; fi
lrm=${LRM:-.build/release/lrm}
out=out/cnn-results
mkdir -p "$out"
row() {  # name dataset label file
  local json
  json=$("$lrm" verify "$4" --reference "samples/$1.h5" --dataset "$2" --json "${extra[@]}")
  python3 - "$1" "$3" "$4" "$json" "$lrm" <<'PY'
import json, subprocess, sys
name, label, path, text, lrm = sys.argv[1:6]
report = json.loads(text)
inspect = json.loads(subprocess.run([lrm, "inspect", path, "--json"], capture_output=True, text=True, check=True).stdout)
ref, got = report["reference"], report["compressed"]
params_before = inspect["parameters_before"]; params_after = inspect["parameters_after"]
macs_before, macs_after = inspect["macs_before"], inspect["macs_after"]
forms = {l["name"]: l["form"] for l in report["layers"] if l.get("form")}  # verify's per-layer table
def rank(layer):
    if layer["kind"] == "factorized_conv2d":
        return f'{layer["rank"]} ({forms.get(layer["name"], "?")})'
    return str(layer["rank"]) if layer.get("rank") else ("conv" if layer["kind"] == "conv2d" else "dense")
ranks = "/".join(rank(l) for l in inspect["layers"] if l["kind"] in ("dense", "conv2d", "factorized_dense", "factorized_conv2d"))
print(f"| {name} | {label} | {ranks} | {params_after:,} | {params_before / params_after:.2f}× | "
      f"{macs_after:,} ({macs_before / macs_after:.2f}×) | {100 * got['accuracy']:.2f}% | "
      f"{100 * (got['accuracy'] - ref['accuracy']):+.2f} pp | {100 * report['comparison']['agreement']:.2f}% |")
PY
}
echo "| sample | compressed | ranks (conv…/dense…) | params | ratio | MACs/sample (ratio) | test accuracy | Δ | agree |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
# The residual CNN (mnist_resnet) has no hidden Dense layer (global average pooling, then the output layer), so a
# dense-only search has nothing to search there (refused, exit 64): only its convolutions are searched.
for entry in "mnist_cnn mnist 6000" "cifar10_cnn cifar-10 2000" "mnist_resnet mnist 6000 no-hidden-dense"; do
  set -- $entry
  name=$1 dataset=$2 validation=$3 hidden_dense=${4:-}
  common=(--dataset "$dataset" --validation-samples "$validation")
  for drop in 0.5 1.0; do
    if [[ "$hidden_dense" != no-hidden-dense ]]; then
      "$lrm" convert "samples/$name.h5" --input-scale 1/255 "${common[@]}" --target-accuracy-drop "$drop" --conv none --json \
        -o "$out/$name-dense-$drop.lrm" "${extra[@]}" > "$out/$name-dense-$drop.json"
      row "$name" "$dataset" "dense only, within $drop pp" "$out/$name-dense-$drop.lrm"
    fi
    "$lrm" convert "samples/$name.h5" --input-scale 1/255 "${common[@]}" --target-accuracy-drop "$drop" --conv auto --json \
      -o "$out/$name-convdense-$drop.lrm" "${extra[@]}" > "$out/$name-convdense-$drop.json"
    row "$name" "$dataset" "convolutions searched with dense, within $drop pp" "$out/$name-convdense-$drop.lrm"
  done
done
