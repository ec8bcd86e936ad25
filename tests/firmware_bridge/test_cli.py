"""edge-devices / edge-record: virtual devices, recordings, one-line errors, clean SIGINT stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware_bridge.devices import recording_decoders
from firmware_bridge.recording import decode_recording, read_recording
from toolkit.cli import main
from toolkit.cli.devices import devices_main
from toolkit.cli.record import record_main

REPO = Path(__file__).resolve().parents[2]


def one_line_error(capsys: pytest.CaptureFixture[str], prog: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(f"{prog}: error: "), err
    return err


def test_devices_lists_virtual_devices(capsys: pytest.CaptureFixture[str]) -> None:
    assert devices_main(["--virtual", "sine", "touch:still", "--virtual", "sine", "--timeout", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "ADDRESS", "RSSI", "PROFILE"]
    rows = sorted(line.split()[0] + " " + line.split()[-1] for line in out[1:])
    assert rows == ["M3E-sine imu-stream", "M3E-sine#2 imu-stream", "M3E-touch:still touch-sdk"]


def test_devices_without_bluetooth_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc = devices_main(["--timeout", "0.5"])
    if rc in (0, 1):
        pytest.skip("this machine has a working Bluetooth adapter")
    assert rc == 2
    assert "--virtual" in one_line_error(capsys, "edge-devices")


def test_record_virtual_devices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rec.m3erec"
    rc = record_main(["--virtual", "sine:1", "touch:sine:1", "--speed", "4", "--out", str(out),
                      "--flush-interval", "0.2"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "recording 2 device(s)" in err and "wrote" in err
    assert read_recording(out).clean
    decoded = decode_recording(out, recording_decoders(), with_integrity=True)
    per_device: dict[str, int] = {}
    for b in decoded.batches:
        per_device[b.device_id] = per_device.get(b.device_id, 0) + len(b.batch)
    assert per_device == {"M3E-sine:1": 100, "M3E-touch:sine:1": 100}
    # --seconds stops a long replay early; an existing file needs --overwrite
    assert record_main(["--virtual", "sine:60", "--out", str(out), "--seconds", "0.5", "--quiet"]) == 2
    one_line_error(capsys, "edge-record")
    assert record_main(["--virtual", "sine:60", "--out", str(out), "--seconds", "0.5", "--quiet", "--overwrite"]) == 0
    assert read_recording(out).clean


@pytest.mark.parametrize(("argv", "expected"), [
    (["--device", "AA:BB:CC:DD:EE:FF", "--profile", "polar-h99"], "--profile 'polar-h99': neither a BLE protocol"),
    (["--virtual", "walkman"], "unknown virtual device 'walkman'"),
    (["--virtual", "sp-sw-har:s05_03", "--data-root", "/nonexistent-root"], "/nonexistent-root"),
    (["--virtual", "sine", "--device", "x"], "either --device"),
    (["--virtual", "sine", "--seconds", "-1"], "--seconds"),
])
def test_record_one_line_errors(argv: list[str], expected: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert record_main([*argv, "--out", str(tmp_path / "x.m3erec")]) == 2
    assert expected in one_line_error(capsys, "edge-record")
    assert not (tmp_path / "x.m3erec").exists()


def test_devices_unknown_virtual_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert devices_main(["--virtual", "nope"]) == 2
    assert "unknown virtual device 'nope'" in one_line_error(capsys, "edge-devices")


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for fn in (devices_main, record_main):
        with pytest.raises(SystemExit) as e:
            fn(["--help"])
        assert e.value.code == 0
        assert "examples:" in capsys.readouterr().out
    assert main([]) == 2


def test_sigint_stops_cleanly_with_valid_recording(tmp_path: Path) -> None:
    out = tmp_path / "sigint.m3erec"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "toolkit.cli", "record", "--virtual", "sine:60",
                             "--out", str(out), "--flush-interval", "0.2"], cwd=REPO, env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 20
        line = ""
        while time.monotonic() < deadline and "recording" not in line:
            line = proc.stderr.readline()
        assert "recording" in line
        time.sleep(0.8)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "(interrupted)" in err
    contents = read_recording(out)
    assert contents.clean and sum(r.rtype == 1 for r in contents.records) > 5
