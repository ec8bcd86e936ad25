"""Per-device stream integrity: sequence gaps, duplicates, reordering, device-to-host clock mapping.

:class:`StreamIntegrity` sits between a decoder and the consumer of one device's stream::

    integrity = StreamIntegrity(reorder_depth=8)
    for payload, arrival in notifications:
        for batch in decoder.decode(payload):
            for ready in integrity.push(batch, arrival):   # in sequence order, host_time_s filled
                consume(ready)
    consume_all(integrity.flush())                       # at the end of the stream

Sequence numbers (``ImuBatch.seq``, ``seq_bits`` wide, +1 per packet, wrapping) are extended to
unbounded integers by taking the value nearest the highest one seen. A packet with an already
delivered or already buffered number is a **duplicate** (dropped); one that arrives after a higher
number is **reordered** (held in a buffer and released in order); when more than ``reorder_depth``
packets wait behind a missing number (or the oldest has waited ``max_wait_s`` of host time), the
missing packets are declared lost: one **gap**, ``lost_packets`` += the missing count,
``lost_samples`` += the samples missing by device time (``round((t_next - t_last)/period) - 1``) or,
without device times, missing packets x the previous packet's sample count. A packet that arrives
after its number was declared lost is **late** (dropped). A batch with ``meta["restart"]`` true
flushes the buffer and restarts sequence and clock state. Batches without ``seq`` pass straight through.

Clock mapping (:class:`ClockMapper`)
    Each packet gives one observation: the device time of its last sample ``x`` and its host
    arrival time ``h``. ``h - x = offset + skew * (x - x_ref) + delay`` with transport delay
    ``delay >= 0`` and jittery. The mapper fits the **lower envelope** (minimum-delay line) over a
    sliding window: the observations are reduced to the minimum of ``h - x`` per ``bucket_s`` of
    device time, the lower convex hull of those is built, and the hull edge spanning the mean ``x``
    is taken (this is the line that lies under every point and minimises the total distance to them,
    the linear-programming estimator used for one-way clock sync). Jitter only ever adds delay, so
    the envelope is insensitive to it; the result includes the minimum transport latency as part of
    the offset (unobservable one-way). Mapped: ``host = x + offset + skew * (x - x_ref)``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass, replace

import numpy as np

from .protocols.base import ImuBatch, unwrap_nearest


class ClockMapper:
    """Online device-clock -> host-clock mapping with drift, robust to arrival jitter.

    Args:
        window_s: sliding window of device time kept for the fit [s].
        bucket_s: observations within one bucket of device time are reduced to their minimum delay.
        max_skew_ppm: fitted skews are clamped to +- this (crystals are within ~+-100 ppm).
        min_span_s: below this device-time span the skew is not estimated (held at 0 or last fit).
    """

    def __init__(self, window_s: float = 120.0, bucket_s: float = 0.5, max_skew_ppm: float = 2000.0,
                 min_span_s: float = 2.0) -> None:
        self.window_s = window_s
        self.bucket_s = bucket_s
        self.max_skew = max_skew_ppm * 1e-6
        self.min_span_s = min_span_s
        self.reset()

    def reset(self) -> None:
        """Forget every observation (device clock restarted)."""
        self._x_ref: float | None = None
        self._buckets: deque[list[float]] = deque()  # [bucket index, x - x_ref, h - x]
        self._offset = 0.0
        self._skew = 0.0
        self._dirty = False
        self.observations = 0

    @property
    def ready(self) -> bool:
        return self.observations > 0

    @property
    def skew_ppm(self) -> float:
        """Host seconds gained per device second, minus one, in ppm (positive: device clock slow)."""
        self._fit()
        return self._skew * 1e6

    @property
    def offset_s(self) -> float:
        """``host - device`` at the reference device time ``x_ref`` (includes the minimum latency)."""
        self._fit()
        return self._offset

    @property
    def x_ref(self) -> float | None:
        return self._x_ref

    def observe(self, device_t: float, host_t: float) -> None:
        """Add one (device time of a packet's last sample, host arrival time) pair."""
        if not (math.isfinite(device_t) and math.isfinite(host_t)):
            return
        if self._x_ref is None:
            self._x_ref = device_t
        x = device_t - self._x_ref
        y = host_t - device_t
        idx = math.floor(x / self.bucket_s)
        self.observations += 1
        self._dirty = True
        buckets = self._buckets
        if buckets and buckets[-1][0] == idx:
            if y < buckets[-1][2]:
                buckets[-1][1], buckets[-1][2] = x, y
        elif not buckets or buckets[-1][0] < idx:
            buckets.append([idx, x, y])
        else:  # an observation older than the newest bucket (reordered packet)
            for b in buckets:
                if b[0] == idx:
                    if y < b[2]:
                        b[1], b[2] = x, y
                    break
            else:
                buckets.append([idx, x, y])
                self._buckets = deque(sorted(buckets, key=lambda v: v[0]))
        newest = self._buckets[-1][1]
        while self._buckets and self._buckets[0][1] < newest - self.window_s:
            self._buckets.popleft()

    def _fit(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        pts = [(b[1], b[2]) for b in self._buckets]
        if not pts:
            return
        span = pts[-1][0] - pts[0][0]
        if len(pts) < 2 or span < self.min_span_s:
            # offset only: the minimum delay seen, with the last skew
            self._offset = min(y - self._skew * x for x, y in pts)
            return
        hull: list[tuple[float, float]] = []
        for p in pts:  # lower hull, monotone chain (pts sorted by x)
            while len(hull) >= 2:
                (x1, y1), (x2, y2) = hull[-2], hull[-1]
                if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                    hull.pop()
                else:
                    break
            hull.append(p)
        x_mean = sum(p[0] for p in pts) / len(pts)
        skew = 0.0
        for p, q in zip(hull, hull[1:], strict=False):
            if p[0] <= x_mean <= q[0]:
                skew = (q[1] - p[1]) / (q[0] - p[0])
                break
        skew = max(-self.max_skew, min(self.max_skew, skew))
        self._skew = skew
        # lowest line of this slope under every point (passes through the hull edge when not clamped)
        self._offset = min(y - skew * x for x, y in pts)

    def to_host(self, device_t: np.ndarray | float) -> np.ndarray:
        """Map device times [s] to host times [s]."""
        if self._x_ref is None:
            raise RuntimeError("ClockMapper has no observation yet")
        self._fit()
        d = np.asarray(device_t, dtype=np.float64)
        return d + self._offset + self._skew * (d - self._x_ref)


@dataclass
class IntegrityCounters:
    """Counters of one device's stream."""

    received: int = 0
    released: int = 0
    duplicates: int = 0
    reordered: int = 0
    late: int = 0
    gaps: int = 0
    lost_packets: int = 0
    lost_samples: int = 0
    restarts: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class StreamIntegrity:
    """Sequence checking, bounded reordering and host timestamps for one device's batches.

    Args:
        reorder_depth: most packets held behind a missing one before it is declared lost (0: none).
        seq_bits: width of the wrapping sequence number.
        max_wait_s: also declare a gap once the oldest held packet has waited this long (host time).
        clock: the :class:`ClockMapper` to use (a default one when None).
        nominal_period_s: sample period used to spread host times of batches without device times.
    """

    def __init__(self, reorder_depth: int = 8, seq_bits: int = 16, max_wait_s: float | None = 1.0,
                 clock: ClockMapper | None = None, nominal_period_s: float | None = None) -> None:
        if reorder_depth < 0:
            raise ValueError("reorder_depth must be >= 0")
        self.reorder_depth = reorder_depth
        self.seq_bits = seq_bits
        self.max_wait_s = max_wait_s
        self.clock = clock if clock is not None else ClockMapper()
        self.nominal_period_s = nominal_period_s
        self.counters = IntegrityCounters()
        self._reset_seq()

    def _reset_seq(self) -> None:
        self._next: int | None = None
        self._highest: int | None = None
        self._buffer: dict[int, tuple[ImuBatch, float]] = {}
        self._recent: deque[int] = deque(maxlen=4 * self.reorder_depth + 64)
        self._recent_set: set[int] = set()
        self._last_released: ImuBatch | None = None

    # -- public -------------------------------------------------------------------------------

    def push(self, batch: ImuBatch, host_time: float) -> list[ImuBatch]:
        """Take one decoded batch that arrived at ``host_time`` [s]; return the batches now in order."""
        c = self.counters
        c.received += 1
        out: list[ImuBatch] = []
        if batch.meta.get("restart") and self._next is not None:
            c.restarts += 1
            out += self.flush()
            self._reset_seq()
            self.clock.reset()
        if batch.seq is None:
            self._observe(batch, host_time)
            out.append(self._finish(batch, host_time, lost_before=0))
            return out
        ext = unwrap_nearest(self._highest, int(batch.seq) % (1 << self.seq_bits), self.seq_bits)
        if self._next is None:
            self._next = ext
            self._highest = ext
        if ext < self._next:
            if ext in self._recent_set:
                c.duplicates += 1
            else:
                c.late += 1
            return out
        if ext in self._buffer:
            c.duplicates += 1
            return out
        assert self._highest is not None
        if ext < self._highest:
            c.reordered += 1
        self._highest = max(self._highest, ext)
        self._observe(batch, host_time)
        self._buffer[ext] = (batch, host_time)
        out += self._release(host_time)
        return out

    def flush(self) -> list[ImuBatch]:
        """Release everything held (declaring the remaining holes lost): call at the end of a stream."""
        out: list[ImuBatch] = []
        while self._buffer:
            out += self._release(None, force=True)
        return out

    @property
    def pending(self) -> int:
        """Packets held in the reordering buffer."""
        return len(self._buffer)

    # -- internals ----------------------------------------------------------------------------

    def _observe(self, batch: ImuBatch, host_time: float) -> None:
        if batch.device_time_s is not None and len(batch):
            self.clock.observe(float(batch.device_time_s[-1]), host_time)

    def _release(self, now: float | None, force: bool = False) -> list[ImuBatch]:
        out: list[ImuBatch] = []
        lost_before = 0
        while True:
            assert self._next is not None
            while self._next in self._buffer:
                batch, arrival = self._buffer.pop(self._next)
                out.append(self._finish(batch, arrival, lost_before, ext=self._next))
                lost_before = 0
                self._remember(self._next)
                self._next += 1
            if not self._buffer:
                return out
            oldest_arrival = min(a for _, a in self._buffer.values())
            waited = now is not None and self.max_wait_s is not None and now - oldest_arrival >= self.max_wait_s
            if not (force or len(self._buffer) > self.reorder_depth or waited):
                return out
            first = min(self._buffer)
            missing = first - self._next
            self.counters.gaps += 1
            self.counters.lost_packets += missing
            self.counters.lost_samples += self._lost_samples(missing, self._buffer[first][0])
            lost_before = missing
            self._next = first
            if force:
                force = False  # one hole per call; flush() loops

    def _lost_samples(self, missing: int, nxt: ImuBatch) -> int:
        prev = self._last_released
        if prev is None:
            return 0
        if prev.device_time_s is not None and nxt.device_time_s is not None and len(prev) and len(nxt):
            period = self._period(prev) or self._period(nxt)
            if period:
                n = round((float(nxt.device_time_s[0]) - float(prev.device_time_s[-1])) / period) - 1
                return max(0, int(n))
        return missing * len(prev)

    @staticmethod
    def _period(b: ImuBatch) -> float | None:
        if "period_us" in b.meta:
            return float(b.meta["period_us"]) * 1e-6
        if b.device_time_s is not None and len(b) >= 2:
            return float(np.median(np.diff(b.device_time_s)))
        return None

    def _remember(self, ext: int) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(ext)
        self._recent_set.add(ext)

    def _finish(self, batch: ImuBatch, arrival: float, lost_before: int, ext: int | None = None) -> ImuBatch:
        n = len(batch)
        if batch.device_time_s is not None and self.clock.ready:
            host = self.clock.to_host(batch.device_time_s)
        else:
            period = self.nominal_period_s
            if period is None and batch.meta.get("rate_hz"):
                period = 1.0 / float(batch.meta["rate_hz"])
            host = arrival - (period or 0.0) * np.arange(n - 1, -1, -1, dtype=np.float64)
        meta = dict(batch.meta)
        meta.update({"arrival_host_s": arrival, "lost_before": lost_before})
        if ext is not None:
            meta["ext_seq"] = ext
        out = replace(batch, host_time_s=host, meta=meta)
        self.counters.released += 1
        self._last_released = out
        return out
