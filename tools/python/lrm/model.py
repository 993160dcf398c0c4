"""A `.lrm` file loaded into memory, and its forward pass in numpy.

    model = lrm.load("small.lrm")
    model.layers[0].name, model.layers[0].kind, model.layers[0].weights["kernel"]
    model.metadata["conversion.policy"]
    y = model.predict(x)          # x raw, as the data comes: the file's preprocessing is applied

The forward pass follows spec/FORMAT.md section 3 ("computes" column, activation table) in float32, as
`lrm predict` does; preprocessing is `x * scale + offset` with the spec's broadcasting rules.
"""

import math

import numpy as np

from .reader import QUANTIZED_KINDS, LrmError, LrmFile

__all__ = ["Layer", "Model", "load", "ACTIVATION_FUNCTIONS"]

def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _sigmoid(x):
    # 1 / (1 + e^-x) without overflow warnings for large |x|
    return np.exp(-np.logaddexp(0.0, -x))


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


ACTIVATION_FUNCTIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "gelu": lambda x: x * 0.5 * (1.0 + _erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))),
    "silu": lambda x: x * _sigmoid(x),
    "elu": _elu,
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "relu6": lambda x: np.clip(x, 0, 6),
    "hard_sigmoid": lambda x: np.clip(x + 3.0, 0, 6) / 6.0,
    "exponential": np.exp,
    # format 1.5
    "mish": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
    "hard_silu": lambda x: x * np.clip(x + 3.0, 0, 6) / 6.0,
    "log_sigmoid": lambda x: -np.logaddexp(0.0, -x),
    "hard_tanh": lambda x: np.clip(x, -1.0, 1.0),
    "hard_sigmoid_keras2": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "log_softmax": lambda x: x - np.max(x, axis=-1, keepdims=True)
    - np.log(np.sum(np.exp(x - np.max(x, axis=-1, keepdims=True)), axis=-1, keepdims=True)),
}


def _parametric(function, parameters, alphas, x):
    """A parametric activation (format 1.5, FORMAT.md section 3.8) in float64, returned as float32; `alphas`
    (prelu's) broadcast over the trailing axes of the batch."""
    x = x.astype(np.float64)
    if function == "relu":
        slope, threshold, top = parameters
        y = np.where(x > threshold, np.minimum(x, top), slope * (x - threshold))
    elif function == "elu":
        y = np.where(x > 0, x, parameters[0] * np.expm1(np.minimum(x, 0)))
    else:
        y = np.where(x > 0, x, alphas.astype(np.float64) * x)
    return y.astype(np.float32)


def _activate(name, x):
    """The activation in float64 (for erf and stable exponentials), returned as float32."""
    return ACTIVATION_FUNCTIONS[name](x.astype(np.float64)).astype(np.float32)


class Layer:
    """One layer of the model.

    `name`, `kind` (`dense`, `factorized_dense`, `activation`, `flatten`, `reshape`, `scale_shift`, the 1.1
    spatial kinds, the 1.2/1.3 quantized kinds, the 1.4 slot kinds `store`, `load`, `merge`, the 1.5 kinds,
    among them `layer_norm`, whose `gamma` and `beta` are weights and `epsilon` an option),
    `activation` (name, or None for kinds without one), `weights` (tensor field -> float32 array: `kernel`,
    `bias`, `us`, `vt`, `scale`, `shift`; absent optional tensors are left out), `factorization` (dict of
    spec/vectors/README.md, factorized layers only) and `target` (reshape only).
    """

    def __init__(self, name, kind, activation=None, weights=None, factorization=None, target=None, options=None):
        self.name = name
        self.kind = kind
        self.activation = activation
        self.weights = weights or {}
        self.factorization = factorization
        self.target = target
        # format 1.1 fields of spec/vectors/README.md: strides, dilation, padding, form, mode, pool, margins, axes;
        # format 1.4: slot (store, load), mode and slots (merge)
        self.options = options or {}

    @property
    def rank(self):
        """k of a factorized layer, else None."""
        return self.factorization["rank"] if self.factorization else None

    def parameter_count(self):
        return sum(int(w.size) for w in self.weights.values())

    def dense_kernel(self):
        """The layer's in × out kernel: stored (dense) or the product us·vt (factorized); None otherwise."""
        if self.kind in ("dense", "quantized_dense", "quantized_dense_zp"):
            return self.weights["kernel"]
        if self.kind in ("factorized_dense", "quantized_factorized_dense", "quantized_factorized_dense_zp"):
            return self.weights["us"] @ self.weights["vt"]
        return None

    def __repr__(self):
        extra = ""
        if self.activation is not None:
            extra += ", activation=%r" % self.activation
        if self.factorization:
            extra += ", rank=%d" % self.rank
        return "Layer(%r, %r%s)" % (self.name, self.kind, extra)


