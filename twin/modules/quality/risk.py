"""Risk mapping: violation and incident risk per link and hour of day, from history.

For the dashboard's problem-mapping layer (issue 7 item 2). Each (link, hour-of-day) cell
counts the events of the window in that local hour on that link; the exposure is one hour
per day of the window. The rate is shrunk towards the mean rate of all cells with a
Gamma-Poisson prior of ``prior_h`` hours, so a cell seen once in a short history is not
called a hot spot::

    rate = (events + prior_h * mean_rate) / (days + prior_h)     # events per hour
    risk_ratio = rate / mean_rate                                 # 1 = an ordinary cell

``level`` is ``high`` at a ratio >= 2, ``elevated`` at >= 1.25, else ``normal``. Events
without a link are counted in ``unplaced``, not spread over the map. Only links with at
least one event appear (a link without a camera or reports has no evidence either way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal, cast

from sqlalchemy import Table, select

from twin.observations import ObservationKind
from twin.store import Store
from twin.store.schema import EtleViolationRow

from .queries import OBSERVATIONS

VIOLATIONS = cast(Table, EtleViolationRow.__table__)


@dataclass(frozen=True)
class LinkHourRisk:
    """The risk of one link in one hour of the day (0-23, local time)."""

    link_id: str
    hour: int
    events: int
    exposure_h: float
    rate_per_h: float
    """Smoothed events per hour."""
    risk_ratio: float
    level: str


@dataclass(frozen=True)
class RiskMap:
    """Every observed (link, hour) cell of a window, highest risk first."""

    kind: str
    start: datetime
    end: datetime
    cells: list[LinkHourRisk]
    mean_rate_per_h: float
    events: int
    unplaced: int


def risk_events(store: Store, kind: str, start: datetime,
                end: datetime) -> list[tuple[str | None, datetime]]:
    """``(link id or None, time)`` of each ``kind`` event in ``[start, end)``: ETLE
    violations (``"violation"``), or incident reports that are not clearances (any other kind)."""
    if kind == "violation":
        query = select(VIOLATIONS.c.link_id, VIOLATIONS.c.observed_at).where(
            VIOLATIONS.c.observed_at >= start, VIOLATIONS.c.observed_at < end)
        return [(link, at) for link, at in store.read(lambda conn: conn.execute(query).all())]
    reports = select(OBSERVATIONS.c.link_id, OBSERVATIONS.c.observed_at,
                     OBSERVATIONS.c.payload).where(
        OBSERVATIONS.c.kind == ObservationKind.INCIDENT_REPORT.value,
        OBSERVATIONS.c.observed_at >= start, OBSERVATIONS.c.observed_at < end)
    return [(link, at) for link, at, payload in store.read(lambda conn: conn.execute(reports).all())
            if payload.get("status") != "cleared"]


def risk_map(store: Store, kind: Literal["violation", "incident"], start: datetime,
             end: datetime, *, tz: tzinfo = UTC, prior_h: float = 24.0) -> RiskMap:
    """The risk map of ``kind`` events (ETLE violations, or incident reports that are not
    clearances) in ``[start, end)``, hours of day in ``tz``.

    Raises
    ------
    ValueError
        An unknown kind, an empty or naive window, or ``prior_h`` < 0.
    """
    if kind not in ("violation", "incident"):
        raise ValueError(f"unknown risk kind {kind!r}")
    if start.tzinfo is None or end.tzinfo is None or not end > start:
        raise ValueError("the window needs timezone-aware start < end")
    if prior_h < 0:
        raise ValueError("prior_h must be >= 0")
    return risk_from_events(kind, start, end, risk_events(store, kind, start, end), tz=tz,
                            prior_h=prior_h)


def risk_from_events(kind: str, start: datetime, end: datetime,
                     events: Sequence[tuple[str | None, datetime]], *, tz: tzinfo = UTC,
                     prior_h: float = 24.0) -> RiskMap:
    """The risk map of ``events`` ((link id or None, time) each) in ``[start, end)``, as
    :func:`risk_map` smooths them (also for kinds it does not read itself, such as
    congestion: :mod:`.hotspots`)."""
    days = (end - start).total_seconds() / 86400.0
    counts = Counter((link, at.astimezone(tz).hour) for link, at in events if link)
    unplaced = sum(1 for link, _at in events if not link)
    links = {link for link, _h in counts}
    cells_n = 24 * len(links)
    mean = sum(counts.values()) / (cells_n * days) if cells_n else 0.0
    cells = []
    for link in sorted(links):
        for hour in range(24):
            n = counts.get((link, hour), 0)
            rate = (n + prior_h * mean) / (days + prior_h)
            ratio = rate / mean if mean > 0 else 0.0
            level = "high" if ratio >= 2.0 else "elevated" if ratio >= 1.25 else "normal"
            cells.append(LinkHourRisk(link, hour, n, days, rate, ratio, level))
    cells.sort(key=lambda c: (-c.risk_ratio, c.link_id, c.hour))
    return RiskMap(kind, start, end, cells, mean, len(events), unplaced)
