#!/usr/bin/env python3
"""Independent reader for the `.lrm` container, version 1.x.

Written from `spec/FORMAT.md` and `spec/vectors/README.md` alone (not from the
Swift sources), so that disagreements between the two readers point at
ambiguities in the spec or at bugs in one of them.

Python 3 standard library + numpy only.

    read(path, verify=False) -> dict        decoded content, JSON shape of spec/vectors/README.md
    tensor_array(path, name) -> np.ndarray  one tensor as float32 with its shape
    open_lrm(path) -> LrmFile               the opened (checked) file; data is not read

Command line:

    python3 tools/lrm_reader.py FILE [--verify] [--json]     (or python3 -m lrm.reader, or lrm-read)

`--json` writes the decoded content in the JSON shape of spec/vectors/README.md,
with its conventions: a non-finite number is written as null, -0 as 0.

The first failed check is reported, in the order of FORMAT.md section 2
("Order of checks"): the preamble; then the header decoded field by field,
each field's own rules checked as soon as it has been read (limits, encoding,
counts against the bytes left, codes, metadata key rules, tensor name
uniqueness, a tensor's byte count once its entry is read, a layer record's
length once the record is read), then no trailing header bytes; then the model
rules of section 4 in their listed order (input, preprocessing, each layer:
name, trefs, shape rules, sample size; orphans; class count); then the data
section rules of section 5 in their listed order.
"""

import math
import json
import mmap
import os
import struct
import sys
import zlib

import numpy as np

__all__ = ["LrmError", "LrmFile", "open_lrm", "read", "tensor_array", "json_safe", "ERROR_KINDS"]

# --------------------------------------------------------------------------- constants

MAGIC = b"\x89LRM\r\n\x1a\n"
PREAMBLE_SIZE = 32
SUPPORTED_MAJOR = 1
SUPPORTED_MINOR = 5                     # the newest minor version whose codes this reader knows

MAX_HEADER = 64 * 1024 * 1024          # 67,108,864
MIN_ALIGN, MAX_ALIGN = 8, 65536
MAX_STR = 1024 * 1024                  # 1,048,576
MAX_NAME = 1024
MAX_META_KEY = 128
MAX_META_ENTRIES = 65536
MAX_USER_ENTRIES = 65536
MAX_ARRAY = 16 * 1024 * 1024           # 16,777,216
MAX_TENSORS = 1024 * 1024              # 1,048,576
MAX_LAYERS = 1024 * 1024
MAX_CLASSES = 1024 * 1024
MAX_DIMS = 8
MAX_DIM = 2 ** 31 - 1
MAX_OFFSET = 2 ** 62                   # "above 2^62" is an error, 2^62 itself is not
MAX_FACT = 2 ** 31 - 1
MAX_SAMPLE = 2 ** 31 - 1               # elements of a sample: the input, and after every layer
U64_MAX = 2 ** 64 - 1
NONE_TREF = 0xFFFFFFFF

ERROR_KINDS = (
    "io", "truncated", "bad_magic", "unsupported_version", "bad_preamble",
    "preamble_checksum", "header_checksum", "limit_exceeded", "malformed_header",
    "invalid_string", "bad_metadata", "bad_tensor", "bad_layout", "nonzero_padding",
    "file_size", "bad_model", "tensor_checksum", "unsupported_feature",
)

META_TYPES = {1: "string", 2: "int", 3: "float", 4: "bool", 5: "string[]", 6: "int[]", 7: "float[]"}
STANDARD_KEYS = {
    "lrm.writer": "string",
    "source.file": "string",
    "source.format": "string",
    "source.sha256": "string",
    "source.keras_version": "string",
    "source.keras_classes": "string[]",
    "source.open_input_dims": "int[]",
    "source.dropped_layers": "string[]",
    "conversion.policy": "string",
    "conversion.parameter": "float",
    "conversion.factor_dtype": "string",
    "conversion.seed": "int",
    "conversion.group_size": "int",        # format 1.2
    "conversion.zero_points": "bool",      # format 1.3
    "conversion.metric": "string",
    "conversion.history": "string",
    "conversion.from_stored_sha256": "string[]",
    "conversion.from_stored_rounding": "string[]",
    "calibration.dataset": "string",
    "calibration.split": "string",
    "calibration.count": "int",
    "calibration.seed": "int",
    "calibration.ridge": "float",
    "calibration.alpha": "float",
    "conversion.refit": "bool",
    "refit.ridge": "float",
    "refit.count": "int",
    "finetune.epochs": "int",
    "finetune.seed": "int",
    "finetune.data": "string",
    "finetune.samples": "int",
    "finetune.loss": "string",
    "finetune.learning_rate": "float",
    "finetune.schedule": "string",
    "finetune.augmentation": "string",
    "finetune.rounding": "string",
    "search.estimate": "string",
    "search.selection_samples": "int",
    "search.confirmation_samples": "int",
    "search.confidence": "float",
    "search.validation_score_original": "float",
    "search.validation_score": "float",
    "search.validation_standard_error": "float",
}
META_KEY_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.")

# code -> (name, element size, numpy little-endian dtype of the stored element)
DTYPES = {
    1: ("f32", 4, "<f4"),
    2: ("f16", 2, "<f2"),
    3: ("bf16", 2, "<u2"),
    4: ("f64", 8, "<f8"),
    5: ("i8", 1, "<i1"),                   # format 1.2: codes of a quantized weight (1.3: or its zero points)
    6: ("i4", None, "<u1"),                # format 1.2: two codes per byte, the even element in the low nibble
}
INTEGER_DTYPES = ("i8", "i4")
LAYOUTS = {0: "features", 1: "hwc", 2: "chw"}
LAYER_KINDS = {1: "dense", 2: "factorized_dense", 3: "activation", 4: "flatten",
               5: "reshape", 6: "scale_shift",
               # format 1.1
               7: "conv2d", 8: "factorized_conv2d", 9: "depthwise_conv2d", 10: "pool2d",
               11: "global_pool2d", 12: "pad2d", 13: "crop2d", 14: "permute",
               # format 1.2
               15: "quantized_dense", 16: "quantized_factorized_dense",
               # format 1.3: quantized with zero points
               17: "quantized_dense_zp", 18: "quantized_factorized_dense_zp",
               # format 1.4: slots (branches and merges, section 3.7)
               19: "store", 20: "load", 21: "merge",
               # format 1.5: upsampling (section 3.5)
               23: "upsample2d", 24: "conv2d_transpose",
               # format 1.5: an element-wise activation with parameters (section 3.8)
               22: "parametric_activation",
               # format 1.5: layer normalization over the last axis (section 3.9)
               26: "layer_norm"}
PADDINGS = {0: "valid", 1: "same"}
POOL_MODES = {0: "max", 1: "average"}
FORMS = {0: "channel", 1: "spatial"}
MAX_WINDOW = 65535                     # strides, dilations, windows, margins (section 4)
# format 1.4 (section 3.7): merge modes; slot numbers and the slots of one merge are bounded (section 7)
MERGE_MODES = {0: "add", 1: "subtract", 2: "multiply", 3: "average", 4: "maximum", 5: "minimum", 6: "concatenate"}
MAX_SLOT = 65535
# format 1.5 (section 3.5): how an upsample2d fills the new positions
INTERPOLATIONS = {0: "nearest", 1: "bilinear"}
MAX_MERGE_SLOTS = 1024
# quantized kind -> (the plain kind it computes, its quantized weights in record order)
QUANTIZED_KINDS = {"quantized_dense": ("dense", ("kernel",)),
                   "quantized_factorized_dense": ("factorized_dense", ("us", "vt")),
                   "quantized_dense_zp": ("dense", ("kernel",)),
                   "quantized_factorized_dense_zp": ("factorized_dense", ("us", "vt"))}
ZERO_POINT_KINDS = ("quantized_dense_zp", "quantized_factorized_dense_zp")
CODE_RANGES = {"i8": (-128, 127), "i4": (-8, 7)}
ACTIVATIONS = {
    0: "linear", 1: "relu", 2: "sigmoid", 3: "tanh", 4: "softmax", 5: "gelu",
    6: "gelu_tanh", 7: "silu", 8: "elu", 9: "selu", 10: "softplus", 11: "softsign",
    12: "relu6", 13: "hard_sigmoid", 14: "exponential",
    # format 1.5
    15: "mish", 16: "hard_silu", 17: "log_sigmoid", 18: "hard_tanh", 19: "log_softmax", 20: "hard_sigmoid_keras2",
}
# format 1.5 (section 3.8): the functions of a parametric_activation, with their parameter names
PARAMETRIC_FUNCTIONS = {0: ("relu", ("negative_slope", "threshold", "max_value")), 1: ("elu", ("alpha",)),
                        2: ("prelu", ())}

