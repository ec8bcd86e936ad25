"""Stream integrity: gaps, duplicates, reordering, u16 wrap, clock drift estimation."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.integrity import ClockMapper, StreamIntegrity
from firmware_bridge.protocols import imu_stream
from firmware_bridge.protocols.base import ImuBatch

PERIOD_US = 10_000
N = 5


def batch(seq: int, restart: bool = False) -> ImuBatch:
    """Packet ``seq`` (unbounded) of a 100 Hz stream, N samples each, u16 on the wire."""
    t0 = seq * N * PERIOD_US
    return ImuBatch(acc=np.full((N, 3), float(seq)), seq=seq & 0xFFFF,
                    device_time_s=(t0 + PERIOD_US * np.arange(N)) * 1e-6,
                    meta={"period_us": PERIOD_US, "restart": restart})


def run(order: list[int], **kw) -> tuple[StreamIntegrity, list[ImuBatch]]:
    integ = StreamIntegrity(**kw)
    out: list[ImuBatch] = []
    for k, s in enumerate(order):
        out += integ.push(batch(s), host_time=100.0 + 0.01 * k)
    out += integ.flush()
    return integ, out


def released_seqs(out: list[ImuBatch]) -> list[int]:
    return [int(b.acc[0, 0]) for b in out]


def test_in_order_passthrough():
    integ, out = run(list(range(20)))
    assert released_seqs(out) == list(range(20))
    c = integ.counters
    assert (c.received, c.released, c.duplicates, c.reordered, c.gaps, c.lost_packets) == (20, 20, 0, 0, 0, 0)
    assert all(b.host_time_s is not None and len(b.host_time_s) == N for b in out)


def test_duplicates_dropped():
    integ, out = run([0, 1, 1, 2, 0, 3, 3, 3])
    assert released_seqs(out) == [0, 1, 2, 3]
    assert integ.counters.duplicates == 4


def test_reordering_within_depth():
    order = [0, 2, 1, 3, 6, 5, 4, 7]
    integ, out = run(order, reorder_depth=4)
    assert released_seqs(out) == list(range(8))
    assert integ.counters.reordered == 3 and integ.counters.gaps == 0


def test_gap_declared_after_depth_and_late_packet_dropped():
    integ = StreamIntegrity(reorder_depth=3, max_wait_s=None)
    out: list[ImuBatch] = []
    for k, s in enumerate([0, 1, 4, 5, 6]):
        out += integ.push(batch(s), 1.0 + 0.01 * k)
    assert released_seqs(out) == [0, 1]  # 3 held behind the hole at 2
    out += integ.push(batch(7), 2.0)  # 4th held -> 2, 3 declared lost
    assert released_seqs(out) == [0, 1, 4, 5, 6, 7]
    c = integ.counters
    assert (c.gaps, c.lost_packets, c.lost_samples) == (1, 2, 2 * N)
    assert out[2].meta["lost_before"] == 2
    integ.push(batch(2), 2.1)  # arrives after being declared lost
    assert integ.counters.late == 1


def test_gap_declared_after_max_wait():
    integ = StreamIntegrity(reorder_depth=100, max_wait_s=0.5)
    assert len(integ.push(batch(0), 0.0)) == 1
    assert integ.push(batch(2), 0.1) == []
    out = integ.push(batch(3), 0.7)  # packet 2 has waited 0.6 s
    assert released_seqs(out) == [2, 3] and integ.counters.lost_packets == 1


def test_u16_wrap():
    seqs = list(range(65530, 65540))  # wraps at 65536 on the wire
    order = seqs[:4] + [seqs[5], seqs[4]] + seqs[6:] + [seqs[7]]
    integ, out = run(order)
    assert [b.meta["ext_seq"] for b in out] == seqs
    assert [b.seq for b in out] == [s & 0xFFFF for s in seqs]
    c = integ.counters
    assert (c.gaps, c.lost_packets, c.reordered, c.duplicates) == (0, 0, 1, 1)


def test_wrap_with_loss_across_boundary():
    integ, out = run([65534, 65535, 65538, 65539], reorder_depth=1)  # wire: 65534 65535 2 3
    assert released_seqs(out) == [65534, 65535, 65538, 65539]
    assert integ.counters.lost_packets == 2 and integ.counters.lost_samples == 2 * N


def test_restart_resets_sequence():
    integ = StreamIntegrity()
    out = integ.push(batch(100), 0.0) + integ.push(batch(101), 0.05)
    out += integ.push(batch(0, restart=True), 0.1) + integ.push(batch(1), 0.15)
    assert released_seqs(out) == [100, 101, 0, 1]
    assert integ.counters.restarts == 1 and integ.counters.lost_packets == 0


def test_batches_without_seq_pass_through():
    integ = StreamIntegrity(nominal_period_s=0.1)
    (b,) = integ.push(ImuBatch(acc=np.zeros((3, 3))), 10.0)
    assert b.host_time_s.tolist() == pytest.approx([9.8, 9.9, 10.0])


@pytest.mark.parametrize("skew_ppm", [50.0, -80.0])
def test_clock_drift_recovered_from_jittered_arrivals(skew_ppm):
    """Device clock runs at (1 - skew) of host rate: host = offset + device * (1 + skew) + delay."""
    rng = np.random.default_rng(7)
    offset = 1_700_000_000.0
    skew = skew_ppm * 1e-6
    min_latency = 0.004
    mapper = ClockMapper(window_s=120.0)
    dev = np.arange(0, 90, 0.05)  # 20 packets/s for 90 s (device time of each packet's last sample)
    delay = min_latency + rng.exponential(0.008, dev.size) + (rng.random(dev.size) < 0.05) * 0.1  # + stalls
    host = offset + dev * (1 + skew) + delay
    for d, h in zip(dev, host, strict=True):
        mapper.observe(d, h)
    assert mapper.skew_ppm == pytest.approx(skew_ppm, abs=2.0)
    # mapping = true sample time + minimum latency, to well under a millisecond
    truth = offset + dev * (1 + skew) + min_latency
    assert np.max(np.abs(mapper.to_host(dev) - truth)) < 0.5e-3


def test_integrity_host_times_follow_the_mapped_clock():
    rng = np.random.default_rng(1)
    skew, offset = 50e-6, 500.0
    integ = StreamIntegrity()
    out = []
    for s in range(1500):  # 75 s of 5-sample packets at 100 Hz
        b = batch(s)
        arrival = offset + b.device_time_s[-1] * (1 + skew) + 0.003 + rng.exponential(0.01)
        out += integ.push(b, arrival)
    assert integ.clock.skew_ppm == pytest.approx(50.0, abs=3.0)
    last = out[-1]
    truth = offset + last.device_time_s * (1 + skew) + 0.003
    assert np.max(np.abs(last.host_time_s - truth)) < 1e-3
    assert np.all(np.diff(np.concatenate([b.host_time_s for b in out])) > 0)


def test_clock_window_follows_a_skew_change():
    mapper = ClockMapper(window_s=30.0)
    for d in np.arange(0, 60, 0.1):
        mapper.observe(d, d * (1 + 100e-6))
    for d in np.arange(60, 120, 0.1):
        mapper.observe(d, 60 * (1 + 100e-6) + (d - 60) * (1 + 20e-6))
    assert mapper.skew_ppm == pytest.approx(20.0, abs=0.5)


def test_decoded_imu_stream_end_to_end():
    acc = np.zeros((180, 3))
    pkts = imu_stream.encode_stream(0, PERIOD_US, acc, acc, first_seq=65530)
    dec, integ, out = imu_stream.ImuStreamDecoder(), StreamIntegrity(), []
    order = [0, 1, 3, 2, 4, 4, 6, 7, 8, 9]  # 5 lost, 2/3 swapped, 4 duplicated
    for k, i in enumerate(order):
        for b in dec.decode(pkts[i]):
            out += integ.push(b, 10.0 + 0.1 * k)
    out += integ.flush()
    c = integ.counters
    assert (c.duplicates, c.reordered, c.gaps, c.lost_packets, c.lost_samples) == (1, 1, 1, 1, 18)
    assert [b.seq for b in out] == [(65530 + i) & 0xFFFF for i in (0, 1, 2, 3, 4, 6, 7, 8, 9)]
