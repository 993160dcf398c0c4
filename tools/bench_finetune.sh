#!/usr/bin/env bash
# `lrm convert --finetune 5` on the MNIST sample: a whitened (τ = 0.8) conversion, then 5 epochs of distillation
# on the 54,000 training records the validation does not use (Adam, batches of 128), timed end to end and for the
# fine-tuning alone. Target (issue 13): under a minute on 2 cores.
# Usage: tools/bench_finetune.sh [EPOCHS] [RUNS]   (default: 5 3)
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}; runs=${2:-3}
data=${LRM_DATA:-../shared/datasets}
swift build -c release --product lrm >/dev/null
lrm=.build/release/lrm
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
total=(); tuning=()
for i in $(seq "$runs"); do
  s=$(date +%s.%N)
  "$lrm" convert samples/mnist_mlp.h5 --input-scale 1/255 --dataset mnist --data "$data" --validation-samples 6000 \
    --policy whitened:0.8 --finetune "$epochs" --json -o "$tmp/m.lrm" > "$tmp/r.json" 2>/dev/null
  total+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
  tuning+=("$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["finetune"]["epochs"]; print(e[-1]["seconds"])' "$tmp/r.json")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "lrm convert samples/mnist_mlp.h5 --policy whitened:0.8 --finetune $epochs ($runs runs, medians; $(nproc) cores)"
printf "  %-44s %8.1f s\n" "whole command" "$(median "${total[@]}")"
printf "  %-44s %8.1f s\n" "fine-tuning alone (epochs actually run)" "$(median "${tuning[@]}")"
