"""Smoothing of predictions over the last k windows: the mean of their softmax probabilities.

``smoothed = mean(probs[-k:])`` over the windows seen since the last :meth:`ProbabilitySmoother.reset` (fewer than
k at the start), and the smoothed label is its argmax (ties: the smallest class index), the smoothed confidence its
value there. Averaging probabilities (not votes) lets a confident window outweigh two hesitant ones and never
produces a tie between whole votes; with 2 s windows and a 1 s hop, k = 3 looks back over 4 s and adds one hop
(1 s) of delay on average to a change of activity. k = 1 is no smoothing. The engine resets the smoother at each
gap (a new segment), because windows across a gap are not contiguous in time.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from toolkit.errors import ConfigError


def softmax(logits: np.ndarray) -> np.ndarray:
    """(K,) logits -> (K,) float64 probabilities (max subtracted first, so large logits do not overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


class ProbabilitySmoother:
    """Mean of the last ``k`` probability vectors (module docstring)."""

    def __init__(self, k: int) -> None:
        if int(k) < 1:
            raise ConfigError(f"stream: smoothing_k must be >= 1 (got {k})")
        self.k = int(k)
        self._history: deque[np.ndarray] = deque(maxlen=self.k)

    def __len__(self) -> int:
        return len(self._history)

    def reset(self) -> None:
        self._history.clear()

    def update(self, probs: np.ndarray) -> tuple[int, float, np.ndarray]:
        """Add one window's (K,) probabilities; returns (smoothed class index, its probability, smoothed (K,))."""
        p = np.asarray(probs, dtype=np.float64).reshape(-1)
        if self._history and self._history[-1].shape != p.shape:
            raise ConfigError(f"stream: smoothing got {p.size} classes after {self._history[-1].size}")
        self._history.append(p)
        mean = np.mean(np.stack(self._history), axis=0)
        i = int(np.argmax(mean))
        return i, float(mean[i]), mean


__all__ = ["ProbabilitySmoother", "softmax"]
