"""firmware_bridge.transport over the virtual radio (bleak public API + injected bumble backend)."""

from __future__ import annotations

import asyncio
import time

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from firmware_bridge.backends.bumble_backend import BumbleClient, BumbleScanner
from firmware_bridge.transport import (
    DeviceProfileMatch,
    ImuStreamConnection,
    Notification,
    RetryPolicy,
    scan,
)
from firmware_bridge.virtual.peripheral import (
    DEFAULT_CONTROL_UUID,
    DEFAULT_DATA_UUID,
    DEFAULT_SERVICE_UUID,
    FaultConfig,
    VirtualPeripheral,
    make_counter_source,
)

from .ble_helpers import drain, run_async, seq_of

FAST_RETRY = RetryPolicy(connect_timeout=2.0, initial_backoff=0.01, max_backoff=0.2)


def _adv(name: str | None, uuids: list[str]) -> AdvertisementData:
    return AdvertisementData(name, {}, {}, uuids, None, -60, ())


def test_device_profile_match() -> None:
    dev = BLEDevice("AA:BB:CC:DD:EE:FF", "Polar Sense 1234", None)
    by_name = DeviceProfileMatch("polar", name_prefix="Polar Sense")
    by_uuid = DeviceProfileMatch("imu", service_uuid=DEFAULT_SERVICE_UUID.upper())
    both = DeviceProfileMatch("both", name_prefix="Polar", service_uuid="180d")
    assert by_name.matches(dev, _adv(None, []))  # falls back to the OS name
    assert not by_name.matches(dev, _adv("WitMotion", []))
    assert by_uuid.matches(dev, _adv(None, [DEFAULT_SERVICE_UUID]))
    assert not by_uuid.matches(dev, _adv(None, []))
    assert both.matches(dev, _adv("Polar H10", ["0000180d-0000-1000-8000-00805f9b34fb"]))
    assert not both.matches(dev, _adv("Polar H10", []))
    with pytest.raises(ValueError):
        DeviceProfileMatch("empty")


