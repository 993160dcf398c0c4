#!/usr/bin/env bash
# `lrm convert` (energy 0.95, default options) against the Python pipeline a user would write
# (tools/reference_convert.py: h5py reads the file, scipy's gesdd (numpy's SVD without scipy) factorizes
# each Dense kernel, the same energy and break-even rules choose k, numpy writes the factors), on three
# model sizes, whole process each, alternating runs, medians. Prints wall time, peak resident memory
# (max RSS from /usr/bin/time: the larger of lrm and its Keras reader child) and their ratios.
#
#   535k  MLP 784-512-256-10: samples/mnist_mlp.h5 (trained with Keras)
#   3.7M  MLP 3072-1024-512-100, tf-keras layout with Adam state (synthesized, trained-like spectrum)
#   38M   MLP 3072-4096-4096-2048-10, near-low-rank kernels (synthesized)
# The synthetic files come from tools/make_bench_mlp.py (h5py + numpy), written once to $BENCH_DIR
# (default /tmp/lrm-bench-models). Targets (issue 14): lrm ≤ 0.5× Python on 535k and 3.7M; 38M under
# 30 s with peak RSS ≤ 1.5× the input file.
#
# Usage: tools/bench_convert.sh [RUNS] [SIZES]   (default 3 runs; SIZES a comma list of 535k,3.7M,38M;
# LRM=/path/to/lrm uses that binary instead of building .build/release/lrm)
# Needs python3 with numpy and h5py, scipy optional (PYTHON=/path/to/python to choose one). `lrm convert`
# runs each layer's BLAS on one thread (reproducible output) and layers in parallel; numpy/scipy use
# OpenBLAS's default (one thread per core) unless THREADS=N is given (then both get N).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
sizes=${2:-535k,3.7M,38M}
python=${PYTHON:-python3}
models=${BENCH_DIR:-/tmp/lrm-bench-models}
if [ -z "${LRM:-}" ]; then swift build -c release --product lrm >/dev/null; fi
lrm=${LRM:-.build/release/lrm}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$models"
if [ -n "${THREADS:-}" ]; then export OPENBLAS_NUM_THREADS=$THREADS LRM_BLAS_THREADS=$THREADS; fi

model_for() {
  case $1 in
    535k) echo samples/mnist_mlp.h5 ;;
    3.7M) f=$models/mlp-3072-1024-512-100-adam.h5
          [ -f "$f" ] || { "$python" tools/make_bench_mlp.py "$f.part" --widths 3072,1024,512,100 --optimizer-state --seed 1 >&2 && mv "$f.part" "$f"; }
          echo "$f" ;;
    38M)  f=$models/mlp-3072-4096-4096-2048-10-lowrank.h5
          [ -f "$f" ] || { "$python" tools/make_bench_mlp.py "$f.part" --widths 3072,4096,4096,2048,10 --spectrum low-rank --seed 2 >&2 && mv "$f.part" "$f"; }
          echo "$f" ;;
    *) echo "unknown size $1 (535k, 3.7M, 38M)" >&2; exit 64 ;;
  esac
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "lrm convert --policy energy:0.95 vs tools/reference_convert.py; $runs alternating runs, medians"
echo "machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-default}"
printf "\n%-6s %11s %9s | %9s %9s %7s | %9s %9s | %8s %8s\n" size parameters "file MiB" "lrm s" "python s" ratio "lrm MiB" "py MiB" "lrm/file" "py/file"
for size in ${sizes//,/ }; do
  model=$(model_for "$size")
  bytes=$(stat -c %s "$model")
  lt=(); pt=(); lm=(); pm=()
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$out/t" "$lrm" convert "$model" --policy energy:0.95 -o "$out/m.lrm" --json > "$out/lrm.json"
    read -r t m < "$out/t"; lt+=("$t"); lm+=("$m")
    /usr/bin/time -f "%e %M" -o "$out/t" "$python" tools/reference_convert.py "$model" "$out/m.npz" > "$out/py.txt"
    read -r t m < "$out/t"; pt+=("$t"); pm+=("$m")
  done
  params=$("$python" -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['parameters_before'])" "$out/lrm.json")
  l=$(median "${lt[@]}"); p=$(median "${pt[@]}"); a=$(median "${lm[@]}"); b=$(median "${pm[@]}")
  awk -v s="$size" -v n="$params" -v f="$bytes" -v l="$l" -v p="$p" -v a="$a" -v b="$b" 'BEGIN {
    printf "%-6s %11d %9.1f | %9.2f %9.2f %7.2f | %9.0f %9.0f | %8.2f %8.2f\n", s, n, f / 1048576, l, p, l / p, a / 1024, b / 1024, a * 1024 / f, b * 1024 / f }'
  echo "        lrm runs: ${lt[*]} s, ${lm[*]} KiB; python runs: ${pt[*]} s, ${pm[*]} KiB" >&2
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
