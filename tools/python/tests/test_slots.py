"""Format 1.4 (spec/FORMAT.md section 3.7): the layer kinds `store`, `load` and `merge`, in the reader and the runner.

The files are built here byte by byte with a small writer written from the spec (sections 1 to 3), so these
tests depend on neither the Swift writer nor the vectors:

- valid files: every merge mode (add, subtract, multiply, average, maximum, minimum, concatenate) decodes with
  the JSON fields of spec/vectors/README.md and `predict` equals a float64 forward pass written here from the
  spec's definitions; concatenation of branches of different widths, per position of the other axes; a slot
  stored again; the largest slot number and the largest merge;
- hostile files: each rule of sections 3.7, 4 and 7 on slots with the error kind the spec names.

    PYTHONPATH=tools/python python3 -m unittest discover -s tools/python/tests -v
"""

import os
import shutil
import struct
import sys
import tempfile
import unittest
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import lrm  # noqa: E402

MAGIC = b"\x89LRM\r\n\x1a\n"
ALIGN = 64
KIND = {"dense": 1, "activation": 3, "flatten": 4, "reshape": 5, "store": 19, "load": 20, "merge": 21}
MODE = {"add": 0, "subtract": 1, "multiply": 2, "average": 3, "maximum": 4, "minimum": 5, "concatenate": 6}
ACT = {"linear": 0, "relu": 1, "tanh": 3}


# --------------------------------------------------------------------------- a small writer

def _str(text):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<I", len(raw)) + raw


def _dims(shape):
    return struct.pack("<B", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)


def dense(kernel, bias=None, activation="linear"):
    return struct.pack("<IIB", kernel, 0xFFFFFFFF if bias is None else bias, ACT[activation])


def slot(number):
    """The payload of `store` and `load`: u32 slot."""
    return struct.pack("<I", number)


def merge(mode, slots, activation="linear", count=None):
    """u8 mode, u32 count, count x u32 slot, u8 activation (`count` overrides the list's length)."""
    code = MODE[mode] if isinstance(mode, str) else mode
    n = len(slots) if count is None else count
    return struct.pack("<BI", code, n) + b"".join(struct.pack("<I", s) for s in slots) + struct.pack("<B", ACT[activation])


def build(layers, tensors=(), input_shape=(2, 3), minor=4, record_length_delta=0):
    """The bytes of a `.lrm` file: `layers` a list of (kind, name, payload bytes), `tensors` a list of
    (name, float32 array) stored as f32 in table order. One metadata entry (lrm.writer), no user metadata,
    layout features, no preprocessing, no class names. `record_length_delta` is added to the last layer's
    record length (to break it)."""
    meta = struct.pack("<I", 1) + _str("lrm.writer") + b"\x01" + _str("test_slots.py")
    user = struct.pack("<I", 0)
    table = struct.pack("<I", len(tensors))
    data = b""
    for name, array in tensors:
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        data += b"\x00" * (-len(data) % ALIGN)
        table += _str(name) + b"\x01" + _dims(array.shape) + struct.pack("<QQI", len(data), len(raw),
                                                                          zlib.crc32(raw) & 0xFFFFFFFF)
        data += raw
    model = _str("slots") + _dims(input_shape) + b"\x00" + struct.pack("<II", 0, 0) + struct.pack("<I", 0)
    model += struct.pack("<I", len(layers))
    for i, (kind, name, payload) in enumerate(layers):
        record = struct.pack("<B", KIND[kind] if isinstance(kind, str) else kind) + _str(name) + payload
        delta = record_length_delta if i == len(layers) - 1 else 0
        model += struct.pack("<I", len(record) + delta) + record
    header = meta + user + table + model
    start = 32 + len(header)
    padding = b"\x00" * (-start % ALIGN)
    pre = MAGIC + struct.pack("<HHIQI", 1, minor, ALIGN, len(header), zlib.crc32(header) & 0xFFFFFFFF)
    pre += struct.pack("<I", zlib.crc32(pre) & 0xFFFFFFFF)
    return pre + header + padding + data


# --------------------------------------------------------------------------- a reference forward pass

