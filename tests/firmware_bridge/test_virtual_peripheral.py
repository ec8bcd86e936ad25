"""VirtualPeripheral: packet sources, pacing, MTU policy and seeded fault injection."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from bleak import BleakClient

from firmware_bridge.backends.bumble_backend import BumbleClient
from firmware_bridge.virtual.peripheral import (
    DEFAULT_DATA_UUID,
    FaultConfig,
    PeripheralCounters,
    VirtualPeripheral,
    make_counter_source,
)

from .ble_helpers import run_async, seq_of


async def collect(peripheral: VirtualPeripheral, settle: float = 0.05, timeout: float = 15.0) -> list[bytes]:
    """Connect with bleak, subscribe, and return everything received until the source is exhausted."""
    await peripheral.start()
    received: list[bytes] = []
    async with BleakClient(peripheral.address, backend=BumbleClient, timeout=5.0) as client:
        await client.start_notify(DEFAULT_DATA_UUID, lambda _c, data: received.append(bytes(data)))
        await peripheral.wait_finished(timeout)
        await asyncio.sleep(settle)
    return received


def check_invariant(c: PeripheralCounters) -> None:
    assert c.generated == c.sent - c.duplicated + c.dropped_loss + c.dropped_disconnected + c.oversize


def test_source_kinds_iterable_async_and_callable() -> None:
    async def body() -> None:
        packets = list(make_counter_source(30, 12))

        async def agen() -> AsyncIterator[bytes]:
            for p in packets:
                yield p

        it = iter(packets)

        def sync_callable() -> bytes | None:
            return next(it, None)

        it2 = iter(packets)

        async def async_callable() -> bytes | None:
            await asyncio.sleep(0)
            return next(it2, None)

        for index, source in enumerate([packets, agen(), sync_callable, async_callable]):
            peripheral = VirtualPeripheral(f"SRC-{index}", source=source)
            assert await collect(peripheral) == packets, f"source #{index}"
            assert peripheral.counters.generated == 30
            await peripheral.stop()

    run_async(body)


def test_pacing_rate_and_timestamps() -> None:
    async def body() -> None:
        rate = VirtualPeripheral("PACE-R", source=make_counter_source(21, 8), pacing="rate", rate_hz=100)
        await rate.start()
        async with BleakClient(rate.address, backend=BumbleClient) as client:
            times: list[float] = []
            await client.start_notify(DEFAULT_DATA_UUID, lambda _c, _d: times.append(time.monotonic()))
            await rate.wait_finished(5.0)
            await asyncio.sleep(0.05)
        assert len(times) == 21
        assert 0.18 <= times[-1] - times[0] <= 0.35  # 20 intervals of 10 ms

        # timestamps 0..1 s played back 5x faster -> about 0.2 s
        stamped = [(i * 0.05, p) for i, p in enumerate(make_counter_source(21, 8))]
        fast = VirtualPeripheral("PACE-T", source=stamped, pacing="timestamps", speed=5.0)
        await fast.start()
        async with BleakClient(fast.address, backend=BumbleClient) as client:
            times2: list[float] = []
            await client.start_notify(DEFAULT_DATA_UUID, lambda _c, _d: times2.append(time.monotonic()))
            await fast.wait_finished(5.0)
            await asyncio.sleep(0.05)
        assert len(times2) == 21
        assert 0.18 <= times2[-1] - times2[0] <= 0.35

    run_async(body)


def test_jitter_delays_packets_but_keeps_them() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral(
            "JIT",
            source=make_counter_source(50, 8),
            pacing="rate",
            rate_hz=500,
            faults=FaultConfig(jitter_sd=0.004, seed=3),
        )
        started = time.monotonic()
        received = await collect(peripheral, settle=0.0)
        assert [seq_of(p) for p in received] == list(range(50))
        assert time.monotonic() - started >= 0.098  # at least the nominal 49 x 2 ms

    run_async(body)


def test_fault_counters_match_what_was_received() -> None:
    faults = FaultConfig(loss_prob=0.1, duplicate_prob=0.1, reorder_prob=0.1, seed=1234)

    async def body() -> tuple[PeripheralCounters, list[bytes]]:
        peripheral = VirtualPeripheral("FAULTS", source=make_counter_source(500, 16), faults=faults, record=True)
        received = await collect(peripheral)
        c = peripheral.counters
        check_invariant(c)
        assert received == peripheral.sent_log
        seqs = [seq_of(p) for p in received]
        counts = Counter(seqs)
        # loss: exactly the generated packets that never arrived
        assert 500 - len(counts) == c.dropped_loss
        # duplicates: exactly the extra copies, each right after its original
        assert sum(n - 1 for n in counts.values()) == c.duplicated
        for seq, n in counts.items():
            if n > 1:
                first = seqs.index(seq)
                assert seqs[first : first + n] == [seq] * n
        # reordering: each held-back packet arrives once after a higher number
        unique = [s for i, s in enumerate(seqs) if i == 0 or s != seqs[i - 1]]
        inversions = sum(1 for a, b in zip(unique, unique[1:], strict=False) if b < a)
        assert inversions == c.reordered
        assert c.dropped_loss > 20 and c.duplicated > 20 and c.reordered > 20
        assert c.dropped_disconnected == 0 and c.oversize == 0
        return c, received

    first = run_async(body)
    second = run_async(body)
    assert first == second  # same seed, same faults


def test_mtu_refuse_and_split() -> None:
    async def body() -> None:
        big = [bytes([i]) * 60 for i in range(5)]
        refuse = VirtualPeripheral("MTU-R", source=big + [b"small"], max_mtu=23)
        received = await collect(refuse)
        assert received == [b"small"]
        assert refuse.counters.oversize == 5
        check_invariant(refuse.counters)
        await refuse.stop()

        split = VirtualPeripheral("MTU-S", source=[bytes(range(45))], max_mtu=23, oversize="split")
        received = await collect(split)
        assert received == [bytes(range(20)), bytes(range(20, 40)), bytes(range(40, 45))]
        assert split.counters.split_chunks == 3 and split.counters.sent == 1

    run_async(body)


def test_forced_disconnects_and_readvertising() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral(
            "FD",
            source=make_counter_source(30, 8),
            pacing="rate",
            rate_hz=200,
            faults=FaultConfig(disconnect_every=10, readvertise_delay=0.1),
        )
        await peripheral.start()
        drops = asyncio.Event()
        client = BleakClient(peripheral.address, backend=BumbleClient, disconnected_callback=lambda _c: drops.set())
        await client.connect()
        await client.start_notify(DEFAULT_DATA_UUID, lambda *_: None)
        await asyncio.wait_for(drops.wait(), 2.0)
        assert peripheral.counters.forced_disconnects == 1
        assert not peripheral.advertising  # waits readvertise_delay before advertising again
        await asyncio.sleep(0.15)
        assert peripheral.advertising
        await peripheral.wait_finished(2.0)
        c = peripheral.counters
        assert c.generated == 30 and c.sent == 10 and c.dropped_disconnected == 20
        check_invariant(c)

    run_async(body)


def test_time_based_disconnects() -> None:
    async def body() -> None:
        peripheral = VirtualPeripheral(
            "TD",
            source=make_counter_source(None, 8),
            pacing="rate",
            rate_hz=200,
            faults=FaultConfig(disconnect_at=(0.1,)),
        )
        await peripheral.start()
        dropped = asyncio.Event()
        async with BleakClient(
            peripheral.address, backend=BumbleClient, disconnected_callback=lambda _c: dropped.set()
        ) as client:
            started = time.monotonic()
            await client.start_notify(DEFAULT_DATA_UUID, lambda *_: None)
            await asyncio.wait_for(dropped.wait(), 2.0)
            assert 0.05 <= time.monotonic() - started <= 0.5
        assert peripheral.counters.forced_disconnects == 1

    run_async(body)


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError):
        FaultConfig(loss_prob=1.5)
    with pytest.raises(ValueError):
        VirtualPeripheral("X", pacing="rate")
    with pytest.raises(ValueError):
        VirtualPeripheral("X", speed=0)
