#!/usr/bin/env bash
# Sets everything up (native libraries, release build) and runs the main job on the bundled MNIST
# sample: convert it to the smallest model within 0.5 points of accuracy, verify it on the MNIST
# test set against the original, and write the HTML report; then compress and verify the MNIST CNN sample.
# Data: --data DIR, else $LRM_DATA, else ../shared/datasets, else ./data (tools/fetch_datasets.py fills it).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build -c release --product lrm
lrm=.build/release/lrm
out=${LRM_DEMO_OUT:-out}
mkdir -p "$out"

start=$(date +%s)
echo
echo "== lrm convert: smallest model within 0.5 accuracy points (rank search on held-out training data)"
"$lrm" convert samples/mnist_mlp.h5 --input-scale 1/255 --dataset mnist \
  --target-accuracy-drop 0.5 --validation-samples 6000 -o "$out/mnist.lrm" "$@"
echo
echo "== lrm verify: the compressed model against the original on the MNIST test set"
"$lrm" verify "$out/mnist.lrm" --reference samples/mnist_mlp.h5 --dataset mnist \
  --max-accuracy-drop 1.0 --min-agreement 0.98 --junit "$out/mnist-verify.xml" "$@"
echo
echo "== lrm report"
"$lrm" report "$out/mnist.lrm" --reference samples/mnist_mlp.h5 --dataset mnist -o "$out/mnist.html" "$@"
echo "main job done in $(( $(date +%s) - start )) s after the build; open $out/mnist.html"
echo
echo "== the same on the MNIST CNN sample: the smallest model within 0.5 points, the convolutions searched with the Dense"
echo "   layers (each factorized only where that saves parameters within the budget)"
"$lrm" convert samples/mnist_cnn.h5 --input-scale 1/255 --dataset mnist --target-accuracy-drop 0.5 --validation-samples 6000 \
  -o "$out/mnist_cnn.lrm" "$@"
"$lrm" verify "$out/mnist_cnn.lrm" --reference samples/mnist_cnn.h5 --dataset mnist --max-accuracy-drop 1.0 "$@"
