#!/usr/bin/env bash
# Regenerates docs/RESULTS.md: for the three bundled samples, the ARSVD grid against static-rank
# baselines, a fine grid of every method (the smallest model within 0.5 and 1 point), and the
# accuracy-targeted search. Every number in docs/RESULTS.md comes from the JSON this writes to
# out/results/. Takes a few minutes on 2 cores.
# Usage: tools/reproduce.sh [--data DIR]   (the data folder; else $LRM_DATA, else ../shared/datasets)
set -euo pipefail
extra=("$@")
cd "$(dirname "$0")/.."
swift build -c release --product lrm >/dev/null
lrm=.build/release/lrm
out=out/results
mkdir -p "$out" docs
# sample dataset validation-samples (the last 10% of the training records, held out when the samples were trained)
samples=("mnist_mlp mnist 6000" "cifar10_mlp cifar-10 2000" "cifar100_mlp cifar-100 2500")
for entry in "${samples[@]}"; do
  set -- $entry
  name=$1 dataset=$2 validation=$3
  common=(--input-scale 1/255 --dataset "$dataset" --validation-samples "$validation")
  echo "== $name: paper grid" >&2
  # The paper grid reads no training records (--validation-samples is for --fine's calibration and the searches).
  "$lrm" sweep "samples/$name.h5" --input-scale 1/255 --dataset "$dataset" --json "${extra[@]}" > "$out/$name-grid.json"
  echo "== $name: fine grid" >&2
  "$lrm" sweep "samples/$name.h5" "${common[@]}" --fine --json "${extra[@]}" > "$out/$name-fine.json"
  for drop in 0.5 1.0; do
    echo "== $name: accuracy-targeted search, $drop pp" >&2
    "$lrm" convert "samples/$name.h5" "${common[@]}" --target-accuracy-drop "$drop" --json \
      -o "$out/$name-target-$drop.lrm" "${extra[@]}" > "$out/$name-target-$drop.json"
  done
  echo "== $name: accuracy-targeted search, 0.5 pp, validation drop alone (--confidence 0)" >&2
  "$lrm" convert "samples/$name.h5" "${common[@]}" --target-accuracy-drop 0.5 --confidence 0 --json \
    -o "$out/$name-target-0.5-z0.lrm" "${extra[@]}" > "$out/$name-target-0.5-z0.json"
done
"$lrm" report "$out/mnist_mlp-target-0.5.lrm" --reference samples/mnist_mlp.h5 --dataset mnist \
  --sweep "$out/mnist_mlp-grid.json" -o "$out/mnist_mlp-report.html" "${extra[@]}" >/dev/null
echo "== quantized factors: accuracy against bytes on disk (f32, f16, i8, i4), smallest files within 0.5 and 1 pp" >&2
python3 tools/quant_curves.py --lrm "$lrm" --out "$out/quant" --equal-bytes --markdown "$out/quant.md" "${extra[@]}"
python3 tools/results_markdown.py "$out" > docs/RESULTS.md
# Issue 13's section (refit, fine-tuning, models trained on every record): from tools/reproduce_refit.sh's JSON.
if [ -d out/results-refit ]; then python3 tools/results_refit.py out/results-refit >> docs/RESULTS.md; fi
echo "wrote docs/RESULTS.md" >&2
