"""The BLE examples run as a user would run them (subprocesses, a few seconds each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_example(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "examples" / name), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_ble_virtual_watch_example() -> None:
    out = run_example("ble_virtual_watch.py", "--seconds", "1", "--speed", "4")
    assert "found M3E-sine:1" in out and "received 100 samples of 100" in out


def test_ble_record_replay_example(tmp_path: Path) -> None:
    out = run_example("ble_record_replay.py", "--out", str(tmp_path / "demo.m3erec"))
    assert "identical: True" in out
