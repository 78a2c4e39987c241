"""Departure-time profiles: piecewise-constant rate multipliers over a scenario.

A :class:`TimeProfile` is a list of ``(start_s, weight)`` pieces; piece ``j``
holds from its ``start_s`` to the next piece's start, and the last piece holds
forever. Times are seconds since scenario start. Departures are drawn by
inverting the cumulative profile, so ``n`` draws follow the profile's shape
exactly in distribution (an inhomogeneous Poisson process conditioned on ``n``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin.demand.trips import DemandError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class TimeProfile:
    """Piecewise-constant departure-rate multipliers.

    Parameters
    ----------
    pieces : sequence of (start_s, weight)
        ``start_s`` in seconds since scenario start, strictly ascending, the
        first one 0; ``weight`` >= 0 multiplies the base departure rate (1.0 =
        the base rate) from ``start_s`` until the next piece starts.
    name : str

    Examples
    --------
    >>> p = TimeProfile([(0, 0.6), (1800, 1.4), (3600, 1.0)])
    >>> float(p.integral(3600.0))  # 0.6 * 1800 + 1.4 * 1800 weight-seconds
    3600.0
    """

    pieces: tuple[tuple[float, float], ...]
    name: str = ""
    _start: FloatArray = field(init=False, repr=False, compare=False)
    _weight: FloatArray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pieces = tuple((float(s), float(w)) for s, w in self.pieces)
        where = f"time profile {self.name!r}" if self.name else "time profile"
        if not pieces:
            raise DemandError(f"{where}: needs at least one (start_s, weight) piece")
        start = np.array([p[0] for p in pieces])
        weight = np.array([p[1] for p in pieces])
        if start[0] != 0.0:
            raise DemandError(f"{where}: the first piece must start at 0 s, got {start[0]}")
        if not np.all(np.isfinite(start)) or np.any(np.diff(start) <= 0):
            raise DemandError(f"{where}: piece start times must be finite and strictly ascending")
        if not np.all(np.isfinite(weight)) or np.any(weight < 0):
            raise DemandError(f"{where}: weights must be finite and >= 0")
        object.__setattr__(self, "pieces", pieces)
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_weight", weight)

    def multiplier(self, time_s: ArrayLike) -> FloatArray:
        """The rate multiplier at ``time_s`` (seconds since scenario start)."""
        j = np.searchsorted(self._start, np.asarray(time_s, dtype=np.float64), side="right") - 1
        return self._weight[np.maximum(j, 0)]

    def _segments(self, duration_s: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Segment starts, weights and cumulative weight-seconds at each segment end."""
        if not np.isfinite(duration_s) or duration_s <= 0:
            raise DemandError(f"duration_s must be a number > 0, got {duration_s}")
        keep = self._start < duration_s
        a = self._start[keep]
        b = np.append(a[1:], duration_s)
        w = self._weight[keep]
        return a, w, np.cumsum(w * (b - a))

    def integral(self, duration_s: float) -> float:
        """Weight-seconds from 0 to ``duration_s``: the expected number of
        departures over the horizon at a base rate of 1 per second."""
        return float(self._segments(duration_s)[2][-1])

    def mean_multiplier(self, duration_s: float) -> float:
        """The average multiplier over ``[0, duration_s)``."""
        return self.integral(duration_s) / duration_s

    def sample(self, n: int, duration_s: float, rng: np.random.Generator) -> FloatArray:
        """``n`` independent departure times in ``[0, duration_s)`` with density
        proportional to the profile, in draw order (not sorted).

        Parameters
        ----------
        n : int
        duration_s : float, seconds
        rng : numpy.random.Generator

        Returns
        -------
        float64 array (n,), seconds since scenario start.

        Raises
        ------
        DemandError
            When the profile is 0 everywhere in ``[0, duration_s)`` and ``n > 0``.
        """
        a, w, cum = self._segments(duration_s)
        if n == 0:
            return np.zeros(0)
        if cum[-1] <= 0:
            raise DemandError(f"time profile {self.name!r} is 0 over the whole "
                              f"{duration_s:g} s horizon; no departures can be drawn")
        u = rng.random(n) * cum[-1]
        j = np.searchsorted(cum, u, side="right")
        j = np.minimum(j, len(cum) - 1)
        before = np.concatenate(([0.0], cum[:-1]))[j]
        t = a[j] + (u - before) / w[j]
        return np.minimum(t, np.nextafter(duration_s, 0.0))

    def shifted(self, offset_s: float, name: str = "") -> TimeProfile:
        """This profile seen from ``offset_s`` onward: a scenario starting at
        ``offset_s`` into the profile (e.g. 3600 to start a 06:00 profile at 07:00)."""
        start = self._start - offset_s
        j0 = max(int(np.searchsorted(start, 0.0, side="right")) - 1, 0)
        pieces = [(0.0, float(self._weight[j0]))]
        pieces += [(float(s), float(w)) for s, w in zip(start[j0 + 1:], self._weight[j0 + 1:],
                                                         strict=True)]
        return TimeProfile(tuple(pieces), name or f"{self.name}+{offset_s:g}s")


