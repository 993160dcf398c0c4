"""Tests of the `lrm` Python package: `lrm.load` and `Model.predict`.

- against the spec's vectors (spec/vectors): every valid file loads with the layers, weights, metadata and
  preprocessing its JSON lists, and `predict` equals a float64 forward pass computed here from the JSON alone;
  every invalid file raises `LrmError` of its listed kind;
- against lrm's own outputs: when an `lrm` binary is found (`$LRM_BIN`, else `.build/debug/lrm` of the
  repository), `lrm predict` and `Model.predict` agree on lrm's example model and on the MNIST sample
  converted with f16 factors, and the imported sample's predictions equal the Keras outputs stored in
  samples/mnist_mlp.pred.npz; the Keras models with branches (Tests/LRMKerasTests/Fixtures/dag) imported by
  lrm from each Keras layout run through their slots (format 1.4) to Keras's recorded outputs, and `lrm inspect
  --json` lists the same layers as this reader; files of format 1.4 built here byte by byte give what
  `lrm predict` gives, in every merge mode. `LRM_REQUIRE_BIN=1` (set by tools/test.sh) makes a missing
  binary a failure.

    PYTHONPATH=tools/python python3 -m unittest discover -s tools/python/tests -v
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))

import lrm  # noqa: E402

VECTORS = os.path.join(REPO, "spec", "vectors")

# The spec's activation table (FORMAT.md section 3), one scalar at a time with the math module.
SPEC_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: max(x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "tanh": math.tanh,
    "gelu": lambda x: x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x: 0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x: x / (1.0 + math.exp(-x)),
    "elu": lambda x: x if x > 0 else math.exp(x) - 1.0,
    "selu": lambda x: 1.0507009873554805 * (x if x > 0 else 1.6732632423543772 * (math.exp(x) - 1.0)),
    "softplus": lambda x: math.log(1.0 + math.exp(x)),
    "softsign": lambda x: x / (1.0 + abs(x)),
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "hard_sigmoid": lambda x: min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "exponential": math.exp,
    # format 1.5
    "mish": lambda x: x * math.tanh(math.log(1.0 + math.exp(x))),
    "hard_silu": lambda x: x * min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "log_sigmoid": lambda x: -math.log(1.0 + math.exp(-x)),
    "hard_tanh": lambda x: min(max(x, -1.0), 1.0),
    "hard_sigmoid_keras2": lambda x: min(max(0.2 * x + 0.5, 0.0), 1.0),
}


def _reference_parametric(layer, tensors, a):
    """parametric_activation (FORMAT.md section 3.8, format 1.5), element by element as the spec words it; prelu's
    alphas broadcast by numpy's rule."""
    p = layer["parameters"]
    if layer["function"] == "relu":
        slope, threshold, top = p[0], p[1], float("inf") if p[2] is None else p[2]
        return np.vectorize(lambda x: min(x, top) if x > threshold else slope * (x - threshold))(a)
    if layer["function"] == "elu":
        return np.vectorize(lambda x: x if x > 0 else p[0] * (math.exp(x) - 1.0))(a)
    alphas = np.broadcast_to(tensors[layer["alphas"]], a.shape)
    return np.array([x if x > 0 else al * x for x, al in zip(a.reshape(-1), alphas.reshape(-1))]).reshape(a.shape)


def _vector_names():
    return sorted(f[:-4] for f in os.listdir(os.path.join(VECTORS, "valid")) if f.endswith(".lrm"))


