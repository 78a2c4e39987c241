"""Problem mapping: incident, violation and congestion hot spots per link.

The risk maps of :mod:`.risk` rate every (link, hour of day) cell; a map layer wants one
mark per link. :func:`link_hotspots` folds a :class:`~.risk.RiskMap` into one
:class:`Hotspot` per link (its events, and its worst hour). Congestion has no record of
its own in the store: :func:`congestion_risk_map` counts the loop-detector intervals whose
space-mean speed was below ``slow_share`` of the link's limit (one event per congested
interval) and smooths them as :func:`~.risk.risk_map` smooths violations and incidents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from sqlalchemy import select

from twin.observations import ObservationKind
from twin.store import Store

from .queries import OBSERVATIONS
from .risk import RiskMap, risk_from_events, risk_map

HotspotKind = Literal["incident", "violation", "congestion"]
HOTSPOT_KINDS: tuple[HotspotKind, ...] = ("incident", "violation", "congestion")
LEVELS = ("normal", "elevated", "high")


@dataclass(frozen=True, slots=True)
class Hotspot:
    """One link's events in a window and its riskiest hour of the day."""

    kind: str
    link_id: str
    events: int
    peak_hour: int
    peak_ratio: float
    """Smoothed rate of the peak hour over the mean rate of all cells (1 = ordinary)."""
    level: str
    """``level`` of the peak hour: ``normal``, ``elevated`` or ``high``."""


def link_hotspots(risk: RiskMap) -> list[Hotspot]:
    """One :class:`Hotspot` per link of ``risk`` with events, riskiest first."""
    best: dict[str, Hotspot] = {}
    totals: dict[str, int] = {}
    for cell in risk.cells:  # highest ratio first
        totals[cell.link_id] = totals.get(cell.link_id, 0) + cell.events
        if cell.link_id not in best:
            best[cell.link_id] = Hotspot(risk.kind, cell.link_id, 0, cell.hour, cell.risk_ratio,
                                         cell.level)
    out = [Hotspot(h.kind, h.link_id, totals[h.link_id], h.peak_hour, h.peak_ratio, h.level)
           for h in best.values() if totals[h.link_id] > 0]
    return sorted(out, key=lambda h: (-h.peak_ratio, -h.events, h.link_id))


def congestion_events(store: Store, start: datetime, end: datetime,
                      link_limit_mps: Mapping[str, float], *, slow_share: float = 0.5,
                      ) -> list[tuple[str | None, datetime]]:
    """(link id, interval end) of every detector interval in ``[start, end)`` with vehicles
    whose mean speed was below ``slow_share`` x the link's limit (links not in
    ``link_limit_mps`` are left out)."""
    query = select(OBSERVATIONS.c.link_id, OBSERVATIONS.c.observed_at,
                   OBSERVATIONS.c.payload).where(
        OBSERVATIONS.c.kind == ObservationKind.DETECTOR_INTERVAL.value,
        OBSERVATIONS.c.observed_at >= start, OBSERVATIONS.c.observed_at < end)
    rows = store.read(lambda conn: conn.execute(query).all())
    out: list[tuple[str | None, datetime]] = []
    for link, at, payload in rows:
        speed = payload.get("mean_speed_mps")
        limit = link_limit_mps.get(link) if link else None
        if speed is not None and limit and payload.get("count", 1) > 0 \
                and float(speed) < slow_share * limit:
            out.append((link, at.replace(tzinfo=UTC) if at.tzinfo is None else at))
    return out


def congestion_risk_map(store: Store, start: datetime, end: datetime,
                        link_limit_mps: Mapping[str, float], *, tz: tzinfo = UTC,
                        prior_h: float = 24.0, slow_share: float = 0.5) -> RiskMap:
    """The risk map of congested detector intervals (:func:`congestion_events`)."""
    if start.tzinfo is None or end.tzinfo is None or not end > start:
        raise ValueError("the window needs timezone-aware start < end")
    events = congestion_events(store, start, end, link_limit_mps, slow_share=slow_share)
    return risk_from_events("congestion", start, end, events, tz=tz, prior_h=prior_h)


def hotspots(store: Store, kind: HotspotKind, start: datetime, end: datetime,
             link_limit_mps: Mapping[str, float], *, tz: tzinfo = UTC) -> list[Hotspot]:
    """The hot spots of ``kind`` in ``[start, end)`` (``link_limit_mps`` for congestion)."""
    if kind == "congestion":
        return link_hotspots(congestion_risk_map(store, start, end, link_limit_mps, tz=tz))
    return link_hotspots(risk_map(store, kind, start, end, tz=tz))
