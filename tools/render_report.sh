#!/usr/bin/env bash
# Renders an lrm HTML report to PNG with headless Chromium (Debian's `chromium` package), to look at it
# as a user would. Usage: tools/render_report.sh REPORT.html OUT.png [WIDTHxHEIGHT]
set -euo pipefail
html=$(realpath "$1"); png=$2; size=${3:-1300x2600}
command -v chromium >/dev/null || { echo "render_report: install Debian's chromium package" >&2; exit 66; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$png" "file://$html" 2>/dev/null
echo "wrote $png"
