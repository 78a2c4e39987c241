"""Potential mapping: where a new camera or a new emergency station would do the most.

* :func:`link_evidence` counts per link what a camera would catch or watch: ETLE
  violations, loop-detector intervals whose mean speed was over the limit (speeding), and
  incident reports.
* :func:`suggest_camera_sites`: the links with the most of that evidence that have no
  camera yet (violations first, then speeding, then incidents).
* :func:`suggest_station_sites`: from stored dispatch incidents, the incident links that
  would bring the most incidents whose units drove longer than ``target_s`` within
  ``radius_m`` of a station (greedy maximal covering: each pick removes what it covers).
* :func:`area_hulls`: each dispatch area (the station nearest an incident, as the
  dispatch module stores it) drawn as the convex hull of its incidents' places.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from twin.network import Network
from twin.observations import ObservationKind
from twin.store import Store

from .queries import OBSERVATIONS
from .risk import VIOLATIONS, risk_events

SPEEDING_MARGIN = 1.1
"""An interval counts as speeding when its mean speed exceeds the limit by 10 %."""
EARTH_M_PER_DEG = 111_195.0


@dataclass(frozen=True, slots=True)
class LinkEvidence:
    """What was seen on one link in a window."""

    link_id: str
    violations: int = 0
    speeding: int = 0
    incidents: int = 0


@dataclass(frozen=True, slots=True)
class CameraSite:
    """A suggested camera site and why."""

    link_id: str
    violations: int
    speeding: int
    incidents: int
    rank: int


@dataclass(frozen=True, slots=True)
class StationSite:
    """A suggested station site: an incident link, and the slow responses it would cover."""

    link_id: str
    lon: float
    lat: float
    covered: int
    """Incidents whose units drove longer than the target, within the radius."""
    mean_travel_s: float
    rank: int


@dataclass(frozen=True, slots=True)
class SlowResponse:
    """One stored dispatch incident: where, its area, and its units' drive (s, None: none)."""

    incident_id: str
    link_id: str
    area: str | None
    travel_s: float | None


def link_evidence(store: Store, start: datetime, end: datetime,
                  link_limit_mps: Mapping[str, float]) -> dict[str, LinkEvidence]:
    """Violations, speeding detector intervals and incident reports per link in
    ``[start, end)``; links with none are left out."""
    def work(conn: Connection) -> tuple[Counter[str], Sequence[Any]]:
        violations = Counter({link: int(n) for link, n in conn.execute(
            select(VIOLATIONS.c.link_id, func.count()).where(
                VIOLATIONS.c.observed_at >= start, VIOLATIONS.c.observed_at < end,
                VIOLATIONS.c.link_id.is_not(None)).group_by(VIOLATIONS.c.link_id))})
        rows = conn.execute(select(OBSERVATIONS.c.link_id, OBSERVATIONS.c.payload).where(
            OBSERVATIONS.c.kind == ObservationKind.DETECTOR_INTERVAL.value,
            OBSERVATIONS.c.observed_at >= start, OBSERVATIONS.c.observed_at < end)).all()
        return violations, rows
    violations, rows = store.read(work)
    speeding = Counter(link for link, p in rows if link and p.get("mean_speed_mps") is not None
                       and link in link_limit_mps
                       and float(p["mean_speed_mps"]) > SPEEDING_MARGIN * link_limit_mps[link])
    incidents = Counter(link for link, _at in risk_events(store, "incident", start, end) if link)
    return {link: LinkEvidence(link, violations[link], speeding[link], incidents[link])
            for link in sorted(set(violations) | set(speeding) | set(incidents))}


def suggest_camera_sites(evidence: Mapping[str, LinkEvidence], camera_links: Collection[str],
                         n: int = 5) -> list[CameraSite]:
    """The ``n`` links with the most evidence and no camera (``camera_links``), best first."""
    free = [e for link, e in evidence.items() if link not in camera_links
            and (e.violations or e.speeding or e.incidents)]
    free.sort(key=lambda e: (-e.violations, -e.speeding, -e.incidents, e.link_id))
    return [CameraSite(e.link_id, e.violations, e.speeding, e.incidents, i + 1)
            for i, e in enumerate(free[:n])]


def slow_responses(store: Store) -> list[SlowResponse]:
    """Every stored dispatch incident with the drive of its first unit (``t_onscene -
    t_enroute``), of every run in the store."""
    from twin.store.schema import DispatchIncidentRow

    query = select(DispatchIncidentRow.incident_id, DispatchIncidentRow.link_id,
                   DispatchIncidentRow.area, DispatchIncidentRow.t_enroute_s,
                   DispatchIncidentRow.t_onscene_s)
    rows = store.read(lambda conn: conn.execute(query).all())
    return [SlowResponse(iid, link, area, None if en is None or on is None else on - en)
            for iid, link, area, en, on in rows]


def _midpoints(network: Network, links: Sequence[str]) -> tuple[list[float], list[float]]:
    from twin.map_marks import link_midpoint

    pts = [link_midpoint(network, network.link_index[link]) for link in links]
    return [p[0] for p in pts], [p[1] for p in pts]


def _distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return EARTH_M_PER_DEG * math.hypot((lon2 - lon1) * k, lat2 - lat1)


def suggest_station_sites(network: Network, responses: Sequence[SlowResponse], *,
                          target_s: float = 480.0, radius_m: float = 1000.0,
                          n: int = 3) -> list[StationSite]:
    """Up to ``n`` incident links, each covering the most slow responses (drive over
    ``target_s``) within ``radius_m`` that earlier picks left uncovered."""
    slow = [r for r in responses if r.travel_s is not None and r.travel_s > target_s
            and r.link_id in network.link_index]
    if not slow:
        return []
    lon, lat = _midpoints(network, [r.link_id for r in slow])
    left = set(range(len(slow)))
    out: list[StationSite] = []
    candidates = sorted({r.link_id for r in slow})
    clon, clat = _midpoints(network, candidates)
    while left and len(out) < n:
        best: tuple[int, str, float, float, list[int]] | None = None
        for link, x, y in zip(candidates, clon, clat, strict=True):
            near = [i for i in left if _distance_m(x, y, lon[i], lat[i]) <= radius_m]
            if best is None or len(near) > len(best[4]):
                best = (len(near), link, x, y, near)
        assert best is not None
        _, link, x, y, near = best
        travel = [slow[i].travel_s or 0.0 for i in near]
        out.append(StationSite(link, x, y, len(near), sum(travel) / len(travel), len(out) + 1))
        left -= set(near)
    return out


def area_hulls(network: Network, responses: Sequence[SlowResponse]
               ) -> dict[str, list[tuple[float, float]]]:
    """Area -> the closed convex hull (lon, lat) of its incidents' link midpoints (a
    single point or a segment for fewer than three distinct places)."""
    by_area: dict[str, set[str]] = {}
    for r in responses:
        if r.area and r.link_id in network.link_index:
            by_area.setdefault(r.area, set()).add(r.link_id)
    out = {}
    for area, links in sorted(by_area.items()):
        lon, lat = _midpoints(network, sorted(links))
        hull = convex_hull(list(zip(lon, lat, strict=True)))
        out[area] = hull + hull[:1] if len(hull) > 2 else hull
    return out


def convex_hull(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The convex hull of ``points``, counter-clockwise (Andrew's monotone chain)."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


__all__ = ["CameraSite", "LinkEvidence", "SlowResponse", "StationSite", "area_hulls",
           "convex_hull", "link_evidence", "slow_responses",
           "suggest_camera_sites", "suggest_station_sites"]
