"""A fixed-capacity ring buffer of timestamped multi-channel samples (numpy, no per-sample Python objects).

The buffer holds the most recent ``capacity`` samples: appending more overwrites the oldest ones. Reads come back
oldest first, as contiguous copies. The streaming windower keeps its model-rate history here (a window is the
last ``window_samples`` entries).
"""

from __future__ import annotations

import numpy as np

from toolkit.errors import ConfigError


class RingBuffer:
    """``capacity`` samples of ``channels`` float64 values, each with a float64 timestamp [s].

    Attributes:
        capacity: the most samples held.
        channels: values per sample.
        total_written: samples appended since creation (or the last :meth:`clear`), overwritten ones included.
    """

    def __init__(self, capacity: int, channels: int) -> None:
        if int(capacity) < 1 or int(channels) < 1:
            raise ConfigError(f"ring buffer: capacity and channels must be >= 1 (got {capacity}, {channels})")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._t = np.zeros(self.capacity, dtype=np.float64)
        self._x = np.zeros((self.capacity, self.channels), dtype=np.float64)
        self._head = 0  # index where the next sample goes
        self._size = 0
        self.total_written = 0

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        """Forget every sample (the arrays are kept)."""
        self._head = 0
        self._size = 0
        self.total_written = 0

    def append(self, t_s: np.ndarray, x: np.ndarray) -> None:
        """Append (N,) times [s] and (N, channels) values, oldest first; only the last ``capacity`` survive."""
        t_s = np.asarray(t_s, dtype=np.float64).reshape(-1)
        x = np.asarray(x, dtype=np.float64)
        n = t_s.shape[0]
        if x.shape != (n, self.channels):
            raise ConfigError(f"ring buffer: expected ({n}, {self.channels}) values, got {x.shape}")
        if n == 0:
            return
        self.total_written += n
        if n >= self.capacity:
            self._t[:] = t_s[-self.capacity :]
            self._x[:] = x[-self.capacity :]
            self._head = 0
            self._size = self.capacity
            return
        idx = (self._head + np.arange(n)) % self.capacity
        self._t[idx] = t_s
        self._x[idx] = x
        self._head = (self._head + n) % self.capacity
        self._size = min(self.capacity, self._size + n)

    def last(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The newest ``n`` samples (all held when None), oldest first: times (n,) [s], values (n, channels).

        Raises:
            ConfigError: ``n`` larger than the number of samples held.
        """
        n = self._size if n is None else int(n)
        if n < 0 or n > self._size:
            raise ConfigError(f"ring buffer: asked for {n} samples, {self._size} held")
        idx = (self._head - n + np.arange(n)) % self.capacity
        return self._t[idx].copy(), self._x[idx].copy()


__all__ = ["RingBuffer"]
