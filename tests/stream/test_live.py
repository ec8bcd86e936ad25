"""edge-stream / edge-calibrate end to end: virtual watches over bleak + bumble, calibration, the engine.

The fast tests use the sp-sw-har recording committed under tests/fixtures (s05_03, a subject the committed model
never saw). The acceptance test (labelled replay of the held-out subjects s01-s05 with 5 % packet loss and jitter
against offline evaluation of the same artefact) needs ../shared/data and skips without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from calibration.device import CalibrationFile, DeviceCalibration
from calibration.procedure import calibrate_stream
from export.manifest import load_artefact
from firmware_bridge.playback import recorded_streams
from toolkit.cli import stream as stream_cli
from toolkit.cli.replays import resolve_virtual
from toolkit.device_profiles import get_real_profile
from toolkit.mount import Mount
from toolkit.stream.offline import offline_predictions

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "toolkit" / "default_model" / "edge" / "watch"
FIXTURES = ROOT / "tests" / "fixtures"


def _json_lines(text: str) -> tuple[list[dict], dict]:
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    preds = [r for r in records if r["type"] == "prediction"]
    summary = [r for r in records if r["type"] == "summary"]
    assert len(summary) == 1
    return preds, summary[0]


@pytest.fixture(scope="module")
def artefact():
    return load_artefact(MODEL, "pte", "int8", threads=1)


def _offline(artefact, series, transform=None):
    return offline_predictions(artefact, series.t_s, series.acc, series.gyro, transform=transform,
                               source_rate_hz=series.rate_hz)


def test_virtual_watch_matches_offline_inference(artefact, capsys):
    """A replay over BLE (bleak over bumble) gives the predictions of offline windowed inference on the same
    recording: same windows (start times), same labels."""
    rc = stream_cli.main(["--virtual", "sp-sw-har:s05_03", "--data-root", str(FIXTURES), "--model", str(MODEL),
                          "--json", "--speed", "8", "--no-record", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    preds, summary = _json_lines(out)
    series = resolve_virtual("sp-sw-har:s05_03", FIXTURES).series
    offline = _offline(artefact, series)
    assert len(offline) >= 8
    assert [round(p["t_start_s"], 3) for p in preds] == [round(p.t_start_s, 3) for p in offline]
    # Same labels, except where the offline top two classes are within 0.05 in probability: the stream's incremental
    # resampling differs from the offline one by up to ~4e-3 in a segment's first 0.33 s, enough to flip a near tie
    # (the default model has one, 0.512 vs 0.486, in this recording); there the label must be one of the offline top
    # two and the confidence the same within 0.01.
    classes = json.loads((MODEL / "manifest.json").read_text())["classes"]
    near_ties = 0
    for p, o in zip(preds, offline, strict=True):
        top2 = np.argsort(o.probs)[::-1][:2]
        if o.probs[top2[0]] - o.probs[top2[1]] >= 0.05:
            assert p["label"] == o.label, (p["t_start_s"], p["label"], o.label)
        else:
            near_ties += 1
            assert p["label"] in {classes[i] for i in top2}
            assert abs(p["confidence"] - o.confidence) < 0.01
    assert near_ties <= 1
    assert summary["labelled_windows"] == len(preds)
    assert 0.0 <= summary["macro_f1"] <= 1.0
    assert all(p["latency_ms"] >= 0 for p in preds)


def test_two_devices_with_independent_calibration(tmp_path, capsys):
    """Two watches at once: the left one as recorded, the other worn on the RIGHT wrist on the palmar side with a
    calibration measured by the procedure on a protocol recording of that wearing. After calibration both land in
    the canonical frame and give the same activities."""
    protocol = resolve_virtual("protocol@right@palmar").series
    cal = calibrate_stream(protocol.t_s, protocol.acc, protocol.gyro, device_id="M3E-sp-sw-har:s05_03@right@palmar",
                           profile="imu-stream", wrist="right")
    expected = Mount(wrist="right", face="palmar").rotation()
    assert np.degrees(np.arccos(np.clip((np.trace(expected.T @ np.asarray(cal.mount_rotation)) - 1) / 2, -1, 1))) < 3
    cal_file = tmp_path / "calibration.json"
    CalibrationFile({cal.device_id: cal}).save(cal_file)

    rc = stream_cli.main(["--virtual", "sp-sw-har:s05_03", "sp-sw-har:s05_03@right@palmar", "--data-root",
                          str(FIXTURES), "--model", str(MODEL), "--calibration", str(cal_file), "--json",
                          "--speed", "6", "--no-record", "--quiet"])
    preds, summary = _json_lines(capsys.readouterr().out)
    assert rc == 0
    left = [p for p in preds if p["device"] == "M3E-sp-sw-har:s05_03"]
    right = [p for p in preds if p["device"] == "M3E-sp-sw-har:s05_03@right@palmar"]
    assert len(left) == len(right) >= 8
    agree = np.mean([a["label"] == b["label"] for a, b in zip(left, right, strict=True)])
    assert agree >= 0.9, agree
    conf = np.abs([a["confidence"] - b["confidence"] for a, b in zip(left, right, strict=True)])
    assert np.median(conf) < 0.05

    # without its calibration (nominal left dorsal mount) the right-palmar watch is read upside down and mirrored:
    # gravity lands on the wrong axis, which the calibration above fixed
    nominal = DeviceCalibration.identity("x", get_real_profile("imu-stream"), Mount())
    worn = resolve_virtual("sp-sw-har:s05_03@right@palmar", FIXTURES).series
    acc_nominal, _ = nominal.apply(worn.acc[:50], worn.gyro[:50])
    acc_cal, _ = cal.apply(worn.acc[:50], worn.gyro[:50])
    original = resolve_virtual("sp-sw-har:s05_03", FIXTURES).series.acc[:50]
    assert np.abs(acc_cal - original).max() < 0.3
    assert np.abs(acc_nominal - original).max() > 5.0


def test_edge_calibrate_virtual_protocol_then_recording(tmp_path, capsys):
    """edge-calibrate on a virtual watch doing the protocol on the right wrist turned 30 deg about the forearm:
    the measured rotation is that mount; the recording it leaves gives the same result offline."""
    from toolkit.cli import calibrate as calibrate_cli

    out, rec = tmp_path / "cal.json", tmp_path / "cal.m3erec"
    rc = calibrate_cli.main(["--virtual", "protocol@right@rot30", "--wrist", "right", "--out", str(out),
                             "--record", str(rec), "--speed", "8"])
    assert rc == 0, capsys.readouterr().err
    live = CalibrationFile.load(out).get("M3E-protocol@right@rot30")
    expected = Mount(wrist="right", rotation_deg=30.0).rotation()
    err = np.degrees(np.arccos(np.clip((np.trace(expected.T @ np.asarray(live.mount_rotation)) - 1) / 2, -1, 1)))
    assert err < 3.0, err
    assert live.static is not None
    # the generated protocol's gyro bias, in the worn device's axes
    bias = np.asarray(resolve_virtual("protocol@right@rot30").series.meta["gyro_bias_rads"])
    assert np.abs(np.asarray(live.static.gyro_bias_rads) - bias).max() < 0.003

    out2 = tmp_path / "cal2.json"
    rc = calibrate_cli.main(["--recording", str(rec), "--wrist", "right", "--out", str(out2)])
    assert rc == 0
    again = CalibrationFile.load(out2).get("M3E-protocol@right@rot30")
    assert np.allclose(np.asarray(again.mount_rotation), np.asarray(live.mount_rotation), atol=1e-9)


def test_recording_replays_through_the_engine(tmp_path, capsys, artefact):
    """edge-stream records every packet; streaming that recording gives the live predictions again."""
    rec = tmp_path / "live.m3erec"
    rc = stream_cli.main(["--virtual", "sp-sw-har:s05_03", "--data-root", str(FIXTURES), "--model", str(MODEL),
                          "--json", "--speed", "8", "--record", str(rec), "--quiet", "--loss", "0.05",
                          "--seed", "3"])
    live, _ = _json_lines(capsys.readouterr().out)
    assert rc == 0 and rec.is_file()
    rc = stream_cli.main(["--recording", str(rec), "--model", str(MODEL), "--json", "--quiet"])
    replayed, _ = _json_lines(capsys.readouterr().out)
    assert rc == 0
    assert [(p["t_start_s"], p["label"], p["filled_samples"]) for p in replayed] == \
        [(p["t_start_s"], p["label"], p["filled_samples"]) for p in live]
    assert any(p["flagged"] for p in live)  # 5 % of the packets were lost and bridged, never silently
    stream = recorded_streams(rec)["M3E-sp-sw-har:s05_03"]
    assert 0 < len(stream) < 1021


def test_ctrl_c_stops_cleanly_and_keeps_the_recording(tmp_path):
    rec = tmp_path / "interrupted.m3erec"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolkit.cli.stream", "--virtual", "sp-sw-har:s05_03", "--data-root", str(FIXTURES),
         "--model", str(MODEL), "--speed", "0.25", "--record", str(rec), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        first = proc.stdout.readline()  # the first prediction: streaming is under way
        assert first.startswith("{"), proc.stderr.read()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["interrupted"] is True
    assert len(recorded_streams(rec)["M3E-sp-sw-har:s05_03"]) > 0


@pytest.mark.parametrize("argv, message", [
    ([], "exactly one source"),
    (["--virtual", "sine", "--model", "nowhere"], "no edge-export bundle"),
    (["--virtual", "sine", "--model", str(MODEL), "--mount", "x=up"], "unknown part"),
    (["--virtual", "nonsense", "--model", str(MODEL)], "unknown virtual device"),
    (["--virtual", "sine", "--model", str(MODEL), "--loss", "1.5"], "--loss"),
])
def test_bad_input_is_one_line(argv, message, capsys):
    assert stream_cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_lsl_outlet_publishes_predictions(capsys):
    pylsl = pytest.importorskip("pylsl")
    outlet = stream_cli.LslOutlet(["A", "B"])
    from toolkit.stream.engine import Prediction

    p = Prediction(device_id="dev", index=0, t_start_s=0.0, t_end_s=2.0, label="B", confidence=0.8,
                   probs=np.array([0.2, 0.8]), smoothed_label="B", smoothed_confidence=0.8, latency_s=0.002,
                   inference_s=1e-4, filled_samples=0, flagged=False)
    outlet(p, None)  # creates the outlet
    streams = pylsl.resolve_byprop("name", "multi3edge-dev", timeout=5)
    assert streams
    inlet = pylsl.StreamInlet(streams[0])
    inlet.open_stream(timeout=5)
    for _ in range(20):
        outlet(p, None)
        sample, _ = inlet.pull_sample(timeout=0.5)
        if sample is not None:
            break
    assert sample is not None and np.allclose(sample, [0.2, 0.8, 1.0, 2.0], atol=1e-6)


@pytest.mark.slow
def test_acceptance_held_out_subjects_with_loss_and_jitter(shared_data, capsys, artefact):
    """Issue acceptance: a labelled replay of the held-out sp-sw-har subjects (s01-s05, never seen by the committed
    model) through virtual watches with 5 % packet loss and 20 ms jitter reaches the offline macro F1 of the
    same artefact on the same recordings within 1 point."""
    from export.distill import macro_f1
    from toolkit.data.sp_sw_har import load_sp_sw_har
    from toolkit.data.windows import real_windows

    subjects = ["s01", "s02", "s03", "s04", "s05"]
    windows = real_windows(load_sp_sw_har(shared_data, subjects=subjects))
    offline_pred = [artefact.classify(w)[0] for w in windows.x]
    offline_f1 = macro_f1(np.asarray(windows.class_names)[windows.y], np.asarray(offline_pred))

    rc = stream_cli.main(["--virtual", *[f"sp-sw-har:{s}" for s in subjects], "--data-root", str(shared_data),
                          "--model", str(MODEL), "--loss", "0.05", "--jitter-ms", "20", "--speed", "6", "--json",
                          "--no-record", "--quiet"])
    preds, summary = _json_lines(capsys.readouterr().out)
    assert rc == 0
    lost = sum(d["lost_packets"] for d in summary["devices"])
    assert lost > 0
    print(f"offline macro F1 {offline_f1:.4f} on {len(windows)} windows; streamed {summary['macro_f1']:.4f} on "
          f"{summary['labelled_windows']} windows, {lost} packets lost")
    assert summary["labelled_windows"] >= 0.9 * len(windows)
    assert abs(summary["macro_f1"] - offline_f1) <= 0.01


def _run_example(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_calibrate_from_recording_example(tmp_path):
    out = _run_example("calibrate_from_recording.py", "--out", str(tmp_path / "cal.json"))
    assert "error vs the true wearing" in out and (tmp_path / "cal.json").is_file()
    assert CalibrationFile.load(tmp_path / "cal.json").ids() == ["my-watch"]


def test_stream_replay_example():
    out = _run_example("stream_replay.py", "--runtime", "onnx")
    assert "gives the same 8 predictions: True" in out
