"""NaN, infinities and out-of-range numbers on every command line; conflicting flags; unusable --out paths;
strict JSON; loss counted from the sender's sequence numbers."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.hostile._helpers import BUNDLE, one_line_error
from toolkit.cli import bench as bench_cli
from toolkit.cli import calibrate as cal_cli
from toolkit.cli import devices as devices_cli
from toolkit.cli import evaluate as eval_cli
from toolkit.cli import export as export_cli
from toolkit.cli import finetune as finetune_cli
from toolkit.cli import pretrain as pretrain_cli
from toolkit.cli import record as record_cli
from toolkit.cli import stream as stream_cli
from toolkit.cli.args import MAX_THREADS, finite_float, int_list, positive_float, positive_int
from toolkit.strict_json import dumps

STREAM = ["--virtual", "sine", "--model", str(BUNDLE)]


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999", "x", ""])
def test_finite_float_refuses_non_finite_and_junk(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        finite_float()(text)


def test_ranges_and_integers() -> None:
    assert positive_float()("0.5") == 0.5 and finite_float(0, 1)("1") == 1.0
    for bad in ("0", "-1"):
        with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
            positive_float()(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="not an integer"):
        positive_int()("1.5")
    with pytest.raises(argparse.ArgumentTypeError, match="out of range"):
        positive_int(MAX_THREADS)("100000")
    assert int_list(8)("1, 2,4") == [1, 2, 4]


@pytest.mark.parametrize(("main", "prog", "argv"), [
    (stream_cli.main, "edge-stream", [*STREAM, "--seconds", "nan"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--speed", "nan"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--speed", "inf"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--jitter-ms", "nan"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--jitter-ms", "inf"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--timeout", "nan"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--timeout", "0"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--timeout", "-5"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--threads", "100000"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--seed", "-1"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--loss", "1"]),
    (stream_cli.main, "edge-stream", [*STREAM, "--record", "x.m3erec", "--no-record"]),
    (record_cli.record_main, "edge-record", ["--virtual", "sine", "--out", "x.m3erec", "--flush-interval", "nan"]),
    (record_cli.record_main, "edge-record", ["--virtual", "sine", "--out", "x.m3erec", "--seconds", "nan"]),
    (devices_cli.devices_main, "edge-devices", ["--timeout", "nan"]),
    (cal_cli.main, "edge-calibrate", ["--virtual", "protocol", "--wrist", "left", "--speed", "nan"]),
    (cal_cli.main, "edge-calibrate", ["--virtual", "protocol", "--wrist", "left", "--record", "a", "--no-record"]),
    (export_cli.export_main, "edge-export", ["--epochs", "0"]),
    (export_cli.export_main, "edge-export", ["--epochs", "-1"]),
    (export_cli.export_main, "edge-export", ["--temperature", "0"]),
    (export_cli.export_main, "edge-export", ["--temperature", "nan"]),
    (bench_cli.bench_main, "edge-bench", ["--threads", "1,100000"]),
    (bench_cli.bench_main, "edge-bench", ["--runs", "0"]),
    (pretrain_cli.main, "edge-pretrain", ["--window-s", "nan"]),
    (pretrain_cli.main, "edge-pretrain", ["--window-s", "0"]),
    (pretrain_cli.main, "edge-pretrain", ["--seed", "-1"]),
    (finetune_cli.main, "edge-finetune", ["--epochs", "0"]),
    (eval_cli.main, "edge-eval", ["--fractions", "nan"]),
])
def test_bad_numbers_are_one_line_usage_errors(main, prog: str, argv: list[str], capsys, tmp_path, monkeypatch
                                               ) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    one_line_error(capsys, prog)
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


@pytest.mark.parametrize("out", ["file", "/proc/multi3edge-out"])
def test_export_out_at_a_file_or_under_proc(out: str, tmp_path: Path, capsys) -> None:
    target = tmp_path / "a-file" if out == "file" else Path(out)
    if out == "file":
        target.write_text("x")
    assert export_cli.export_main(["--teacher", "random-tiny", "--out", str(target), "--quiet"]) == 2
    assert str(target) in one_line_error(capsys, "edge-export")


def test_calibrate_out_under_proc(capsys) -> None:
    assert cal_cli.main(["--recording", "x.m3erec", "--wrist", "left", "--out", "/proc/cal.json"]) == 2
    assert "/proc" in one_line_error(capsys, "edge-calibrate")


def test_sidecar_that_is_a_json_list(tmp_path: Path, capsys) -> None:
    (tmp_path / "classifier.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "classifier.json").write_text("[1, 2]")
    assert export_cli.export_main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "sidecar is a JSON list" in one_line_error(capsys, "edge-export")


def test_strict_json_has_no_nan() -> None:
    text = dumps({"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.arange(2)})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": [0, 1]}


def test_summary_without_windows_is_json_with_nulls() -> None:
    runner = SimpleNamespace(predictions={}, scores={}, engine=None)
    s = stream_cli.device_summary(runner, "dev", {"packets": 0, "lost_packets": 0})
    assert s["latency_ms_p50"] is None and s["latency_ms_p99"] is None
    assert "NaN" not in dumps(s)


def test_loss_counted_from_the_senders_sequence_numbers() -> None:
    """--loss 0.99 used to report 'packets 0, lost_packets 0': the receiver only sees holes between arrivals."""
    counters = {"dev": {"packets": 0, "data_packets": 0, "lost_packets": 0, "duplicates": 0, "late": 0}}
    peripheral = SimpleNamespace(counters=SimpleNamespace(sent=0, duplicated=0, dropped_loss=205))
    out = stream_cli.with_device_side_loss(counters, {"dev": peripheral})["dev"]
    assert out["device_packets"] == 205 and out["lost_packets"] == 205
    counters = {"dev": {"packets": 90, "data_packets": 90, "lost_packets": 4, "duplicates": 2, "late": 0}}
    peripheral = SimpleNamespace(counters=SimpleNamespace(sent=92, duplicated=2, dropped_loss=10))
    out = stream_cli.with_device_side_loss(counters, {"dev": peripheral})["dev"]
    assert out["device_packets"] == 100 and out["lost_packets"] == 12  # 100 numbered, 88 distinct delivered


def test_heavy_loss_end_to_end(capsys, fixtures_dir: Path) -> None:
    assert stream_cli.main(["--virtual", "sp-sw-har:s05_03", "--data-root", str(fixtures_dir), "--model", str(BUNDLE),
                            "--loss", "0.99", "--speed", "8", "--no-record", "--json", "--quiet",
                            "--runtime", "onnx"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (dev,) = summary["devices"]
    assert dev["device_packets"] > 100 and dev["lost_packets"] >= 0.9 * dev["device_packets"]
    assert dev["latency_ms_p50"] is None or math.isfinite(dev["latency_ms_p50"])
