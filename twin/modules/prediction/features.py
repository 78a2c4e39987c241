"""Regression features of a forecast issued at row ``t``, from rows ``<= t`` only.

Everything is expressed as the *deviation* from the time-of-day profile,
``d = x - profile``. For each sensor and issue row the features are:

* ``1`` (intercept);
* the sensor's own deviation at ``t, t-1, ..., t-own_lags+1``;
* the adjacency-weighted mean deviation of its graph neighbours at ``t, ..., t-neighbour_lags+1``;
* the mean of its own deviation over the last ``mean_window`` rows (a persistent incident);
* the profile change ``profile(t+h) - profile(t)`` (the recurring rise or fall ahead);
* the profile itself ``profile(t)`` (lets a sensor's level shape the fit);
* congestion terms: ``min(d_t, 0)``, ``min(neighbours_t, 0)`` and ``min(d_t, 0)`` times the
  profile change (a queue does not fade like a free-flow fluctuation does).

The defaults (3 own lags, 1 neighbour lag, 12-row mean, congestion terms) were chosen on
the validation block of the METR-LA fit rows (rows 1324-1611), never on the test rows.

Missing values (NaN) are never invented for the targets. For the *inputs*, a missing
deviation is carried forward from the sensor's last observation if that is at most
``max_stale_steps`` rows old, else it counts as 0 (the sensor is at its profile). A
sensor whose last observation is older than that is *stale*: the forecaster returns
NaN for it and it is left out of its neighbours' means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FeatureSpec", "NeighbourTable", "build_features", "clean_adjacency", "imputed_deviations",
           "neighbour_deviations", "neighbour_tables"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class FeatureSpec:
    """How many past rows feed a forecast and how stale an input may be.

    Parameters
    ----------
    own_lags : int, rows of the sensor's own deviation (6 = the last 30 minutes at 5-minute rows)
    neighbour_lags : int, rows of the neighbours' mean deviation
    mean_window : int, rows averaged into the "last hour" deviation
    max_stale_steps : int, how many rows a missing input may be carried forward
    congestion_terms : bool, add the three congestion terms (see the module docstring)
    """

    own_lags: int = 3
    neighbour_lags: int = 1
    mean_window: int = 12
    max_stale_steps: int = 6
    congestion_terms: bool = True

    def __post_init__(self) -> None:
        if min(self.own_lags, self.neighbour_lags, self.mean_window) < 1 or self.max_stale_steps < 0:
            raise ValueError(f"lags and windows must be >= 1 and max_stale_steps >= 0: {self}")

    @property
    def window_rows(self) -> int:
        """Past rows (including ``t``) a feature vector reads."""
        return max(self.own_lags, self.neighbour_lags, self.mean_window)

    @property
    def buffer_rows(self) -> int:
        """Rows an online forecaster keeps: the window plus the carry-forward reach."""
        return self.window_rows + self.max_stale_steps

    def n_features(self, neighbour_sets: int = 1) -> int:
        """Length of a feature vector with ``neighbour_sets`` neighbour means (e.g. downstream, upstream)."""
        return (1 + self.own_lags + neighbour_sets * self.neighbour_lags + 3
                + (2 + neighbour_sets) * self.congestion_terms)


@dataclass(frozen=True)
class NeighbourTable:
    """Each sensor's graph neighbours as padded lists (the adjacency is sparse).

    ``index[i, :]`` are the neighbours of sensor ``i`` and ``weight[i, :]`` their
    non-negative weights; padding has weight 0. No sensor is its own neighbour.
    """

    index: NDArray[np.int64]
    weight: FloatArray

    @classmethod
    def from_adjacency(cls, adjacency: FloatArray | None, n_sensors: int) -> NeighbourTable:
        """From a square weight matrix, row ``i`` = sensor ``i``'s neighbours (``None``: none at all)."""
        if adjacency is None:
            return cls(np.zeros((n_sensors, 1), dtype=np.int64), np.zeros((n_sensors, 1)))
        a = clean_adjacency(adjacency, n_sensors)
        width = max(1, int((a > 0).sum(axis=1).max()))
        index = np.argsort(-a, axis=1, kind="stable")[:, :width].astype(np.int64)
        return cls(index, np.take_along_axis(a, index, axis=1))


def clean_adjacency(adjacency: FloatArray, n_sensors: int) -> FloatArray:
    """A copy with NaN and negative weights set to 0 and a zero diagonal."""
    a = np.array(adjacency, dtype=np.float64)
    if a.shape != (n_sensors, n_sensors):
        raise ValueError(f"adjacency must be ({n_sensors}, {n_sensors}), got {a.shape}")
    a[~np.isfinite(a)] = 0.0
    a = np.clip(a, 0.0, None)
    np.fill_diagonal(a, 0.0)
    return a


