#!/usr/bin/env python3
"""Checks tools/lrm_reader.py against the test vectors of spec/vectors/.

    python3 tools/test_lrm_reader.py [VECTORS_DIR]

- every valid/NAME.lrm: read(path, verify=True) equals valid/NAME.json
  (numbers by value, floats exactly, NaN equal to NaN, booleans only equal booleans;
  a JSON null where a number is decoded matches only a non-finite number, the
  convention of spec/vectors/README.md), and NAME.json holds only finite numbers;
- every entry of invalid/manifest.json: stage "open" -> read(path) raises LrmError
  of the listed kind; stage "verify" -> read(path) succeeds and read(path, verify=True)
  raises LrmError of the listed kind.

Prints one line per failure and `N passed, M failed` last; exits 1 on any failure
(or when no vectors are found). Also runs under pytest (test_vectors).
"""

import contextlib
import io
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import lrm_reader  # noqa: E402
from lrm_reader import LrmError, read  # noqa: E402

DEFAULT_VECTORS = os.path.join(os.path.dirname(HERE), "spec", "vectors")


def _is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def diff(a, b, path="$"):
    """First difference between `a` (decoded) and `b` (expected) as a string, or None."""
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool) and a == b:
            return None
        return "%s: got %r, expected %r" % (path, a, b)
    if b is None and isinstance(a, float) and not math.isfinite(a):
        return None   # README: a non-finite number is written as null
    if _is_num(a) and _is_num(b):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return None
        if a == b:
            return None
        return "%s: got %r, expected %r" % (path, a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        ka, kb = set(a), set(b)
        if ka != kb:
            return "%s: keys differ: extra %s, missing %s" % (path, sorted(ka - kb), sorted(kb - ka))
        for k in b:
            d = diff(a[k], b[k], "%s.%s" % (path, k))
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return "%s: length %d, expected %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if type(a) is type(b) and a == b:
        return None
    if a is None and b is None:
        return None
    return "%s: got %r, expected %r" % (path, a, b)


def non_finite(x, path="$"):
    """Path of the first non-finite number in a decoded JSON value, or None."""
    if isinstance(x, float) and not math.isfinite(x):
        return path
    if isinstance(x, dict):
        items = x.items()
    elif isinstance(x, list):
        items = enumerate(x)
    else:
        return None
    for k, v in items:
        p = non_finite(v, "%s.%s" % (path, k) if isinstance(x, dict) else "%s[%d]" % (path, k))
        if p:
            return p
    return None


def run(vectors=DEFAULT_VECTORS, out=sys.stdout):
    passed, failures = 0, []

    def ok():
        nonlocal passed
        passed += 1

    def bad(name, text):
        failures.append("%s: %s" % (name, text))
        print("FAIL %s: %s" % (name, text), file=out)

    valid_dir = os.path.join(vectors, "valid")
    invalid_dir = os.path.join(vectors, "invalid")
    valid = sorted(f for f in os.listdir(valid_dir) if f.endswith(".lrm")) if os.path.isdir(valid_dir) else []
    manifest_path = os.path.join(invalid_dir, "manifest.json")
    manifest = []
    if os.path.exists(manifest_path):
        with open(manifest_path, encoding="utf-8") as fh:
            manifest = json.load(fh)
    if not valid and not manifest:
        bad(vectors, "no test vectors found")

    # ---- valid files
    for name in valid:
        path = os.path.join(valid_dir, name)
        label = "valid/" + name
        jpath = path[:-4] + ".json"
        if not os.path.exists(jpath):
            bad(label, "no paired .json")
            continue
        with open(jpath, encoding="utf-8") as fh:
            expected = json.load(fh)
        nf = non_finite(expected)
        if nf:
            bad(label, "the JSON holds a non-finite number at %s (the README says the vectors hold none)" % nf)
            continue
        try:
            got = read(path, verify=True)
        except LrmError as e:
            bad(label, "rejected: %s: %s" % (e.kind, e))
            continue
        d = diff(got, expected)
        if d:
            bad(label, "decoded content differs: " + d)
            continue
        # each tensor also comes out of tensor_array with its shape
        try:
            for t in got["tensors"]:
                arr = lrm_reader.tensor_array(path, t["name"])
                if list(arr.shape) != list(t["shape"]) or str(arr.dtype) != "float32":
                    raise AssertionError("tensor_array(%r) has shape %s dtype %s" % (t["name"], arr.shape, arr.dtype))
        except (AssertionError, LrmError) as e:
            bad(label, str(e))
            continue
        ok()

    # ---- invalid files
    listed = set()
    for entry in manifest:
        fname, kind, stage = entry.get("file"), entry.get("error"), entry.get("stage")
        label = "invalid/%s (%s, %s)" % (fname, kind, stage)
        listed.add(fname)
        if kind not in lrm_reader.ERROR_KINDS:
            bad(label, "manifest error kind %r is not a kind of the spec" % kind)
            continue
        if stage not in ("open", "verify"):
            bad(label, "manifest stage %r is neither 'open' nor 'verify'" % stage)
            continue
        path = os.path.join(invalid_dir, fname)
        if stage == "verify":
            try:
                read(path, verify=False)
            except LrmError as e:
                bad(label, "must open without verify, got %s: %s" % (e.kind, e))
                continue
        try:
            read(path, verify=(stage == "verify"))
        except LrmError as e:
            if e.kind != kind:
                bad(label, "got %s: %s" % (e.kind, e))
                continue
        else:
            bad(label, "accepted, expected %s" % kind)
            continue
        ok()
    if os.path.isdir(invalid_dir):
        for f in sorted(os.listdir(invalid_dir)):
            if f.endswith(".lrm") and f not in listed:
                bad("invalid/" + f, "not in manifest.json")

    # ---- command line: exit codes and the error line
    if valid:
        p = os.path.join(valid_dir, valid[0])
        so, se = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
            rc = lrm_reader.main([p, "--verify", "--json"])
        if rc != 0 or diff(json.loads(so.getvalue()), lrm_reader.json_safe(read(p, verify=True))) is not None:
            bad("cli " + valid[0], "exit %d or JSON output differs from read()" % rc)
        else:
            ok()
    if manifest:
        e0 = manifest[0]
        p = os.path.join(invalid_dir, e0["file"])
        se = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(se):
            rc = lrm_reader.main([p, "--verify"])
        line = se.getvalue().strip()
        if rc != 1 or "\n" in line or not line.startswith("%s: %s: " % (p, e0["error"])):
            bad("cli " + e0["file"], "exit %d, stderr %r" % (rc, line))
        else:
            ok()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        rc = lrm_reader.main([])
    if rc != 2:
        bad("cli usage", "exit %d, expected 2" % rc)
    else:
        ok()

    print("%d passed, %d failed" % (passed, len(failures)), file=out)
    return passed, failures


def test_vectors():
    _, failures = run()
    assert not failures, "\n".join(failures)


if __name__ == "__main__":
    vectors = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VECTORS
    _, failures = run(vectors)
    sys.exit(1 if failures else 0)
