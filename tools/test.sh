#!/usr/bin/env bash
# Runs every test: the Swift test suite, the independent Python reader's vector tests, the fetch script's
# offline tests, the example package that depends on lrm's libraries, and (where the MNIST data is) the
# independent numpy check of a whitened conversion.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build --build-tests
swift test --skip-build
python3 tools/test_lrm_reader.py
LRM_BIN=.build/debug/lrm LRM_REQUIRE_BIN=1 PYTHONPATH=tools/python python3 -m unittest discover -s tools/python/tests
python3 tools/test_fetch_datasets.py

# Another package depending on lrm's libraries by path (issue 16): it must build, and its few-line
# conversion must write exactly the bytes `lrm convert` writes for the same request.
example=$(mktemp -d)
# SwiftPM can keep a path dependency's old file list in an existing build folder (files added or removed in
# lrm since): on failure, build once more from an empty folder.
swift build --package-path tools/example-package || {
  echo "test.sh: rebuilding tools/example-package from scratch" >&2
  rm -rf tools/example-package/.build
  swift build --package-path tools/example-package
}
tools/example-package/.build/debug/convert-example samples/mnist_mlp.h5 "$example/library.lrm"
.build/debug/lrm convert samples/mnist_mlp.h5 --policy energy:0.95 -o "$example/cli.lrm" >/dev/null
cmp "$example/library.lrm" "$example/cli.lrm"
echo "test.sh: tools/example-package converts through the library exactly as lrm convert does" >&2
rm -rf "$example"

data=${LRM_DATA:-../shared/datasets}
if [ -d "$data/mnist" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  echo "test.sh: whitened conversion of the MNIST sample against tools/check_whitened_reference.py" >&2
  .build/debug/lrm convert samples/mnist_mlp.h5 --input-scale 1/255 --dataset mnist --data "$data" \
    --validation-samples 6000 --calibration-samples 54000 --policy whitened:0.9 --no-refit -o "$out/whitened.lrm" >/dev/null
  python3 tools/check_whitened_reference.py samples/mnist_mlp.h5 "$out/whitened.lrm" --data "$data" --validation-samples 6000
else
  echo "test.sh: no MNIST data in $data: skipping the whitening reference check" >&2
fi
