"""Robust statistics of the index: nearest-rank fractiles and winsorising (DOMAIN.md 2.4, 3.3)."""

from __future__ import annotations

from collections.abc import Sequence

from twin.stats import nearest_rank


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
