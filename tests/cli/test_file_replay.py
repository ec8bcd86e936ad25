"""``--virtual file:PATH``: a generated trial file of raw device values, sent over imu-stream, arrives with the
file's samples, timestamps and values, and the receiver's --profile conversion equals the offline one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.protocols.imu_stream import ImuStreamDecoder
from firmware_bridge.virtual.catalog import spec_packets
from toolkit.cli.file_replay import lossless_scale
from toolkit.cli.replays import resolve_virtual
from toolkit.cli.stream import Calibrations
from toolkit.device_profiles import get_real_profile
from toolkit.errors import ConfigError

RATE_HZ = 50.0


def _trial(path: Path, seconds: float = 4.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An apple-watch-like trial (g with the iOS sign, rad/s) with jittery timestamps, 3 decimals per value."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE_HZ)
    t = np.round(np.arange(n) / RATE_HZ + rng.uniform(0, 2e-3, n), 4)
    acc = np.round(np.c_[0.2 * np.sin(2 * np.pi * t), -1.0 + 0.1 * np.cos(3 * t), 0.05 * rng.standard_normal(n)], 3)
    gyro = np.round(0.5 * np.sin(np.c_[t, 2 * t, 3 * t]), 3)
    path.write_text("".join(f"{a:.4f} {b[0]:.3f} {b[1]:.3f} {b[2]:.3f} {c[0]:.3f} {c[1]:.3f} {c[2]:.3f}\n"
                            for a, b, c in zip(t, acc, gyro, strict=True)))
    return t, acc, gyro


def test_lossless_scale_is_exact_for_codes_and_short_decimals() -> None:
    codes = np.arange(0, 64, dtype=float)
    assert lossless_scale(codes) == (1.0, 0.0)
    lsb, err = lossless_scale(np.array([-1.234, 0.5, 9.999]))
    assert lsb == pytest.approx(1e-3) and err < 1e-6
    lsb, err = lossless_scale(np.array([np.pi, -np.e]))  # not a short decimal: fitted range, error bounded
    assert err <= lsb / 2 + 1e-12 and lsb < 1e-3


def test_file_replay_sends_the_files_raw_values_and_timestamps(tmp_path: Path) -> None:
    f = tmp_path / "trial.txt"
    t, acc, gyro = _trial(f)
    spec = resolve_virtual(f"file:{f}")
    assert spec.profile == "imu-stream" and spec.series.meta["raw_device_values"]
    dec = ImuStreamDecoder()
    batches = [b for _, pkt in spec_packets(spec, samples_per_packet=1) for b in dec.decode(pkt)]
    got_t = np.concatenate([b.device_time_s for b in batches])
    got_acc = np.concatenate([b.acc for b in batches])
    got_gyro = np.concatenate([b.gyro for b in batches])
    assert len(got_t) == len(t)
    np.testing.assert_allclose(got_t, t - t[0], atol=1e-6)  # µs timestamps: the file's real rate and jitter
    np.testing.assert_allclose(got_acc, acc, atol=1e-6)  # raw g values, not converted by the device
    np.testing.assert_allclose(got_gyro, gyro, atol=1e-6)
    measured = (len(t) - 1) / (t[-1] - t[0])
    assert abs(spec.series.rate_hz - measured) < 1e-9 and abs(measured - RATE_HZ) < 0.1

    # the receiver's conversion with the device description = the offline conversion of the same file
    profile = get_real_profile("apple-watch")
    cals = Calibrations(None, "left", "dorsal", {}, raw_devices={"dev": profile})
    live_acc, live_gyro = cals.for_device("dev", "imu-stream")(got_acc, got_gyro)
    off_acc, off_gyro = profile.to_simulator(acc, gyro)
    np.testing.assert_allclose(live_acc, off_acc, atol=1e-5)
    np.testing.assert_allclose(live_gyro, off_gyro, atol=1e-5)
    assert np.median(live_acc[:, 1]) == pytest.approx(9.81, abs=0.6)  # iOS -1 g on Y -> +9.81 m/s^2 up


def test_file_without_time_column_needs_a_rate(tmp_path: Path) -> None:
    f = tmp_path / "codes.txt"
    f.write_text("".join(f"{i % 64} 32 40\n" for i in range(100)))  # E4-like codes, no time column
    with pytest.raises(ConfigError, match="no time column"):
        resolve_virtual(f"file:{f}")
    spec = resolve_virtual(f"file:{f}", rate_hz=32.0)
    assert spec.series.meta["acc_scale"] == 1.0 and spec.series.t_s[-1] == pytest.approx(99 / 32)
    with pytest.raises(ConfigError, match="raw values"):
        resolve_virtual(f"file:{f}@right", rate_hz=32.0)


@pytest.mark.slow
def test_edge_stream_virtual_file_with_profile(tmp_path: Path) -> None:
    """The command line: the packaged default model, a file replayed at 8x speed, the apple-watch profile."""
    f = tmp_path / "trial.txt"
    _trial(f, seconds=12.0)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "toolkit.cli", "stream", "--virtual", f"file:{f}", "--profile",
                           "apple-watch", "--speed", "8", "--no-record", "--json", "--quiet", "--runtime", "onnx"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["devices"][0]["windows"] >= 9
