"""Ring buffer: capacity, wrap-around, order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.errors import ConfigError
from toolkit.stream.ring import RingBuffer


def _samples(start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(start, start + n, dtype=float) * 0.01
    return t, np.stack([t * 10, -t * 10], axis=1)


def test_wraps_around_and_keeps_the_newest_in_order():
    ring = RingBuffer(5, 2)
    for start, n in ((0, 3), (3, 3)):  # 6 samples into 5 slots: the first is overwritten
        ring.append(*_samples(start, n))
    assert len(ring) == 5 and ring.total_written == 6
    t, x = ring.last()
    np.testing.assert_allclose(t, np.arange(1, 6) * 0.01)
    np.testing.assert_allclose(x[:, 0], np.arange(1, 6) * 0.1)
    t2, x2 = ring.last(2)
    np.testing.assert_allclose(t2, [0.04, 0.05])
    np.testing.assert_allclose(x2[:, 1], [-0.4, -0.5])


def test_append_longer_than_capacity_and_clear():
    ring = RingBuffer(4, 2)
    ring.append(*_samples(0, 2))
    ring.append(*_samples(2, 9))
    t, _ = ring.last()
    np.testing.assert_allclose(t, np.arange(7, 11) * 0.01)
    ring.clear()
    assert len(ring) == 0 and ring.last()[0].size == 0


def test_errors():
    ring = RingBuffer(3, 2)
    ring.append(*_samples(0, 2))
    with pytest.raises(ConfigError):
        ring.last(3)
    with pytest.raises(ConfigError):
        ring.append(np.zeros(2), np.zeros((2, 3)))
    with pytest.raises(ConfigError):
        RingBuffer(0, 1)


def test_reads_are_copies():
    ring = RingBuffer(3, 2)
    ring.append(*_samples(0, 3))
    _, x = ring.last()
    x[:] = 99.0
    assert ring.last()[1][0, 0] == 0.0


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 20), chunks=st.lists(st.integers(0, 30), min_size=1, max_size=12))
def test_matches_the_tail_of_everything_appended(capacity, chunks):
    ring = RingBuffer(capacity, 2)
    start = 0
    for n in chunks:
        ring.append(*_samples(start, n))
        start += n
        t_all, x_all = _samples(0, start)
        keep = min(capacity, start)
        t, x = ring.last()
        assert len(ring) == keep
        np.testing.assert_array_equal(t, t_all[start - keep :])
        np.testing.assert_array_equal(x, x_all[start - keep :])
