"""Number parsing for every ``edge-*`` command: argparse ``type=`` factories that refuse NaN, infinities and
values outside a range with one clear line (argparse turns the ``ArgumentTypeError`` into a usage error, exit 2).

NaN fails every comparison, so a check like ``if args.speed <= 0`` lets ``--speed nan`` through; these parsers
test ``math.isfinite`` first. Use them as ``p.add_argument("--speed", type=finite_float(min=0,
min_inclusive=False))`` or ``type=positive_int(max=MAX_THREADS)``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

#: The most inference / worker threads a command accepts: far beyond any real gain, far below what breaks a
#: runtime's thread pool ("Failed to load method" with 100000 threads).
MAX_THREADS = max(256, 4 * (os.cpu_count() or 1))


def _bounds(min: float | None, max: float | None, min_inclusive: bool, max_inclusive: bool) -> str:
    parts = []
    if min is not None:
        parts.append(f"{'>=' if min_inclusive else '>'} {min:g}")
    if max is not None:
        parts.append(f"{'<=' if max_inclusive else '<'} {max:g}")
    return " and ".join(parts)


def finite_float(min: float | None = None, max: float | None = None, *, min_inclusive: bool = True,
                 max_inclusive: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite float in [min, max] (``min_inclusive=False`` for ``> min``); NaN and inf refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        low_bad = min is not None and (value < min if min_inclusive else value <= min)
        high_bad = max is not None and (value > max if max_inclusive else value >= max)
        if low_bad or high_bad:
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be "
                                             f"{_bounds(min, max, min_inclusive, max_inclusive)})")
        return value

    parse.__name__ = "number"  # argparse names the type in its messages
    return parse


def bounded_int(min: int | None = None, max: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer (written as one: ``1.5`` and ``nan`` refused) in [min, max]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if (min is not None and value < min) or (max is not None and value > max):
            raise argparse.ArgumentTypeError(f"{text} is out of range (must be {_bounds(min, max, True, True)})")
        return value

    parse.__name__ = "integer"
    return parse


def positive_int(max: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= 1 (and <= ``max``)."""
    return bounded_int(1, max)


def non_negative_int(max: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= 0 (seeds, warm-up counts)."""
    return bounded_int(0, max)


def positive_float(max: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite float > 0 (durations, speeds, temperatures)."""
    return finite_float(0.0, max, min_inclusive=False)


def non_negative_float(max: float | None = None) -> Callable[[str], float]:
    """An argparse type: a finite float >= 0 (jitter, delays)."""
    return finite_float(0.0, max)


def probability(*, max_inclusive: bool = False) -> Callable[[str], float]:
    """An argparse type: a probability in [0, 1) (or [0, 1] with ``max_inclusive``)."""
    return finite_float(0.0, 1.0, max_inclusive=max_inclusive)


def int_list(max: int | None = None, min: int = 1) -> Callable[[str], list[int]]:
    """An argparse type: comma-separated integers each in [min, max] (``--threads 1,2,4``)."""
    one = bounded_int(min, max)

    def parse(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{text!r} names no integer")
        return [one(t) for t in items]

    parse.__name__ = "integer list"
    return parse


__all__ = ["MAX_THREADS", "bounded_int", "finite_float", "int_list", "non_negative_float", "non_negative_int",
           "positive_float", "positive_int", "probability"]
