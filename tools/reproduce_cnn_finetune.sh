#!/usr/bin/env bash
# The CNN fine-tuning rows of docs/RESULTS.md: for the two CNN samples, the accuracy-targeted search within 0.5 point
# (the default --conv auto: convolutions searched with the dense layers) without fine-tuning, with --finetune N, and with
# --finetune N plus shifted training images. Prints one markdown table row per run: hidden fraction, parameters and
# compression, bytes on disk, test accuracy drop (the test split, which nothing was selected or tuned on), whether the
# budget held there, fine-tuned candidates and epochs run, seconds per epoch (the run's wall time less the run without
# fine-tuning's, over the epochs run), and the wall time. The JSON and .lrm files are left in out/cnn-finetune/.
# Usage: tools/reproduce_cnn_finetune.sh [EPOCHS_MNIST [EPOCHS_CIFAR]]   (LRM=path/to/lrm to use another binary; LRM_DATA as usual)
set -euo pipefail
mnist_epochs=${1:-2}
cifar_epochs=${2:-2}
cd "$(dirname "$0")/.."
if [[ -z "${LRM:-}" ]]; then swift build -c release --product lrm >/dev/null; fi
lrm=${LRM:-.build/release/lrm}
out=out/cnn-finetune
mkdir -p "$out"
echo "| sample | run | hidden fraction | params (ratio) | bytes | test accuracy | Δ test | within 0.5 pp | fine-tuned candidates (epochs run) | s/epoch | wall |"
echo "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|"
for entry in "mnist_cnn mnist 6000 $mnist_epochs 1" "cifar10_cnn cifar-10 2000 $cifar_epochs 2"; do
  set -- $entry
  name=$1 dataset=$2 validation=$3 epochs=$4 shift=$5
  base_seconds=
  for run in plain finetune shift; do
    case $run in
      plain) extra=() ;;
      finetune) extra=(--finetune "$epochs") ;;
      shift) extra=(--finetune "$epochs" --finetune-shift "$shift") ;;
    esac
    start=$(date +%s.%N)
    "$lrm" convert "samples/$name.h5" --input-scale 1/255 --dataset "$dataset" --validation-samples "$validation" \
      --target-accuracy-drop 0.5 "${extra[@]}" --json --quiet -o "$out/$name-$run.lrm" > "$out/$name-$run.json"
    end=$(date +%s.%N)
    seconds=$(python3 -c "print($end - $start)")
    [[ $run == plain ]] && base_seconds=$seconds
    python3 - "$name" "$run ${extra[*]}" "$out/$name-$run.json" "$seconds" "$base_seconds" "$out/$name-$run.lrm" <<'PY'
import json, os, sys
name, label, path, seconds, base, lrm = sys.argv[1:7]
seconds, base = float(seconds), float(base)
d = json.load(open(path))
s, t = d["search"], d["test"]
tuned = s.get("finetune") or {}
tried = tuned.get("tried") or []
epochs = sum(x.get("epochs_run", 0) for x in tried)
per_epoch = f"{(seconds - base) / epochs:.1f}" if epochs else "–"
drop = 100 * (t["accuracy_original"] - t["accuracy"])
print(f"| {name} | {label.strip()} | {s['hidden_fraction']:.3f} | {d['parameters_after']:,} ({d['compression_ratio']:.2f}×) | "
      f"{os.path.getsize(lrm):,} | {100 * t['accuracy_original']:.2f}% → {100 * t['accuracy']:.2f}% | {-drop:+.2f} pp | "
      f"{'yes' if drop <= 0.5 + 1e-9 else 'NO'} | {len(tried) if tried else '–'}{f' ({epochs})' if tried else ''} | {per_epoch} | {seconds / 60:.1f} min |")
PY
  done
done
