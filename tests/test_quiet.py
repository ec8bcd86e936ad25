"""toolkit.quiet: third-party warnings hidden, the toolkit's own kept and printed as one line; --verbose shows all."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import warnings
from toolkit.quiet import quiet_third_party
quiet_third_party(verbose={verbose})
warnings.warn_explicit("from a library", FutureWarning, "lib.py", 1, module="torchao.quantization")
warnings.warn_explicit("x looks flipped", UserWarning, "frame_check.py", 2, module="toolkit.data.frame_check")
"""


def _stderr(verbose: bool) -> str:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(verbose=verbose)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_quiet_hides_third_party_warnings_and_prints_ours_on_one_line() -> None:
    assert _stderr(verbose=False) == "warning: x looks flipped\n"


def test_verbose_shows_everything_with_its_origin() -> None:
    err = _stderr(verbose=True)
    assert "from a library" in err and "lib.py:1" in err
    assert "x looks flipped" in err and "frame_check.py:2" in err
