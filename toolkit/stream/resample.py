"""Incremental, gap-aware resampling of irregular timestamps to the model rate.

This is the causal twin of :func:`toolkit.data.windows.resample_recording` (the training-time resampling), fed a
few samples at a time. Per segment (a run of samples without a step longer than ``max_gap_s``):

1. **Uniform grid** at the source's nominal rate ``r`` anchored at the segment's first timestamp ``t0``:
   ``u[j]`` = linear interpolation of the raw samples at ``t0 + j / r``, computed with :func:`numpy.interp` on the
   two raw samples around it, so the values are bit-identical to the offline interpolation. ``u[j]`` is known as
   soon as a raw sample at or after ``t0 + j / r`` has arrived.
2. **Polyphase FIR** to the model rate with the training path's filter, :func:`toolkit.data.resampling.
   polyphase_plan` (scipy's :func:`scipy.signal.resample_poly` design: ratio ``up/down`` from
   :func:`toolkit.sim.devices.resample_ratio`, ``firwin(2 * half + 1, 1 / max(up, down))`` with the Kaiser window
   (beta 5), ``half = 10 * max(up, down)``, gain ``up``), written out per output sample:
   ``y[m] = b + sum_j h[half + m * down - j * up] * (u[j] - b)``. Output ``m`` sits at ``t0 + m / rate_hz`` (no
   delay) and needs ``u[j]`` up to ``j = (half + m * down) // up``: the **lookahead** is ``half / (up * r)`` s
   (100 -> 30 Hz: ``up/down = 3/10``, half = 100 taps, 0.333 s), plus the wait for the raw sample after the last
   grid point (one source period, 10 ms at 100 Hz, plus jitter). With ``up == down`` the grid is passed through
   unfiltered (lookahead 0), as offline.

What offline does that cannot be done causally, and what is done instead (``tests/stream`` measures the result):

* **Mean removal.** :func:`toolkit.sim.devices.resample_to_rate` filters ``x - mean(segment)`` and adds the mean
  back. Because the polyphase branches' DC gains differ from 1 by ~1e-5 (100 -> 30 Hz), the mean enters each
  output as ``mean * (1 - gain)``. Here ``b`` is the running mean of ``u[0..j]`` up to the newest grid sample the
  output uses (``u[0]`` plus the mean of the differences, so a constant gives ``b`` equal to it exactly: a
  constant input comes out bit-exact); at the segment's end the final outputs use the exact segment mean. The
  residual is ``(b - mean) * (1 - gain)``: ~1e-4 m/s^2 at most for a watch at 100 Hz.
* **Edge extension.** ``padtype="line"`` extends the segment beyond its ends along the line through its *first
  and last* grid samples. At the **end** this is done exactly: the segment's end is only acted on once it is
  known (a step > ``max_gap_s`` arrives, or :meth:`StreamResampler.finish`), when the whole segment is known.
  At the **start** the slope of that line is not known causally; the extension is flat (``u[j] = u[0]`` for
  ``j < 0``: the slope of a long segment tends to 0). Only the first ``ceil(half / down)`` outputs of a segment
  (10 at 100 -> 30 Hz, 0.33 s) are affected, by ``~ slope * (a few samples)``.

Measured against :func:`toolkit.data.windows.resample_recording` on all 223 sp-sw-har watch recordings (ms
timestamps, repeated ones included): same segments, same output times and counts (bit for bit), largest
difference 3.7e-3 in a segment's first 10 outputs and 2.1e-4 elsewhere (m/s^2 or rad/s); on the synthetic
recordings of ``tests/stream`` 5e-4 and 4e-5. The outputs do not depend on how the input is chunked (bit for bit).

Gaps and holes
    A step longer than ``max_gap_s`` (0.25 s, the training value) ends the segment (its tail is computed with the
    exact end extension) and starts a new one at the sample after the gap. Shorter holes are bridged by the linear
    interpolation, never silently: every model-rate sample farther than ``fill_tolerance_periods`` (1.5) source
    periods from the nearest raw sample is marked ``filled``. Because a segment's end is only known when the
    sample after the gap arrives, the outputs within the lookahead of the end (and so the segment's last window)
    wait for it; a stream that stops (disconnect) should be ended with :meth:`StreamResampler.finish`
    (``StreamEngine.flush``).

Guards
    Samples with a non-finite time or value are dropped (counted ``samples_dropped_invalid``); samples whose time
    is not after the last accepted one are dropped (``samples_dropped_order``; the offline resampling keeps the
    first of repeated timestamps, the same thing).

Source rate
    Given (``source_rate_hz``), or estimated once the accepted samples cover ``rate_probe_s`` (2 s) of gap-free
    time: periods / time over the steps up to ``max_gap_s`` (a step over 1.75 median steps counts as
    ``round(step / median)`` periods: lost samples), rounded to an integer (to 0.5 Hz below 20 Hz) because
    wearables run at integer or half-integer nominal rates (12.5, 25, 50, 52, 100, 104 Hz). Over 2 s a timestamp
    jitter of 2 ms rms gives a 0.14 % (0.14 Hz at 100 Hz) error before rounding, where a median step would be off by
    a few Hz. Nothing is output until the rate is known, which costs nothing: the first window needs 2 s plus
    the lookahead anyway. A wrong estimate does not move the output grid (it stays at the model rate on the
    stream's clock); it only changes the intermediate grid and its filter a little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from toolkit.data.resampling import polyphase_plan
from toolkit.errors import ConfigError

#: Outputs filtered per vectorised step (memory: block x taps x channels x 8 bytes, 1024 x 67 x 6: 3.3 MB).
_FILTER_BLOCK = 1024


@dataclass
class ResampledBlock:
    """Model-rate samples of one segment, produced by one call.

    Attributes:
        segment: segment counter of this stream (0-based).
        t_s: (M,) sample times [s] on the stream's time base.
        x: (M, C) float64 samples (the units of the input).
        filled: (M,) bool, True where the sample was interpolated across a hole (no raw sample within the tolerance).
        ended_by: None while the segment goes on; ``"gap"`` or ``"end"`` (:meth:`StreamResampler.finish`) when
            these are its last samples.
    """

    segment: int
    t_s: np.ndarray
    x: np.ndarray
    filled: np.ndarray
    ended_by: str | None = None


def estimate_nominal_rate_hz(t_s: np.ndarray, max_gap_s: float = 0.25) -> float:
    """Nominal rate [Hz] of (T,) timestamps [s] (module docstring): steps in (0, ``max_gap_s``] count as one period,
    or as ``round(step / median step)`` periods when longer than 1.75 median steps (lost samples); rate = periods /
    time, rounded to an integer (to 0.5 Hz below 20 Hz).

    Raises:
        ConfigError: no usable step.
    """
    dt = np.diff(np.asarray(t_s, dtype=np.float64))
    dt = dt[(dt > 0) & (dt <= max_gap_s)]
    if dt.size == 0:
        raise ConfigError("stream: cannot estimate the source rate (no two samples closer than max_gap_s)")
    med = float(np.median(dt))
    periods = np.where(dt > 1.75 * med, np.round(dt / med), 1.0)
    rate = float(np.sum(periods) / np.sum(dt))
    return float(round(rate)) if rate >= 20.0 else round(rate * 2.0) / 2.0


@dataclass
class _Segment:
    """State of the current segment (grid index j, output index m)."""

    index: int
    t0: float
    u0: np.ndarray  # (C,) first grid sample = first raw sample
    t_prev: float  # last raw sample
    x_prev: np.ndarray
    n_raw: int = 1
    j_next: int = 1  # grid samples produced so far
    ubuf_start: int = 0  # grid index of ubuf[0]
    ubuf: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (n, C) grid samples
    cbuf: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (n, C) cumulative sum of u - u0
    m_next: int = 0  # outputs produced so far
    holes: list[tuple[float, float]] = field(default_factory=list)  # open intervals whose outputs are "filled"


class StreamResampler:
    """Irregular raw samples -> model-rate samples, incrementally (module docstring).

    Args:
        channels: C, values per sample.
        target_rate_hz: the model rate [Hz].
        source_rate_hz: the source's nominal rate [Hz]; None: estimated from the first samples.
        max_gap_s: a step longer than this ends a segment [s].
        fill_tolerance_periods: an output farther than this many source periods from every raw sample is "filled".
        rate_probe_s: gap-free time the rate estimate waits for [s].
    """

    def __init__(self, channels: int, target_rate_hz: float, source_rate_hz: float | None = None, *,
                 max_gap_s: float = 0.25, fill_tolerance_periods: float = 1.5, rate_probe_s: float = 2.0) -> None:
        if channels < 1:
            raise ConfigError(f"stream: need at least one channel (got {channels})")
        for name, v in (("max_gap_s", max_gap_s), ("fill_tolerance_periods", fill_tolerance_periods),
                        ("target_rate_hz", target_rate_hz)):
            if not (math.isfinite(v) and v > 0):
                raise ConfigError(f"stream: {name} must be a positive number (got {v!r})")
        self.channels = int(channels)
        self.target_rate_hz = float(target_rate_hz)
        self.max_gap_s = float(max_gap_s)
        self.fill_tolerance_periods = float(fill_tolerance_periods)
        self.rate_probe_s = float(rate_probe_s)
        self.source_rate_hz: float | None = None
        self.counters = {"samples_in": 0, "samples_accepted": 0, "samples_dropped_order": 0,
                         "samples_dropped_invalid": 0, "samples_out": 0, "samples_filled": 0, "segments": 0,
                         "gaps": 0, "holes": 0}
        self._t_last = -np.inf
        self._pending_t: list[np.ndarray] = []
        self._pending_x: list[np.ndarray] = []
        self._seg: _Segment | None = None
        self._n_segments = 0
        if source_rate_hz is not None:
            self._configure(float(source_rate_hz))

    # ------------------------------------------------------------------ configuration
    def _configure(self, rate_hz: float) -> None:
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ConfigError(f"stream: source_rate_hz must be a positive number (got {rate_hz!r})")
        self.source_rate_hz = rate_hz
        plan = polyphase_plan(rate_hz, self.target_rate_hz)  # the training path's filter (toolkit.data.resampling)
        self.up, self.down, self.half, self.h = plan.up, plan.down, plan.half, plan.h
        self.passthrough = plan.passthrough
        self.taps = 2 * self.half // self.up + 1
        self.out_rate_hz = rate_hz * self.up / self.down
        self.fill_tol_s = self.fill_tolerance_periods / rate_hz

    @property
    def rate_hz(self) -> float | None:
        """The output rate actually reached, ``source_rate_hz * up / down`` [Hz] (None before the rate is known)."""
        return None if self.source_rate_hz is None else self.out_rate_hz

    @property
    def lookahead_s(self) -> float | None:
        """How far the filter looks ahead of an output sample on the uniform grid [s] (module docstring)."""
        return None if self.source_rate_hz is None else self.half / (self.up * self.source_rate_hz)

    # ------------------------------------------------------------------ input
    def push(self, t_s: np.ndarray, x: np.ndarray) -> list[ResampledBlock]:
        """Feed (N,) times [s] and (N, C) values (in time order); returns the model-rate samples now final."""
        t_s = np.asarray(t_s, dtype=np.float64).reshape(-1)
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape != (t_s.shape[0], self.channels):
            raise ConfigError(f"stream: expected ({t_s.shape[0]}, {self.channels}) samples, got {x.shape}")
        self.counters["samples_in"] += t_s.shape[0]
        valid = np.isfinite(t_s) & np.all(np.isfinite(x), axis=1)
        self.counters["samples_dropped_invalid"] += int(np.sum(~valid))
        t_s, x = t_s[valid], x[valid]
        if t_s.size == 0:
            return []
        before = np.maximum.accumulate(np.concatenate([[self._t_last], t_s]))[:-1]
        ordered = t_s > before
        self.counters["samples_dropped_order"] += int(np.sum(~ordered))
        t_s, x = t_s[ordered], x[ordered]
        if t_s.size == 0:
            return []
        self._t_last = float(t_s[-1])
        self.counters["samples_accepted"] += t_s.size
        if self.source_rate_hz is None:
            self._pending_t.append(t_s)
            self._pending_x.append(x)
            t_all = np.concatenate(self._pending_t)
            steps = np.diff(t_all)
            if np.sum(steps[steps <= self.max_gap_s]) < self.rate_probe_s:
                return []
            return self._release_pending(t_all)
        return self._feed(t_s, x)

    def finish(self) -> list[ResampledBlock]:
        """End of stream: the current segment's remaining samples (exact end extension); the next push starts anew."""
        out: list[ResampledBlock] = []
        if self.source_rate_hz is None and self._pending_t:
            t_all = np.concatenate(self._pending_t)
            try:
                out += self._release_pending(t_all)
            except ConfigError:
                self._pending_t, self._pending_x = [], []
        if self._seg is not None:
            out.append(self._finalize(self._seg, "end"))
            self._seg = None
        return [b for b in out if b.t_s.size or b.ended_by]

    def _release_pending(self, t_all: np.ndarray) -> list[ResampledBlock]:
        self._configure(estimate_nominal_rate_hz(t_all, self.max_gap_s))
        x_all = np.concatenate(self._pending_x)
        self._pending_t, self._pending_x = [], []
        return self._feed(t_all, x_all)

    def _feed(self, t_s: np.ndarray, x: np.ndarray) -> list[ResampledBlock]:
        out: list[ResampledBlock] = []
        prev = self._seg.t_prev if self._seg is not None else t_s[0]
        steps = np.diff(np.concatenate([[prev], t_s]))
        breaks = np.flatnonzero(steps > self.max_gap_s)
        edges = np.concatenate([[0], breaks, [t_s.size]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            if a == b:
                continue
            if self._seg is not None and t_s[a] - self._seg.t_prev > self.max_gap_s:
                self.counters["gaps"] += 1
                out.append(self._finalize(self._seg, "gap"))
                self._seg = None
            if self._seg is None:
                self._seg = self._start(t_s[a], x[a])
                a += 1
            if a < b:
                out.append(self._extend(self._seg, t_s[a:b], x[a:b]))
        return [blk for blk in out if blk.t_s.size or blk.ended_by]

    # ------------------------------------------------------------------ segment mechanics
    def _start(self, t0: float, x0: np.ndarray) -> _Segment:
        seg = _Segment(index=self._n_segments, t0=float(t0), u0=x0.copy(), t_prev=float(t0), x_prev=x0.copy())
        self._n_segments += 1
        self.counters["segments"] += 1
        seg.ubuf = x0[None, :].copy()
        seg.cbuf = np.zeros((1, self.channels))
        return seg

    def _grid_count(self, seg: _Segment, t_s: float) -> int:
        """Grid points ``t0 + j / r`` that can be computed once a raw sample at ``t_s`` is in: those at or before
        ``t_s``, and no more than offline's count for a segment ending at ``t_s``, ``floor((t_s - t0) * r + 1e-9)
        + 1`` (the two float expressions can disagree by one point when a timestamp falls on the grid)."""
        r = self.source_rate_hz
        k = max(seg.j_next, int(math.floor((t_s - seg.t0) * r + 1e-9)) + 1)
        while k > seg.j_next and seg.t0 + (k - 1) / r > t_s:
            k -= 1
        return k

    def _append_grid(self, seg: _Segment, u: np.ndarray) -> None:
        c = np.cumsum(np.concatenate([seg.cbuf[-1:], u - seg.u0], axis=0), axis=0)[1:]
        seg.ubuf = np.concatenate([seg.ubuf, u], axis=0)
        seg.cbuf = np.concatenate([seg.cbuf, c], axis=0)
        seg.j_next += u.shape[0]

    def _extend(self, seg: _Segment, t_s: np.ndarray, x: np.ndarray) -> ResampledBlock:
        tt = np.concatenate([[seg.t_prev], t_s])
        xx = np.concatenate([seg.x_prev[None, :], x], axis=0)
        tol = self.fill_tol_s
        steps = np.diff(tt)
        for i in np.flatnonzero(steps > 2 * tol):
            seg.holes.append((tt[i] + tol, tt[i + 1] - tol))
            self.counters["holes"] += 1
        j_end = self._grid_count(seg, float(t_s[-1]))
        if j_end > seg.j_next:
            t_grid = seg.t0 + np.arange(seg.j_next, j_end) / self.source_rate_hz
            u = np.stack([np.interp(t_grid, tt, xx[:, c]) for c in range(self.channels)], axis=1)
            self._append_grid(seg, u)
        seg.t_prev, seg.x_prev = float(t_s[-1]), x[-1].copy()
        seg.n_raw += t_s.size
        # outputs whose newest grid sample (half + m * down) // up exists
        m_end = -(-(seg.j_next * self.up - self.half) // self.down)
        return self._emit(seg, max(m_end, seg.m_next), None)

    def _finalize(self, seg: _Segment, reason: str) -> ResampledBlock:
        r = self.source_rate_hz
        n_uni = max(int(math.floor((seg.t_prev - seg.t0) * r + 1e-9)) + 1, seg.j_next)  # = offline's count
        if seg.n_raw < 2 or n_uni < 2:
            return self._block(seg, np.zeros(0, int), np.zeros((0, self.channels)), reason)
        if n_uni > seg.j_next:  # grid points past the last raw sample (float tolerance): np.interp clamps
            self._append_grid(seg, np.repeat(seg.x_prev[None, :], n_uni - seg.j_next, axis=0))
        n_out = -(-n_uni * self.up // self.down)
        return self._emit(seg, n_out, reason, n_uni=n_uni)

    def _emit(self, seg: _Segment, m_end: int, reason: str | None, n_uni: int | None = None) -> ResampledBlock:
        """Outputs ``seg.m_next .. m_end - 1``; ``n_uni`` set: the segment is complete (exact end extension)."""
        ms = np.arange(seg.m_next, m_end)
        if ms.size == 0:
            return self._block(seg, ms, np.zeros((0, self.channels)), reason)
        if self.passthrough:
            y = seg.ubuf[ms - seg.ubuf_start]
        else:  # in blocks, so that a long offline push does not build a huge (M, taps, C) array
            y = np.concatenate([self._filter(seg, ms[i : i + _FILTER_BLOCK], n_uni)
                                for i in range(0, ms.size, _FILTER_BLOCK)], axis=0)
        if n_uni is not None:  # offline keeps the outputs up to the last raw sample
            keep = seg.t0 + ms / self.out_rate_hz <= seg.t_prev + 1e-9
            ms, y = ms[keep], y[keep]
        seg.m_next = m_end
        # drop grid samples no later output needs: j >= ceil((m * down - half) / up)
        j_keep = max(0, -(-(seg.m_next * self.down - self.half) // self.up))
        cut = min(max(0, j_keep - seg.ubuf_start), seg.ubuf.shape[0] - 1)
        if cut > 0:
            seg.ubuf, seg.cbuf = seg.ubuf[cut:], seg.cbuf[cut:]
            seg.ubuf_start += cut
        return self._block(seg, ms, y, reason)

    def _filter(self, seg: _Segment, ms: np.ndarray, n_uni: int | None) -> np.ndarray:
        up, half = self.up, self.half
        q = half + ms * self.down
        j_hi = q // up
        jj = j_hi[:, None] - np.arange(self.taps)[None, :]  # (M, T) grid indices, newest first
        k = q[:, None] - jj * up
        coef = np.where((k >= 0) & (k <= 2 * half), self.h[np.clip(k, 0, 2 * half)], 0.0)
        n_have = seg.ubuf_start + seg.ubuf.shape[0]
        idx = np.clip(jj - seg.ubuf_start, 0, seg.ubuf.shape[0] - 1)
        vals = seg.ubuf[idx]  # (M, T, C)
        if n_uni is None:
            j_b = np.minimum(j_hi, n_have - 1)
            b = seg.u0 + seg.cbuf[j_b - seg.ubuf_start] / (j_b + 1)[:, None]  # running mean, exact for constants
        else:
            b = np.broadcast_to(seg.u0 + seg.cbuf[-1] / n_uni, (ms.size, self.channels))
            u_last = seg.ubuf[n_uni - 1 - seg.ubuf_start]
            slope = (u_last - seg.u0) / (n_uni - 1)
            right = jj >= n_uni
            if np.any(right):  # padtype="line": the line through the first and last grid samples
                vals = np.where(right[:, :, None], u_last + (jj - n_uni + 1)[:, :, None] * slope, vals)
        vals = np.where((jj < 0)[:, :, None], seg.u0, vals)  # flat extension before the start (docstring)
        diff = np.where((coef != 0.0)[:, :, None], vals - b[:, None, :], 0.0)
        return b + np.sum(coef[:, :, None] * diff, axis=1)

    def _block(self, seg: _Segment, ms: np.ndarray, y: np.ndarray, reason: str | None) -> ResampledBlock:
        t = seg.t0 + ms / self.out_rate_hz if ms.size else np.zeros(0)
        filled = np.zeros(t.shape[0], dtype=bool)
        for a, b in seg.holes:
            filled |= (t > a) & (t < b)
        if t.size:
            seg.holes = [(a, b) for a, b in seg.holes if b > t[-1]]
        self.counters["samples_out"] += int(t.size)
        self.counters["samples_filled"] += int(filled.sum())
        return ResampledBlock(segment=seg.index, t_s=t, x=np.asarray(y, dtype=np.float64).reshape(-1, self.channels),
                              filled=filled, ended_by=reason)


__all__ = ["ResampledBlock", "StreamResampler", "estimate_nominal_rate_hz"]