def test_retry_policy_backoff_is_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.1, multiplier=2.0, max_backoff=1.0)
    assert [policy.backoff(k) for k in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_scan_with_profiles() -> None:
    async def body() -> None:
        for name in ("M3E-1", "M3E-2"):
            await VirtualPeripheral(name).start()
        await VirtualPeripheral("Other", service_uuid="180d").start()
        await VirtualPeripheral("NoMatch", service_uuid="180f").start()
        profiles = [
            DeviceProfileMatch("m3e", name_prefix="M3E-", service_uuid=DEFAULT_SERVICE_UUID),
            DeviceProfileMatch("hr", service_uuid="180d"),
        ]
        found = await scan(profiles, timeout=1.0, backend=BumbleScanner)
        assert sorted((d.name, d.profile.label) for d in found) == [("M3E-1", "m3e"), ("M3E-2", "m3e"), ("Other", "hr")]
        started = time.monotonic()
        early = await scan(profiles[:1], timeout=5.0, backend=BumbleScanner, expected=2)
        assert len(early) == 2 and time.monotonic() - started < 1.0

    run_async(body)


def test_stream_connection_queues_tuples_and_runs_on_connected() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral("Q-1", source=make_counter_source(100, 30), record=True)
        await peripheral.start()

        async def start_command(client) -> None:  # noqa: ANN001 - BleakClient
            await client.write_gatt_char(DEFAULT_CONTROL_UUID, b"\x01start", response=True)

        conn = ImuStreamConnection(
            peripheral.address, DEFAULT_DATA_UUID, backend=BumbleClient, retry=FAST_RETRY, on_connected=start_command
        )
        async with conn:
            await conn.wait_connected(3.0)
            assert conn.is_connected and conn.client is not None and conn.client.mtu_size >= 185
            await peripheral.wait_finished(5.0)
            await asyncio.sleep(0.05)
        items = await drain(conn.queue)
        assert len(items) == 100
        first = items[0]
        assert isinstance(first, Notification)
        assert first.device_id == peripheral.address and first.char_uuid == DEFAULT_DATA_UUID
        assert isinstance(first.host_time, float) and isinstance(first.data, bytes)
        assert [i.data for i in items] == peripheral.sent_log
        assert all(a.host_time <= b.host_time for a, b in zip(items, items[1:], strict=False))
        assert peripheral.control_log == [b"\x01start"]
        assert not conn.running and not peripheral.connected

    run_async(body)


def test_queue_full_drops_are_counted() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral("Q-FULL", source=make_counter_source(100, 10))
        await peripheral.start()
        conn = ImuStreamConnection(peripheral.address, DEFAULT_DATA_UUID, backend=BumbleClient, queue_maxsize=10)
        async with conn:
            await peripheral.wait_finished(5.0)
            await asyncio.sleep(0.05)
        assert conn.queue.qsize() == 10
        assert conn.stats.received == 10 and conn.stats.dropped_queue_full == 90

    run_async(body)


def test_gives_up_after_max_failures_with_backoff() -> None:
    async def body() -> None:
        policy = RetryPolicy(connect_timeout=0.2, initial_backoff=0.05, multiplier=2.0, max_backoff=0.1, max_failures=3)
        conn = ImuStreamConnection("D0:00:00:00:EE:EE", DEFAULT_DATA_UUID, backend=BumbleClient, retry=policy)
        started = time.monotonic()
        await conn.start()
        with pytest.raises(BleakError):
            await conn.wait_connected(5.0)
        assert time.monotonic() - started >= 0.05 + 0.1  # two backoff waits between three attempts
        assert conn.stats.connect_attempts == 3 and conn.stats.connect_failures == 3
        assert "not found" in (conn.stats.last_error or "")
        await conn.stop()

    run_async(body)


def _check_reconnect_stream(peripheral: VirtualPeripheral, conn: ImuStreamConnection, forced: int) -> None:
    items = [n for n in conn.queue._queue]  # type: ignore[attr-defined]
    received = [seq_of(n.data) for n in items]
    sent = [seq_of(p) for p in peripheral.sent_log]
    c = peripheral.counters
    assert conn.stats.dropped_queue_full == 0
    # everything the peripheral put on the air arrived, in order, once
    assert received == sent
    assert received == sorted(set(received))
    # what is missing was generated while no central was subscribed (the disconnected spans)
    assert c.forced_disconnects == forced
    assert c.generated == c.sent + c.dropped_disconnected
    assert conn.stats.connects == forced + 1 and conn.stats.disconnects == forced
    gaps = [(a, b) for a, b in zip(received, received[1:], strict=False) if b != a + 1]
    every = peripheral.faults.disconnect_every
    assert every is not None
    if peripheral.hold_when_unsubscribed:
        assert gaps == [] and c.dropped_disconnected == 0  # the stream paused while disconnected
        return
    assert len(gaps) == forced - (1 if c.generated % every == 0 else 0)
    for a, _b in gaps:
        assert (a + 1) % every == 0  # each gap starts exactly at a forced disconnect


def test_transport_reconnects_after_forced_disconnects() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral(
            "RC-1",
            source=make_counter_source(600, 40),
            pacing="rate",
            rate_hz=500,
            record=True,
            faults=FaultConfig(disconnect_every=100, readvertise_delay=0.03),
        )
        await peripheral.start()
        found = await scan([DeviceProfileMatch(name_prefix="RC-")], timeout=2.0, backend=BumbleScanner, expected=1)
        conn = ImuStreamConnection(found[0].device, DEFAULT_DATA_UUID, backend=BumbleClient, retry=FAST_RETRY)
        assert conn.device_id == "RC-1"
        async with conn:
            await peripheral.wait_finished(10.0)
            await asyncio.sleep(0.05)
        _check_reconnect_stream(peripheral, conn, forced=6)
        assert len(conn.stats.spans) == 7 and all(end is not None for _, end in conn.stats.spans)

    run_async(body)


@pytest.mark.parametrize("count", [2, 8])
def test_many_peripherals_stream_to_one_central(count: int) -> None:
    async def body() -> None:
        queue: asyncio.Queue[Notification] = asyncio.Queue(100_000)
        peripherals = [
            VirtualPeripheral(f"MULTI-{i}", source=make_counter_source(300, 100, rng_seed=i), record=True)
            for i in range(count)
        ]
        for p in peripherals:
            await p.start()
        found = await scan(
            [DeviceProfileMatch(name_prefix="MULTI-")], timeout=3.0, backend=BumbleScanner, expected=count
        )
        assert len(found) == count
        conns = [
            ImuStreamConnection(d.device, DEFAULT_DATA_UUID, queue=queue, backend=BumbleClient, retry=FAST_RETRY)
            for d in found
        ]
        for c in conns:
            await c.start()
        await asyncio.gather(*(c.wait_connected(5.0) for c in conns))
        await asyncio.gather(*(p.wait_finished(10.0) for p in peripherals))
        await asyncio.sleep(0.1)
        for c in conns:
            await c.stop()
        items = await drain(queue)
        assert len(items) == 300 * count
        by_device: dict[str, list[bytes]] = {}
        for n in items:
            by_device.setdefault(n.device_id, []).append(n.data)
        for p in peripherals:
            assert by_device[p.name] == p.sent_log
        assert all(c.stats.dropped_queue_full == 0 for c in conns)

    run_async(body)


@pytest.mark.slow
def test_hundred_disconnect_reconnect_cycles() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral(
            "RC-100",
            source=make_counter_source(5000, 40),
            pacing="rate",
            rate_hz=1000,
            record=True,
            faults=FaultConfig(disconnect_every=50, readvertise_delay=0.01),
            hold_when_unsubscribed=True,
        )
        await peripheral.start()
        conn = ImuStreamConnection(
            peripheral.address, DEFAULT_DATA_UUID, backend=BumbleClient, retry=FAST_RETRY, queue_maxsize=10_000
        )
        async with conn:
            await peripheral.wait_finished(60.0)
            await asyncio.sleep(0.05)
        _check_reconnect_stream(peripheral, conn, forced=100)

    run_async(body, timeout=90.0)
