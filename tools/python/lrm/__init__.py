"""lrm: read `.lrm` low-rank model files and run them with numpy.

    import lrm
    model = lrm.load("small.lrm")      # layers, metadata, preprocessing, weights as float32 arrays
    y = model.predict(x)               # raw inputs; the file's preprocessing is applied

`lrm.reader` is the container reader written from spec/FORMAT.md alone (`read`, `open_lrm`,
`tensor_array`, `LrmError` with the spec's error kinds); `python3 -m lrm.reader FILE [--verify] [--json]`
describes a file. numpy is the only dependency.
"""

from .reader import ERROR_KINDS, LrmError, LrmFile, json_safe, open_lrm, read, tensor_array
from .model import ACTIVATION_FUNCTIONS, Layer, Model, load

__version__ = "0.1.0"

__all__ = ["load", "Model", "Layer", "LrmError", "LrmFile", "ERROR_KINDS", "ACTIVATION_FUNCTIONS",
           "open_lrm", "read", "tensor_array", "json_safe", "__version__"]
