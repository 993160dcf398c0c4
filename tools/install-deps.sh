#!/usr/bin/env bash
# Installs the native libraries lrm builds against (Debian/Ubuntu), only those missing.
# Idempotent and quiet when everything is present. Python's numpy is needed by the tests'
# second reader (tools/lrm_reader.py).
set -euo pipefail

packages=(libhdf5-dev zlib1g-dev liblapacke-dev libopenblas-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python modules of the test tools: numpy (the second reader, tools/lrm_reader.py) and h5py (the independent
# whitening check, tools/check_whitened_reference.py). From pip where pip may install (a virtualenv, pyenv),
# else Debian's packages (Debian 12's own python3 is "externally managed" and refuses pip installs).
for module in numpy h5py; do
  python3 -c "import $module" 2>/dev/null && continue
  echo "install-deps: installing $module for the test tools" >&2
  if ! python3 -m pip install -q "$module" 2>/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "python3-$module" >/dev/null
  fi
  python3 -c "import $module" || { echo "install-deps: $module is still missing for $(command -v python3)" >&2; exit 1; }
done
