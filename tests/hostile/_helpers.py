"""Shared helpers of the hostile-input tests: bundle copies with a re-signed manifest, one-line error checks."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "toolkit" / "default_model" / "edge" / "watch"


def copy_bundle(dst: Path) -> Path:
    """A copy of the committed watch bundle in ``dst`` (a folder created here)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in BUNDLE.iterdir():
        if f.is_file():
            shutil.copy2(f, dst / f.name)
    return dst


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def write_manifest(folder: Path, data: Any, resign: tuple[str, ...] = ()) -> None:
    """Write ``data`` as the manifest, first re-hashing the named files (what an attacker who edits files does)."""
    if isinstance(data, dict):
        for name in resign:
            data["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(data))


def one_line_error(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    """The command's stderr: exactly one ``PROG: error: ...`` line (no traceback, no usage block)."""
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.strip()]
    errors = [ln for ln in err if ln.startswith(f"{prog}: ")]
    assert len(errors) == 1 and errors[0].startswith(f"{prog}: error: "), err
    assert not any("Traceback" in ln or "internal error" in ln for ln in err), err
    return errors[0]
