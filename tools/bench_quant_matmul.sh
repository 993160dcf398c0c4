#!/usr/bin/env bash
# Prints the time of an i8-weight product computed as lrm's runtime does it (dequantize blocks of rows to
# float32, then sgemm) against an integer product (x rounded to i8 per row, i8·i8 sums in Int32), for
# batches of 1, 4, 16 and 256 rows, one BLAS thread (issue 15: "or multiplies in integers where that is
# faster: measure"). Usage: tools/bench_quant_matmul.sh [--repeats N]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lrm-bench >/dev/null
for batch in 1 4 16 256; do
    OPENBLAS_NUM_THREADS=1 .build/release/lrm-bench quant --batch "$batch" "$@"
done