class Model:
    """A `.lrm` model in memory.

    `name`, `input_shape` (one sample), `layout` (`features`, `hwc`, `chw`), `scale` and `offset` (the
    preprocessing, as stored: 0, 1, per-channel or per-element values), `class_names`, `layers`,
    `metadata` (key -> value; `metadata_types` gives each key's type), `user_metadata` (str -> str),
    `output_shape`, `version`, `path`.
    """

    def __init__(self, path, version, name, input_shape, layout, scale, offset, class_names, layers,
                 metadata, metadata_types, user_metadata, output_shape):
        self.path = path
        self.version = version
        self.name = name
        self.input_shape = list(input_shape)
        self.layout = layout
        self.scale = list(scale)
        self.offset = list(offset)
        self.class_names = list(class_names)
        self.layers = layers
        self.metadata = metadata
        self.metadata_types = metadata_types
        self.user_metadata = user_metadata
        self.output_shape = list(output_shape)

    # --- description
    def layer(self, name):
        """The layer with this name; KeyError when there is none."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError("%s: no layer named %r" % (self.path, name))

    def parameter_count(self):
        """Stored weights and biases of every layer (the count lrm's compression ratio uses)."""
        return sum(layer.parameter_count() for layer in self.layers)

    def __repr__(self):
        return "Model(%r, input %s %s, %d layers, output %s)" % (
            self.name, self.input_shape, self.layout, len(self.layers), self.output_shape)

    # --- running
    def _expanded(self, values):
        """One preprocessing value per input element (None: identity), as FORMAT.md section 3 broadcasts them."""
        count = int(np.prod(self.input_shape, dtype=np.int64))
        n = len(values)
        if n == 0:
            return None
        v = np.asarray(values, dtype=np.float64).astype(np.float32)
        if n == 1:
            return np.full(count, v[0], dtype=np.float32)
        if n == count:
            return v
        # one value per channel: the last axis (hwc) or the first (chw)
        if self.layout == "chw":
            return np.repeat(v, count // n)
        return np.tile(v, count // n)

    def preprocess(self, x):
        """`x * scale + offset` on a float32 batch of shape (N, elements)."""
        scale, offset = self._expanded(self.scale), self._expanded(self.offset)
        if scale is not None:
            x = x * scale
        if offset is not None:
            x = x + offset
        return x

    def _batch(self, x):
        """The inputs as a float32 (N, elements) array: one sample, (N, *input_shape) or (N, elements)."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiub":
            raise ValueError("inputs of dtype %s are not numbers" % x.dtype)
        shape = list(x.shape)
        count = int(np.prod(self.input_shape, dtype=np.int64))
        if shape == self.input_shape:
            n = 1
        elif len(shape) == len(self.input_shape) + 1 and shape[1:] == self.input_shape:
            n = shape[0]
        elif len(shape) == 2 and shape[1] == count:
            n = shape[0]
        else:
            raise ValueError("inputs of shape %s do not fit the model's sample shape %s; expected (N, %s)"
                             % (tuple(shape), self.input_shape, ", ".join(map(str, self.input_shape))))
        return np.ascontiguousarray(x, dtype=np.float32).reshape(n, count)

    def predict(self, x, preprocess=True, batch_size=1024):
        """Run the model: `x` raw inputs (one sample, or a batch shaped (N, *input_shape) or (N, elements)).

        The file's preprocessing is applied unless `preprocess` is False. Returns float32 outputs of shape
        (N, *output_shape).
        """
        batch = self._batch(x)
        outputs = []
        for start in range(0, batch.shape[0], max(1, int(batch_size))):
            outputs.append(self._run(batch[start:start + batch_size], preprocess))
        if not outputs:
            return np.zeros([0] + self.output_shape, dtype=np.float32)
        return np.concatenate(outputs).reshape([batch.shape[0]] + self.output_shape)

    def _run(self, x, preprocess):
        n = x.shape[0]
        if preprocess:
            x = self.preprocess(x)
        x = x.reshape([n] + self.input_shape)
        slots = {}   # format 1.4 (FORMAT.md section 3.7): slot number -> the batch stored there
        for layer in self.layers:
            w = layer.weights
            if layer.kind == "store":
                slots[layer.options["slot"]] = x
            elif layer.kind == "load":
                x = slots[layer.options["slot"]]
            elif layer.kind == "merge":
                x = _activate(layer.activation, _merge(layer.options["mode"], x,
                                                       [slots[s] for s in layer.options["slots"]]))
            elif layer.kind in ("dense", "quantized_dense", "quantized_dense_zp"):
                x = x @ w["kernel"]
                if "bias" in w:
                    x = x + w["bias"]
                x = _activate(layer.activation, x)
            elif layer.kind in ("factorized_dense", "quantized_factorized_dense", "quantized_factorized_dense_zp"):
                x = (x @ w["us"]) @ w["vt"]
                if "bias" in w:
                    x = x + w["bias"]
                x = _activate(layer.activation, x)
            elif layer.kind == "activation":
                x = _activate(layer.activation, x)
            elif layer.kind == "parametric_activation":
                x = _parametric(layer.options["function"], layer.options["parameters"], w.get("alphas"), x)
            elif layer.kind == "scale_shift":
                x = x * w["scale"]
                if "shift" in w:
                    x = x + w["shift"]
            elif layer.kind == "layer_norm":
                # format 1.5: over the last axis, biased variance, in float64 here (FORMAT.md section 3.9)
                x64 = x.astype(np.float64)
                mean = x64.mean(axis=-1, keepdims=True)
                var = ((x64 - mean) ** 2).mean(axis=-1, keepdims=True)
                x = (x64 - mean) / np.sqrt(var + layer.options["epsilon"])
                if "gamma" in w:
                    x = x * w["gamma"]
                if "beta" in w:
                    x = x + w["beta"]
            elif layer.kind == "flatten":
                x = x.reshape(n, -1)
            elif layer.kind == "reshape":
                x = x.reshape([n] + list(layer.target))
            elif layer.kind in _SPATIAL:
                x = _SPATIAL[layer.kind](layer, x)
            else:
                raise LrmError("unsupported_feature", "layer %r of kind %r cannot be run by this package"
                               % (layer.name, layer.kind), self.path)
            x = x.astype(np.float32, copy=False)
        return x


def _merge(mode, x, others):
    """`merge` (FORMAT.md section 3.7): the current batch `x` combined with the batches of the merge's slots,
    in that order (the current one first), in float32."""
    if mode == "concatenate":
        return np.concatenate([x] + others, axis=-1)
    if mode == "subtract":
        return x - others[0]
    out = x.copy()
    for y in others:
        if mode in ("add", "average"):
            out += y
        elif mode == "multiply":
            out *= y
        elif mode == "maximum":
            out = np.maximum(out, y)
        elif mode == "minimum":
            out = np.minimum(out, y)
        else:
            raise ValueError("unknown merge mode %r" % mode)
    if mode == "average":
        out /= np.float32(len(others) + 1)
    return out


def _axis(length, window, stride, dilation, padding):
    """(out, pad_before, pad_after) of one axis, FORMAT.md section 3.5."""
    e = (window - 1) * dilation + 1
    if padding == "valid":
        return (length - e) // stride + 1, 0, 0
    out = -(-length // stride)
    total = max((out - 1) * stride + e - length, 0)
    return out, total // 2, total - total // 2


def _windows(x, kh, kw, strides, dilation, padding, fill=0.0):
    """Yields (i, j, view) for every kernel position: view is (N, out_h, out_w, C) of the padded input."""
    n, h, w, c = x.shape
    oh, top, bottom = _axis(h, kh, strides[0], dilation[0], padding)
    ow, left, right = _axis(w, kw, strides[1], dilation[1], padding)
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=fill)
    for i in range(kh):
        for j in range(kw):
            r, q = i * dilation[0], j * dilation[1]
            yield i, j, xp[:, r:r + (oh - 1) * strides[0] + 1:strides[0], q:q + (ow - 1) * strides[1] + 1:strides[1], :]


def _conv(x, kernel, strides, dilation, padding):
    kh, kw, _, cout = kernel.shape
    out = None
    for i, j, view in _windows(x, kh, kw, strides, dilation, padding):
        term = np.tensordot(view, kernel[i, j], axes=([3], [0]))
        out = term if out is None else out + term
    return out.astype(np.float32)


def _finish(layer, x):
    if "bias" in layer.weights:
        x = x + layer.weights["bias"]
    return _activate(layer.activation, x.astype(np.float32))


def _conv2d(layer, x):
    o = layer.options
    return _finish(layer, _conv(x, layer.weights["kernel"], o["strides"], o["dilation"], o["padding"]))


def _factorized_conv2d(layer, x):
    o, w = layer.options, layer.weights
    (sh, sw), (dh, dw) = o["strides"], o["dilation"]
    if o["form"] == "channel":
        x = _conv(_conv(x, w["first"], (sh, sw), (dh, dw), o["padding"]), w["second"], (1, 1), (1, 1), "valid")
    else:
        x = _conv(_conv(x, w["first"], (sh, 1), (dh, 1), o["padding"]), w["second"], (1, sw), (1, dw), o["padding"])
    return _finish(layer, x)


def _depthwise_conv2d(layer, x):
    o, k = layer.options, layer.weights["kernel"]
    kh, kw, c, m = k.shape
    out = None
    for i, j, view in _windows(x, kh, kw, o["strides"], o["dilation"], o["padding"]):
        term = view[..., :, None] * k[i, j]
        out = term if out is None else out + term
    return _finish(layer, out.reshape(out.shape[:3] + (c * m,)))


def _pool2d(layer, x):
    o = layer.options
    kh, kw = o["pool"]
    if o["mode"] == "max":
        out = None
        for _, _, view in _windows(x, kh, kw, o["strides"], (1, 1), o["padding"], fill=-np.inf):
            out = view if out is None else np.maximum(out, view)
        return out.astype(np.float32)
    total = count = None
    ones = np.ones(x.shape[:3] + (1,), dtype=np.float32)
    for (_, _, view), (_, _, inside) in zip(_windows(x, kh, kw, o["strides"], (1, 1), o["padding"]),
                                            _windows(ones, kh, kw, o["strides"], (1, 1), o["padding"])):
        total = view if total is None else total + view
        count = inside if count is None else count + inside
    return (total / count).astype(np.float32)


def _global_pool2d(layer, x):
    return (x.max(axis=(1, 2)) if layer.options["mode"] == "max" else x.mean(axis=(1, 2))).astype(np.float32)


def _pad2d(layer, x):
    t, b, l, r = layer.options["margins"]
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def _crop2d(layer, x):
    t, b, l, r = layer.options["margins"]
    return x[:, t:x.shape[1] - b, l:x.shape[2] - r, :]


def _permute(layer, x):
    return np.ascontiguousarray(x.transpose([0] + [a + 1 for a in layer.options["axes"]]))


def _upsample_axis(length, factor, interpolation):
    """(low, high, t) index arrays of one axis of an upsample2d (FORMAT.md section 3.5)."""
    o = np.arange(length * factor)
    if interpolation == "nearest":
        i = o // factor
        return i, i, np.zeros(len(o), dtype=np.float32)
    s = (o + 0.5) / factor - 0.5
    i = np.floor(s).astype(np.int64)
    t = (s - i).astype(np.float32)
    return np.clip(i, 0, length - 1), np.clip(i + 1, 0, length - 1), t


def _upsample2d(layer, x):
    """upsample2d (format 1.5): rows, then columns, each the weighted pair of its two source rows (columns)."""
    fh, fw = layer.options["factors"]
    interpolation = layer.options["interpolation"]
    ly, hy, ty = _upsample_axis(x.shape[1], fh, interpolation)
    lx, hx, tx = _upsample_axis(x.shape[2], fw, interpolation)
    ty, tx = ty[None, :, None, None], tx[None, None, :, None]
    top = (1 - tx) * x[:, ly][:, :, lx] + tx * x[:, ly][:, :, hx]
    bottom = (1 - tx) * x[:, hy][:, :, lx] + tx * x[:, hy][:, :, hx]
    return ((1 - ty) * top + ty * bottom).astype(np.float32)


def _conv2d_transpose(layer, x):
    """conv2d_transpose (format 1.5): input position (i, j) adds x[i, j] · kernel[a, b]ᵀ at output position
    (i·s_h + a·d_h − crop_top, j·s_w + b·d_w − crop_left) where that lies inside the output."""
    o, w = layer.options, layer.weights
    k = w["kernel"]
    kh, kw, cout, _ = k.shape
    (sh, sw), (dh, dw), (ct, cl), (oh, ow) = o["strides"], o["dilation"], o["crop"], o["output"]
    n, h, wd, _ = x.shape
    # The full map (no crop), wide enough for the requested output, then the window of it the output is.
    full_h = max((h - 1) * sh + (kh - 1) * dh + 1, ct + oh)
    full_w = max((wd - 1) * sw + (kw - 1) * dw + 1, cl + ow)
    y = np.zeros((n, full_h, full_w, cout), dtype=np.float32)
    for a in range(kh):
        for b in range(kw):
            contribution = x @ k[a, b].T    # (n, h, w, cout)
            y[:, a * dh:a * dh + (h - 1) * sh + 1:sh, b * dw:b * dw + (wd - 1) * sw + 1:sw, :] += contribution
    y = y[:, ct:ct + oh, cl:cl + ow, :]
    if "bias" in w:
        y = y + w["bias"]
    return _activate(layer.activation, y)


_SPATIAL = {"conv2d": _conv2d, "factorized_conv2d": _factorized_conv2d, "depthwise_conv2d": _depthwise_conv2d,
            "pool2d": _pool2d, "global_pool2d": _global_pool2d, "pad2d": _pad2d, "crop2d": _crop2d, "permute": _permute,
            "upsample2d": _upsample2d, "conv2d_transpose": _conv2d_transpose}


def load(path, verify=False):
    """Read a `.lrm` file into memory: its metadata, preprocessing, layers and weights (float32 arrays).

    With `verify`, every tensor's CRC-32 is checked too. Raises `LrmError` (with the spec's error `kind`) for
    a missing, corrupt or unsupported file; the file is closed when this returns.
    """
    with LrmFile(path) as f:
        if verify:
            f.verify()
        else:
            f.verify_scales()   # a quantized weight's scales are checked before it is used
        arrays = [f.tensor_array(i) for i in range(len(f.tensors))]
        layers = []
        for record in f.model["layers"]:
            fields = record.public()
            # every tensor reference of the record, whatever the kind (the reader knows the payloads)
            weights = {field: arrays[index] for field, index, _, _ in record._refs if index is not None}
            # a quantized weight (format 1.2) is given dequantized: codes x scales of its group
            # ((codes - zero points) x scales with the zero points of format 1.3)
            for field in QUANTIZED_KINDS.get(fields["kind"], (None, ()))[1]:
                weights[field] = f.dequantized(record, field)
                weights.pop(field + "_scales", None)
                weights.pop(field + "_zero_points", None)
            options = {k: fields[k] for k in ("strides", "dilation", "padding", "form", "mode", "pool", "margins", "axes",
                                              "slot", "slots", "factors", "interpolation", "function", "parameters",
                                              "crop", "output", "epsilon")
                   if k in fields}
            layers.append(Layer(fields["name"], fields["kind"], fields.get("activation"), weights,
                                fields.get("factorization"), fields.get("target"), options))
        inp = f.model["input"]
        return Model(path=f.path, version=tuple(f.version), name=f.model["name"], input_shape=inp["shape"],
                     layout=inp["layout"], scale=inp["scale"], offset=inp["offset"],
                     class_names=f.model["class_names"], layers=layers,
                     metadata={k: v["value"] for k, v in f.metadata.items()},
                     metadata_types={k: v["type"] for k, v in f.metadata.items()},
                     user_metadata=dict(f.user_metadata), output_shape=f.output_shape)
