#!/usr/bin/env bash
# Prints container figures: open+validate time for a 1 MiB and a 1 GiB file (their ratio should
# stay below 2: opening is O(header)), checksum verification throughput and write throughput.
# Usage: tools/bench_format.sh [--dir DIR] [--large-mib N]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product lrm-bench >/dev/null
.build/release/lrm-bench format "$@"
