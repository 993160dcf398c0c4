#!/usr/bin/env bash
# BLAS/LAPACK figures for lrm against numpy/scipy, in one run:
#   sgemm GFLOP/s at 2048² and sgesdd seconds for 784×512, 3072×1024 (and 4096² with --large),
# for three configurations, each in its own process, run in alternating order for --rounds rounds
# (the VM varies by ±20%; medians are what to quote, the range shows the noise):
#   lrm selected        LRM_BLAS_KERNELS=auto: lrm's kernel selection (the default)
#   lrm forced generic  LRM_BLAS_KERNELS=generic-only: OpenBLAS's generic Prescott kernels, which is
#                       what Debian's OpenBLAS 0.3.21 gives on a CPU it does not recognise
#   numpy/scipy         tools/bench_blas_numpy.py (numpy.matmul, scipy.linalg.svd gesdd, float32)
# plus "lrm library choice" (LRM_BLAS_KERNELS=library) when its core differs from both lrm rows.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE / OPENBLAS_NUM_THREADS are printed and never changed: when the
# machine sets OPENBLAS_CORETYPE, every lrm row uses it (lrm respects it) and the rows look alike.
#
# Usage: tools/bench_blas.sh [--rounds N] [--large] [--no-numpy]
#   LRM_BENCH_SCRATCH  SwiftPM scratch directory for the release build (default .build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=5
large=()
numpy=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --large) large=(--large); shift ;;
        --no-numpy) numpy=0; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "bench_blas.sh: unknown option '$1'" >&2; exit 64 ;;
    esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench_blas.sh: --rounds needs a positive integer" >&2; exit 64; }

scratch="${LRM_BENCH_SCRATCH:-.build-bench}"
echo "Building lrm-bench (release, scratch $scratch)…"
swift build -c release --product lrm-bench --scratch-path "$scratch" >/dev/null
bench="$scratch/release/lrm-bench"

if [[ $numpy == 1 ]] && ! python3 -c 'import numpy, scipy' 2>/dev/null; then
    echo "numpy/scipy not importable: skipping the numpy/scipy row"
    numpy=0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo
echo "== Environment (used as is)"
for name in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS OMP_NUM_THREADS LRM_BLAS_KERNELS; do
    printf '%-21s %s\n' "$name" "${!name-(unset)}"
done
printf '%-21s %s\n' "CPU" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
printf '%-21s %s\n' "load average" "$(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every row)"

declare -A setting=([selected]=auto [generic]=generic-only [library]=library)
declare -A core
for config in selected generic library; do
    LRM_BLAS_KERNELS="${setting[$config]}" "$bench" blas report > "$work/report-$config.txt"
    core[$config]="$(sed -n 's/^report active core: //p' "$work/report-$config.txt")"
done
echo
echo "== BLAS report (lrm, default selection)"
sed 's/^report //' "$work/report-selected.txt"
echo "forced generic:       $(sed -n 's/^report kernels: //p' "$work/report-generic.txt")"
echo "library choice:       $(sed -n 's/^report kernels: //p' "$work/report-library.txt")"
if [[ $numpy == 1 ]]; then
    python3 tools/bench_blas_numpy.py --report-only | sed 's/^report //'
fi

configs=(selected generic)
if [[ "${core[library]}" != "${core[selected]}" && "${core[library]}" != "${core[generic]}" ]]; then
    configs+=(library)
fi
[[ $numpy == 1 ]] && configs+=(numpy)

run() {  # run CONFIG: one measurement process, appending "CONFIG result …" lines
    local config="$1" output
    if [[ $config == numpy ]]; then
        output="$(python3 tools/bench_blas_numpy.py "${large[@]}")"
    else
        output="$(LRM_BLAS_KERNELS="${setting[$config]}" "$bench" blas run "${large[@]}")"
    fi
    grep '^result ' <<< "$output" | sed "s/^/$config /" >> "$work/results.txt"
}

echo
echo "== Measuring: $rounds rounds of ${configs[*]} (order rotates each round)"
count=${#configs[@]}
for ((round = 0; round < rounds; round++)); do
    for ((i = 0; i < count; i++)); do
        config="${configs[(round + i) % count]}"
        printf '  round %d/%d: %s\n' "$((round + 1))" "$rounds" "$config"
        run "$config"
    done
done

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$work/results.txt" "${core[selected]}" "${core[generic]}" "${core[library]}" <<'EOF'
import statistics, sys
path, selected, generic, library = sys.argv[1:5]
labels = {
    "selected": f"lrm selected ({selected})",
    "generic": f"lrm forced generic ({generic})",
    "library": f"lrm library choice ({library})",
    "numpy": "numpy / scipy",
}
values = {}
for line in open(path):
    config, _, routine, shape, unit, value = line.split()
    values.setdefault((routine, shape, unit), {}).setdefault(config, []).append(float(value))
configs = [c for c in labels if any(c in row for row in values.values())]
width = max(len(labels[c]) for c in configs)
header = "  ".join(f"{labels[c]:>{width}}" for c in configs)
print(f"== Medians (min–max) over the rounds")
print(f"{'':26}{header}")
for (routine, shape, unit), row in values.items():
    cells = []
    for config in configs:
        samples = row.get(config, [])
        if not samples:
            cells.append(f"{'—':>{width}}")
            continue
        digits = 1 if unit == "gflops" else 3
        text = f"{statistics.median(samples):.{digits}f} ({min(samples):.{digits}f}–{max(samples):.{digits}f})"
        cells.append(f"{text:>{width}}")
    name = f"{routine} {shape} {'GFLOP/s' if unit == 'gflops' else 's'}"
    print(f"{name:26}" + "  ".join(cells))
if "selected" in configs and "generic" in configs:
    print()
    for (routine, shape, unit), row in values.items():
        if row.get("selected") and row.get("generic"):
            s, g = statistics.median(row["selected"]), statistics.median(row["generic"])
            speedup = s / g if unit == "gflops" else g / s
            print(f"{routine} {shape}: lrm selected runs at {speedup:.2f}× the speed of forced generic")
EOF
