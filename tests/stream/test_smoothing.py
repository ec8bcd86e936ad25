"""Smoothing over the last k windows (hand-checked) and the windower's grid."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.stream.resample import ResampledBlock
from toolkit.stream.smoothing import ProbabilitySmoother, softmax
from toolkit.stream.windows import Windower


def test_mean_of_the_last_three_windows_by_hand():
    sm = ProbabilitySmoother(3)
    seq = [[0.75, 0.25, 0.0], [0.25, 0.75, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0], [0.0, 0.25, 0.75]]
    # means of the last <= 3: [.75 .25 0] -> [.5 .5 0] (tie: the smallest index) -> [1/3 .5 1/6]
    # -> [1/12 5/12 .5] -> [0 .25 .75]
    expected = [(0, 0.75), (0, 0.5), (1, 0.5), (2, 0.5), (2, 0.75)]
    for probs, (i, conf) in zip(seq, expected, strict=True):
        got_i, got_conf, mean = sm.update(np.array(probs))
        assert got_i == i and got_conf == pytest.approx(conf)
        assert mean.sum() == pytest.approx(1.0)
    assert len(sm) == 3
    sm.reset()
    assert sm.update(np.array([0.1, 0.1, 0.8]))[0] == 2


def test_k1_is_no_smoothing_and_bad_k():
    sm = ProbabilitySmoother(1)
    for p in ([0.9, 0.1], [0.2, 0.8]):
        assert sm.update(np.array(p))[1] == max(p)
    with pytest.raises(ConfigError):
        ProbabilitySmoother(0)


def test_softmax():
    p = softmax(np.array([1000.0, 1000.0, -1000.0]))  # no overflow
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(softmax(np.log([1.0, 3.0])), [0.25, 0.75])


def test_windower_grid_and_counts():
    win = Windower(4, 2, 1)
    t = np.arange(11.0)
    blocks = [ResampledBlock(0, t[:3], t[:3, None], np.zeros(3, bool)),
              ResampledBlock(0, t[3:9], t[3:9, None], np.array([0, 0, 0, 1, 0, 0], bool)),
              ResampledBlock(0, t[9:], t[9:, None], np.zeros(2, bool), ended_by="gap"),
              ResampledBlock(1, t[:3] + 20, t[:3, None], np.zeros(3, bool), ended_by="end")]
    windows = [w for b in blocks for w in win.feed(b)]
    # 11 samples, window 4, hop 2: starts 0, 2, 4, 6 fit; starts 8 and 10 are cut by the gap; segment 1 (3 samples)
    # starts two windows (at 0 and 2) that the end cuts
    assert [w.t_s[0] for w in windows] == [0.0, 2.0, 4.0, 6.0]
    assert [w.index for w in windows] == [0, 1, 2, 3]
    assert [w.filled_samples for w in windows] == [0, 0, 1, 1]  # sample 6 (filled) is in windows 4..7, 6..9
    np.testing.assert_array_equal(windows[2].x[:, 0], [4.0, 5.0, 6.0, 7.0])
    assert win.counters == {"windows": 4, "windows_flagged": 2, "windows_dropped_gap": 2,
                            "windows_incomplete_at_end": 2, "windows_dropped_filled": 0}
