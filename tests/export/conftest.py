"""One tiny export shared by the fast tests: examples/export_model.py run as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("executorch", reason="export stack not installed (pip install executorch==1.5.1 ...)")


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    """<tmp>/watch: a 'tiny' student of the random-tiny teacher, fp32 + int8, pte + tflite + onnx."""
    out = tmp_path_factory.mktemp("edge")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "export_model.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "student_int8.pte" in proc.stdout
    return out / "watch"