def _spec_merge(mode, current, others):
    """Section 3.7's definitions, in float64 with plain loops over the elements."""
    if mode == "concatenate":
        rows = current.reshape(-1, current.shape[-1])
        parts = [o.reshape(-1, o.shape[-1]) for o in others]
        out = []
        for r in range(rows.shape[0]):          # per position of the other axes: the current values, then each slot's
            line = list(rows[r])
            for p in parts:
                line.extend(p[r])
            out.append(line)
        return np.array(out).reshape(current.shape[:-1] + (len(out[0]),))
    flat = [current.ravel()] + [o.ravel() for o in others]
    out = []
    for i in range(flat[0].size):
        values = [float(v[i]) for v in flat]
        if mode == "add":
            out.append(sum(values))
        elif mode == "subtract":
            assert len(values) == 2
            out.append(values[0] - values[1])
        elif mode == "multiply":
            p = 1.0
            for v in values:
                p *= v
            out.append(p)
        elif mode == "average":
            out.append(sum(values) / len(values))
        elif mode == "maximum":
            out.append(max(values))
        else:
            out.append(min(values))
    return np.array(out).reshape(current.shape)


def reference(doc, x):
    """Forward pass of a decoded file (lrm.read's JSON) in float64, one sample at a time: dense, activation
    (linear, relu, tanh), flatten and the slot kinds as section 3.7 describes the register machine."""
    tensors = [np.array(t["values"], dtype=np.float64).reshape(t["shape"]) for t in doc["tensors"]]
    act = {"linear": lambda v: v, "relu": lambda v: np.maximum(v, 0.0), "tanh": np.tanh}
    out = []
    for sample in x.astype(np.float64):
        a, slots = sample, {}
        for layer in doc["model"]["layers"]:
            kind = layer["kind"]
            if kind == "dense":
                a = a @ tensors[layer["kernel"]]
                if layer["bias"] is not None:
                    a = a + tensors[layer["bias"]]
                a = act[layer["activation"]](a)
            elif kind == "activation":
                a = act[layer["activation"]](a)
            elif kind == "flatten":
                a = a.reshape(-1)
            elif kind == "store":
                slots[layer["slot"]] = a.copy()
            elif kind == "load":
                a = slots[layer["slot"]].copy()
            elif kind == "merge":
                a = act[layer["activation"]](_spec_merge(layer["mode"], a, [slots[s] for s in layer["slots"]]))
            else:
                raise AssertionError("no reference for kind %r" % kind)
        out.append(a)
    return np.array(out)


# --------------------------------------------------------------------------- tests

class SlotTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="lrm-slots-", dir=os.environ.get("TMPDIR"))
        self.rng = np.random.default_rng(1404)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, data, name="m.lrm"):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def weights(self, *shapes):
        return [self.rng.normal(0, 0.7, s).astype(np.float32) for s in shapes]

    def check_predict(self, path, x=None, batch_size=1024):
        doc = lrm.read(path, verify=True)
        m = lrm.load(path, verify=True)
        if x is None:
            x = self.rng.uniform(-2, 2, size=[7] + m.input_shape).astype(np.float32)
        got = m.predict(x, batch_size=batch_size)
        want = reference(doc, x)
        self.assertEqual(got.dtype, np.float32)
        self.assertEqual(list(got.shape), [x.shape[0]] + m.output_shape)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        return doc, m, got

    def branches(self, mode, activation="relu"):
        """A file with the input stored in slot 0 and three dense branches of it: a (tanh) in slot 1, b (linear)
        in slot 4, and c (linear) current, then `merge mode` of c with slots 1 and 4 (subtract: slot 1 only)."""
        ka, kb, kc = self.weights((3, 3), (3, 3), (3, 3))
        (bias_a,) = self.weights((3,))
        slots = [1] if mode == "subtract" else [1, 4]
        layers = [("store", "in", slot(0)),
                  ("dense", "a", dense(0, 1, "tanh")), ("store", "keep_a", slot(1)), ("load", "back1", slot(0)),
                  ("dense", "b", dense(2)), ("store", "keep_b", slot(4)), ("load", "back2", slot(0)),
                  ("dense", "c", dense(3)), ("merge", "join", merge(mode, slots, activation))]
        tensors = [("a/kernel", ka), ("a/bias", bias_a), ("b/kernel", kb), ("c/kernel", kc)]
        return self.write(build(layers, tensors), mode + ".lrm")

    def test_every_merge_mode_decodes_and_runs_as_the_spec_defines_it(self):
        for mode in MODE:
            with self.subTest(mode=mode):
                doc, m, got = self.check_predict(self.branches(mode))
                self.assertEqual(doc["version"], [1, 4])
                want_slots = [1] if mode == "subtract" else [1, 4]
                self.assertEqual(doc["model"]["layers"][-1],
                                 {"name": "join", "kind": "merge", "mode": mode, "slots": want_slots,
                                  "activation": "relu"})
                self.assertEqual(doc["model"]["layers"][0], {"name": "in", "kind": "store", "slot": 0})
                self.assertEqual(doc["model"]["layers"][3], {"name": "back1", "kind": "load", "slot": 0})
                self.assertEqual(m.output_shape, [2, 9] if mode == "concatenate" else [2, 3])
                self.assertEqual(m.layers[-1].options, {"mode": mode, "slots": want_slots})
                self.assertEqual(m.layers[0].options, {"slot": 0})

    def test_the_merge_is_the_stated_combination_of_the_branches(self):
        # the same model run layer by layer with numpy: each mode's outputs from the three branch outputs
        x = self.rng.uniform(-2, 2, size=(5, 2, 3)).astype(np.float32)
        for mode in MODE:
            with self.subTest(mode=mode):
                m = lrm.load(self.branches(mode, activation="linear"))
                w = {l.name: l.weights for l in m.layers}
                a = np.tanh(x.astype(np.float64) @ w["a"]["kernel"] + w["a"]["bias"])
                b = x.astype(np.float64) @ w["b"]["kernel"]
                c = x.astype(np.float64) @ w["c"]["kernel"]
                want = {"add": c + a + b, "subtract": c - a, "multiply": c * a * b, "average": (c + a + b) / 3,
                        "maximum": np.maximum(np.maximum(c, a), b), "minimum": np.minimum(np.minimum(c, a), b),
                        "concatenate": np.concatenate([c, a, b], axis=-1)}[mode]
                np.testing.assert_allclose(m.predict(x), want, rtol=1e-5, atol=1e-6)

    def test_concatenation_of_different_widths_keeps_the_other_axes(self):
        # current [2, 4], slot 7 [2, 1], slot 2 [2, 2]: each of the 2 rows is its 4 + 1 + 2 values in that order
        k4, k1, k2 = self.weights((3, 4), (3, 1), (3, 2))
        layers = [("store", "in", slot(0)), ("store", "first2", slot(2)), ("dense", "one", dense(1)),
                  ("store", "s7", slot(7)), ("load", "l0", slot(0)), ("dense", "two", dense(2)),
                  ("store", "s2", slot(2)), ("load", "l0b", slot(0)), ("flatten", "f", b""),
                  ("load", "again", slot(0)), ("dense", "four", dense(0)),
                  ("merge", "cat", merge("concatenate", [7, 2], "linear"))]
        path = self.write(build(layers, [("four/kernel", k4), ("one/kernel", k1), ("two/kernel", k2)]))
        x = self.rng.uniform(-1, 1, size=(3, 2, 3)).astype(np.float32)
        _, m, got = self.check_predict(path, x)
        self.assertEqual(m.output_shape, [2, 7])
        np.testing.assert_allclose(got[:, :, :4], x @ k4, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[:, :, 4:5], x @ k1, rtol=1e-5, atol=1e-6)
        # slot 2 was stored twice (the input [2, 3], then branch two [2, 2]): the merge takes the sample stored last
        np.testing.assert_allclose(got[:, :, 5:], x @ k2, rtol=1e-5, atol=1e-6)

    def test_a_slot_stored_again_holds_the_new_sample_and_load_keeps_it(self):
        k, = self.weights((3, 3))
        layers = [("store", "s0", slot(0)), ("dense", "d", dense(0)), ("store", "s0_again", slot(0)),
                  ("activation", "r", struct.pack("<B", ACT["relu"])),
                  ("load", "l0", slot(0)), ("load", "l0_twice", slot(0)),
                  ("merge", "sum", merge("add", [0, 0], "linear"))]     # one slot twice: d(x) · 3
        path = self.write(build(layers, [("d/kernel", k)]))
        x = self.rng.uniform(-1, 1, size=(4, 2, 3)).astype(np.float32)
        _, _, got = self.check_predict(path, x)
        np.testing.assert_allclose(got, 3 * (x @ k), rtol=1e-5, atol=1e-6)

    def test_batches_split_anywhere_give_the_same_outputs(self):
        path = self.branches("average")
        m = lrm.load(path)
        x = self.rng.uniform(-2, 2, size=(9, 2, 3)).astype(np.float32)
        np.testing.assert_array_equal(m.predict(x, batch_size=2), m.predict(x))

    def test_the_largest_slot_number_and_the_largest_merge_are_valid(self):
        layers = [("store", "top", slot(65535)), ("merge", "many", merge("maximum", [65535] * 1024, "relu"))]
        path = self.write(build(layers))
        x = self.rng.uniform(-1, 1, size=(2, 2, 3)).astype(np.float32)
        doc, _, got = self.check_predict(path, x)
        self.assertEqual(doc["model"]["layers"][1]["slots"], [65535] * 1024)
        np.testing.assert_array_equal(got, np.maximum(x, 0))

    def test_a_model_with_no_slot_kinds_in_a_1_4_file_and_slot_kinds_in_a_newer_file_read(self):
        # readers accept a newer minor version whose codes they know (the valid vector future_minor)
        path = self.write(build([("store", "s", slot(3)), ("load", "l", slot(3))], minor=9))
        self.assertEqual(lrm.read(path)["version"], [1, 9])
        self.assertEqual(lrm.read(self.write(build([], minor=4), "empty.lrm"))["model"]["layers"], [])

    # ---- hostile files: each with the error kind the spec names

    def assert_error(self, data, kind, *fragments):
        path = self.write(data, "bad.lrm")
        with self.assertRaises(lrm.LrmError) as caught:
            lrm.read(path)
        self.assertEqual(caught.exception.kind, kind, str(caught.exception))
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))
        return caught.exception

    def test_a_load_of_a_slot_no_earlier_layer_stored_is_bad_model_naming_layer_and_slot(self):
        self.assert_error(build([("load", "early", slot(7)), ("store", "late", slot(7))]),
                          "bad_model", "'early'", "slot 7", "no earlier layer stored")

    def test_a_merge_of_a_slot_never_stored_is_bad_model(self):
        self.assert_error(build([("store", "s", slot(1)), ("merge", "m", merge("add", [1, 2]))]),
                          "bad_model", "'m'", "slot 2")

    def test_a_merge_of_a_slot_stored_only_by_a_later_layer_is_bad_model(self):
        self.assert_error(build([("merge", "m", merge("maximum", [0])), ("store", "s", slot(0))]),
                          "bad_model", "'m'", "slot 0")

    def test_merged_shapes_that_differ_are_bad_model(self):
        k, = self.weights((3, 4))
        for mode in ("add", "subtract", "multiply", "average", "maximum", "minimum"):
            with self.subTest(mode=mode):
                self.assert_error(build([("store", "s", slot(0)), ("dense", "d", dense(0)),
                                         ("merge", "m", merge(mode, [0]))], [("d/kernel", k)]),
                                  "bad_model", "'m'", "slot 0", "[2, 3]", "[2, 4]")

    def test_merged_shapes_with_the_same_last_axis_but_other_axes_differing_are_bad_model(self):
        # [2, 3] stored, merged into [1, 2, 3] (another rank, a reshape) and into [3, 3] (the same rank, another
        # first axis: reshaped to [1, 6], a dense 6 -> 9, reshaped to [3, 3])
        k, = self.weights((6, 9))
        for mode in ("add", "minimum"):
            with self.subTest(mode=mode, shape=[1, 2, 3]):
                self.assert_error(build([("store", "s", slot(0)), ("reshape", "r", _dims((1, 2, 3))),
                                         ("merge", "m", merge(mode, [0]))]), "bad_model", "'m'", "slot 0", "[2, 3]")
            with self.subTest(mode=mode, shape=[3, 3]):
                self.assert_error(build([("store", "s", slot(0)), ("reshape", "r", _dims((1, 6))),
                                         ("dense", "d", dense(0)), ("reshape", "r2", _dims((3, 3))),
                                         ("merge", "m", merge(mode, [0]))], [("d/kernel", k)]),
                                  "bad_model", "'m'", "slot 0", "[2, 3]", "[3, 3]")

    def test_a_concatenation_whose_other_axes_differ_is_bad_model(self):
        # [2, 3] with [6] (different rank), [2, 3] with [3, 2] (same rank, another first axis), [2, 3] with
        # [1, 2, 3] (another rank)
        self.assert_error(build([("store", "s", slot(0)), ("flatten", "f", b""),
                                 ("merge", "m", merge("concatenate", [0]))]), "bad_model", "'m'", "slot 0")
        for target in ((3, 2), (1, 2, 3)):
            with self.subTest(target=target):
                self.assert_error(build([("store", "s", slot(0)), ("reshape", "r", _dims(target)),
                                         ("merge", "m", merge("concatenate", [0]))]), "bad_model", "'m'", "slot 0")
        k, = self.weights((3, 2))
        self.assert_error(build([("store", "s", slot(0)), ("flatten", "f", b""), ("store", "flat", slot(1)),
                                 ("load", "l", slot(0)), ("dense", "d", dense(0)),     # [2, 2]
                                 ("merge", "m", merge("concatenate", [0, 1]))], [("d/kernel", k)]),
                          "bad_model", "'m'", "slot 1")

    def test_a_concatenation_longer_than_the_limit_is_bad_model(self):
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", merge("concatenate", [0]))],
                                input_shape=(2 ** 31 - 1,)), "bad_model", "'m'")
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", merge("concatenate", [0]))],
                                input_shape=(1, 2 ** 30)), "bad_model", "'m'", "2147483648")
        # a last axis within the limit but a sample above 2^31-1 elements: the sample rule (section 4, step 3)
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", merge("concatenate", [0]))],
                                input_shape=(2, 2 ** 30 - 1)), "bad_model", "'m'", "elements")

    def test_subtract_with_two_slots_is_bad_model(self):
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", merge("subtract", [0, 0]))]),
                          "bad_model", "'m'", "subtract")

    def test_a_merge_count_outside_1_to_1024_is_bad_model_before_the_slot_list_is_read(self):
        self.assert_error(build([("store", "s", slot(0)), ("merge", "none", merge("add", []))]),
                          "bad_model", "'none'", "0 slots")
        # 1025 slots written in full, and 1025 announced with one slot written: the count is refused first
        self.assert_error(build([("store", "s", slot(0)), ("merge", "big", merge("add", [0] * 1025))]),
                          "bad_model", "'big'", "1025")
        self.assert_error(build([("store", "s", slot(0)), ("merge", "big", merge("add", [0], count=1025))]),
                          "bad_model", "'big'", "1025")
        self.assert_error(build([("store", "s", slot(0)), ("merge", "big", merge("add", [0], count=2 ** 32 - 1))]),
                          "bad_model", "'big'")

    def test_a_slot_number_above_65535_is_bad_model_in_each_kind(self):
        for layers in ([("store", "s", slot(65536))],
                       [("store", "s", slot(0)), ("load", "l", slot(65536))],
                       [("store", "s", slot(0)), ("merge", "m", merge("add", [0, 65536]))],
                       [("store", "s", slot(0)), ("merge", "m", merge("add", [2 ** 32 - 1]))]):
            with self.subTest(kind=layers[-1][0]):
                self.assert_error(build(layers), "bad_model", "'%s'" % layers[-1][1], "slot")

    def test_a_slot_number_is_checked_as_it_is_read(self):
        # slot 65536 first, then a slot list running past the header: bad_model, not malformed_header
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", struct.pack("<BII", 0, 3, 65536))]),
                          "bad_model", "65536")
        # a valid slot, then the list runs past the header
        self.assert_error(build([("store", "s", slot(0)), ("merge", "m", struct.pack("<BII", 0, 3, 0))]),
                          "malformed_header")

    def test_an_unknown_merge_mode_is_bad_model(self):
        for code in (7, 255):
            with self.subTest(code=code):
                self.assert_error(build([("store", "s", slot(0)), ("merge", "m", merge(code, [0]))]),
                                  "bad_model", "'m'", "mode code %d" % code)

    def test_an_unknown_merge_activation_is_unsupported_feature(self):
        self.assert_error(build([("store", "s", slot(0)),
                                 ("merge", "m", merge("add", [0])[:-1] + b"\xc8")]), "unsupported_feature", "200")

    def test_a_wrong_record_length_of_a_slot_kind_is_malformed_header(self):
        for layers in ([("store", "s", slot(0))], [("store", "s", slot(0)), ("merge", "m", merge("add", [0]))]):
            for delta in (-1, 1):
                with self.subTest(kind=layers[-1][0], delta=delta):
                    self.assert_error(build(layers, record_length_delta=delta), "malformed_header", "record length")

    def test_a_repeated_layer_name_among_slot_kinds_is_bad_model(self):
        self.assert_error(build([("store", "x", slot(0)), ("load", "x", slot(0))]), "bad_model", "repeated")

    def test_a_kind_after_the_slot_kinds_names_the_versions(self):
        e = self.assert_error(build([("store", "s", slot(0)), (200, "future", b"")], minor=99),
                              "unsupported_feature", "kind code 200")
        self.assertIn("the file is format 1.99; this reader reads up to 1.5", str(e))


if __name__ == "__main__":
    unittest.main()
