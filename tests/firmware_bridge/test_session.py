"""StreamSession end to end over the virtual bumble radio: replay -> bleak(bumble) -> decode -> integrity."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.backends.bumble_backend import BumbleClient
from firmware_bridge.devices import recording_decoders
from firmware_bridge.protocols.imu_stream import DEFAULT_ACC_SCALE, DEFAULT_GYRO_SCALE, ImuStreamDecoder
from firmware_bridge.recording import EVENT, WRITE, decode_recording, read_recording
from firmware_bridge.session import DeviceSpec, StreamBatch, StreamSession, concat_batches
from firmware_bridge.transport import RetryPolicy
from firmware_bridge.virtual.catalog import VirtualDeviceSpec, make_virtual_peripheral, spec_packets
from firmware_bridge.virtual.peripheral import FaultConfig, VirtualPeripheral
from firmware_bridge.virtual.sources import generate_sine
from toolkit.cli.replays import resolve_virtual

from .ble_helpers import run_async

ACC_TOL = DEFAULT_ACC_SCALE / 2 * 1.001 + 1e-6
GYRO_TOL = DEFAULT_GYRO_SCALE / 2 * 1.001 + 1e-6
FAST_RETRY = RetryPolicy(connect_timeout=3.0, initial_backoff=0.02, max_backoff=0.2)


async def stream(peripherals: list[VirtualPeripheral], profiles: list[str], *, record_to: Path | None = None,
                 timeout: float = 20.0, settle: float = 0.1) -> tuple[StreamSession, list[StreamBatch]]:
    """Start the peripherals, stream all of them through one session until every replay ended."""
    for p in peripherals:
        await p.start()
    callback_batches: list[StreamBatch] = []
    devices = [DeviceSpec(p.address, prof, p.name) for p, prof in zip(peripherals, profiles, strict=True)]
    session = StreamSession(devices, backend=BumbleClient, retry=FAST_RETRY, record_to=record_to,
                            on_batch=callback_batches.append)
    async with session:
        await session.wait_connected(10.0)
        await asyncio.gather(*(p.wait_finished(timeout) for p in peripherals))
        await asyncio.sleep(settle)
    batches = [b async for b in session]
    assert [id(b) for b in batches] == [id(b) for b in callback_batches]  # iterator and callback agree
    return session, batches


def by_device(batches: list[StreamBatch], device_id: str) -> dict[str, np.ndarray]:
    mine = [b for b in batches if b.device_id == device_id]
    for b in mine:
        assert np.all(np.diff(b.host_time_s) > 0)
    return concat_batches(mine)


def check_equal_to_series(got: dict[str, np.ndarray], spec: VirtualDeviceSpec, index: np.ndarray | None = None) -> None:
    s = spec.series
    idx = np.arange(len(s)) if index is None else index
    assert got["acc"].shape == (len(idx), 3)
    assert np.max(np.abs(got["acc"] - s.acc[idx])) <= ACC_TOL
    assert np.max(np.abs(got["gyro"] - s.gyro[idx])) <= GYRO_TOL
    assert np.all(np.isfinite(got["host_time_s"])) and np.all(np.isfinite(got["device_time_s"]))
    # (host times are monotonic within a batch; across batches the clock mapping is refined as packets
    # arrive, and a sped-up replay's device clock runs slower than the host's)
    assert np.max(np.abs(got["device_time_s"] - s.t_s[idx])) < 0.025  # intra-packet jitter flattened


def replay_case(spec: VirtualDeviceSpec, speed: float) -> None:
    async def body() -> None:
        p = make_virtual_peripheral(spec, speed=speed)
        session, batches = await stream([p], ["imu-stream"])
        got = by_device(batches, p.name)
        check_equal_to_series(got, spec)
        c = session.counters()[p.name]
        assert c["samples"] == len(spec.series) and c["gaps"] == c["lost_packets"] == c["dropped"] == 0
        assert c["packets"] == c["decoded"] == p.counters.sent
        assert c["bytes"] == sum(len(x) for _, x in spec_packets(spec))
        assert p.control_log == [b"\x01"]  # the profile's start command reached the device

    run_async(body, timeout=30.0)


def test_generated_replay_end_to_end() -> None:
    replay_case(resolve_virtual("sine:2"), speed=8.0)


@pytest.mark.shared
def test_sp_sw_har_replay_end_to_end(shared_data: Path) -> None:
    if not (shared_data / "sp-sw-har" / "DATA" / "s05" / "s05_03_sw.csv").exists():
        pytest.skip("sp-sw-har s05_03 not in the shared data")
    spec = resolve_virtual("sp-sw-har:s05_03", shared_data)
    replay_case(spec, speed=20.0)


def test_faults_counters_match_and_only_lost_packets_missing() -> None:
    spec = resolve_virtual("sine:4")
    spp = 5

    async def body() -> None:
        faults = FaultConfig(loss_prob=0.05, duplicate_prob=0.05, reorder_prob=0.05, seed=7)
        p = make_virtual_peripheral(spec, speed=10.0, faults=faults, record=True, samples_per_packet=spp)
        session, batches = await stream([p], ["imu-stream"])
        c = session.counters()[p.name]
        pc = p.counters
        assert pc.dropped_loss > 0 and pc.duplicated > 0 and pc.reordered > 0
        # which packets reached the central (sent_log holds each emitted payload, duplicates included)
        dec = ImuStreamDecoder()
        sent_seqs = sorted({b.seq for payload in p.sent_log for b in dec.decode(payload)})
        n_packets = len(spec_packets(spec, spp))
        lost = sorted(set(range(n_packets)) - set(sent_seqs))
        assert len(lost) == pc.dropped_loss
        trailing = sum(1 for k in range(len(lost)) if lost[-1 - k] == n_packets - 1 - k)  # undetectable at the end
        assert c["duplicates"] == pc.duplicated
        assert c["reordered"] == pc.reordered
        assert c["lost_packets"] == pc.dropped_loss - trailing
        assert c["lost_samples"] == spp * (pc.dropped_loss - trailing)
        assert c["late"] == 0 and c["dropped"] == 0
        # every sample outside the lost packets arrived, once, in order, with its value and a timestamp
        index = np.concatenate([np.arange(s * spp, min(len(spec.series), (s + 1) * spp)) for s in sent_seqs])
        got = by_device(batches, p.name)
        check_equal_to_series(got, spec, index)
        lost_before = [b.batch.meta["lost_before"] for b in batches]
        assert sum(lost_before) == c["lost_packets"]

    run_async(body, timeout=30.0)


@pytest.mark.parametrize("n_devices", [2, 8])
def test_many_devices_at_once(n_devices: int) -> None:
    async def body() -> None:
        specs = [resolve_virtual(f"sine:{1.0 + 0.1 * k}") for k in range(n_devices)]
        peripherals = [make_virtual_peripheral(s, speed=4.0, advertised_name=f"M3E-{k}") for k, s in enumerate(specs)]
        session, batches = await stream(peripherals, ["imu-stream"] * n_devices)
        assert sorted(session.device_ids) == sorted(p.name for p in peripherals)
        for p, spec in zip(peripherals, specs, strict=True):
            check_equal_to_series(by_device(batches, p.name), spec)
            c = session.counters()[p.name]
            assert c["lost_packets"] == c["duplicates"] == c["dropped"] == 0 and c["samples"] == len(spec.series)

    run_async(body, timeout=40.0)


def test_touch_sdk_virtual_device_end_to_end() -> None:
    spec = resolve_virtual("touch:sine:1.5")
    assert spec.profile == "touch-sdk"

    async def body() -> None:
        p = make_virtual_peripheral(spec, speed=5.0)
        session, batches = await stream([p], ["touch-sdk"])
        got = by_device(batches, p.name)
        s = spec.series
        assert np.array_equal(got["acc"], s.acc.astype(np.float32).astype(np.float64))
        assert np.array_equal(got["gyro"], s.gyro.astype(np.float32).astype(np.float64))
        assert np.allclose(got["device_time_s"], s.t_s - s.t_s[0], atol=1e-9)
        assert np.all(np.isfinite(got["host_time_s"]))
        assert all(b.profile == "touch-sdk" and b.batch.sign == "android" for b in batches)
        assert len(p.control_log) == 1 and p.control_log[0][0] == 0x12  # InputUpdate.clientInfo was written

    run_async(body)


def test_recording_during_session_equals_live_stream(tmp_path: Path) -> None:
    path = tmp_path / "session.m3erec"
    specs = [resolve_virtual("sine:1.5"), resolve_virtual("touch:still:1")]

    async def body() -> list[StreamBatch]:
        faults = FaultConfig(loss_prob=0.05, duplicate_prob=0.05, reorder_prob=0.05, seed=3)
        ps = [make_virtual_peripheral(specs[0], speed=5.0, faults=faults), make_virtual_peripheral(specs[1], speed=5.0)]
        _, batches = await stream(ps, ["imu-stream", "touch-sdk"], record_to=path)
        return batches

    live = run_async(body, timeout=30.0)
    contents = read_recording(path)
    assert contents.clean
    assert sum(r.rtype == WRITE for r in contents.records) == 2  # the two start commands
    assert any(r.rtype == EVENT and b"session-start" in r.data for r in contents.records)
    offline = decode_recording(path, recording_decoders(), with_integrity=True)
    assert not offline.errors
    assert len(offline.batches) == len(live)
    for rb, sb in zip(offline.batches, live, strict=True):
        assert rb.device_id == sb.device_id
        b = rb.batch.to_si()
        assert np.array_equal(b.acc, sb.acc) and np.array_equal(b.gyro, sb.gyro)
        assert np.array_equal(b.device_time_s, sb.batch.device_time_s)
        assert np.array_equal(b.host_time_s, sb.host_time_s)


def test_reconnect_is_counted_and_stop_is_idempotent() -> None:
    async def body() -> None:
        spec = VirtualDeviceSpec("sine", "imu-stream", generate_sine(3.0))
        p = make_virtual_peripheral(spec, speed=3.0, faults=FaultConfig(disconnect_at=(0.3,)))
        session, batches = await stream([p], ["imu-stream"])
        c = session.counters()[p.name]
        assert c["reconnects"] >= 1 and c["connects"] == c["reconnects"] + 1
        assert p.counters.dropped_disconnected == c["lost_packets"]
        assert c["samples"] == len(spec.series) - 5 * c["lost_packets"]
        await session.stop()  # idempotent
        assert [b async for b in session] == []

    run_async(body, timeout=30.0)


def test_unknown_profile_in_session() -> None:
    from toolkit.errors import ConfigError

    with pytest.raises(ConfigError):
        StreamSession([DeviceSpec("AA:BB:CC:DD:EE:FF", "nope")])
