"""Small statistics shared by the modules: the nearest-rank percentile (NFPA/NENA reporting)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["nearest_rank"]


def nearest_rank(values: Sequence[float] | np.ndarray, pct: float) -> float:
    """The ``pct``-th percentile by the nearest-rank method: the value of rank
    ``ceil(pct/100 * n)`` (at least 1) of the sorted sample, so always a sample value.

    Raises
    ------
    ValueError
        For no values, or ``pct`` outside [0, 100].

    >>> nearest_rank([15, 20, 35, 40, 50], 30)
    20
    """
    if len(values) == 0:
        raise ValueError("a percentile of no values")
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"percentile {pct} outside [0, 100]")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100.0 * len(ordered))) - 1]
