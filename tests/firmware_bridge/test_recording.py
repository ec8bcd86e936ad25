"""Recording: format round trip, torn tails, SIGKILL of a recording process, exact replay/decoding."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge import recording as rec
from firmware_bridge.protocols import imu_stream, polar_pmd
from firmware_bridge.protocols.imu_stream import DATA_CHAR_UUID, ImuStreamDecoder
from toolkit.errors import InputFileError

HERE = Path(__file__).resolve().parent
DEVICE = "AA:BB:CC:DD:EE:01"


def record_payload(i: int) -> bytes:
    """Deterministic imu-stream packet number ``i`` (used by recorder_child.py too)."""
    k = np.arange(6 * 3, dtype=np.float64).reshape(6, 3)
    return imu_stream.encode_packet(i, i * 6 * 10_000, 10_000, np.sin(k + i), np.cos(k - i))


def record_time(i: int) -> float:
    return 1_700_000_000.0 + i * 0.06


def write_sample(path: Path, n: int = 20) -> list[rec.Record]:
    written = []
    with rec.RecordingWriter(path, flush_interval_s=0.05) as w:
        w.write_event(DEVICE, '{"event": "connect"}', host_time=record_time(0) - 1)
        written.append(rec.Record(rec.EVENT, record_time(0) - 1, DEVICE, "", b'{"event": "connect"}'))
        for i in range(n):
            w.write(DEVICE, DATA_CHAR_UUID.upper(), record_payload(i), host_time=record_time(i))
            written.append(rec.Record(rec.NOTIFICATION, record_time(i), DEVICE, DATA_CHAR_UUID, record_payload(i)))
        w.write("polar-1", polar_pmd.CONTROL_POINT_UUID, b"\x02\x02", host_time=5.0, rtype=rec.WRITE)
        written.append(rec.Record(rec.WRITE, 5.0, "polar-1", polar_pmd.CONTROL_POINT_UUID, b"\x02\x02"))
    return written


def test_round_trip(tmp_path):
    path = tmp_path / "a.m3erec"
    written = write_sample(path)
    contents = rec.read_recording(path)
    assert contents.records == written and contents.clean and contents.stop_reason == ""
    assert list(rec.replay(path)) == written
    head = path.read_bytes()[: rec.HEADER_SIZE]
    assert head[:8] == b"M3EREC\r\n" and struct.unpack_from("<H", head, 8)[0] == 1


def test_record_layout(tmp_path):
    r = rec.Record(rec.NOTIFICATION, 1.5, "dev", DATA_CHAR_UUID, b"\x01\x02")
    blob = rec.encode_record(r)
    length = struct.unpack_from("<I", blob)[0]
    assert length == 1 + 8 + 1 + 3 + 16 + 2 and len(blob) == 4 + length + 4
    assert blob[4] == 1 and struct.unpack_from("<d", blob, 5)[0] == 1.5 and blob[13] == 3 and blob[14:17] == b"dev"
    assert blob[17:33].hex() == DATA_CHAR_UUID.replace("-", "") and blob[33:35] == b"\x01\x02"


def test_refuses_overwrite_and_bad_files(tmp_path):
    path = tmp_path / "a.m3erec"
    write_sample(path, 1)
    with pytest.raises(FileExistsError):
        rec.RecordingWriter(path)
    bad = tmp_path / "b.m3erec"
    bad.write_bytes(b"not a recording at all, definitely not")
    with pytest.raises(InputFileError, match="magic"):
        rec.read_recording(bad)


def test_torn_tail_at_every_offset(tmp_path):
    path = tmp_path / "a.m3erec"
    written = write_sample(path, 4)
    data = path.read_bytes()
    ends, off = [], rec.HEADER_SIZE  # end offset of each record
    for r in written:
        off += len(rec.encode_record(r))
        ends.append(off)
    assert ends[-1] == len(data)
    for size in range(rec.HEADER_SIZE, len(data) + 1):
        records, end, reason = rec.parse_records(data[:size])
        n_full = sum(e <= size for e in ends)
        assert records == written[:n_full]
        assert end == (ends[n_full - 1] if n_full else rec.HEADER_SIZE)
        assert (reason == "") == (end == size)
    cut = tmp_path / "cut.m3erec"
    for size in (ends[1] + 3, ends[2] - 1, ends[2]):  # the same through the file reader
        cut.write_bytes(data[:size])
        c = rec.read_recording(cut)
        assert c.records == written[: sum(e <= size for e in ends)]
        assert c.discarded_bytes == size - max(e for e in ends if e <= size) and c.clean == (size in ends)


def test_corrupt_record_stops_reader(tmp_path):
    path = tmp_path / "a.m3erec"
    written = write_sample(path, 5)
    data = bytearray(path.read_bytes())
    pos = rec.HEADER_SIZE + sum(len(rec.encode_record(r)) for r in written[:3]) + 20
    data[pos] ^= 0x40
    path.write_bytes(bytes(data))
    c = rec.read_recording(path)
    assert c.records == written[:3] and c.stop_reason == "record CRC mismatch" and not c.clean


def test_decode_recording_reproduces_live_stream(tmp_path):
    path = tmp_path / "a.m3erec"
    live_dec = ImuStreamDecoder()
    live = []
    with rec.RecordingWriter(path) as w:
        for i in range(30):
            p = record_payload(i)
            w.write(DEVICE, DATA_CHAR_UUID, p, host_time=record_time(i))
            live += live_dec.decode(p)
        w.write(DEVICE, DATA_CHAR_UUID, b"\xa1garbage", host_time=record_time(30))
    offline = rec.decode_recording(path, {DATA_CHAR_UUID.upper(): ImuStreamDecoder})
    assert len(offline.batches) == len(live) == 30 and len(offline.errors) == 1
    for a, b in zip(live, offline.batches, strict=True):
        assert np.array_equal(a.acc, b.batch.acc) and np.array_equal(a.gyro, b.batch.gyro)
        assert np.array_equal(a.device_time_s, b.batch.device_time_s) and a.seq == b.batch.seq
    with_int = rec.decode_recording(path, {DATA_CHAR_UUID: ImuStreamDecoder}, with_integrity=True)
    assert all(b.batch.host_time_s is not None for b in with_int.batches)
    (integ,) = with_int.integrity.values()
    assert integ.counters.released == 30 and integ.counters.gaps == 0


def test_background_sync_bounds_unsynced_time(tmp_path):
    synced = []
    with rec.RecordingWriter(tmp_path / "a.m3erec", flush_interval_s=0.1, on_sync=synced.append) as w:
        w.write(DEVICE, DATA_CHAR_UUID, b"x")
        time.sleep(0.35)  # no further writes: the background thread must sync
        assert w.records_synced == 1 and synced == [1]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_recorder_recovers_all_synced_records(tmp_path):
    path = tmp_path / "killed.m3erec"
    interval = 0.1
    proc = subprocess.Popen([sys.executable, str(HERE / "recorder_child.py"), str(path), str(interval), "2000"],
                            stdout=subprocess.PIPE, text=True, cwd=str(HERE.parents[1]))
    last_synced = 0
    syncs = 0
    deadline = time.monotonic() + 10.0
    try:
        while syncs < 5 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("synced "):
                last_synced = int(line.split()[1])
                syncs += 1
        time.sleep(0.7 * interval)  # kill between two syncs, with unsynced (possibly half-written) records
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert syncs == 5, "the recorder did not report its syncs"
    c = rec.read_recording(path)
    n = len(c.records)
    assert n >= last_synced > 0
    # all recovered records are exact; at 2000 records/s at most ~ one flush interval (+ scheduling slack) is lost
    expected = [rec.Record(rec.NOTIFICATION, record_time(i), DEVICE, DATA_CHAR_UUID, record_payload(i))
                for i in range(n)]
    assert c.records == expected
    assert list(rec.replay(path)) == expected
    assert c.valid_bytes + c.discarded_bytes == path.stat().st_size
    decoded = rec.decode_recording(path, {DATA_CHAR_UUID: ImuStreamDecoder})
    assert [b.batch.seq for b in decoded.batches] == [i & 0xFFFF for i in range(n)]
