"""Issue 13 done-when: the E4 streaming server in the commands (``--e4-server``), against a fake server written from
Empatica's pages (``e4_fake_server.py``), an accelerometer-only bundle, tags recorded as events and replayed, and
reachability checked before any model load (no folder left behind)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.playback import open_recording
from firmware_bridge.recording import events_of, read_recording

from .e4_fake_server import DEVICE, FakeE4Server

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["SEATED", "STANDING_UP", "WALKING", "TURNING", "SITTING_DOWN"]


def make_acc_bundle(folder: Path, window: int = 60, rate_hz: float = 30.0) -> Path:
    """An accelerometer-only edge bundle: a seeded random linear model (1, window, 3) -> (1, 5) logits in ONNX fp32,
    with the manifest fields the engine reads (channels acc_x..acc_z). Not a trained model: it only has to run."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(0, 0.1, (window * 3, len(CLASSES))).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(len(CLASSES), np.float32), "b")
    shape = numpy_helper.from_array(np.array([1, window * 3], np.int64), "shape")
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["imu", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "b"], ["logits"])], "acc_only",
        [helper.make_tensor_value_info("imu", TensorProto.FLOAT, [1, window, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(CLASSES)])], [w, b, shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    folder.mkdir(parents=True)
    onnx.save(model, folder / "student_fp32.onnx")
    digest = hashlib.sha256((folder / "student_fp32.onnx").read_bytes()).hexdigest()
    manifest = {
        "schema": 1, "profile": "watch-acc",
        "input": {"channels": ["acc_x", "acc_y", "acc_z"], "units": {"acc": "m/s^2"}, "rate_hz": rate_hz,
                  "window_s": window / rate_hz, "window_samples": window, "hop_s": 1.0,
                  "normalization": {"mean": [0.0, 0.0, 0.0], "std": [9.81, 9.81, 9.81]}},
        "classes": CLASSES,
        "artefacts": [{"file": "student_fp32.onnx", "target": "onnx", "precision": "fp32"}],
        "files": {"student_fp32.onnx": digest},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def acc_bundle(tmp_path_factory) -> Path:
    return make_acc_bundle(tmp_path_factory.mktemp("bundle") / "watch-acc")


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = args[0].removeprefix("edge-")  # python -m toolkit.cli stream ...
    return subprocess.run([sys.executable, "-m", "toolkit.cli", command, *args[1:]], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_edge_stream_e4_server_json_and_recording(acc_bundle, tmp_path):
    rec = tmp_path / "live.m3erec"
    with FakeE4Server(seconds=8.0, speed=4.0, tags_s=(1.0, 2.5)) as server:
        proc = run(["edge-stream", "--e4-server", f"127.0.0.1:{server.port}", "--model", str(acc_bundle),
                    "--runtime", "onnx", "--precision", "fp32", "--json", "--seconds", "4", "--record", str(rec)],
                   tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert server.commands[:1] == ["device_list"]  # the reachability check
    assert f"device_connect {DEVICE}" in server.commands and "device_subscribe acc ON" in server.commands
    assert "device_subscribe tag ON" in server.commands
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    preds = [r for r in lines if r["type"] == "prediction"]
    tags = [r for r in lines if r["type"] == "tag"]
    assert len(preds) >= 4 and all(p["device"] == DEVICE and p["label"] in CLASSES for p in preds)
    # the windows sit on the server's clock: 8 s of 32 Hz data starting at 1.7e9 s
    assert 1_700_000_000.0 <= preds[0]["t_start_s"] < preds[-1]["t_end_s"] <= 1_700_000_008.0
    assert [t["time_s"] for t in tags] == [1_700_000_001.0, 1_700_000_002.5]
    assert lines[-1]["type"] == "summary" and lines[-1]["tags"] == 2
    # the recording: raw server bytes (replayable) + the tags as events
    events = events_of(read_recording(rec), ("tag",))
    assert [e.event["device_time_s"] for e in events] == [1_700_000_001.0, 1_700_000_002.5]
    stream = open_recording(rec).streams[DEVICE]
    assert stream.profile == "empatica-e4-server" and len(stream) == 8 * 32
    acc = stream.arrays()["acc"]
    assert np.allclose(np.linalg.norm(acc, axis=1), 9.80665, atol=0.2)  # 64 counts = 1 g, in m/s^2


def test_edge_record_e4_server_and_replay(acc_bundle, tmp_path):
    out = tmp_path / "rec.m3erec"
    with FakeE4Server(seconds=6.0, speed=4.0, tags_s=(0.5,)) as server:
        proc = run(["edge-record", "--e4-server", f"127.0.0.1:{server.port}", "--device", DEVICE, "--out", str(out),
                    "--seconds", "3"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "tag (button pressed)" in proc.stderr
    proc = run(["edge-stream", "--recording", str(out), "--model", str(acc_bundle), "--runtime", "onnx",
                "--precision", "fp32", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sum(r["type"] == "prediction" for r in lines) >= 3
    assert [r["time_s"] for r in lines if r["type"] == "tag"] == [1_700_000_000.5]
    assert lines[-1]["tags"] == 1 and lines[-1]["devices"][0]["device"] == DEVICE


def test_device_turned_off_ends_with_an_error(acc_bundle, tmp_path):
    rec = tmp_path / "off.m3erec"
    with FakeE4Server(seconds=3.0, speed=4.0, tags_s=(), turn_off=True) as server:
        proc = run(["edge-stream", "--e4-server", f"127.0.0.1:{server.port}", "--model", str(acc_bundle),
                    "--runtime", "onnx", "--precision", "fp32", "--json", "--seconds", "20", "--record", str(rec)],
                   tmp_path)
    assert proc.returncode != 0
    assert "turned off with its button" in proc.stderr.splitlines()[-1]
    assert "Traceback" not in proc.stderr
    status = [json.loads(line) for line in proc.stdout.splitlines() if '"device-status"' in line]
    assert status and status[0]["status"] == "turned_off"
    assert events_of(read_recording(rec), ("device-status",))  # kept, with what came before


@pytest.mark.parametrize("prog", ["edge-stream", "edge-record", "edge-calibrate"])
def test_unreachable_e4_server_fails_before_model_load(prog, tmp_path):
    """Nothing listens on the port: one error line, quickly, no model loaded (a missing --model path is not even
    looked at beyond its manifest check), no recordings/ folder or --out file left."""
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # edge-stream: the default model; finding its folder is cheap, loading it (seconds) is what must not happen
    args = {"edge-stream": [], "edge-record": ["--out", "rec.m3erec"], "edge-calibrate": ["--wrist", "left"]}[prog]
    proc = run([prog, "--e4-server", f"127.0.0.1:{port}", *args], tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"no E4 streaming server at 127.0.0.1:{port}: connection refused" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_no_bluetooth_fails_before_model_load(tmp_path):
    """On a machine without a usable adapter (this test machine, or a CI container) ``--device`` fails with one
    line before the model is loaded and leaves no recordings/ folder; skipped where Bluetooth works."""
    proc = run(["edge-stream", "--device", "Galaxy Watch", "--timeout", "2"], tmp_path, timeout=60)
    if proc.returncode == 0 or "Bluetooth is not usable" not in proc.stderr:
        pytest.skip(f"Bluetooth seems usable here: {proc.stderr[-300:]}")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("edge-stream: error: Bluetooth is not usable here")
    assert list(tmp_path.iterdir()) == []
