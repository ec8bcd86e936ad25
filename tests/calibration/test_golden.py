"""Golden calibration files pin the file format (as imucal's ``tests/snapshots/example_cal.json`` does).

``device_calibration_v1.json`` was written by the format-1 program (``"schema": 1`` at five levels);
``device_calibration_v2.json`` is the current format. ``device_calibration_samples.json`` holds known input samples
and the outputs the format-1 program's ``apply`` gave for each device: both files must still map them exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration.device import FORMAT_VERSION, KIND, CalibrationFile, DeviceCalibration
from calibration.legacy import upgrade
from toolkit.errors import ConfigError, InputFileError

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "calibration"
V1 = GOLDEN / "device_calibration_v1.json"
V2 = GOLDEN / "device_calibration_v2.json"
SAMPLES = json.loads((GOLDEN / "device_calibration_samples.json").read_text())


@pytest.mark.parametrize("path, version", [(V1, 1), (V2, 2)])
def test_golden_file_loads_and_maps_known_samples(path: Path, version: int) -> None:
    f = CalibrationFile.load(path)
    assert f.read_format_version == version
    assert f.ids() == sorted(SAMPLES["output"])
    acc = np.asarray(SAMPLES["input"]["acc_ms2"])
    gyro = np.asarray(SAMPLES["input"]["gyro_rads"])
    for device_id, expected in SAMPLES["output"].items():
        a, w = f.get(device_id).apply(acc, gyro, units={"acc": "m/s^2", "gyro": "rad/s"})
        np.testing.assert_array_equal(a, np.asarray(expected["acc"]))  # bit for bit
        np.testing.assert_array_equal(w, np.asarray(expected["gyro"]))


def test_v2_layout_one_version_at_the_top_with_the_contract() -> None:
    data = json.loads(V2.read_text())
    assert data["kind"] == KIND == "device-calibration" and data["format_version"] == FORMAT_VERSION == 2
    text = V2.read_text()
    assert '"schema"' not in text
    watch = data["devices"]["golden-apple-watch"]
    assert watch["input"] == {"units": {"acc": "m/s^2", "gyro": "rad/s"}, "axes": "device", "sign": "ios"}
    assert watch["output"] == {"frame": "watch/left/dorsal", "units": {"acc": "m/s^2", "gyro": "rad/s"},
                               "sign": "android"}
    # what this program writes is the golden file, byte for byte
    assert json.dumps(CalibrationFile.load(V2).to_dict(), indent=2) + "\n" == text


def test_v1_converts_to_v2_exactly() -> None:
    assert CalibrationFile.load(V1).to_dict() == json.loads(V2.read_text())
    with pytest.raises(ConfigError, match="schema 3"):
        upgrade({**json.loads(V1.read_text()), "schema": 3})


def test_newer_and_older_files_are_told_apart(tmp_path: Path) -> None:
    data = json.loads(V2.read_text())
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({**data, "format_version": 3}))
    with pytest.raises(InputFileError, match="newer program: format_version 3"):
        CalibrationFile.load(path)
    path.write_text(json.dumps({**data, "format_version": 0}))
    with pytest.raises(InputFileError, match="older format_version 0"):
        CalibrationFile.load(path)
    path.write_text(json.dumps({**data, "kind": "bundle"}))
    with pytest.raises(InputFileError, match="not a calibration file"):
        CalibrationFile.load(path)
    entry = data["devices"]["golden-apple-watch"]
    path.write_text(json.dumps({**data, "devices": {"golden-apple-watch": {**entry, "input": {
        **entry["input"], "sign": "android"}}}}))
    with pytest.raises(InputFileError, match="input contract"):
        CalibrationFile.load(path)


def test_apply_checks_the_units_and_sign_it_is_given() -> None:
    cal = CalibrationFile.load(V2).get("golden-apple-watch")
    acc = np.zeros((2, 3))
    with pytest.raises(ConfigError, match="acc given in 'g', expected 'm/s\\^2'"):
        cal.apply(acc, acc, units={"acc": "g", "gyro": "rad/s"})
    with pytest.raises(ConfigError, match="gyro given in 'deg/s'"):
        cal.apply(acc, acc, units={"acc": "m/s^2", "gyro": "deg/s"})
    with pytest.raises(ConfigError, match="sign 'android' differs"):
        cal.apply(acc, acc, units={"acc": "m/s^2", "gyro": "rad/s"}, sign="android")
    plain = cal.apply(acc, acc)
    checked = cal.apply(acc, acc, units={"acc": "m/s^2", "gyro": "rad/s"}, sign="ios")
    np.testing.assert_array_equal(plain[0], checked[0])


def test_apply_batch_reads_units_and_sign_from_a_decoded_batch() -> None:
    from firmware_bridge.protocols.base import ImuBatch

    cal = CalibrationFile.load(V2).get("golden-apple-watch")
    raw = ImuBatch(acc=np.array([[0.0, 0.0, -1.0]]), gyro=np.zeros((1, 3)), units={"acc": "g", "gyro": "rad/s"},
                   sign="ios")
    with pytest.raises(ConfigError, match="ImuBatch.to_si"):
        cal.apply_batch(raw)
    a, _ = cal.apply_batch(raw.to_si())
    np.testing.assert_array_equal(a, cal.apply(raw.to_si().acc, np.zeros((1, 3)))[0])


def test_entries_round_trip_without_nested_versions() -> None:
    cal = CalibrationFile.load(V2).get("golden-apple-watch")
    d = cal.to_dict()
    assert "schema" not in d and all("schema" not in (d[k] or {}) for k in ("profile", "mount", "static", "rate"))
    assert DeviceCalibration.from_dict(json.loads(json.dumps(d))) == cal
    with pytest.raises(ConfigError, match="unknown key 'schema'"):
        DeviceCalibration.from_dict({**d, "static": {**d["static"], "schema": 1}})
