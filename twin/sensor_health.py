"""Sensor health from the store: who is online, how often and how late they report.

:func:`sensor_health` reads the ``observations`` and ``quarantine`` tables, so it
describes whatever writes to the store (the hardware bridge, a replay, a simulated
run), and aggregates per source over a window ending at a reference time.

Two clocks (``clock``), because a simulated run stamps observations with its
simulated time while the store stamps ``received_at`` with the wall clock:

``"wall"``
    The window ends at ``now`` (default: the wall clock). Observations are selected
    and judged by ``received_at`` (when the store last heard from a source).
``"data"``
    The window ends at the newest ``observed_at`` in the store. Observations are
    selected and judged by ``observed_at``: right for simulated or replayed stores.

Quarantine rows carry only the store's wall-clock ``received_at``; their window
ends at ``now`` (``"wall"``) or at the newest quarantine row (``"data"``).

Status of a source, from the age of its last message against its own cadence
``interval_s`` (the median gap between its consecutive observations in the window,
at least ``min_interval_s``; ``default_interval_s`` when it sent fewer than two):
``online`` when ``age_s <= stale_factor * interval_s``, ``stale`` when
``age_s <= offline_factor * interval_s``, ``offline`` otherwise (and for a source
seen only in quarantine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, func, select

import twin.stats as twin_stats
from twin.store.schema import ObservationRow, QuarantineRow

if TYPE_CHECKING:
    from twin.store import Store

__all__ = [
    "STATUSES",
    "Clock",
    "RejectedPayload",
    "SensorHealth",
    "SourceHealth",
    "nearest_rank",
    "sensor_health",
]

Clock = Literal["wall", "data"]
STATUSES = ("online", "stale", "offline")
"""Source statuses, best first."""


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """One source (device or virtual sensor) over the window.

    Attributes
    ----------
    source_id : str
    status : str, one of :data:`STATUSES`
    last_observed_at, last_received_at : datetime (UTC) or None
        Newest ``observed_at`` / ``received_at`` of its observations (all time);
        None for a source seen only in quarantine.
    age_s : float, seconds from its last message to the window end (``inf`` if none)
    messages : int, observations in the window
    rate_per_min : float, ``messages`` per minute of window
    lag_median_s, lag_p95_s : float
        ``received_at - observed_at`` over the window's observations (median;
        95th percentile by nearest rank); NaN when it sent none.
    interval_s : float, the cadence the status is judged against
    quarantined : int, quarantine rows from this source in the window
    """

    source_id: str
    status: str
    last_observed_at: datetime | None
    last_received_at: datetime | None
    age_s: float
    messages: int
    rate_per_min: float
    lag_median_s: float
    lag_p95_s: float
    interval_s: float
    quarantined: int


@dataclass(frozen=True, slots=True)
class RejectedPayload:
    """One recent quarantine row, ``raw`` cut to a readable length."""

    received_at: datetime
    source: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class SensorHealth:
    """Every source's health plus the latest rejected payloads.

    Attributes
    ----------
    window_end : datetime (UTC), the reference time
    window_s : float
    clock : ``"wall"`` or ``"data"``
    sources : tuple of SourceHealth, sorted by source_id
    rejected : tuple of RejectedPayload, newest first
    """

    window_end: datetime
    window_s: float
    clock: Clock
    sources: tuple[SourceHealth, ...]
    rejected: tuple[RejectedPayload, ...]

    def count(self, status: str) -> int:
        """How many sources have ``status``."""
        return sum(1 for s in self.sources if s.status == status)

    @property
    def quarantined(self) -> int:
        """Quarantine rows in the window, all sources."""
        return sum(s.quarantined for s in self.sources)


def nearest_rank(sorted_values: NDArray[np.float64], pct: float) -> float:
    """The ``pct`` percentile of ascending ``sorted_values`` by nearest rank (NaN if empty).

    The value at rank ``ceil(pct / 100 * n)`` (1-based), at least rank 1.
    """
    return float(twin_stats.nearest_rank(sorted_values, pct)) if sorted_values.shape[0] else math.nan


def sensor_health(
    store: Store,
    *,
    window_s: float = 300.0,
    clock: Clock = "wall",
    now: datetime | None = None,
    stale_factor: float = 2.0,
    offline_factor: float = 10.0,
    min_interval_s: float = 1.0,
    default_interval_s: float = 60.0,
    rejected_limit: int = 10,
    raw_chars: int = 200,
) -> SensorHealth:
    """Per-source health over the ``window_s`` seconds ending at the reference time.

    Parameters
    ----------
    store : Store
    window_s : float
        Window length, seconds.
    clock : ``"wall"`` or ``"data"``
        See the module docstring.
    now : datetime, optional
        ``"wall"`` only: the window end (timezone-aware; default the wall clock).
    stale_factor, offline_factor : float
        Status thresholds, in multiples of the source's interval.
    min_interval_s, default_interval_s : float
        Floor of a source's interval, and its interval when it sent fewer than two
        observations in the window.
    rejected_limit : int
        How many recent quarantine rows to return.
    raw_chars : int
        Keep this many characters of each rejected payload (an ellipsis marks a cut).

    Returns
    -------
    SensorHealth
    """
    if clock not in ("wall", "data"):
        raise ValueError(f"clock must be 'wall' or 'data', not {clock!r}")
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    obs = ObservationRow
    by_time = obs.received_at if clock == "wall" else obs.observed_at

    def work(conn: Connection) -> tuple[datetime, dict[str, tuple[Any, Any]], Sequence[Any],
                                       dict[str, int], Sequence[Any]]:
        if clock == "wall":
            end = now.astimezone(UTC) if now is not None else datetime.now(UTC)
            q_end = end
        else:
            end = conn.execute(select(func.max(obs.observed_at))).scalar_one() or datetime.now(UTC)
            q_end = (conn.execute(select(func.max(QuarantineRow.received_at))).scalar_one()
                     or end)
        start = end - timedelta(seconds=window_s)
        last = {str(src): (o_at, r_at) for src, o_at, r_at in conn.execute(
            select(obs.source_id, func.max(obs.observed_at), func.max(obs.received_at))
            .group_by(obs.source_id))}
        rows = conn.execute(
            select(obs.source_id, obs.observed_at, obs.received_at)
            .where(by_time > start, by_time <= end)
            .order_by(obs.source_id, obs.observed_at)).all()
        q_start = q_end - timedelta(seconds=window_s)
        quarantined = {str(src): int(n) for src, n in conn.execute(
            select(QuarantineRow.source, func.count())
            .where(QuarantineRow.received_at > q_start, QuarantineRow.received_at <= q_end)
            .group_by(QuarantineRow.source))}
        recent = conn.execute(
            select(QuarantineRow.received_at, QuarantineRow.source, QuarantineRow.reason,
                   QuarantineRow.raw)
            .order_by(QuarantineRow.id.desc()).limit(rejected_limit)).all()
        return end, last, rows, quarantined, recent
    # one read transaction: a consistent snapshot
    end, last, rows, quarantined, recent = store.read(work)
    return _assemble(end, window_s, clock, last, rows, quarantined, recent,
                     stale_factor, offline_factor, min_interval_s, default_interval_s, raw_chars)


def _assemble(end: datetime, window_s: float, clock: Clock,
              last: dict[str, tuple[datetime, datetime]], rows: Sequence[Any],
              quarantined: dict[str, int],
              recent: Sequence[Any], stale_factor: float, offline_factor: float, min_interval_s: float,
              default_interval_s: float, raw_chars: int) -> SensorHealth:
    sources = np.array([str(r[0]) for r in rows], dtype=object)
    observed_s = np.array([r[1].timestamp() for r in rows], dtype=np.float64)
    received_s = np.array([r[2].timestamp() for r in rows], dtype=np.float64)
    names, first = np.unique(sources, return_index=True) if rows else (np.array([]), np.array([]))
    bounds = np.append(first, len(rows)).astype(np.int64)  # rows are sorted by source
    groups = {str(name): (int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(names)}
    end_s = end.timestamp()
    out = []
    for source in sorted(set(last) | set(quarantined)):
        lo, hi = groups.get(source, (0, 0))
        lag = np.sort(received_s[lo:hi] - observed_s[lo:hi])
        gaps = np.diff(observed_s[lo:hi])
        interval_s = (max(min_interval_s, float(np.median(gaps))) if gaps.size
                      else default_interval_s)
        o_at, r_at = last.get(source, (None, None))
        seen = r_at if clock == "wall" else o_at
        age_s = math.inf if seen is None else end_s - seen.timestamp()
        if age_s <= stale_factor * interval_s:
            status = "online"
        elif age_s <= offline_factor * interval_s:
            status = "stale"
        else:
            status = "offline"
        out.append(SourceHealth(
            source_id=source, status=status, last_observed_at=o_at, last_received_at=r_at,
            age_s=age_s, messages=hi - lo, rate_per_min=(hi - lo) * 60.0 / window_s,
            lag_median_s=float(np.median(lag)) if lag.size else math.nan,
            lag_p95_s=nearest_rank(lag, 95.0), interval_s=interval_s,
            quarantined=quarantined.get(source, 0)))
    rejected = tuple(RejectedPayload(received_at=at, source=str(src), reason=str(reason),
                                     raw=_cut(str(raw), raw_chars))
                     for at, src, reason, raw in recent)
    return SensorHealth(window_end=end, window_s=window_s, clock=clock, sources=tuple(out),
                        rejected=rejected)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"
