"""The drop-ins import neither torch nor faiss: a tensor is converted by duck typing."""

import subprocess
import sys

from tests.test_layering import HEAVY


def test_compat_import_pulls_no_heavy_dependency():
    code = (
        "import sys, vprmetrics.compat.gsv_cities, vprmetrics.compat.vg_benchmark;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
