#!/usr/bin/env bash
# `lrm verify` (two models: compressed and original, over the whole test set, data read and
# preprocessed, all metrics; and the original alone, as Keras evaluates it) against Keras's own
# `model.evaluate` of the original alone, alternating,
# medians. Target: lrm verify faster than Keras alone. Also prints both programs' accuracy of the original on
# the same test images (lrm's must be Keras's own figure).
# Usage: tools/bench_verify.sh [SAMPLE] [DATASET] [RUNS]   (default: cifar10_mlp cifar-10 5; the CNN: cifar10_cnn cifar-10)
# Needs a Python with keras + jax (PYTHON=…; e.g. a venv from tools/requirements-train.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
sample=${1:-cifar10_mlp}; dataset=${2:-cifar-10}; runs=${3:-5}
python=${PYTHON:-python3}
data=${LRM_DATA:-../shared/datasets}
if [[ -z "${LRM:-}" ]]; then swift build -c release --product lrm >/dev/null; fi
lrm=${LRM:-.build/release/lrm}  # LRM=path: a release lrm built elsewhere
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$lrm" convert "samples/$sample.h5" --input-scale 1/255 --policy rank:64 -o "$tmp/m.lrm" >/dev/null
lrm_times=(); single_times=(); keras_times=(); keras_all=()
for i in $(seq "$runs"); do
  s=$(date +%s.%N)
  "$lrm" verify "samples/$sample.h5" --input-scale 1/255 --dataset "$dataset" --data "$data" --json >"$tmp/single.json" || true
  single_times+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
  s=$(date +%s.%N)
  "$lrm" verify "$tmp/m.lrm" --reference "samples/$sample.h5" --dataset "$dataset" --data "$data" --json >"$tmp/verify.json" || true
  lrm_times+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
  line=$("$python" tools/keras_evaluate.py "samples/$sample.h5" "$dataset" "$data" 2>/dev/null | tail -1)
  keras_accuracy=$(echo "$line" | sed -E 's/.*accuracy ([0-9.]+).*/\1/')
  keras_times+=("$(echo "$line" | sed -E 's/.*evaluate: ([0-9.]+) s.*/\1/')")
  keras_all+=("$(echo "$line" | sed -E 's/.*whole script ([0-9.]+) s.*/\1/')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$sample on $dataset test ($runs alternating runs, medians; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
printf "  %-58s %8.3f s\n" "lrm verify (both models, whole process)" "$(median "${lrm_times[@]}")"
printf "  %-58s %8.3f s\n" "lrm verify (the original alone, whole process)" "$(median "${single_times[@]}")"
printf "  %-58s %8.3f s\n" "keras model.evaluate (original only, the call alone)" "$(median "${keras_times[@]}")"
printf "  %-58s %8.3f s\n" "keras script (import, load data and model, evaluate)" "$(median "${keras_all[@]}")"
# The same test set scored by both: lrm's figure for the original (the reference) is Keras's own.
python3 - "$tmp/verify.json" "$keras_accuracy" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"  accuracy of the original: lrm verify {100 * report['reference']['accuracy']:.2f}%, keras evaluate {100 * float(sys.argv[2]):.2f}% "
      f"({report['samples']:,} test images); compressed (rank 64) {100 * report['compressed']['accuracy']:.2f}%")
PY