# Minimum bytes of one counted element: the table of FORMAT.md section 3. A count
# whose elements cannot fit in the bytes left after it is malformed_header,
# before anything is allocated. (The table counts every str as its 4-byte
# length and a dims as its 1-byte count: the per-field rules come later.)
MIN_META_ENTRY = 6                     # u32 key length, u8 type, 1-byte value
MIN_USER_ENTRY = 8                     # u32 key length, u32 value length
MIN_TENSOR_ENTRY = 26                  # u32 name length, u8 dtype, u8 dims count, u64 offset, u64 byte_count, u32 crc32
MIN_CLASS_NAME = 4                     # u32 length
MIN_LAYER = 9                          # u32 record_length, u8 kind, u32 name length
MIN_STRING_ELEMENT = 4                 # element of a string[] value
MIN_F64_ELEMENT = 8                    # element of an int[] value or of f64s


# --------------------------------------------------------------------------- errors

class LrmError(Exception):
    """An invalid or unreadable `.lrm` file.

    `kind` is one of ERROR_KINDS (the spec's "Errors" table), `file` the path,
    `offset` the absolute byte offset in the file where known (else None) and
    `detail` what was wrong vs what was expected.
    """

    def __init__(self, kind, detail, file=None, offset=None):
        assert kind in ERROR_KINDS, kind
        self.kind = kind
        self.detail = detail
        self.file = file
        self.offset = offset
        super().__init__(self._text())

    def _text(self):
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.offset is not None:
            parts.append("byte %d" % self.offset)
        parts.append(self.detail)
        return ": ".join(parts)

    def line(self):
        """`FILE: KIND: message` for the command line (message without the file)."""
        where = ("byte %d: " % self.offset) if self.offset is not None else ""
        return "%s: %s: %s%s" % (self.file, self.kind, where, self.detail)


def _align_up(x, a):
    return (x + a - 1) // a * a


def _product(values):
    p = 1
    for v in values:
        p *= v
    return p


def _finite(x):
    return x == x and x not in (float("inf"), float("-inf"))


# --------------------------------------------------------------------------- header reader

def _w(what, suffix=""):
    """Descriptions are built only when an error is reported: a str or (format, args...)."""
    if isinstance(what, tuple):
        what = what[0] % what[1:]
    return what + suffix


