"""The windower: model-rate samples of one stream -> fixed-length windows, on the training grid.

Window ``w`` of a segment holds its model-rate samples ``w * hop .. w * hop + window - 1`` (both counts in samples,
from the artefact's manifest: ``window_samples``, ``round(hop_s * rate_hz)``), i.e. the grid of
:func:`toolkit.data.windows.real_windows`, which starts at each segment's first sample. A window never spans two
segments. The history lives in a :class:`toolkit.stream.ring.RingBuffer` of ``window`` samples (the values plus
one column for the ``filled`` flag), so memory does not grow with the stream.

Counted, never silent:

* ``windows_dropped_gap``: windows of the hop grid that started in a segment that a gap ended before they were
  complete (such a window would have spanned the gap);
* ``windows_incomplete_at_end``: the same at the end of the stream (``ended_by == "end"``);
* ``windows_dropped_filled``: windows with more than ``max_filled_samples`` samples interpolated across holes;
* ``windows_flagged``: emitted windows with at least one filled sample (``filled_samples > 0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.errors import ConfigError
from toolkit.stream.resample import ResampledBlock
from toolkit.stream.ring import RingBuffer


@dataclass
class StreamWindow:
    """One window ready for the model.

    Attributes:
        segment: segment counter of the stream; index: window number within that segment (start = index * hop).
        t_s: (L,) sample times [s] on the stream's time base.
        x: (L, C) float64 samples.
        filled_samples: samples of the window interpolated across a hole (0 = clean).
    """

    segment: int
    index: int
    t_s: np.ndarray
    x: np.ndarray
    filled_samples: int


class Windower:
    """Cuts :class:`ResampledBlock` streams into windows of ``window_samples`` every ``hop_samples``.

    Args:
        window_samples: L; hop_samples: H (both >= 1).
        channels: C.
        max_filled_samples: a window with more filled samples than this is dropped (counted); None keeps all.
    """

    def __init__(self, window_samples: int, hop_samples: int, channels: int, *,
                 max_filled_samples: int | None = None) -> None:
        if int(window_samples) < 1 or int(hop_samples) < 1:
            raise ConfigError(f"stream: window and hop must be >= 1 sample (got {window_samples}, {hop_samples})")
        self.window = int(window_samples)
        self.hop = int(hop_samples)
        self.channels = int(channels)
        self.max_filled_samples = max_filled_samples
        self._ring = RingBuffer(self.window, self.channels + 1)
        self._segment: int | None = None
        self._count = 0  # samples seen in the current segment
        self.counters = {"windows": 0, "windows_flagged": 0, "windows_dropped_gap": 0,
                         "windows_incomplete_at_end": 0, "windows_dropped_filled": 0}

    def _cut_windows(self, n: int) -> int:
        """Hop-grid windows that start within the first ``n`` samples but do not fit in them."""
        started = -(-n // self.hop) if n > 0 else 0
        fitted = (n - self.window) // self.hop + 1 if n >= self.window else 0
        return started - fitted

    def _end_segment(self, reason: str) -> None:
        key = "windows_dropped_gap" if reason == "gap" else "windows_incomplete_at_end"
        self.counters[key] += self._cut_windows(self._count)
        self._segment = None
        self._count = 0
        self._ring.clear()

    def feed(self, block: ResampledBlock) -> list[StreamWindow]:
        """Take one block (in stream order); returns the windows it completed."""
        if block.x.shape[1:] != (self.channels,):
            raise ConfigError(f"stream: windower expects {self.channels} channels, got {block.x.shape[1:]}")
        if self._segment is not None and block.segment != self._segment:
            self._end_segment("gap")  # a new segment without an end marker: treat as a gap
        self._segment = block.segment
        out: list[StreamWindow] = []
        vals = np.concatenate([block.x, block.filled[:, None].astype(np.float64)], axis=1)
        pos = 0
        n = block.t_s.shape[0]
        while pos < n:
            # the next sample count at which a window completes: window + k * hop
            if self._count < self.window:
                target = self.window
            else:
                target = self._count + (self.hop - (self._count - self.window) % self.hop)
            take = min(n - pos, target - self._count)
            self._ring.append(block.t_s[pos : pos + take], vals[pos : pos + take])
            self._count += take
            pos += take
            if self._count == target:
                out += self._make_window()
        if block.ended_by is not None:
            self._end_segment(block.ended_by)
        return out

    def _make_window(self) -> list[StreamWindow]:
        t, v = self._ring.last(self.window)
        filled = int(np.count_nonzero(v[:, -1]))
        if self.max_filled_samples is not None and filled > self.max_filled_samples:
            self.counters["windows_dropped_filled"] += 1
            return []
        self.counters["windows"] += 1
        self.counters["windows_flagged"] += int(filled > 0)
        index = (self._count - self.window) // self.hop
        return [StreamWindow(segment=int(self._segment), index=index, t_s=t, x=v[:, :-1], filled_samples=filled)]


__all__ = ["StreamWindow", "Windower"]
