"""Means with confidence intervals across seed replications (Student's t)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

__all__ = ["mean_ci"]


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> dict[str, float | int | None]:
    """Mean of ``values`` and the half-width of its ``level`` confidence interval.

    ``None`` values (a KPI a run could not measure) are left out and counted in
    ``missing``. With fewer than two values the half-width is None (no interval from
    one sample). Returns ``{"mean", "ci_half", "n", "missing", "low", "high"}``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    out: dict[str, float | int | None] = {"mean": None, "ci_half": None, "n": n,
                                          "missing": len(values) - n, "low": None, "high": None}
    if n == 0:
        return out
    mean = math.fsum(xs) / n
    out["mean"] = mean
    if n >= 2:
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
        half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
        out.update(ci_half=half, low=mean - half, high=mean + half)
    return out