class _HeaderReader:
    """Bounds-checked little-endian reader over the header bytes.

    `what` arguments describe the field for error messages: a str, or a tuple
    (format, args...) formatted only when an error is raised."""

    _U8, _U32, _U64, _I64, _F64 = (struct.Struct(f) for f in ("<B", "<I", "<Q", "<q", "<d"))

    def __init__(self, buf, fname):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)
        self.fname = fname

    def at(self, pos=None):
        """Absolute file offset of a header position."""
        return PREAMBLE_SIZE + (self.pos if pos is None else pos)

    def err(self, kind, detail, pos=None):
        return LrmError(kind, detail, self.fname, self.at(pos))

    def remaining(self):
        return self.end - self.pos

    def need(self, n, what, suffix=""):
        if n > self.end - self.pos:
            raise self.err("malformed_header",
                           "%s needs %d bytes but only %d are left in the header"
                           % (_w(what, suffix), n, self.end - self.pos))

    def _get(self, st, what, suffix=""):
        p = self.pos
        if st.size > self.end - p:
            self.need(st.size, what, suffix)
        self.pos = p + st.size
        return st.unpack_from(self.buf, p)[0]

    def u8(self, what, suffix=""):
        return self._get(self._U8, what, suffix)

    def u32(self, what, suffix=""):
        return self._get(self._U32, what, suffix)

    def u64(self, what, suffix=""):
        return self._get(self._U64, what, suffix)

    def i64(self, what, suffix=""):
        return self._get(self._I64, what, suffix)

    def f64(self, what, suffix=""):
        return self._get(self._F64, what, suffix)

    def count(self, limit, min_size, what):
        """u32 count, checked against its limit, then against the bytes left."""
        pos = self.pos
        n = self.u32(what, " count")
        if n > limit:
            raise self.err("limit_exceeded", "%s count is %d, the limit is %d" % (_w(what), n, limit), pos)
        if n * min_size > self.end - self.pos:
            raise self.err("malformed_header",
                           "%s count is %d (at least %d bytes) but only %d bytes are left in the header"
                           % (_w(what), n, n * min_size, self.end - self.pos), pos)
        return n

    def raw_str(self, limit, what, empty_kind=None):
        """`str`: u32 length, then UTF-8. Returns (text, raw bytes, position of the length).

        With empty_kind set, an empty string is that error (a `name`)."""
        pos = self.pos
        n = self.u32(what, " length")
        if n == 0 and empty_kind is not None:
            raise self.err(empty_kind, "%s is empty (must be 1 to %d bytes)" % (_w(what), limit), pos)
        if n > limit:
            raise self.err("limit_exceeded", "%s is %d bytes long, the limit is %d" % (_w(what), n, limit), pos)
        p = self.pos
        if n > self.end - p:
            self.need(n, what)
        raw = bytes(self.buf[p:p + n])
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError as e:
            raise self.err("invalid_string", "%s is not valid UTF-8 (%s)" % (_w(what), e.reason), p + e.start)
        self.pos = p + n
        return text, raw, pos

    def str(self, what, limit=MAX_STR):
        return self.raw_str(limit, what)[0]

    def name(self, what):
        return self.raw_str(MAX_NAME, what, empty_kind="invalid_string")[0]

    def f64s(self, what):
        n = self.count(MAX_ARRAY, MIN_F64_ELEMENT, what)
        vals = struct.unpack_from("<%dd" % n, self.buf, self.pos)
        self.pos += 8 * n
        return list(vals)

    def dims(self, what):
        """`dims`: u8 count (1 to 8), then each u64 dimension (1 to 2^31-1), each checked as it is
        read. Errors are bad_tensor wherever a dims appears (tensor shape, input shape, reshape target)."""
        pos = self.pos
        d = self.u8(what, " dimension count")
        if not 1 <= d <= MAX_DIMS:
            raise self.err("bad_tensor", "%s has %d dimensions, must be 1 to %d" % (_w(what), d, MAX_DIMS), pos)
        p = self.pos
        have = min(d, (self.end - p) // 8)       # dimensions wholly inside the header
        out = list(struct.unpack_from("<%dQ" % have, self.buf, p))
        for i, v in enumerate(out):
            if not 1 <= v <= MAX_DIM:
                raise self.err("bad_tensor", "%s dimension %d is %d, must be 1 to %d"
                               % (_w(what), i, v, MAX_DIM), p + 8 * i)
        self.pos = p + 8 * have
        if have < d:                              # the next dimension runs past the header
            self.need(8, what, " dimension %d" % have)
        return out

    def tref(self, what):
        pos = self.pos
        v = self.u32(what)
        return (None if v == NONE_TREF else v), pos


# --------------------------------------------------------------------------- decoded records

class _Record:
    """Compact record (a hostile header may hold a million of them); indexable like a dict."""
    __slots__ = ()
    PUBLIC = ()

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        setattr(self, key, value)


class _Tensor(_Record):
    __slots__ = ("name", "dtype", "shape", "offset", "byte_count", "crc32", "_code", "_entry", "_offset_field")
    PUBLIC = ("name", "dtype", "shape", "offset", "byte_count", "crc32")

    def public(self):
        d = {k: getattr(self, k) for k in self.PUBLIC}
        d["shape"] = list(self.shape)
        return d


# JSON fields of each layer kind after "name" and "kind" (spec/vectors/README.md)
LAYER_FIELDS = {
    "dense": ("kernel", "bias", "activation"),
    "factorized_dense": ("us", "vt", "bias", "activation", "factorization"),
    "activation": ("activation",),
    "flatten": (),
    "reshape": ("target",),
    "scale_shift": ("scale", "shift"),
    "conv2d": ("kernel", "bias", "activation", "strides", "dilation", "padding"),
    "factorized_conv2d": ("first", "second", "bias", "activation", "form", "strides", "dilation", "padding",
                          "factorization"),
    "depthwise_conv2d": ("kernel", "bias", "activation", "strides", "dilation", "padding"),
    "pool2d": ("mode", "pool", "strides", "padding"),
    "global_pool2d": ("mode",),
    "pad2d": ("margins",),
    "crop2d": ("margins",),
    "permute": ("axes",),
    "quantized_dense": ("kernel", "kernel_scales", "kernel_group_size", "bias", "activation"),
    "quantized_factorized_dense": ("us", "us_scales", "us_group_size", "vt", "vt_scales", "vt_group_size",
                                   "bias", "activation", "factorization"),
    "quantized_dense_zp": ("kernel", "kernel_scales", "kernel_zero_points", "kernel_group_size", "bias", "activation"),
    "quantized_factorized_dense_zp": ("us", "us_scales", "us_zero_points", "us_group_size", "vt", "vt_scales",
                                      "vt_zero_points", "vt_group_size", "bias", "activation", "factorization"),
    "store": ("slot",),
    "load": ("slot",),
    "merge": ("mode", "slots", "activation"),
    "upsample2d": ("factors", "interpolation"),
    "parametric_activation": ("function", "parameters", "alphas"),
    "conv2d_transpose": ("kernel", "bias", "activation", "strides", "dilation", "crop", "output"),
    "layer_norm": ("gamma", "beta", "epsilon"),
}
FACTORIZATION_FIELDS = ("in_features", "out_features", "rank", "retained_energy", "relative_error",
                        "policy", "policy_parameter", "method", "singular_values")


class _Layer(_Record):
    __slots__ = ("name", "kind", "kernel", "bias", "us", "vt", "scale", "shift", "activation", "target",
                 "factorization", "first", "second", "form", "strides", "dilation", "padding", "mode", "pool",
                 "margins", "axes", "kernel_scales", "kernel_group_size", "us_scales", "us_group_size",
                 "vt_scales", "vt_group_size", "kernel_zero_points", "us_zero_points", "vt_zero_points",
                 "slot", "slots", "factors", "interpolation", "function", "parameters", "alphas", "crop", "output", "gamma", "beta", "epsilon", "_refs",
                 "_pos",
                 "_name_pos")

    def __contains__(self, key):
        return key in ("name", "kind") or key in LAYER_FIELDS[self.kind]

    def public(self):
        d = {"name": self.name, "kind": self.kind}
        for k in LAYER_FIELDS[self.kind]:
            v = getattr(self, k)
            if k == "factorization":
                v = {f: v[f] for f in FACTORIZATION_FIELDS}
            elif k in ("target", "strides", "dilation", "pool", "margins", "axes", "slots", "factors", "crop", "output"):
                v = list(v)
            d[k] = v
        return d


_NO_REFS = ()


def _check_spectrum(layer, fz, fail):
    """Energy, relative error and singular values of a factorization record (section 4)."""
    i_f, o_f, k = fz["in_features"], fz["out_features"], fz["rank"]
    re_ = fz["retained_energy"]
    if not (0.0 <= re_ <= 1.0):
        raise fail(layer, "retained_energy is %r, must be from 0 to 1" % re_)
    er = fz["relative_error"]
    if not (_finite(er) and er >= 0.0):
        raise fail(layer, "relative_error is %r, must be finite and >= 0" % er)
    sv = fz["singular_values"]
    mn = min(i_f, o_f)
    if not k <= len(sv) <= mn:
        raise fail(layer, "%d singular values, expected %d to %d" % (len(sv), k, mn))
    for j, s in enumerate(sv):
        if not (_finite(s) and s >= 0.0):
            raise fail(layer, "singular value %d is %r, must be finite and >= 0" % (j, s))
        if j and s > sv[j - 1]:
            raise fail(layer, "singular value %d (%r) is larger than the one before (%r)"
                       % (j, s, sv[j - 1]))


def _window(length, window, stride, dilation, padding):
    """(output length) of one axis, or None when the window does not fit or a parameter is out of range."""
    if not (1 <= window <= MAX_WINDOW and 1 <= stride <= MAX_WINDOW and 1 <= dilation <= MAX_WINDOW):
        return None
    e = (window - 1) * dilation + 1
    if padding == "valid":
        return None if e > length else (length - e) // stride + 1
    return (length + stride - 1) // stride


def _spatial_shape(layer, shape, tshape, fail):
    """The output shape of a format 1.1 layer for input `shape` (section 4's rules, in order)."""
    kind = layer["kind"]
    if kind == "permute":
        axes = layer["axes"]
        if len(axes) != len(shape) or sorted(axes) != list(range(len(shape))):
            raise fail(layer, "axes %s are not a permutation of the input's %d axes" % (axes, len(shape)))
        return [shape[a] for a in axes]
    if len(shape) != 3:
        raise fail(layer, "needs an [h, w, c] input, the input is %s" % (shape,))
    h, w, c = shape

    def fit(kh, kw, strides, dilation, padding):
        oh = _window(h, kh, strides[0], dilation[0], padding)
        ow = _window(w, kw, strides[1], dilation[1], padding)
        if oh is None or ow is None:
            raise fail(layer, "a %dx%d window with strides %s, dilation %s and %s padding does not fit the %dx%d input"
                       % (kh, kw, strides, dilation, padding, h, w))
        return oh, ow

    def expect(field, expected):
        if layer[field] is not None and tshape(layer[field]) != expected:
            raise fail(layer, "%s has shape %s, expected %s" % (field, tshape(layer[field]), expected))

    if kind in ("conv2d", "depthwise_conv2d"):
        k = tshape(layer["kernel"])
        if len(k) != 4:
            raise fail(layer, "kernel has shape %s, expected 4 dimensions" % (k,))
        if k[2] != c:
            raise fail(layer, "kernel %s is for %d input channels, the input has %d" % (k, k[2], c))
        cout = k[3] if kind == "conv2d" else k[2] * k[3]
        if cout > MAX_SAMPLE:
            raise fail(layer, "%d output channels" % cout)
        expect("bias", [cout])
        oh, ow = fit(k[0], k[1], layer["strides"], layer["dilation"], layer["padding"])
        return [oh, ow, cout]
    if kind == "factorized_conv2d":
        a, b = tshape(layer["first"]), tshape(layer["second"])
        for field, t in (("first", a), ("second", b)):
            if len(t) != 4:
                raise fail(layer, "%s has shape %s, expected 4 dimensions" % (field, t))
        channel = layer["form"] == "channel"
        kh, kw = (a[0], a[1]) if channel else (a[0], b[1])
        cout, rank = b[3], a[3]
        m_in, m_out = (kh * kw * c, cout) if channel else (c * kh, kw * cout)
        fz = layer["factorization"]
        if (fz["in_features"], fz["out_features"], fz["rank"]) != (m_in, m_out, rank):
            raise fail(layer, "the record says %dx%d of rank %d, the %s factors make %dx%d of rank %d"
                       % (fz["in_features"], fz["out_features"], fz["rank"], layer["form"], m_in, m_out, rank))
        if not 1 <= rank <= min(m_in, m_out):
            raise fail(layer, "rank is %d, must be 1 to min(%d, %d)" % (rank, m_in, m_out))
        if channel:
            expect("first", [kh, kw, c, rank])
            expect("second", [1, 1, rank, cout])
        else:
            expect("first", [kh, 1, c, rank])
            expect("second", [1, kw, rank, cout])
        expect("bias", [cout])
        _check_spectrum(layer, fz, fail)
        oh, ow = fit(kh, kw, layer["strides"], layer["dilation"], layer["padding"])
        return [oh, ow, cout]
    if kind == "pool2d":
        oh, ow = fit(layer["pool"][0], layer["pool"][1], layer["strides"], [1, 1], layer["padding"])
        return [oh, ow, c]
    if kind == "global_pool2d":
        return [c]
    if kind == "conv2d_transpose":
        k = tshape(layer["kernel"])
        if len(k) != 4:
            raise fail(layer, "kernel has shape %s, expected 4 dimensions" % (k,))
        if k[3] != c:
            raise fail(layer, "transposed kernel %s ([kh, kw, cout, cin]) is for %d input channels, the input has %d"
                       % (k, k[3], c))
        expect("bias", [k[2]])
        if not all(1 <= v <= MAX_WINDOW for v in layer["strides"] + layer["dilation"]) \
                or not all(0 <= v <= MAX_WINDOW for v in layer["crop"]):
            raise fail(layer, "strides %s, dilation %s, crop %s: strides and dilations must be 1 to %d, crops 0 to %d"
                       % (layer["strides"], layer["dilation"], layer["crop"], MAX_WINDOW, MAX_WINDOW))
        oh, ow = layer["output"]
        if not (1 <= oh <= MAX_SAMPLE and 1 <= ow <= MAX_SAMPLE):
            raise fail(layer, "makes a %dx%d output, expected 1 to %d rows and columns" % (oh, ow, MAX_SAMPLE))
        return [oh, ow, k[2]]
    if kind == "upsample2d":
        fh, fw = layer["factors"]
        if not (1 <= fh <= MAX_WINDOW and 1 <= fw <= MAX_WINDOW):
            raise fail(layer, "upsamples by %dx%d, expected factors of 1 to %d" % (fh, fw, MAX_WINDOW))
        if h * fh > MAX_SAMPLE or w * fw > MAX_SAMPLE:
            raise fail(layer, "upsamples its %dx%d input by %dx%d to %dx%d, more than %d rows or columns"
                       % (h, w, fh, fw, h * fh, w * fw, MAX_SAMPLE))
        return [h * fh, w * fw, c]
    t, b_, l_, r_ = layer["margins"]
    if any(m > MAX_WINDOW for m in (t, b_, l_, r_)):
        raise fail(layer, "margins %s, each must be 0 to %d" % (layer["margins"], MAX_WINDOW))
    if kind == "pad2d":
        return [h + t + b_, w + l_ + r_, c]
    if t + b_ >= h or l_ + r_ >= w:
        raise fail(layer, "cropping %s from a %dx%d input leaves nothing" % (layer["margins"], h, w))
    return [h - t - b_, w - l_ - r_, c]


def _slot_shape(layer, shape, slots, fail):
    """The output shape of a format 1.4 slot layer for input `shape` (section 4's rules, in order); a store
    records its input shape in `slots`."""
    kind = layer["kind"]
    if kind == "store":
        slots[layer["slot"]] = list(shape)
        return shape
    if kind == "load":
        s = layer["slot"]
        if s not in slots:
            raise fail(layer, "loads slot %d, which no earlier layer stored" % s)
        return list(slots[s])
    mode, used = layer["mode"], layer["slots"]
    for s in used:
        if s not in slots:
            raise fail(layer, "merges slot %d, which no earlier layer stored" % s)
    if mode == "subtract" and len(used) != 1:
        raise fail(layer, "subtract merges %d slots, it takes exactly one" % len(used))
    if mode == "concatenate":
        last = shape[-1]
        for s in used:
            other = slots[s]
            if len(other) != len(shape) or other[:-1] != shape[:-1]:
                raise fail(layer, "slot %d holds shape %s, which cannot be concatenated on the last axis to the "
                                  "current %s" % (s, other, shape))
            last += other[-1]
        if last > MAX_DIM:
            raise fail(layer, "the concatenated last dimension is %d, the limit is 2^31-1" % last)
        return shape[:-1] + [last]
    for s in used:
        if slots[s] != shape:
            raise fail(layer, "slot %d holds shape %s, the current shape is %s (%s needs equal shapes)"
                       % (s, slots[s], shape, mode))
    return shape


# --------------------------------------------------------------------------- the opened file

class LrmFile:
    """An `.lrm` file that passed every open-time check (sections 2 to 5 except checksums).

    Attributes: path, size, version, alignment, header_size, data_start (D),
    metadata, user_metadata, tensors (records indexable like dicts, without values),
    model, output_shape.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._mm = None
        self._fh = None
        try:
            self._fh = open(self.path, "rb")
            self.size = os.fstat(self._fh.fileno()).st_size
            self._open()
        except OSError as e:
            self.close()
            raise LrmError("io", "cannot read the file: %s" % (e.strerror or e), self.path) from None
        except BaseException:
            self.close()
            raise

    # --- context manager / cleanup
    def close(self):
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass
            self._mm = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _err(self, kind, detail, offset=None):
        return LrmError(kind, detail, self.path, offset)

    def _read_at(self, offset, n):
        self._fh.seek(offset)
        data = self._fh.read(n)
        if len(data) != n:
            raise self._err("io", "short read of %d bytes at %d (got %d)" % (n, offset, len(data)), offset)
        return data

    def _data(self):
        """Read-only memory map of the whole file (created on first use)."""
        if self._mm is None:
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mm

    # --- section 2: preamble
    def _open(self):
        size = self.size
        head = self._read_at(0, min(size, PREAMBLE_SIZE))
        # magic
        if len(head) < len(MAGIC):
            if head != MAGIC[:len(head)]:
                raise self._err("bad_magic", "the first %d bytes are %s, expected the start of the magic %s"
                                % (len(head), head.hex(" "), MAGIC.hex(" ")), 0)
            raise self._err("truncated", "the file is %d bytes long, shorter than the 8-byte magic" % size, size)
        if head[:8] != MAGIC:
            raise self._err("bad_magic", "magic is %s, expected %s" % (head[:8].hex(" "), MAGIC.hex(" ")), 0)
        if size < PREAMBLE_SIZE:
            raise self._err("truncated", "the file is %d bytes long, shorter than the 32-byte preamble" % size, size)
        major, minor, align, hsize, hcrc, pcrc = struct.unpack_from("<HHIQII", head, 8)
        actual = zlib.crc32(head[:28]) & 0xFFFFFFFF
        if actual != pcrc:
            raise self._err("preamble_checksum", "preamble CRC-32 is 0x%08x, the bytes [0, 28) give 0x%08x"
                            % (pcrc, actual), 28)
        if major != SUPPORTED_MAJOR:
            raise self._err("unsupported_version", "major version is %d (version %d.%d), this reader reads %d"
                            % (major, major, minor, SUPPORTED_MAJOR), 8)
        if align < MIN_ALIGN or align > MAX_ALIGN or align & (align - 1):
            raise self._err("bad_preamble", "alignment is %d, must be a power of two from %d to %d"
                            % (align, MIN_ALIGN, MAX_ALIGN), 12)
        if hsize > MAX_HEADER:
            raise self._err("limit_exceeded", "header byte count is %d, the limit is %d" % (hsize, MAX_HEADER), 16)
        if hsize > size - PREAMBLE_SIZE:
            raise self._err("truncated", "header byte count is %d but only %d bytes follow the preamble"
                            % (hsize, size - PREAMBLE_SIZE), 16)
        header = self._read_at(PREAMBLE_SIZE, hsize)
        actual = zlib.crc32(header) & 0xFFFFFFFF
        if actual != hcrc:
            raise self._err("header_checksum", "header CRC-32 is 0x%08x, the bytes [32, %d) give 0x%08x"
                            % (hcrc, 32 + hsize, actual), 24)
        self.version = (major, minor)
        self.alignment = align
        self.header_size = hsize
        self.data_start = _align_up(PREAMBLE_SIZE + hsize, align)

        r = _HeaderReader(header, self.path)
        self._decode_header(r)
        self._check_model_rules()
        self._check_data_section()

    # --- section 3: header
    def _decode_header(self, r):
        self.metadata = self._decode_metadata(r)
        self.user_metadata = self._decode_user_metadata(r)
        self.tensors = self._decode_tensor_table(r)
        self.model = self._decode_model(r)
        if r.remaining() != 0:
            raise r.err("malformed_header", "%d bytes are left after the model section (header is %d bytes)"
                        % (r.remaining(), r.end))

    def _decode_metadata(self, r):
        n = r.count(MAX_META_ENTRIES, MIN_META_ENTRY, "metadata")
        out = {}
        prev = None
        for i in range(n):
            # section 3.1, in this order: key length (limit_exceeded), UTF-8 (invalid_string),
            # key form, key order, type code known, value decodes, standard key's type.
            key, raw, kpos = r.raw_str(MAX_META_KEY, ("metadata key %d", i))
            if not raw:
                raise r.err("bad_metadata", "metadata key %d is empty (must be 1 to 128 bytes)" % i, kpos)
            bad = [c for c in raw if c not in META_KEY_CHARS]
            if bad:
                raise r.err("bad_metadata", "metadata key %r has byte 0x%02x; keys are made of [a-z0-9_.]"
                            % (key, bad[0]), kpos)
            if prev is not None and raw <= prev:
                raise r.err("bad_metadata", "metadata key %r is not after %r in byte order%s"
                            % (key, prev.decode(), " (repeated)" if raw == prev else ""), kpos)
            prev = raw
            tpos = r.pos
            code = r.u8(("metadata %r type", key))
            tname = META_TYPES.get(code)
            if tname is None:
                raise r.err("bad_metadata", "metadata %r has unknown type code %d" % (key, code), tpos)
            what = ("metadata %r value", key)
            if code == 1:
                value = r.str(what)
            elif code == 2:
                value = r.i64(what)
            elif code == 3:
                value = r.f64(what)
            elif code == 4:
                bpos = r.pos
                b = r.u8(what)
                if b not in (0, 1):
                    raise r.err("bad_metadata", "bool metadata %r is %d, must be 0 or 1" % (key, b), bpos)
                value = bool(b)
            elif code == 5:
                m = r.count(MAX_ARRAY, MIN_STRING_ELEMENT, what)
                value = [r.str(("metadata %r value[%d]", key, j)) for j in range(m)]
            elif code == 6:
                m = r.count(MAX_ARRAY, MIN_F64_ELEMENT, what)
                r.need(8 * m, what)
                value = [int(v) for v in struct.unpack_from("<%dq" % m, r.buf, r.pos)]
                r.pos += 8 * m
            else:
                value = r.f64s(what)
            want = STANDARD_KEYS.get(key)
            if want is not None and want != tname:
                raise r.err("bad_metadata", "standard metadata key %r has type %s, expected %s"
                            % (key, tname, want), tpos)
            out[key] = {"type": tname, "value": value}
        return out

    def _decode_user_metadata(self, r):
        n = r.count(MAX_USER_ENTRIES, MIN_USER_ENTRY, "user metadata")
        out = {}
        prev = None
        for i in range(n):
            key, raw, kpos = r.raw_str(MAX_NAME, ("user metadata key %d", i), empty_kind="invalid_string")
            if prev is not None and raw <= prev:
                raise r.err("bad_metadata", "user metadata key %r is not after %r in byte order%s"
                            % (key, prev.decode(), " (repeated)" if raw == prev else ""), kpos)
            prev = raw
            out[key] = r.str(("user metadata %r value", key))
        return out

    def _decode_tensor_table(self, r):
        n = r.count(MAX_TENSORS, MIN_TENSOR_ENTRY, "tensor")
        tensors = []
        names = set()
        for i in range(n):
            epos = r.pos
            name, _, npos = r.raw_str(MAX_NAME, ("tensor %d name", i), empty_kind="invalid_string")
            if name in names:
                raise r.err("bad_tensor", "tensor %d name %r is repeated" % (i, name), npos)
            names.add(name)
            dpos = r.pos
            code = r.u8(("tensor %r dtype", name))
            if code not in DTYPES:
                raise r.err("bad_tensor", "tensor %r has unknown dtype code %d" % (name, code), dpos)
            dname, esize, _ = DTYPES[code]
            shape = r.dims(("tensor %r shape", name))
            opos = r.pos
            offset = r.u64(("tensor %r offset", name))
            if offset > MAX_OFFSET:
                raise r.err("limit_exceeded", "tensor %r offset is %d, the limit is 2^62" % (name, offset), opos)
            bpos = r.pos
            byte_count = r.u64(("tensor %r byte count", name))
            if byte_count > MAX_OFFSET:
                raise r.err("limit_exceeded", "tensor %r byte count is %d, the limit is 2^62"
                            % (name, byte_count), bpos)
            crc = r.u32(("tensor %r crc32", name))
            # once the whole entry has been read: byte_count against the shape (an overflow of
            # the checked product cannot equal a byte count <= 2^62, so it is this rule's error)
            if dname == "i4":
                if _product(shape) % 2:
                    raise r.err("bad_tensor", "tensor %r holds %d i4 values, an odd number (i4 packs two per byte)"
                                % (name, _product(shape)), bpos)
                expected = _product(shape) // 2
            else:
                expected = _product(shape) * esize
            if expected > U64_MAX or byte_count != expected:
                raise r.err("bad_tensor", "tensor %r (%s %s) has byte count %d, expected %d"
                            % (name, dname, "x".join(map(str, shape)), byte_count, expected), bpos)
            t = _Tensor()
            t.name, t.dtype, t.shape, t.offset, t.byte_count, t.crc32 = name, dname, shape, offset, byte_count, crc
            t._code, t._entry, t._offset_field = code, PREAMBLE_SIZE + epos, PREAMBLE_SIZE + opos
            tensors.append(t)
        return tensors

    def _decode_model(self, r):
        """Section 3.4, field-level rules only; the model rules (section 4) come after decoding."""
        name = r.str("model name", MAX_NAME)
        spos = r.pos
        shape = r.dims("model input shape")
        lpos = r.pos
        lcode = r.u8("model input layout")
        if lcode not in LAYOUTS:
            raise r.err("bad_model", "input layout code %d is unknown (0 features, 1 hwc, 2 chw)" % lcode, lpos)
        layout = LAYOUTS[lcode]
        pre, pre_pos = {}, {}
        for what in ("scale", "offset"):
            pre_pos[what] = PREAMBLE_SIZE + r.pos
            pre[what] = r.f64s("input " + what)
        cpos = r.pos
        ncls = r.count(MAX_CLASSES, MIN_CLASS_NAME, "class name")
        class_names = [r.str(("class name %d", j), MAX_NAME) for j in range(ncls)]
        nlay = r.count(MAX_LAYERS, MIN_LAYER, "layer")
        layers = [self._decode_layer(r, i) for i in range(nlay)]
        return {
            "name": name,
            "input": {"shape": shape, "layout": layout, "scale": pre["scale"], "offset": pre["offset"]},
            "class_names": class_names,
            "layers": layers,
            "_input_pos": PREAMBLE_SIZE + spos,
            "_layout_pos": PREAMBLE_SIZE + lpos,
            "_pre_pos": pre_pos,
            "_class_count_pos": PREAMBLE_SIZE + cpos,
        }

    def _newer(self):
        return (" (the file is format 1.%d; this reader reads up to 1.%d)" % (self.version[1], SUPPORTED_MINOR)
                if self.version[1] > SUPPORTED_MINOR else "")

    def _activation(self, r, lname):
        pos = r.pos
        code = r.u8(("layer %r activation", lname))
        if code not in ACTIVATIONS:
            raise r.err("unsupported_feature", "layer %r has unknown activation code %d%s" % (lname, code, self._newer()), pos)
        return ACTIVATIONS[code]

    def _parametric(self, r, lname):
        """Format 1.5 (section 3.8): the function code [unsupported_feature], then the parameters, whose count
        and ranges are checked as soon as they are read [bad_model]."""
        pos = r.pos
        code = r.u8(("layer %r function", lname))
        if code not in PARAMETRIC_FUNCTIONS:
            raise r.err("unsupported_feature", "layer %r has unknown parametric activation function code %d%s"
                        % (lname, code, self._newer()), pos)
        name, names = PARAMETRIC_FUNCTIONS[code]
        pos = r.pos
        params = r.f64s(("layer %r parameters", lname))
        if len(params) != len(names):
            raise r.err("bad_model", "layer %r: %s takes %d parameters, found %d" % (lname, name, len(names), len(params)), pos)
        problem = None
        if name == "relu":
            slope, threshold, top = params
            if not math.isfinite(slope):
                problem = "negative_slope %r, expected a finite value" % slope
            elif not (math.isfinite(threshold) and threshold >= 0):
                problem = "threshold %r, expected a finite value >= 0" % threshold
            elif not top >= 0:
                problem = "max_value %r, expected a value >= 0 (+inf: none)" % top
        elif name == "elu" and not math.isfinite(params[0]):
            problem = "alpha %r, expected a finite value" % params[0]
        if problem:
            raise r.err("bad_model", "layer %r: %s has %s" % (lname, name, problem), pos)
        return name, params

    @staticmethod
    def _code(r, lname, what, table):
        pos = r.pos
        code = r.u8(("layer %r %s", lname, what))
        if code not in table:
            raise r.err("bad_model", "layer %r has %s code %d, expected one of %s"
                        % (lname, what, code, sorted(table)), pos)
        return table[code]

    @staticmethod
    def _slot(r, lname):
        """A format 1.4 slot number (u32), 0 to 65,535 [bad_model], checked as it is read."""
        pos = r.pos
        s = r.u32(("layer %r slot", lname))
        if s > MAX_SLOT:
            raise r.err("bad_model", "layer %r uses slot %d, slot numbers are 0 to %d" % (lname, s, MAX_SLOT), pos)
        return s

    @staticmethod
    def _factorization(r, lname):
        f = {}
        for field in ("in_features", "out_features", "rank"):
            p = r.pos
            v = r.u64(("layer %r %s", lname, field))
            if v > MAX_FACT:
                raise r.err("limit_exceeded", "layer %r %s is %d, the limit is 2^31-1" % (lname, field, v), p)
            f[field] = v
        f["_pos"] = PREAMBLE_SIZE + r.pos
        f["retained_energy"] = r.f64(("layer %r retained_energy", lname))
        f["relative_error"] = r.f64(("layer %r relative_error", lname))
        f["policy"] = r.str(("layer %r policy", lname), MAX_NAME)
        f["policy_parameter"] = r.f64(("layer %r policy_parameter", lname))
        f["method"] = r.str(("layer %r method", lname), MAX_NAME)
        f["singular_values"] = r.f64s(("layer %r singular_values", lname))
        return f

    def _decode_layer(self, r, index):
        rpos = r.pos
        rlen = r.u32(("layer %d record length", index))
        if rlen > r.remaining():
            raise r.err("malformed_header", "layer %d record length is %d but only %d bytes are left in the header"
                        % (index, rlen, r.remaining()), rpos)
        start = r.pos
        kpos = r.pos
        kcode = r.u8(("layer %d kind", index))
        if kcode not in LAYER_KINDS:
            newer = (" (the file is format 1.%d; this reader reads up to 1.%d)" % (self.version[1], SUPPORTED_MINOR)
                     if self.version[1] > SUPPORTED_MINOR else "")
            raise r.err("unsupported_feature", "layer %d has unknown kind code %d%s" % (index, kcode, newer), kpos)
        kind = LAYER_KINDS[kcode]
        lname, _, npos = r.raw_str(MAX_NAME, ("layer %d name", index), empty_kind="invalid_string")
        layer = _Layer()
        layer.name, layer.kind = lname, kind
        refs = []   # (field, index or None, optional, position)

        def tref(field, optional):
            v, p = r.tref(("layer %r %s", lname, field))
            refs.append((field, v, optional, PREAMBLE_SIZE + p))
            layer[field] = v

        def qweight(field):
            # format 1.2: tref codes, tref scales, u32 group_size; 1.3 (kinds 17, 18): a zero-points tref
            # between the scales and the group size
            tref(field, False)
            tref(field + "_scales", False)
            if kind in ZERO_POINT_KINDS:
                tref(field + "_zero_points", False)
            layer[field + "_group_size"] = r.u32(("layer %r %s group size", lname, field))

        if kind == "dense":
            tref("kernel", False)
            tref("bias", True)
            layer["activation"] = self._activation(r, lname)
        elif kind in ("quantized_dense", "quantized_dense_zp"):
            qweight("kernel")
            tref("bias", True)
            layer["activation"] = self._activation(r, lname)
        elif kind in ("factorized_dense", "quantized_factorized_dense", "quantized_factorized_dense_zp"):
            if kind == "factorized_dense":
                tref("us", False)
                tref("vt", False)
            else:
                qweight("us")
                qweight("vt")
            tref("bias", True)
            layer["activation"] = self._activation(r, lname)
            layer["factorization"] = self._factorization(r, lname)
        elif kind == "activation":
            layer["activation"] = self._activation(r, lname)
        elif kind == "flatten":
            pass
        elif kind == "reshape":
            layer["target"] = r.dims(("layer %r reshape target", lname))
        elif kind == "scale_shift":
            tref("scale", False)
            tref("shift", True)
        elif kind in ("conv2d", "depthwise_conv2d", "factorized_conv2d"):
            if kind == "factorized_conv2d":
                tref("first", False)
                tref("second", False)
            else:
                tref("kernel", False)
            tref("bias", True)
            layer["activation"] = self._activation(r, lname)
            if kind == "factorized_conv2d":
                layer["form"] = self._code(r, lname, "factorization form", FORMS)
            layer["strides"] = [r.u32(("layer %r strides", lname)), r.u32(("layer %r strides", lname))]
            layer["dilation"] = [r.u32(("layer %r dilation", lname)), r.u32(("layer %r dilation", lname))]
            layer["padding"] = self._code(r, lname, "padding", PADDINGS)
            if kind == "factorized_conv2d":
                layer["factorization"] = self._factorization(r, lname)
        elif kind == "pool2d":
            layer["mode"] = self._code(r, lname, "pooling mode", POOL_MODES)
            layer["pool"] = [r.u32(("layer %r pool size", lname)), r.u32(("layer %r pool size", lname))]
            layer["strides"] = [r.u32(("layer %r strides", lname)), r.u32(("layer %r strides", lname))]
            layer["padding"] = self._code(r, lname, "padding", PADDINGS)
        elif kind == "global_pool2d":
            layer["mode"] = self._code(r, lname, "pooling mode", POOL_MODES)
        elif kind in ("pad2d", "crop2d"):
            layer["margins"] = [r.u32(("layer %r margins", lname)) for _ in range(4)]
        elif kind == "permute":
            p = r.pos
            n = r.u8(("layer %r axis count", lname))
            if not 1 <= n <= 8:
                raise r.err("bad_model", "layer %r permutes %d axes, expected 1 to 8" % (lname, n), p)
            layer["axes"] = [r.u8(("layer %r axis", lname)) for _ in range(n)]
        elif kind in ("store", "load"):
            layer["slot"] = self._slot(r, lname)
        elif kind == "merge":
            # section 3.7: the mode, the count (1 to 1024) and each slot number (0 to 65,535) are checked as
            # they are read [bad_model]; the count before the slot list is read
            layer["mode"] = self._code(r, lname, "merge mode", MERGE_MODES)
            p = r.pos
            n = r.u32(("layer %r slot count", lname))
            if not 1 <= n <= MAX_MERGE_SLOTS:
                raise r.err("bad_model", "layer %r merges %d slots, expected 1 to %d" % (lname, n, MAX_MERGE_SLOTS), p)
            layer["slots"] = [self._slot(r, lname) for _ in range(n)]
            layer["activation"] = self._activation(r, lname)
        elif kind == "conv2d_transpose":
            # section 3.5 (format 1.5): kernel, bias, activation, then eight u32 (checked with the shapes, section 4)
            tref("kernel", False)
            tref("bias", True)
            layer["activation"] = self._activation(r, lname)
            v = [r.u32(("layer %r geometry", lname)) for _ in range(8)]
            layer["strides"], layer["dilation"], layer["crop"], layer["output"] = v[0:2], v[2:4], v[4:6], v[6:8]
        elif kind == "upsample2d":
            # section 3.5 (format 1.5): the factors (checked with the shapes, section 4), then the interpolation code
            layer["factors"] = [r.u32(("layer %r factors", lname)), r.u32(("layer %r factors", lname))]
            layer["interpolation"] = self._code(r, lname, "interpolation", INTERPOLATIONS)
        elif kind == "parametric_activation":
            layer["function"], layer["parameters"] = self._parametric(r, lname)
            tref("alphas", True)
        elif kind == "layer_norm":
            # section 3.9 (format 1.5): gamma and beta (each optional), then epsilon (checked with the shapes, section 4)
            tref("gamma", True)
            tref("beta", True)
            layer["epsilon"] = r.f64(("layer %r epsilon", lname))
        used = r.pos - start
        if used != rlen:
            raise r.err("malformed_header", "layer %r record length is %d, its fields take %d bytes"
                        % (lname, rlen, used), rpos)
        layer._refs = tuple(refs) if refs else _NO_REFS
        layer._pos = PREAMBLE_SIZE + rpos
        layer._name_pos = PREAMBLE_SIZE + npos
        return layer

    # --- section 4: rules of the model, checked after decoding, in the listed order
    def _check_model_rules(self):
        tensors = self.tensors
        nt = len(tensors)
        model = self.model
        inp = model["input"]

        # 1. the input: hwc/chw need 3 dimensions; at most 2^31-1 elements
        shape = list(inp["shape"])
        layout = inp["layout"]
        if layout != "features" and len(shape) != 3:
            raise self._err("bad_model", "input layout %s needs a 3-dimensional shape, the shape is %s"
                            % (layout, shape), model["_layout_pos"])
        elements = _product(shape)
        if elements > MAX_SAMPLE:
            raise self._err("bad_model", "input shape %s has %d elements, the limit is 2^31-1"
                            % (shape, elements), model["_input_pos"])

        # 2. the preprocessing: scale, then offset; each an allowed count, then finite values
        allowed = {0, 1, elements}
        if layout == "hwc":
            allowed.add(shape[-1])
        elif layout == "chw":
            allowed.add(shape[0])
        for what in ("scale", "offset"):
            vals = inp[what]
            ppos = model["_pre_pos"][what]
            if len(vals) not in allowed:
                raise self._err("bad_model", "input %s has %d values; for shape %s (%s) it may have %s"
                                % (what, len(vals), shape, layout, sorted(allowed)), ppos)
            for j, v in enumerate(vals):
                if not _finite(v):
                    raise self._err("bad_model", "input %s value %d is %r, must be finite" % (what, j, v),
                                    ppos + 4 + 8 * j)

        # 3. the layers, one after the other
        def tshape(idx):
            return tensors[idx]["shape"]

        def fail(layer, text, pos=None):
            return self._err("bad_model", "layer %r (%s): %s" % (layer["name"], layer["kind"], text),
                             layer["_pos"] if pos is None else pos)

        seen = set()
        slots = {}   # format 1.4: slot number -> the shape an earlier store put there
        for layer in model["layers"]:
            kind = layer["kind"]
            # its name differs from every earlier layer's
            if layer["name"] in seen:
                raise fail(layer, "the name is repeated", layer["_name_pos"])
            seen.add(layer["name"])
            # its trefs, in record order
            for field, v, optional, pos in layer["_refs"]:
                if v is None:
                    if not optional:
                        raise fail(layer, "%s is 0xFFFFFFFF (none) but is required, there are %d tensors"
                                   % (field, nt), pos)
                elif v >= nt:
                    raise fail(layer, "%s refers to tensor %d, there are %d tensors" % (field, v, nt), pos)
            # its shape rules, in the order given (a quantized kind has those of its plain kind)
            f = shape[-1]
            kind = QUANTIZED_KINDS.get(kind, (kind,))[0]
            if kind == "dense":
                k = tshape(layer["kernel"])
                if len(k) != 2 or k[0] != f:
                    raise fail(layer, "kernel %r has shape %s, expected [%d, out] for input shape %s"
                               % (tensors[layer["kernel"]]["name"], k, f, shape))
                out = k[1]
                if layer["bias"] is not None and tshape(layer["bias"]) != [out]:
                    raise fail(layer, "bias %r has shape %s, expected [%d]"
                               % (tensors[layer["bias"]]["name"], tshape(layer["bias"]), out))
                shape = shape[:-1] + [out]
            elif kind == "factorized_dense":
                fz = layer["factorization"]
                i_f, o_f, k = fz["in_features"], fz["out_features"], fz["rank"]
                if i_f != f:
                    raise fail(layer, "in_features is %d, the input's last dimension is %d" % (i_f, f))
                if not 1 <= k <= min(i_f, o_f):
                    raise fail(layer, "rank is %d, must be 1 to min(%d, %d)" % (k, i_f, o_f))
                if tshape(layer["us"]) != [i_f, k]:
                    raise fail(layer, "us %r has shape %s, expected [%d, %d]"
                               % (tensors[layer["us"]]["name"], tshape(layer["us"]), i_f, k))
                if tshape(layer["vt"]) != [k, o_f]:
                    raise fail(layer, "vt %r has shape %s, expected [%d, %d]"
                               % (tensors[layer["vt"]]["name"], tshape(layer["vt"]), k, o_f))
                if layer["bias"] is not None and tshape(layer["bias"]) != [o_f]:
                    raise fail(layer, "bias %r has shape %s, expected [%d]"
                               % (tensors[layer["bias"]]["name"], tshape(layer["bias"]), o_f))
                _check_spectrum(layer, fz, fail)
                shape = shape[:-1] + [o_f]
            elif kind == "activation":
                pass
            elif kind == "flatten":
                shape = [_product(shape)]
            elif kind == "reshape":
                # Python integers do not overflow; a target product beyond 64 bits cannot equal
                # the current product (<= 2^31-1), so it is this rule's error (section 7)
                target = layer["target"]
                cur = _product(shape)
                tp = _product(target)
                if tp != cur:
                    raise fail(layer, "target %s has %d elements, the input %s has %d" % (target, tp, shape, cur))
                shape = list(target)
            elif kind == "scale_shift":
                if tshape(layer["scale"]) != [f]:
                    raise fail(layer, "scale %r has shape %s, expected [%d]"
                               % (tensors[layer["scale"]]["name"], tshape(layer["scale"]), f))
                if layer["shift"] is not None and tshape(layer["shift"]) != [f]:
                    raise fail(layer, "shift %r has shape %s, expected [%d]"
                               % (tensors[layer["shift"]]["name"], tshape(layer["shift"]), f))
            elif kind == "layer_norm":
                # section 4 (format 1.5): over the last axis; gamma and beta [f] when present; epsilon finite, >= 0
                for field in ("gamma", "beta"):
                    if layer[field] is not None and tshape(layer[field]) != [f]:
                        raise fail(layer, "%s %r has shape %s, expected [%d]"
                                   % (field, tensors[layer[field]]["name"], tshape(layer[field]), f))
                eps = layer["epsilon"]
                if not (math.isfinite(eps) and eps >= 0):
                    raise fail(layer, "has epsilon %r, expected a finite number of 0 or more" % (eps,))
            elif kind in ("conv2d", "factorized_conv2d", "depthwise_conv2d", "pool2d", "global_pool2d",
                          "pad2d", "crop2d", "permute", "upsample2d", "conv2d_transpose"):
                shape = _spatial_shape(layer, shape, tshape, fail)
            elif kind in ("store", "load", "merge"):
                shape = _slot_shape(layer, shape, slots, fail)
            elif kind == "parametric_activation":
                # section 3.8: prelu has alphas that broadcast to the sample (numpy's rule, aligned at the last
                # axis); the other functions have none
                alphas = layer["alphas"]
                if layer["function"] == "prelu":
                    if alphas is None:
                        raise fail(layer, "prelu has no alphas tensor")
                    a = tshape(alphas)
                    if len(a) > len(shape) or any(x != 1 and x != y for x, y in zip(reversed(a), reversed(shape))):
                        raise fail(layer, "alphas %r has shape %s, which does not broadcast to the input %s"
                                   % (tensors[alphas]["name"], a, shape))
                elif alphas is not None:
                    raise fail(layer, "%s has an alphas tensor, which only prelu takes" % layer["function"])
            # then the rules of quantized weights (section 3.6)
            self._check_quantization(layer, fail)
            # the sample it produces has at most 2^31-1 elements
            n = _product(shape)
            if n > MAX_SAMPLE:
                raise fail(layer, "its output %s has %d elements, the limit is 2^31-1" % (shape, n))

        # 4. no orphan tensors
        used = bytearray(nt)
        for layer in model["layers"]:
            for _, v, _, _ in layer["_refs"]:
                if v is not None:    # checked above: < nt, or None in an optional field
                    used[v] = 1
        if nt and not all(used):
            i = used.index(0)
            raise self._err("bad_model", "tensor %d %r is not used by any layer" % (i, tensors[i]["name"]),
                            tensors[i]["_entry"])

        # 5. the class count
        self.output_shape = shape
        ncls = len(model["class_names"])
        nout = _product(shape)
        if ncls != 0 and ncls != nout:
            raise self._err("bad_model", "%d class names, the model's output %s has %d elements"
                            % (ncls, shape, nout), model["_class_count_pos"])

    def _check_quantization(self, layer, fail):
        tensors = self.tensors
        quantized = QUANTIZED_KINDS.get(layer["kind"], (None, ()))[1]
        for field, v, _, _ in layer["_refs"]:
            if v is None or field.endswith("_scales") or field.endswith("_zero_points"):
                continue
            t = tensors[v]
            if field not in quantized:
                if t["dtype"] in INTEGER_DTYPES:
                    raise fail(layer, "%s %r is %s; integer tensors are only the codes of a quantized weight"
                               % (field, t["name"], t["dtype"]))
                continue
            if t["dtype"] not in INTEGER_DTYPES:
                raise fail(layer, "quantized %s %r is %s, expected i8 or i4" % (field, t["name"], t["dtype"]))
            sc = tensors[layer[field + "_scales"]]
            if sc["dtype"] not in ("f32", "f16"):
                raise fail(layer, "%s scales %r are %s, expected f32 or f16" % (field, sc["name"], sc["dtype"]))
            rows, cols = t["shape"]
            g = layer[field + "_group_size"]
            if not (1 <= g <= rows and rows % g == 0):
                raise fail(layer, "%s group size %d does not divide its %d rows" % (field, g, rows))
            if list(sc["shape"]) != [rows // g, cols]:
                raise fail(layer, "%s scales %r have shape %s, expected [%d, %d]"
                           % (field, sc["name"], list(sc["shape"]), rows // g, cols))
            if layer["kind"] in ZERO_POINT_KINDS:
                zp = tensors[layer[field + "_zero_points"]]
                if zp["dtype"] not in INTEGER_DTYPES:
                    raise fail(layer, "%s zero points %r are %s, expected i8 or i4" % (field, zp["name"], zp["dtype"]))
                if list(zp["shape"]) != [rows // g, cols]:
                    raise fail(layer, "%s zero points %r have shape %s, expected [%d, %d]"
                               % (field, zp["name"], list(zp["shape"]), rows // g, cols))

    # --- section 5: data section
    def _check_data_section(self):
        A = self.alignment
        D = self.data_start
        expected = 0
        prev_end = 0
        for i, t in enumerate(self.tensors):
            if i:
                expected = _align_up(prev_end, A)
            if t["offset"] != expected:
                raise self._err("bad_layout", "tensor %r has offset %d, expected %d"
                                % (t["name"], t["offset"], expected), t["_offset_field"])
            prev_end = t["offset"] + t["byte_count"]
        end = D + prev_end
        if self.size < end:
            raise self._err("truncated", "the file is %d bytes long, its tensors end at %d" % (self.size, end),
                            self.size)
        if self.size > end:
            raise self._err("file_size", "the file is %d bytes long, %d bytes after the last tensor's end at %d"
                            % (self.size, self.size - end, end), end)
        # padding: [32 + H, D), then between tensors
        gaps = [(PREAMBLE_SIZE + self.header_size, D)]
        for i in range(1, len(self.tensors)):
            p = self.tensors[i - 1]
            gaps.append((D + p["offset"] + p["byte_count"], D + self.tensors[i]["offset"]))
        mm = None
        for a, b in gaps:
            if b > a:
                if mm is None:
                    mm = self._data()
                chunk = mm[a:b]
                if chunk.count(0) != len(chunk):
                    j = next(k for k, c in enumerate(chunk) if c)
                    raise self._err("nonzero_padding", "padding byte is 0x%02x, expected 0x00" % chunk[j], a + j)

    # --- data access
    def tensor_index(self, name):
        for i, t in enumerate(self.tensors):
            if t["name"] == name:
                return i
        raise KeyError("%s: no tensor named %r" % (self.path, name))

    def _tensor_bytes(self, i):
        t = self.tensors[i]
        start = self.data_start + t["offset"]
        return memoryview(self._data())[start:start + t["byte_count"]]

    def verify_tensor(self, i):
        t = self.tensors[i]
        mv = self._tensor_bytes(i)
        try:
            crc = 0
            step = 1 << 24
            for a in range(0, len(mv), step):
                crc = zlib.crc32(mv[a:a + step], crc)
            crc &= 0xFFFFFFFF
        finally:
            mv.release()
        if crc != t["crc32"]:
            raise self._err("tensor_checksum", "tensor %r CRC-32 is 0x%08x in the table, its bytes give 0x%08x"
                            % (t["name"], t["crc32"], crc), self.data_start + t["offset"])

    def verify(self):
        for i in range(len(self.tensors)):
            self.verify_tensor(i)
        self.verify_scales()

    def verify_scales(self):
        """Every scale of every quantized weight is finite and non-zero (format 1.2), and (1.3) every zero
        point lies in the range of its weight's codes, else bad_tensor. Per layer: the scales of its weights
        in record order, then their zero points."""
        for layer in self.model["layers"]:
            fields = QUANTIZED_KINDS.get(layer["kind"], (None, ()))[1]
            for field in fields:
                i = layer[field + "_scales"]
                values = self.tensor_values64(i).ravel()
                bad = np.flatnonzero(~np.isfinite(values) | (values == 0))
                if bad.size:
                    t = self.tensors[i]
                    raise self._err("bad_tensor", "scale tensor %r holds %r at element %d; scales must be finite "
                                    "and non-zero" % (t["name"], float(values[bad[0]]), int(bad[0])),
                                    self.data_start + t["offset"])
            if layer["kind"] not in ZERO_POINT_KINDS:
                continue
            for field in fields:
                i = layer[field + "_zero_points"]
                lo, hi = CODE_RANGES[self.tensors[layer[field]]["dtype"]]
                values = self.tensor_values64(i).ravel()
                bad = np.flatnonzero((values < lo) | (values > hi))
                if bad.size:
                    t = self.tensors[i]
                    raise self._err("bad_tensor", "zero-point tensor %r holds %d at element %d; zero points of %s "
                                    "codes must lie in %d..%d" % (t["name"], int(values[bad[0]]), int(bad[0]),
                                                                  self.tensors[layer[field]]["dtype"], lo, hi),
                                    self.data_start + t["offset"])

    def dequantized(self, layer, field):
        """The float32 weight a quantized record's `field` (kernel, us, vt) stands for: codes x scales, or
        with zero points (format 1.3) (codes - zero points) x scales, the difference exact, one float32 product."""
        g = layer[field + "_group_size"]
        codes = self.tensor_array(layer[field]).astype(np.int32)
        if layer["kind"] in ZERO_POINT_KINDS:
            zero = self.tensor_array(layer[field + "_zero_points"]).astype(np.int32)
            codes = codes - np.repeat(zero, g, axis=0)
        scales = self.tensor_array(layer[field + "_scales"]).astype(np.float32)
        return codes.astype(np.float32) * np.repeat(scales, g, axis=0)

    def tensor_values64(self, i):
        """The tensor's elements as a float64 numpy array (exact widening), with its shape."""
        t = self.tensors[i]
        _, esize, npdt = DTYPES[t["_code"]]
        mv = self._tensor_bytes(i)
        try:
            raw = np.frombuffer(mv, dtype=npdt).copy()
        finally:
            mv.release()
        if t["dtype"] == "i4":
            arr = _unpack_i4(raw).astype(np.float64)
        elif t["dtype"] == "bf16":
            arr = (raw.astype(np.uint32) << np.uint32(16)).view(np.float32).astype(np.float64)
        else:
            arr = raw.astype(np.float64)
        return arr.reshape(t["shape"])

    def tensor_array(self, name_or_index):
        """float32 array with the tensor's shape (f64 tensors are rounded to float32)."""
        i = name_or_index if isinstance(name_or_index, int) else self.tensor_index(name_or_index)
        t = self.tensors[i]
        _, esize, npdt = DTYPES[t["_code"]]
        mv = self._tensor_bytes(i)
        try:
            raw = np.frombuffer(mv, dtype=npdt).copy()
        finally:
            mv.release()
        if t["dtype"] == "i4":
            arr = _unpack_i4(raw).astype(np.float32)
        elif t["dtype"] == "bf16":
            arr = (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)
        else:
            arr = raw.astype(np.float32)
        return arr.reshape(t["shape"])

    def to_dict(self, values=True):
        """The decoded content in the JSON shape of spec/vectors/README.md."""
        tensors = []
        for i, t in enumerate(self.tensors):
            d = t.public()
            if values:
                d["values"] = [float(v) for v in self.tensor_values64(i).ravel().tolist()]
            tensors.append(d)
        layers = []
        for layer in self.model["layers"]:
            layers.append(layer.public())
        model = {
            "name": self.model["name"],
            "input": {k: (list(v) if isinstance(v, list) else v) for k, v in self.model["input"].items()},
            "class_names": list(self.model["class_names"]),
            "layers": layers,
        }
        return {
            "version": list(self.version),
            "alignment": self.alignment,
            "metadata": self.metadata,
            "user_metadata": self.user_metadata,
            "tensors": tensors,
            "model": model,
        }


def _unpack_i4(raw):
    """Packed i4 bytes -> int8 codes: the low nibble of each byte first, sign-extended."""
    low = (raw.astype(np.int8) << 4) >> 4
    high = raw.astype(np.int8) >> 4
    return np.stack([low, high], axis=1).ravel()


# --------------------------------------------------------------------------- API

def open_lrm(path):
    """Open and check a file (no tensor checksums, no data read). Close it when done."""
    return LrmFile(path)


def read(path, verify=False):
    """Decoded content of the file as a dict (see spec/vectors/README.md); raises LrmError."""
    with LrmFile(path) as f:
        if verify:
            f.verify()
        return f.to_dict(values=True)


def tensor_array(path, name, verify=False):
    """One tensor as a float32 numpy array with its shape; raises LrmError, KeyError for an unknown name."""
    with LrmFile(path) as f:
        i = f.tensor_index(name)
        if verify:
            f.verify_tensor(i)
        return f.tensor_array(i)


# --------------------------------------------------------------------------- command line

def json_safe(value):
    """The value with the JSON conventions of spec/vectors/README.md (those of `lrm inspect --json`):
    a non-finite number becomes None (null) and -0.0 becomes 0.0; the output is then strict JSON."""
    if isinstance(value, float):
        if not _finite(value):
            return None
        return 0.0 if value == 0.0 else value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _short(value, limit=72):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _summary(f, max_items=40):
    """A short human-readable description (long lists are cut)."""
    lines = []

    def listing(items, fmt):
        for i, item in enumerate(items):
            if i == max_items:
                lines.append("    … %d more" % (len(items) - max_items))
                break
            lines.append(fmt(item))

    lines.append("%s: lrm %d.%d, alignment %d, header %d bytes, data at %d, file %d bytes"
                 % (f.path, f.version[0], f.version[1], f.alignment, f.header_size, f.data_start, f.size))
    lines.append("  %d metadata entries" % len(f.metadata))
    listing(list(f.metadata.items()), lambda kv: "    %s (%s) = %s" % (kv[0], kv[1]["type"], _short(kv[1]["value"])))
    lines.append("  %d user metadata entries" % len(f.user_metadata))
    listing(list(f.user_metadata.items()), lambda kv: "    %s = %s" % (_short(kv[0], 40), _short(kv[1])))
    total = sum(t.byte_count for t in f.tensors)
    lines.append("  %d tensors, %d bytes" % (len(f.tensors), total))
    listing(f.tensors, lambda t: "    %-32s %-4s %-16s offset %d, %d bytes, crc 0x%08x"
            % (t.name, t.dtype, "x".join(map(str, t.shape)), t.offset, t.byte_count, t.crc32))
    m = f.model
    inp = m["input"]
    lines.append("  model %s: input %s %s, scale %d values, offset %d values, %d classes, %d layers, output %s"
                 % (_short(m["name"], 40), "x".join(map(str, inp["shape"])), inp["layout"], len(inp["scale"]),
                    len(inp["offset"]), len(m["class_names"]), len(m["layers"]),
                    "x".join(map(str, f.output_shape))))

    def layer_line(layer):
        extra = []
        if "activation" in layer:
            extra.append(layer.activation)
        if "factorization" in layer:
            fz = layer.factorization
            extra.append("%dx%d rank %d, policy %s %g, retained energy %g, relative error %g, method %s"
                         % (fz["in_features"], fz["out_features"], fz["rank"], fz["policy"],
                            fz["policy_parameter"], fz["retained_energy"], fz["relative_error"], fz["method"]))
        if "target" in layer:
            extra.append("to " + "x".join(map(str, layer.target)))
        if "slot" in layer:
            extra.append("slot %d" % layer.slot)
        if "slots" in layer:
            extra.append("%s with slot%s %s" % (layer.mode, "s" if len(layer.slots) > 1 else "",
                                                ", ".join(map(str, layer.slots))))
        return "    %-24s %-16s %s" % (layer.name, layer.kind, ", ".join(extra))

    listing(m["layers"], layer_line)
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: lrm_reader.py FILE [--verify] [--json]"
    files, verify, as_json = [], False, False
    for a in argv:
        if a == "--verify":
            verify = True
        elif a == "--json":
            as_json = True
        elif a in ("-h", "--help"):
            print(usage)
            return 0
        elif a.startswith("-") and a != "-":
            print("%s\nunknown option %s" % (usage, a), file=sys.stderr)
            return 2
        else:
            files.append(a)
    if len(files) != 1:
        print(usage, file=sys.stderr)
        return 2
    path = files[0]
    try:
        with LrmFile(path) as f:
            if verify:
                f.verify()
            if as_json:
                text = json.dumps(json_safe(f.to_dict(values=True)), indent=1, allow_nan=False)
            else:
                text = _summary(f) + ("\n  all tensor checksums match" if verify else "")
    except LrmError as e:
        print(e.line(), file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
