#!/usr/bin/env bash
# Peak resident memory (max RSS, `/usr/bin/time -f %M`) and wall time of the commands that read a large `.lrm`, against
# the file's size. Issue 14: `inspect`, `predict` and `verify` map the file rather than read it, resident
# memory ≤ 1.2× the file (the data a command reads are part of its peak and are counted in it).
#
# The model is the 38M-parameter MLP 3072-4096-4096-2048-10 of tools/bench_convert.sh (tools/make_bench_mlp.py,
# near-low-rank kernels), imported dense with `lrm import` (144 MiB `.lrm`). The own data are synthetic
# (seeded numpy): RECORDS samples of 3072 float32 values in a .npy, class labels 0–9 in another, and 10
# regression targets per sample in a third (`--task regression`: the binary/regression path of verify).
# Own data are split as convert splits them: verify scores the last 20% of the records.
#
# Usage: tools/bench_memory.sh [RECORDS] [RUNS]   (default 2000 records and 1 run of each command; with RUNS,
# the medians of RUNS runs; LRM=/path/to/lrm uses that binary instead of building .build/release/lrm; BENCH_DIR as for bench_convert.sh; LRM_DATA: the data folder for the
# CIFAR-10 row, default ../shared/datasets, skipped when it has no cifar-10)
# Needs python3 with numpy and h5py (PYTHON=/path/to/python to choose one).
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-2000}
runs=${2:-1}
python=${PYTHON:-python3}
models=${BENCH_DIR:-/tmp/lrm-bench-models}
data=${LRM_DATA:-../shared/datasets}
if [ -z "${LRM:-}" ]; then swift build -c release --product lrm >/dev/null; fi
lrm=${LRM:-.build/release/lrm}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$models"

h5=$models/mlp-3072-4096-4096-2048-10-lowrank.h5
[ -f "$h5" ] || { "$python" tools/make_bench_mlp.py "$h5.part" --widths 3072,4096,4096,2048,10 --spectrum low-rank --seed 2 >&2 && mv "$h5.part" "$h5"; }
model=$out/dense.lrm
"$lrm" import "$h5" -o "$model" >/dev/null
cp "$model" "$out/reference.lrm"
"$python" - "$out" "$records" <<'PY'
import sys
import numpy as np
folder, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(7)
np.save(f"{folder}/x.npy", rng.standard_normal((n, 3072), dtype=np.float32))
np.save(f"{folder}/y.npy", rng.integers(0, 10, n).astype(np.int64))
np.save(f"{folder}/t.npy", rng.standard_normal((n, 10), dtype=np.float32))
PY
bytes=$(stat -c %s "$model")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
inputs_bytes=$(stat -c %s "$out/x.npy")

echo "peak resident memory against the file: $(mib "$bytes") MiB .lrm (38M parameters, dense)"
echo "own data: $records records, x.npy $(mib "$inputs_bytes") MiB (float32), verify scores the last $(awk -v n="$records" 'BEGIN { printf "%d", n * 0.2 + 0.5 }')"
echo "lrm: $lrm; machine: $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "\n%-78s %9s %9s %7s %5s\n" command "peak MiB" "× file" "wall s" rc
[ "$runs" -gt 1 ] && echo "(medians of $runs runs)"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
  local label=$1; shift
  local rc=0 kib seconds ks=() ss=()
  for _ in $(seq "$runs"); do
    rc=0
    /usr/bin/time -f "%M %e" -o "$out/t" "$lrm" "$@" >"$out/stdout" 2>"$out/stderr" || rc=$?
    read -r kib seconds < <(tail -1 "$out/t")
    ks+=("$kib"); ss+=("$seconds")
  done
  awk -v l="$label" -v k="$(median "${ks[@]}")" -v f="$bytes" -v s="$(median "${ss[@]}")" -v rc="$rc" \
    'BEGIN { printf "%-78s %9.0f %9.2f %7.2f %5d\n", l, k / 1024, k * 1024 / f, s, rc }'
  if [ "$runs" -gt 1 ]; then echo "    runs: ${ss[*]} s; ${ks[*]} KiB" >&2; fi
  if [ "$rc" -gt 1 ]; then sed 's/^/    /' "$out/stderr" >&2; fi
}
own=(--inputs "$out/x.npy" --labels "$out/y.npy")
reg=(--inputs "$out/x.npy" --labels "$out/t.npy" --task regression)
measure "inspect M.lrm" inspect "$model"
measure "predict M.lrm --input x.npy ($records samples)" predict "$model" --input "$out/x.npy" -o "$out/p.npy"
measure "verify M.lrm --inputs x.npy --labels y.npy (multi-class)" verify "$model" "${own[@]}"
measure "verify M.lrm --inputs x.npy --labels t.npy --task regression" verify "$model" "${reg[@]}"
measure "verify M.lrm --reference R.lrm (a second 144 MiB file) … --task regression" verify "$model" --reference "$out/reference.lrm" "${reg[@]}"
measure "verify M.lrm --reference R.lrm … (multi-class)" verify "$model" --reference "$out/reference.lrm" "${own[@]}"
if [ -d "$data/cifar-10" ]; then
  measure "verify M.lrm --dataset cifar-10 (10,000 test images)" verify "$model" --dataset cifar-10 --data "$data"
  measure "verify M.lrm --reference R.lrm --dataset cifar-10" verify "$model" --reference "$out/reference.lrm" --dataset cifar-10 --data "$data"
fi
echo "(with --reference the two files are $(mib $((2 * bytes))) MiB: × file is against one)"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