def neighbour_tables(adjacency: FloatArray | None, n_sensors: int,
                     directions: str) -> tuple[NeighbourTable, ...]:
    """The neighbour sets of a (possibly directed) adjacency.

    ``directions``: ``"rows"`` uses row ``i`` as sensor ``i``'s neighbours; ``"both"`` the
    symmetrised ``max(A, A')``; ``"split"`` two sets, the rows and the columns (for a
    directed sensor graph such as DCRNN's, where ``A[i, j]`` weighs the road distance from
    ``i`` to ``j``: its downstream and its upstream sensors), or one set when ``A`` is symmetric.
    """
    if directions not in ("rows", "both", "split"):
        raise ValueError(f"directions must be 'rows', 'both' or 'split', got {directions!r}")
    if adjacency is None:
        return (NeighbourTable.from_adjacency(None, n_sensors),)
    a = clean_adjacency(adjacency, n_sensors)
    if directions == "both":
        return (NeighbourTable.from_adjacency(np.maximum(a, a.T), n_sensors),)
    if directions == "split" and not np.array_equal(a, a.T):
        return NeighbourTable.from_adjacency(a, n_sensors), NeighbourTable.from_adjacency(a.T, n_sensors)
    return (NeighbourTable.from_adjacency(a, n_sensors),)


def imputed_deviations(values: FloatArray, profile: FloatArray,
                       max_stale_steps: int) -> tuple[FloatArray, BoolArray]:
    """Deviation from the profile with missing values carried forward a bounded number of rows.

    Parameters
    ----------
    values : (rows, sensors) observations, NaN = missing
    profile : (rows, sensors) profile at the same rows
    max_stale_steps : int, carry-forward reach in rows

    Returns
    -------
    deviation : (rows, sensors), 0 where the sensor is stale
    fresh : (rows, sensors) bool, an observation at most ``max_stale_steps`` rows old exists
    """
    dev = values - profile
    observed = np.isfinite(dev)
    rows = np.arange(dev.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(observed, rows, -1), axis=0)
    fresh = (last >= 0) & (rows - last <= max_stale_steps)
    carried = np.take_along_axis(dev, np.maximum(last, 0), axis=0)
    return np.where(fresh, carried, 0.0), fresh


def neighbour_deviations(deviation: FloatArray, fresh: BoolArray, table: NeighbourTable) -> FloatArray:
    """Weighted mean deviation of each sensor's fresh neighbours (0 where it has none)."""
    num = (deviation[:, table.index] * table.weight).sum(axis=-1)  # stale sensors carry deviation 0
    den = (fresh[:, table.index] * table.weight).sum(axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def build_features(deviation: FloatArray, neighbours: tuple[FloatArray, ...], profile_now: FloatArray,
                   profile_target: FloatArray, issue: NDArray[np.int64], spec: FeatureSpec) -> FloatArray:
    """Feature tensor of forecasts issued at local rows ``issue``.

    Parameters
    ----------
    deviation : (rows, sensors) from :func:`imputed_deviations` over a block of consecutive rows
    neighbours : one (rows, sensors) array per neighbour set, from :func:`neighbour_deviations`
    profile_now : (len(issue), sensors) profile at the issue rows
    profile_target : (len(issue), sensors) profile at the target rows ``issue + h``
    issue : int array of row indices inside the block
    spec : FeatureSpec

    Returns
    -------
    (len(issue), sensors, spec.n_features(len(neighbours))) float array; lags before the
    block's first row count as 0.
    """
    n_issue, n_sensors = len(issue), deviation.shape[1]
    out = np.empty((n_issue, n_sensors, spec.n_features(len(neighbours))))
    out[:, :, 0] = 1.0

    def lagged(a: FloatArray, k: int) -> FloatArray:
        r = issue - k
        return np.where((r >= 0)[:, None], a[np.maximum(r, 0)], 0.0)

    col = 1
    for k in range(spec.own_lags):
        out[:, :, col] = lagged(deviation, k)
        col += 1
    for nbr in neighbours:
        for k in range(spec.neighbour_lags):
            out[:, :, col] = lagged(nbr, k)
            col += 1
    window_sum = np.zeros((n_issue, n_sensors))
    for k in range(spec.mean_window):  # an explicit sum: same result online and in batch
        window_sum += lagged(deviation, k)
    out[:, :, col] = window_sum / spec.mean_window
    out[:, :, col + 1] = profile_target - profile_now
    out[:, :, col + 2] = profile_now
    col += 3
    if spec.congestion_terms:
        d0 = np.minimum(deviation[issue], 0.0)  # below the profile: congestion persists differently
        out[:, :, col] = d0
        out[:, :, col + 1] = d0 * (profile_target - profile_now)
        col += 2
        for nbr in neighbours:
            out[:, :, col] = np.minimum(nbr[issue], 0.0)
            col += 1
    return out