def flat(name: str = "flat") -> TimeProfile:
    """A constant multiplier of 1."""
    return TimeProfile(((0.0, 1.0),), name)


#: A constant departure rate.
FLAT = flat()

#: Jakarta weekday morning peak for a scenario that starts at 06:00 and runs
#: 4 hours, in half-hour pieces: 0.6 (06:00), 1.0 (06:30), 1.4 (07:00), 1.6
#: (07:30, the peak half hour), 1.4 (08:00), 1.0 (08:30), 0.6 (09:00), 0.4
#: (09:30 onward). The eight weights average exactly 1.0 over 06:00-10:00, so a
#: base rate is also the 4-hour mean rate. The shape is an assumption, not a fit
#: to counts: Polda Metro Jaya describes the commuter rush into Jakarta as 06:00
#: to 09:00, and odd-even restrictions run 06:00-10:00.
MORNING_PEAK = TimeProfile(
    tuple((i * 1800.0, w) for i, w in enumerate((0.6, 1.0, 1.4, 1.6, 1.4, 1.0, 0.6, 0.4))),
    "morning_peak",
)

#: Jakarta weekday evening peak for a scenario that starts at 16:00 and runs 4
#: hours, in half-hour pieces: 0.6 (16:00), 0.9 (16:30), 1.2 (17:00), 1.5
#: (17:30), 1.5 (18:00, the two peak half hours), 1.2 (18:30), 0.7 (19:00), 0.4
#: (19:30 onward); the weights average exactly 1.0 over 16:00-20:00. The rush home
#: is later and flatter than the morning's (offices close 16:00-17:00 and many stay
#: on past the worst of it). The shape is an assumption, not a fit to counts; its span
#: follows the afternoon odd-even window, 16:00-20:00 on weekdays (Pergub DKI 88/2019;
#: /work/shared/research/DOMAIN.md, source S11).
EVENING_PEAK = TimeProfile(
    tuple((i * 1800.0, w) for i, w in enumerate((0.6, 0.9, 1.2, 1.5, 1.5, 1.2, 0.7, 0.4))),
    "evening_peak",
)


def profile_from_counts(counts: Sequence[float], bin_s: float, name: str = "") -> TimeProfile:
    """A profile from counts per equal time bin (e.g. hourly counts), scaled so the
    mean multiplier over the bins is 1.

    Parameters
    ----------
    counts : sequence of float (k,), >= 0, not all 0.
    bin_s : float, seconds per bin.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0 or not np.all(np.isfinite(c)) or np.any(c < 0) or c.sum() <= 0:
        raise DemandError("profile_from_counts: counts must be finite, >= 0 and not all 0")
    w = c / c.mean()
    return TimeProfile(tuple((i * float(bin_s), float(x)) for i, x in enumerate(w)), name)
