#!/usr/bin/env bash
# Sets everything up (native libraries, release build) and runs the main job on the bundled samples.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build -c release --product lrm
lrm=.build/release/lrm
out=${LRM_DEMO_OUT:-.build/demo}
mkdir -p "$out"

echo "== lrm example: a small seeded model with one factorized layer"
"$lrm" example -o "$out/example.lrm"
echo
echo "== lrm inspect --verify"
"$lrm" inspect --verify "$out/example.lrm"
