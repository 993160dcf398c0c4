#!/usr/bin/env bash
# `lrm convert` against the reference Python pipeline (tools/reference_convert.py: h5py + numpy SVD +
# the same energy rule + writing the factors) on the same model, alternating runs, medians.
# Prints wall time of each, their ratio (target: lrm at most half the Python time on an MNIST-sized
# MLP), per-layer SVD times and peak memory (max RSS from /usr/bin/time).
# Usage: tools/bench_convert.sh [MODEL.h5] [RUNS]   (default: samples/mnist_mlp.h5, 5 runs)
# Needs python3 with numpy and h5py (PYTHON=/path/to/python to choose one). `lrm convert` pins BLAS to
# one thread (reproducible output; it factorizes layers in parallel instead); THREADS=N gives both sides
# N BLAS threads (LRM_BLAS_THREADS for lrm, OPENBLAS_NUM_THREADS for numpy). Without THREADS, numpy
# uses OpenBLAS's default (one thread per core).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-samples/mnist_mlp.h5}
runs=${2:-5}
python=${PYTHON:-python3}
swift build -c release --product lrm >/dev/null
lrm=.build/release/lrm
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${THREADS:-}" ]; then export OPENBLAS_NUM_THREADS=$THREADS LRM_BLAS_THREADS=$THREADS; fi
echo "model: $model ($runs alternating runs; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-default}, LRM_BLAS_THREADS=${LRM_BLAS_THREADS:-1})"

lrm_times=(); py_times=(); lrm_rss=(); py_rss=()
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$out/t" "$lrm" convert "$model" --policy energy:0.95 --svd exact -o "$out/m.lrm" --json > "$out/lrm.json"
  read -r t m < "$out/t"; lrm_times+=("$t"); lrm_rss+=("$m")
  /usr/bin/time -f "%e %M" -o "$out/t" "$python" tools/reference_convert.py "$model" "$out/m.npz" > "$out/py.txt"
  read -r t m < "$out/t"; py_times+=("$t"); py_rss+=("$m")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
lt=$(median "${lrm_times[@]}"); pt=$(median "${py_times[@]}")
lm=$(median "${lrm_rss[@]}"); pm=$(median "${py_rss[@]}")
echo
echo "per-layer SVD (last run):"
"$python" - "$out/lrm.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for layer in report["layers"]:
    if "svd_seconds" in layer:
        print(f"  lrm     {layer['name']:12s} {layer['in_features']}×{layer['out_features']}  k={layer.get('rank', 0):4d}  svd {layer['svd_seconds'] * 1000:8.1f} ms")
PY
sed 's/^/  python/' "$out/py.txt" | grep -v 'python reference' || true
echo
printf "%-28s %10s %14s\n" "" "wall (s)" "peak RSS (MiB)"
printf "%-28s %10s %14s\n" "lrm convert" "$lt" "$((lm / 1024))"
printf "%-28s %10s %14s\n" "python reference" "$pt" "$((pm / 1024))"
awk -v a="$lt" -v b="$pt" 'BEGIN { printf "ratio lrm / python: %.2f (target ≤ 0.5)\n", a / b }'
