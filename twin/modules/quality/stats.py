"""Robust statistics of the index: nearest-rank fractiles and winsorising (DOMAIN.md 2.4, 3.3)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile by the nearest-rank method (a value of the sample).

    >>> nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)
    9
    """
    if not values:
        raise ValueError("a fractile of no values")
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile {pct} outside [0, 100]")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


def winsorise(values: Sequence[float], pct: float = 99.0) -> list[float]:
    """``values`` clipped to their nearest-rank ``[100 - pct, pct]`` percentiles, order kept.

    >>> winsorise([1.0] * 99 + [1000.0])[-1]
    1.0
    """
    if not values:
        return []
    hi = nearest_rank(values, pct)
    lo = nearest_rank(values, 100.0 - pct)
    return [min(max(float(v), lo), hi) for v in values]


def median(values: Sequence[float]) -> float:
    """The median (mean of the two middle values for an even count)."""
    if not values:
        raise ValueError("a median of no values")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