def _dequantized(doc, layer, field):
    """A quantized weight of a vector's JSON (format 1.2), W[i, j] = codes[i, j] * scales[i // g, j], or with
    zero points (1.3) (codes[i, j] - zero_points[i // g, j]) * scales[i // g, j], with loops."""
    codes = doc["tensors"][layer[field]]
    scales = doc["tensors"][layer[field + "_scales"]]
    rows, cols = codes["shape"]
    g = layer[field + "_group_size"]
    zero = doc["tensors"][layer[field + "_zero_points"]]["values"] if field + "_zero_points" in layer else [0] * (rows // g * cols)
    return np.array([[(codes["values"][i * cols + j] - zero[(i // g) * cols + j]) * scales["values"][(i // g) * cols + j]
                      for j in range(cols)] for i in range(rows)], dtype=np.float64)


def _reference_forward(doc, x):
    """Forward pass of a vector's JSON in float64, written from FORMAT.md section 3 with plain loops."""
    model = doc["model"]
    tensors = [np.array(t["values"], dtype=np.float64).reshape(t["shape"]) for t in doc["tensors"]]
    shape = list(model["input"]["shape"])
    count = int(np.prod(shape))
    layout = model["input"]["layout"]

    def per_element(values):
        if not values:
            return None
        if len(values) == 1:
            return [values[0]] * count
        if len(values) == count:
            return list(values)
        n = len(values)
        return [values[(i // (count // n)) if layout == "chw" else (i % n)] for i in range(count)]

    scale, offset = per_element(model["input"]["scale"]), per_element(model["input"]["offset"])
    outputs = []
    for sample in x.reshape(x.shape[0], count).astype(np.float64):
        v = [sample[i] * (scale[i] if scale else 1.0) + (offset[i] if offset else 0.0) for i in range(count)]
        a = np.array(v).reshape(shape)
        slots = {}   # format 1.4 (FORMAT.md section 3.7): slot number -> the sample stored there

        def act(name, y):
            if name == "softmax":
                e = np.exp(y - y.max(axis=-1, keepdims=True))
                return e / e.sum(axis=-1, keepdims=True)
            if name == "log_softmax":
                return y - np.log(np.exp(y).sum(axis=-1, keepdims=True))
            return np.vectorize(SPEC_ACTIVATIONS[name])(y)

        for layer in model["layers"]:
            kind = layer["kind"]
            if kind in ("quantized_dense", "quantized_dense_zp"):
                a = a @ _dequantized(doc, layer, "kernel")
                if layer["bias"] is not None:
                    a = a + tensors[layer["bias"]]
                a = act(layer["activation"], a)
            elif kind in ("quantized_factorized_dense", "quantized_factorized_dense_zp"):
                a = (a @ _dequantized(doc, layer, "us")) @ _dequantized(doc, layer, "vt")
                if layer["bias"] is not None:
                    a = a + tensors[layer["bias"]]
                a = act(layer["activation"], a)
            elif kind == "dense":
                a = a @ tensors[layer["kernel"]]
                if layer["bias"] is not None:
                    a = a + tensors[layer["bias"]]
                a = act(layer["activation"], a)
            elif kind == "factorized_dense":
                a = (a @ tensors[layer["us"]]) @ tensors[layer["vt"]]
                if layer["bias"] is not None:
                    a = a + tensors[layer["bias"]]
                a = act(layer["activation"], a)
            elif kind == "activation":
                a = act(layer["activation"], a)
            elif kind == "scale_shift":
                a = a * tensors[layer["scale"]]
                if layer["shift"] is not None:
                    a = a + tensors[layer["shift"]]
            elif kind == "flatten":
                a = a.reshape(-1)
            elif kind == "reshape":
                a = a.reshape(layer["target"])
            elif kind == "store":
                slots[layer["slot"]] = a.copy()
            elif kind == "load":
                a = slots[layer["slot"]].copy()
            elif kind == "merge":
                others = [slots[s] for s in layer["slots"]]
                mode = layer["mode"]
                if mode == "concatenate":
                    a = np.concatenate([a] + others, axis=-1)
                elif mode == "subtract":
                    a = a - others[0]
                elif mode in ("add", "average"):
                    a = (a + sum(others)) / (len(others) + 1 if mode == "average" else 1)
                elif mode == "multiply":
                    for o in others:
                        a = a * o
                else:
                    a = (np.max if mode == "maximum" else np.min)(np.stack([a] + others), axis=0)
                a = act(layer["activation"], a)
            elif kind in ("conv2d", "factorized_conv2d", "depthwise_conv2d", "pool2d", "global_pool2d", "pad2d",
                          "crop2d", "permute"):
                a = _reference_spatial(layer, tensors, a)
                if "activation" in layer:
                    a = act(layer["activation"], a)
            elif kind == "upsample2d":
                a = _reference_upsample(layer, a)
            elif kind == "parametric_activation":
                a = _reference_parametric(layer, tensors, a)
            elif kind == "conv2d_transpose":
                a = act(layer["activation"], _reference_transposed(layer, tensors, a))
            elif kind == "layer_norm":
                # FORMAT.md section 3.9, vector by vector along the last axis with math.fsum
                f = a.shape[-1]
                rows = a.reshape(-1, f)
                gamma = tensors[layer["gamma"]] if layer["gamma"] is not None else np.ones(f)
                beta = tensors[layer["beta"]] if layer["beta"] is not None else np.zeros(f)
                out = np.empty_like(rows, dtype=np.float64)
                for r, v in enumerate(rows):
                    mean = math.fsum(v) / f
                    var = math.fsum((e - mean) ** 2 for e in v) / f
                    for i in range(f):
                        out[r, i] = (v[i] - mean) * gamma[i] / math.sqrt(var + layer["epsilon"]) + beta[i]
                a = out.reshape(a.shape)
            else:
                raise AssertionError("vector layer kind %r has no reference here" % kind)
        outputs.append(a)
    return np.array(outputs)


def _reference_upsample(layer, a):
    """upsample2d (FORMAT.md section 3.5, format 1.5), element by element as the spec words it."""
    fh, fw = layer["factors"]
    h, w, c = a.shape

    def source(o, length, f):
        if layer["interpolation"] == "nearest":
            return o // f, o // f, 0.0
        s = (o + 0.5) / f - 0.5
        i = math.floor(s)
        return min(max(i, 0), length - 1), min(max(i + 1, 0), length - 1), s - i

    out = np.zeros((h * fh, w * fw, c))
    for oy in range(h * fh):
        ly, hy, ty = source(oy, h, fh)
        for ox in range(w * fw):
            lx, hx, tx = source(ox, w, fw)
            out[oy, ox] = ((1 - ty) * ((1 - tx) * a[ly, lx] + tx * a[ly, hx])
                           + ty * ((1 - tx) * a[hy, lx] + tx * a[hy, hx]))
    return out


def _reference_transposed(layer, tensors, a):
    """conv2d_transpose (FORMAT.md section 3.5, format 1.5), element by element: every input position and tap adds
    x · kernel[a, b, o, c] at its output position when that lies inside the output."""
    k = tensors[layer["kernel"]]
    kh, kw, cout, cin = k.shape
    (sh, sw), (dh, dw), (ct, cl), (oh, ow) = layer["strides"], layer["dilation"], layer["crop"], layer["output"]
    h, w, _ = a.shape
    out = np.zeros((oh, ow, cout))
    if layer["bias"] is not None:
        out += tensors[layer["bias"]]
    for i in range(h):
        for j in range(w):
            for p in range(kh):
                for q in range(kw):
                    y, x = i * sh + p * dh - ct, j * sw + q * dw - cl
                    if 0 <= y < oh and 0 <= x < ow:
                        for o in range(cout):
                            out[y, x, o] += sum(a[i, j, c] * k[p, q, o, c] for c in range(cin))
    return out


def _reference_window(length, k, s, d, padding):
    e = (k - 1) * d + 1
    if padding == "valid":
        return (length - e) // s + 1, 0
    out = math.ceil(length / s)
    return out, max((out - 1) * s + e - length, 0) // 2


def _reference_conv(a, kernel, strides, dilation, padding, depthwise=False):
    """FORMAT.md section 3.5's sum, element by element."""
    h, w, c = a.shape
    kh, kw, _, m = kernel.shape
    oh, top = _reference_window(h, kh, strides[0], dilation[0], padding)
    ow, left = _reference_window(w, kw, strides[1], dilation[1], padding)
    cout = c * m if depthwise else m
    y = np.zeros((oh, ow, cout))
    for oy in range(oh):
        for ox in range(ow):
            for i in range(kh):
                for j in range(kw):
                    iy, ix = oy * strides[0] + i * dilation[0] - top, ox * strides[1] + j * dilation[1] - left
                    if 0 <= iy < h and 0 <= ix < w:
                        if depthwise:
                            y[oy, ox] += (a[iy, ix][:, None] * kernel[i, j]).reshape(-1)
                        else:
                            y[oy, ox] += a[iy, ix] @ kernel[i, j]
    return y


def _reference_spatial(layer, tensors, a):
    kind = layer["kind"]
    bias = tensors[layer["bias"]] if layer.get("bias") is not None else 0.0
    if kind == "conv2d":
        return _reference_conv(a, tensors[layer["kernel"]], layer["strides"], layer["dilation"], layer["padding"]) + bias
    if kind == "depthwise_conv2d":
        return _reference_conv(a, tensors[layer["kernel"]], layer["strides"], layer["dilation"], layer["padding"],
                               depthwise=True) + bias
    if kind == "factorized_conv2d":
        first, second = tensors[layer["first"]], tensors[layer["second"]]
        (sh, sw), (dh, dw), pad = layer["strides"], layer["dilation"], layer["padding"]
        if layer["form"] == "channel":
            a = _reference_conv(_reference_conv(a, first, (sh, sw), (dh, dw), pad), second, (1, 1), (1, 1), "valid")
        else:
            a = _reference_conv(_reference_conv(a, first, (sh, 1), (dh, 1), pad), second, (1, sw), (1, dw), pad)
        return a + bias
    if kind == "pool2d":
        h, w, c = a.shape
        (kh, kw), (sh, sw), pad = layer["pool"], layer["strides"], layer["padding"]
        oh, top = _reference_window(h, kh, sh, 1, pad)
        ow, left = _reference_window(w, kw, sw, 1, pad)
        y = np.zeros((oh, ow, c))
        for oy in range(oh):
            for ox in range(ow):
                rows = [r for r in range(oy * sh - top, oy * sh - top + kh) if 0 <= r < h]
                cols = [q for q in range(ox * sw - left, ox * sw - left + kw) if 0 <= q < w]
                block = a[rows][:, cols].reshape(-1, c)
                y[oy, ox] = block.max(axis=0) if layer["mode"] == "max" else block.mean(axis=0)
        return y
    if kind == "global_pool2d":
        return a.reshape(-1, a.shape[2]).max(axis=0) if layer["mode"] == "max" else a.reshape(-1, a.shape[2]).mean(axis=0)
    t, b, l, r = layer.get("margins", (0, 0, 0, 0))
    if kind == "pad2d":
        return np.pad(a, ((t, b), (l, r), (0, 0)))
    if kind == "crop2d":
        return a[t:a.shape[0] - b, l:a.shape[1] - r]
    return a.transpose(layer["axes"])


class VectorTests(unittest.TestCase):
    def test_every_valid_vector_loads_with_its_layers_weights_metadata_and_preprocessing(self):
        names = _vector_names()
        self.assertGreater(len(names), 5)
        for name in names:
            with self.subTest(vector=name):
                with open(os.path.join(VECTORS, "valid", name + ".json")) as fh:
                    doc = json.load(fh)
                m = lrm.load(os.path.join(VECTORS, "valid", name + ".lrm"), verify=True)
                self.assertEqual(m.version[0], doc["version"][0])
                self.assertEqual(m.name, doc["model"]["name"])
                self.assertEqual(m.input_shape, doc["model"]["input"]["shape"])
                self.assertEqual(m.layout, doc["model"]["input"]["layout"])
                self.assertEqual(m.scale, doc["model"]["input"]["scale"])
                self.assertEqual(m.offset, doc["model"]["input"]["offset"])
                self.assertEqual(m.class_names, doc["model"]["class_names"])
                self.assertEqual(m.metadata, {k: v["value"] for k, v in doc["metadata"].items()})
                self.assertEqual(m.metadata_types, {k: v["type"] for k, v in doc["metadata"].items()})
                self.assertEqual(m.user_metadata, doc["user_metadata"])
                self.assertEqual([(l.name, l.kind) for l in m.layers],
                                 [(l["name"], l["kind"]) for l in doc["model"]["layers"]])
                for layer, expected in zip(m.layers, doc["model"]["layers"]):
                    self.assertEqual(layer.activation, expected.get("activation"))
                    self.assertEqual(layer.factorization, expected.get("factorization"))
                    for field in ("kernel", "bias", "us", "vt", "scale", "shift"):
                        index = expected.get(field)
                        if index is None:
                            self.assertNotIn(field, layer.weights)
                            continue
                        t = doc["tensors"][index]
                        want = np.array(t["values"], dtype=np.float64).astype(np.float32).reshape(t["shape"])
                        if field + "_scales" in expected:   # quantized: the weight is given dequantized
                            want = _dequantized(doc, expected, field).astype(np.float32)
                        self.assertEqual(layer.weights[field].dtype, np.float32)
                        np.testing.assert_array_equal(layer.weights[field], want)

    def test_predict_matches_a_float64_forward_pass_of_each_vectors_json(self):
        rng = np.random.default_rng(7)
        checked = 0
        for name in _vector_names():
            with open(os.path.join(VECTORS, "valid", name + ".json")) as fh:
                doc = json.load(fh)
            if not doc["model"]["layers"]:
                continue
            m = lrm.load(os.path.join(VECTORS, "valid", name + ".lrm"))
            x = rng.uniform(-3, 3, size=[5] + m.input_shape).astype(np.float32)
            if m.scale and abs(m.scale[0]) < 0.01:     # pixel-like models: raw 0-255 inputs
                x = rng.uniform(0, 255, size=[5] + m.input_shape).astype(np.float32)
            with self.subTest(vector=name):
                got = m.predict(x)
                want = _reference_forward(doc, x)
                self.assertEqual(got.shape, want.shape)
                self.assertEqual(got.dtype, np.float32)
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
                checked += 1
        self.assertGreaterEqual(checked, 8)

    def test_every_invalid_vector_raises_its_error_kind(self):
        with open(os.path.join(VECTORS, "invalid", "manifest.json")) as fh:
            manifest = json.load(fh)
        self.assertGreater(len(manifest), 20)
        for entry in manifest:
            path = os.path.join(VECTORS, "invalid", entry["file"])
            with self.subTest(file=entry["file"]):
                if entry["stage"] == "verify":
                    lrm.open_lrm(path).close()   # opens; only the data is wrong (checksums, scale values)
                with self.assertRaises(lrm.LrmError) as caught:
                    lrm.load(path, verify=True)
                self.assertEqual(caught.exception.kind, entry["error"])

    def test_a_missing_file_is_an_io_error_naming_it(self):
        with self.assertRaises(lrm.LrmError) as caught:
            lrm.load("/nonexistent/model.lrm")
        self.assertEqual(caught.exception.kind, "io")
        self.assertIn("/nonexistent/model.lrm", str(caught.exception))


class PredictTests(unittest.TestCase):
    def setUp(self):
        self.model = lrm.load(os.path.join(VECTORS, "valid", "image.lrm"))

    def test_batch_flat_and_single_sample_inputs_give_the_same_outputs(self):
        x = np.random.default_rng(1).uniform(0, 255, size=[4] + self.model.input_shape).astype(np.float32)
        batch = self.model.predict(x)
        flat = self.model.predict(x.reshape(4, -1))
        single = self.model.predict(x[2])
        np.testing.assert_array_equal(batch, flat)
        np.testing.assert_allclose(single[0], batch[2], rtol=1e-6, atol=1e-7)
        small_batches = self.model.predict(x, batch_size=3)
        np.testing.assert_allclose(small_batches, batch, rtol=1e-6, atol=1e-7)

    def test_no_preprocess_feeds_the_inputs_unchanged(self):
        x = np.random.default_rng(2).uniform(0, 255, size=[3] + self.model.input_shape).astype(np.float32)
        pre = self.model.preprocess(x.reshape(3, -1)).reshape(x.shape)
        np.testing.assert_allclose(self.model.predict(pre, preprocess=False), self.model.predict(x), rtol=1e-6, atol=1e-7)
        self.assertFalse(np.allclose(self.model.predict(x, preprocess=False), self.model.predict(x)))

    def test_inputs_of_the_wrong_shape_are_refused_with_the_expected_shape(self):
        with self.assertRaises(ValueError) as caught:
            self.model.predict(np.zeros((2, 5), dtype=np.float32))
        self.assertIn("(N, 2, 2, 3)", str(caught.exception))

    def test_every_activation_of_the_spec_matches_its_definition(self):
        x = np.linspace(-6, 6, 49)
        self.assertEqual(set(lrm.ACTIVATION_FUNCTIONS) - {"softmax", "log_softmax"}, set(SPEC_ACTIVATIONS))
        for name, f in SPEC_ACTIVATIONS.items():
            with self.subTest(activation=name):
                got = lrm.model._activate(name, x.astype(np.float32))
                want = np.array([f(float(np.float32(v))) for v in x])
                np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


def _lrm_binary():
    path = os.environ.get("LRM_BIN") or os.path.join(REPO, ".build", "debug", "lrm")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


class AgainstLrmTests(unittest.TestCase):
    """The package and the `lrm` command on the same files."""

    @classmethod
    def setUpClass(cls):
        cls.binary = _lrm_binary()
        if cls.binary is None:
            if os.environ.get("LRM_REQUIRE_BIN") == "1":
                raise AssertionError("LRM_REQUIRE_BIN=1 but no lrm binary at $LRM_BIN or .build/debug/lrm")
            raise unittest.SkipTest("no lrm binary (set LRM_BIN or build the package)")
        cls.tmp = tempfile.mkdtemp(prefix="lrm-python-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lrm(self, *args):
        done = subprocess.run([self.binary] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=300)
        self.assertEqual(done.returncode, 0, "lrm %s: %s" % (" ".join(args), done.stderr))
        return done.stdout

    def lrm_predict(self, model_path, x):
        xin, yout = os.path.join(self.tmp, "x.npy"), os.path.join(self.tmp, "y.npy")
        np.save(xin, x)
        self.lrm("predict", model_path, "--input", xin, "-o", yout)
        return np.load(yout)

    def test_example_model_predictions_equal_lrm_predict(self):
        path = os.path.join(self.tmp, "example.lrm")
        self.lrm("example", "-o", path)
        m = lrm.load(path, verify=True)
        x = np.random.default_rng(3).uniform(0, 255, size=[50] + m.input_shape).astype(np.float32)
        np.testing.assert_allclose(m.predict(x), self.lrm_predict(path, x), rtol=1e-5, atol=1e-6)

    def test_mnist_sample_imported_matches_keras_and_converted_f16_matches_lrm_predict(self):
        sample = np.load(os.path.join(REPO, "samples", "mnist_mlp.pred.npz"))
        x, keras_y = sample["x"], sample["y"]
        imported = os.path.join(self.tmp, "mnist.lrm")
        self.lrm("import", os.path.join(REPO, "samples", "mnist_mlp.h5"), "--input-scale", "1/255", "-o", imported)
        m = lrm.load(imported)
        self.assertEqual([l.kind for l in m.layers], ["flatten", "dense", "dense", "dense"])
        np.testing.assert_allclose(m.predict(x), keras_y, rtol=1e-4, atol=1e-5)

        converted = os.path.join(self.tmp, "mnist_f16.lrm")
        self.lrm("convert", os.path.join(REPO, "samples", "mnist_mlp.h5"), "--input-scale", "1/255",
                 "--policy", "energy:0.9", "--factor-dtype", "f16", "-o", converted)
        c = lrm.load(converted, verify=True)
        ranks = [l.rank for l in c.layers if l.kind == "factorized_dense"]
        self.assertTrue(ranks, "the conversion factorized no layer")
        self.assertLess(c.parameter_count(), m.parameter_count())
        np.testing.assert_allclose(c.predict(x), self.lrm_predict(converted, x), rtol=1e-4, atol=1e-5)
        self.assertEqual(c.metadata["conversion.policy"], "energy")

    def test_hand_built_1_4_files_with_every_merge_mode_give_what_lrm_predict_gives(self):
        # files written byte by byte from the spec (test_slots.py's writer), run by both
        sys.path.insert(0, HERE)
        import test_slots
        rng = np.random.default_rng(14)
        for mode in test_slots.MODE:
            with self.subTest(mode=mode):
                k = [rng.normal(0, 0.7, s).astype(np.float32) for s in ((3, 3), (3,), (3, 3), (3, 3))]
                slots = [1] if mode == "subtract" else [1, 4]
                layers = [("store", "in", test_slots.slot(0)), ("dense", "a", test_slots.dense(0, 1, "tanh")),
                          ("store", "keep_a", test_slots.slot(1)), ("load", "back1", test_slots.slot(0)),
                          ("dense", "b", test_slots.dense(2)), ("store", "keep_b", test_slots.slot(4)),
                          ("load", "back2", test_slots.slot(0)), ("dense", "c", test_slots.dense(3)),
                          ("merge", "join", test_slots.merge(mode, slots, "relu"))]
                path = os.path.join(self.tmp, mode + ".lrm")
                with open(path, "wb") as fh:
                    fh.write(test_slots.build(layers, [("a/kernel", k[0]), ("a/bias", k[1]), ("b/kernel", k[2]),
                                                       ("c/kernel", k[3])]))
                x = rng.uniform(-2, 2, size=(40, 2, 3)).astype(np.float32)
                np.testing.assert_allclose(lrm.load(path).predict(x), self.lrm_predict(path, x), rtol=1e-5, atol=1e-6)

    def test_keras_models_with_branches_imported_run_through_the_slots_as_keras_computes_them(self):
        # format 1.4: the residual CNN (Add, Concatenate), the Dense model with every other merge and the 1-D residual model
        # (Tests/LRMKerasTests/Fixtures/dag, tools/make_dag_fixtures.py), imported by lrm from each Keras layout
        fixtures = os.path.join(REPO, "Tests", "LRMKerasTests", "Fixtures", "dag")
        modes = set()
        for name in ("k3_residual", "k3_merges", "k3_residual1d"):
            recorded = np.load(os.path.join(fixtures, name + ".pred.npz"))
            config = os.path.join(fixtures, name + ".keras")
            for source, extra in ((name + ".h5", []), (name + ".keras", []), (name + ".weights.h5", ["--config", config]),
                                  (name + "_weights.h5", ["--config", config])):
                with self.subTest(source=source):
                    path = os.path.join(self.tmp, source + ".lrm")
                    self.lrm("import", os.path.join(fixtures, source), "-o", path, *extra)
                    m = lrm.load(path, verify=True)
                    self.assertEqual(m.version, (1, 4))
                    merges = [l for l in m.layers if l.kind == "merge"]
                    self.assertTrue(merges and any(l.kind == "store" for l in m.layers))
                    modes.update(l.options["mode"] for l in merges)
                    y = m.predict(recorded["x"])
                    self.assertEqual(y.shape, recorded["y"].shape)
                    np.testing.assert_allclose(y, recorded["y"], rtol=1e-5, atol=1e-6)
                    # the two readers decode the same layers (lrm inspect --json prints the model as the vectors do)
                    inspected = json.loads(self.lrm("inspect", path, "--json"))
                    self.assertEqual(inspected["model"]["layers"], lrm.read(path)["model"]["layers"])
        self.assertEqual(modes, {"add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate"})


if __name__ == "__main__":
    unittest.main()
