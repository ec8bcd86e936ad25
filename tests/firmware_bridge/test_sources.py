"""Packet sources replaying real recordings (sp-sw-har, seglearn) and generated signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.protocols.imu_stream import DEFAULT_ACC_SCALE, DEFAULT_GYRO_SCALE, ImuStreamDecoder
from firmware_bridge.protocols.touch_sdk import TouchSdkDecoder
from firmware_bridge.virtual.sources import (
    SampleSeries,
    generate_sine,
    generate_still,
    imu_stream_packets,
    touch_sdk_packets,
)
from tests.data.seglearn_fixture import fake_seglearn_npy
from toolkit.cli.replays import (
    DatasetNotFoundError,
    load_seglearn,
    load_sp_sw_har,
    load_sp_sw_har_recording,
    resolve_virtual,
)
from toolkit.data.paths import find_dataset
from toolkit.data.seglearn import convert_wheel
from toolkit.errors import ConfigError, InputFileError
from toolkit.frames import G_MS2

ACC_TOL = DEFAULT_ACC_SCALE / 2 * 1.001 + 1e-6
GYRO_TOL = DEFAULT_GYRO_SCALE / 2 * 1.001 + 1e-6


def decode_all(packets: list[tuple[float, bytes]], decoder=None) -> dict[str, np.ndarray]:
    decoder = decoder or ImuStreamDecoder()
    batches = [b for _, p in packets for b in decoder.decode(p)]
    return {
        "acc": np.concatenate([b.acc for b in batches]),
        "gyro": np.concatenate([b.gyro for b in batches]),
        "t": np.concatenate([b.device_time_s for b in batches]),
        "seq": np.array([b.seq for b in batches]),
    }


def jittery(n: int = 103, seed: int = 1) -> SampleSeries:
    rng = np.random.default_rng(seed)
    t_ms = 1_657_539_439_647 + np.cumsum(rng.integers(4, 17, n))
    acc = rng.normal(0, 5, (n, 3)) + [0, 0, G_MS2]
    gyro = rng.normal(0, 1, (n, 3))
    return SampleSeries(t_ms * 1e-3, acc, gyro, 100.0, "jittery")


def test_imu_stream_packets_roundtrip_with_real_timestamps() -> None:
    s = jittery()
    packets = list(imu_stream_packets(s, samples_per_packet=5))
    assert len(packets) == 21  # 103 samples -> 20 x 5 + 3
    d = decode_all(packets)
    assert np.max(np.abs(d["acc"] - s.acc)) <= ACC_TOL
    assert np.max(np.abs(d["gyro"] - s.gyro)) <= GYRO_TOL
    assert list(d["seq"]) == list(range(21))
    # every packet's first sample keeps its real timestamp (us), its last one within 1 us per sample
    firsts = np.arange(0, 103, 5)
    assert np.max(np.abs(d["t"][firsts] - s.t_s[firsts])) < 1e-6
    lasts = np.minimum(firsts + 4, 102)
    assert np.max(np.abs(d["t"][lasts] - s.t_s[lasts])) < 5e-6
    # within a packet, jitter is flattened to the packet's mean spacing
    assert np.max(np.abs(d["t"] - s.t_s)) < 0.02
    # per-packet pacing timestamps = time of the packet's last sample
    assert [ts for ts, _ in packets] == pytest.approx(list(s.t_s[lasts]))


def test_bad_samples_per_packet() -> None:
    with pytest.raises(ConfigError):
        list(imu_stream_packets(generate_still(0.1), samples_per_packet=0))
    with pytest.raises(ConfigError):
        list(imu_stream_packets(generate_still(0.1), samples_per_packet=19))  # > 18 for acc+gyro


def test_touch_sdk_packets_roundtrip() -> None:
    s = jittery(41)
    packets = list(touch_sdk_packets(s, frames_per_update=4))
    dec = TouchSdkDecoder()
    batches = [b for _, p in packets for b in dec.decode(p)]
    acc = np.concatenate([b.acc for b in batches])
    t = np.concatenate([b.device_time_s for b in batches])
    assert np.array_equal(acc, s.acc.astype(np.float32).astype(np.float64))
    assert np.allclose(t, s.t_s - s.t_s[0], atol=1e-9)  # ms timestamps carried exactly


def test_generated_signals() -> None:
    sine = generate_sine(2.0, 50.0)
    assert len(sine) == 100 and sine.acc[:, 1].mean() == pytest.approx(G_MS2, abs=0.1)
    still = generate_still(1.0)
    assert np.all(still.acc[:, 2] == G_MS2) and np.all(still.gyro == 0)


def test_missing_dataset_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatasetNotFoundError) as e:
        load_sp_sw_har_recording("s05_03", data_root=tmp_path)
    assert str(tmp_path) in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv("MULTI3EDGE_DATA", str(tmp_path / "env-root"))
    with pytest.raises(DatasetNotFoundError) as e:
        find_dataset("sp-sw-har/none.csv")
    assert str(tmp_path / "env-root") in str(e.value) and "MULTI3EDGE_DATA" in str(e.value)
    with pytest.raises(ConfigError):
        load_sp_sw_har_recording("s5", data_root=tmp_path)


def test_sp_sw_har_reader_on_small_file(tmp_path: Path) -> None:
    folder = tmp_path / "sp-sw-har" / "DATA" / "s07"
    folder.mkdir(parents=True)
    (folder / "s07_02_sw.csv").write_text(
        "x_acc,y_acc,z_acc,x_gyro,y_gyro,z_gyro,timestamp,label\n"
        "0.1,0.2,9.8,0.01,0.02,0.03,1657539439647,SEATED\n"
        "0.2,0.3,9.7,0.02,0.03,0.04,1657539439652,SEATED\n"
        "0.3,0.4,9.6,0.03,0.04,0.05,1657539439664,WALKING\n")
    s = load_sp_sw_har_recording("s07_02", data_root=tmp_path)
    assert s.name == "sp-sw-har:s07_02" and len(s) == 3
    assert s.t_s[1] - s.t_s[0] == pytest.approx(0.005, abs=1e-6)
    assert list(s.labels) == ["SEATED", "SEATED", "WALKING"]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError):
        load_sp_sw_har(bad)


@pytest.mark.shared
def test_real_sp_sw_har_recording(shared_data: Path) -> None:
    path = shared_data / "sp-sw-har" / "DATA" / "s05" / "s05_03_sw.csv"
    if not path.exists():
        pytest.skip("sp-sw-har s05_03 not in the shared data")
    s = load_sp_sw_har_recording("s05_03", data_root=shared_data)
    raw = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=range(7))
    assert np.array_equal(s.acc, raw[:, :3]) and np.array_equal(s.gyro, raw[:, 3:6])
    assert 90 < s.rate_hz < 110
    d = decode_all(list(imu_stream_packets(s)))
    assert np.max(np.abs(d["acc"] - s.acc)) <= ACC_TOL and np.max(np.abs(d["gyro"] - s.gyro)) <= GYRO_TOL


# ------------------------------------------------------------------ seglearn replay
# (the audited converter itself is tested in tests/data/test_seglearn.py)
def test_seglearn_replay_converts_ios_g_to_android_si(tmp_path: Path) -> None:
    src = tmp_path / "watch_dataset.npy"
    obj = fake_seglearn_npy(src)
    out = tmp_path / "root" / "seglearn" / "watch_dataset.npz"
    convert_wheel(src, out, accept_unknown_hash=True)
    s = load_seglearn(out, 2)
    assert s.rate_hz == 50.0 and len(s) == 54 and s.labels[0] == "FEL"
    assert np.allclose(s.acc, -G_MS2 * obj["X"][2][:, :3])  # iOS g -> Android m/s^2
    assert np.array_equal(s.gyro, obj["X"][2][:, 3:])
    assert np.allclose(np.diff(s.t_s), 0.02)
    spec = resolve_virtual("seglearn:1", tmp_path / "root")
    assert spec.profile == "imu-stream" and len(spec.series) == 47
    with pytest.raises(ConfigError):
        load_seglearn(out, 3)
