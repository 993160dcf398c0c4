#!/usr/bin/env bash
# Runs every test: the Swift test suite and the independent Python reader's vector tests.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build --build-tests
swift test --skip-build
python3 tools/test_lrm_reader.py
python3 tools/test_fetch_datasets.py
