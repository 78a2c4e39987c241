"""What the store holds for the index: the areas it can be scored for, and its newest time.

For callers that pick an area and a window end without knowing the store (``kota quality
--end latest``, the dashboard's Service index page). Areas come from the records the KPI
queries filter on (:mod:`.queries`, :mod:`.queries_dispatch`): an ETLE case's Polda and a
dispatch incident's area (its nearest station); :data:`~.queries.ALL_AREAS` is always one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from twin.store import Store

from .queries import ALL_AREAS, CASES, OBSERVATIONS, TRANSITIONS
from .queries_dispatch import INCIDENTS, latest_time


@dataclass(frozen=True)
class Area:
    """One area the index can be computed for; ``kind`` says which records carry it."""

    id: str
    kind: str
    """``all`` (the whole store), ``dispatch station`` or ``polda`` (ETLE)."""


def areas(store: Store) -> list[Area]:
    """The areas found in ``store``: ``all`` first, then dispatch areas, then Poldas
    (each sorted; an id found in both appears once, as a dispatch area)."""
    def work(conn: Connection) -> tuple[list[str], list[str]]:
        stations = sorted(a for (a,) in conn.execute(select(INCIDENTS.c.area).distinct())
                          if a is not None)
        poldas = sorted(p for (p,) in conn.execute(select(CASES.c.polda).distinct())
                        if p is not None)
        return stations, poldas
    stations, poldas = store.read(work)
    found = [Area(ALL_AREAS, "all")] + [Area(a, "dispatch station") for a in stations
                                        if a != ALL_AREAS]
    known = {a.id for a in found}
    return found + [Area(p, "polda") for p in poldas if p not in known]


def latest_data_time(store: Store) -> datetime | None:
    """Just after the newest record the KPIs read: an ETLE case capture or state change, an
    observation, or the end a stored dispatch run reached (to the second, plus one second so
    a window ending there includes it); None for a store with none of them."""
    times = store.read(lambda conn: [
        conn.execute(select(func.max(c))).scalar_one()
        for c in (CASES.c.observed_at, OBSERVATIONS.c.observed_at, TRANSITIONS.c.at)])
    known = [t for t in (*times, latest_time(store)) if t is not None]
    if not known:
        return None
    return max(known).replace(microsecond=0) + timedelta(seconds=1)
