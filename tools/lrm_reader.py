#!/usr/bin/env python3
"""The independent `.lrm` reader, kept at this path for scripts and tests that use it.

The reader itself is `tools/python/lrm/reader.py`, part of the pip-installable package in `tools/python`
(`pip install ./tools/python`, then `import lrm`). This file only puts that package on the path and
re-exports the reader, so there is one reader: edit it there.

    python3 tools/lrm_reader.py FILE [--verify] [--json]
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "python"))

from lrm.reader import *  # noqa: E402,F401,F403
from lrm.reader import __all__, main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
