"""Damaged, truncated and concatenated recordings: resynchronisation, counts, and every reader reporting them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge import recording as rec
from firmware_bridge.playback import open_recording, recorded_streams
from firmware_bridge.protocols import imu_stream
from firmware_bridge.protocols.imu_stream import DATA_CHAR_UUID
from tests.hostile._helpers import BUNDLE
from toolkit.cli import stream as stream_cli
from toolkit.errors import InputFileError

DEV = "M3E-test"
PER_PACKET = 6
RATE_HZ = 50.0


def write_recording(path: Path, packets: int = 200, devices: object = None) -> list[int]:
    """An edge-record-like file: session-start event + ``packets`` imu-stream packets of a still, face-up watch
    (0, 0, +9.81) m/s^2 at 50 Hz. Returns the end offset of every record."""
    devices = {DEV: {"profile": "imu-stream"}} if devices is None else devices
    period_us = int(1e6 / RATE_HZ)
    with rec.RecordingWriter(path, flush_interval_s=10.0) as w:
        w.write_event("", json.dumps({"event": "session-start", "devices": devices}), host_time=1000.0)
        for i in range(packets):
            acc = np.tile([0.0, 0.0, 9.81], (PER_PACKET, 1))
            w.write(DEV, DATA_CHAR_UUID, imu_stream.encode_packet(i, i * PER_PACKET * period_us, period_us, acc,
                                                                  np.zeros((PER_PACKET, 3))),
                    host_time=1000.0 + i * PER_PACKET / RATE_HZ)
    data = path.read_bytes()
    ends, off = [], rec.HEADER_SIZE
    while off < len(data):
        off += 4 + int.from_bytes(data[off:off + 4], "little") + 4
        ends.append(off)
    return ends


def test_one_flipped_byte_costs_one_record_not_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "a.m3erec"
    ends = write_recording(path)
    data = bytearray(path.read_bytes())
    data[ends[50] + 30] ^= 0x01  # inside record 52 (the 51st packet)
    path.write_bytes(bytes(data))
    strict = rec.read_recording(path)  # the crash-recovery reader still stops there (its documented contract)
    assert len(strict.records) == 51 and not strict.clean
    c = rec.read_recording(path, resync=True)
    assert len(c.records) == len(ends) - 1
    assert c.damaged_regions == 1 and c.skipped_bytes == ends[51] - ends[50] and not c.truncated
    assert c.valid_bytes + c.discarded_bytes == len(data)
    replay = open_recording(path)
    assert replay.report()["skipped_regions"] == 1 and "skipped" in replay.describe()
    assert len(replay.streams[DEV]) == 199 * PER_PACKET  # every other packet delivered


def test_truncated_and_concatenated_files_are_reported(tmp_path: Path) -> None:
    a, b = tmp_path / "a.m3erec", tmp_path / "b.m3erec"
    write_recording(a, 30)
    write_recording(b, 40)
    cut = tmp_path / "cut.m3erec"
    cut.write_bytes(a.read_bytes()[:-7])
    c = rec.read_recording(cut, resync=True)
    assert c.truncated and c.report()["truncated_bytes"] > 0 and len(c.records) == 30
    both = tmp_path / "both.m3erec"
    both.write_bytes(a.read_bytes() + b.read_bytes())
    c = rec.read_recording(both, resync=True)
    assert c.concatenated == 1 and len(c.records) == 31 + 41 and c.clean
    assert "2 recordings concatenated" in c.describe()


def test_session_start_with_devices_as_a_string_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.m3erec"
    write_recording(path, 5, devices="M3E-test")
    with pytest.raises(InputFileError, match="'devices' is a str"):
        recorded_streams(path)


def test_folder_and_missing_recording(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not a file"):
        open_recording(tmp_path)
    with pytest.raises(InputFileError, match="no such recording"):
        open_recording(tmp_path / "none.m3erec")


def test_edge_stream_reports_damage_in_summary_and_terminal(tmp_path: Path, capsys) -> None:
    path = tmp_path / "a.m3erec"
    ends = write_recording(path, 200)
    data = bytearray(path.read_bytes())
    data[ends[100] + 20: ends[100] + 60] = bytes(40)  # a zeroed stretch inside record 102
    path.write_bytes(bytes(data[:-5]))  # and a torn tail
    assert stream_cli.main(["--recording", str(path), "--model", str(BUNDLE), "--runtime", "onnx", "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    check = summary["recording_check"]
    assert check["skipped_regions"] == 1 and check["truncated"] and not check["clean"]
    assert check["skipped_bytes"] == ends[101] - ends[100]
    assert summary["devices"][0]["windows"] > 0
    assert "skipped" in err and "truncated" in err


def test_edge_calibrate_reports_damage(tmp_path: Path, capsys) -> None:
    from toolkit.cli import calibrate as cal_cli

    path = tmp_path / "a.m3erec"
    ends = write_recording(path, 100)
    data = bytearray(path.read_bytes())
    data[ends[10] + 25] ^= 0xFF
    path.write_bytes(bytes(data))
    cal_cli.main(["--recording", str(path), "--wrist", "left", "--out", str(tmp_path / "cal.json"), "--json"])
    err = capsys.readouterr().err
    assert f"{path}: skipped" in err  # a still recording may not calibrate; the damage is reported first


def _valid_file(tmp_path: Path) -> bytes:
    path = tmp_path / "fuzz-base.m3erec"
    if not path.exists():
        write_recording(path, 12)
    return path.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=40)), max_size=4),
       cut=st.integers(0, 64))
def test_fuzz_recording_reader_never_crashes(tmp_path: Path, edits: list[tuple[int, bytes]], cut: int) -> None:
    """Overwrite random stretches and cut the tail: the resynchronising reader either refuses the file in one line
    (bad header) or returns records that are all intact originals, accounting for every byte."""
    base = _valid_file(tmp_path)
    originals = set(rec.parse_records(base)[0])
    data = bytearray(base)
    for pos, blob in edits:
        pos %= len(data)
        data[pos:pos + len(blob)] = blob
    data = bytes(data[: max(0, len(data) - cut)])
    path = tmp_path / "fuzz.m3erec"
    path.write_bytes(data)
    try:
        c = rec.read_recording(path, resync=True)
    except InputFileError:
        return
    assert c.valid_bytes + c.discarded_bytes == len(data)
    assert set(c.records) <= originals
    assert sum(r.length for r in c.skipped) == c.discarded_bytes
    json.dumps(c.report(), allow_nan=False)
