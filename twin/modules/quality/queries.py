"""KPI queries on the store, a registry by query id (the ``query_id`` of the index config).

Every query reads ``(store, area, window, cfg)`` and returns a :class:`Measurement`: the
value and the number of events behind it, never an invented number. A query id with no
registered function measures nothing and its KPI reports "insufficient data";
:func:`register_query` plugs a source in later. The 112/dispatch queries live in
:mod:`.queries_dispatch` and are registered here.

ETLE cases carry no kab/kota or district, only their Polda (the regional police whose
timers apply, e.g. ``metro_jaya``): ETLE queries serve the area ``"all"`` or a Polda name.
Observations and the ingest gate carry no area at all: their queries serve ``"all"`` only
and answer "no area" for any other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select

from twin.observations import ObservationKind
from twin.store import Store
from twin.store.schema import (
    EtleCaseRow,
    EtleStnkBlockRow,
    EtleTransitionRow,
    ObservationRow,
    QuarantineRow,
)

from .config import IndexConfig
from .index import Measurement, Window
from .queries_dispatch import DISPATCH_QUERIES
from .stats import median, nearest_rank, winsorise

ALL_AREAS = "all"
"""The area of records that carry none (the whole store)."""

Query = Callable[[Store, str, Window, IndexConfig], Measurement]

_REGISTRY: dict[str, Query] = {}

CASES = cast(Table, EtleCaseRow.__table__)
TRANSITIONS = cast(Table, EtleTransitionRow.__table__)
BLOCKS = cast(Table, EtleStnkBlockRow.__table__)
OBSERVATIONS = cast(Table, ObservationRow.__table__)
QUARANTINE = cast(Table, QuarantineRow.__table__)
DAY_S = 86400.0


def register_query(query_id: str, query: Query) -> None:
    """Make ``query`` the source of every KPI whose ``query_id`` is ``query_id``."""
    _REGISTRY[query_id] = query


def unregister_query(query_id: str) -> Query | None:
    """Remove the source of ``query_id`` (its KPIs report "no source yet" again)."""
    return _REGISTRY.pop(query_id, None)


def registered(query_id: str) -> Query | None:
    """The query registered under ``query_id``, if any."""
    return _REGISTRY.get(query_id)


def measure(query_id: str, store: Store, area: str, window: Window,
            cfg: IndexConfig) -> Measurement:
    """Run the query ``query_id``; no registered source gives an empty measurement."""
    query = _REGISTRY.get(query_id)
    if query is None:
        return Measurement(None, 0, note="no source yet")
    return query(store, area, window, cfg)


def measure_all(store: Store, area: str, window: Window,
                cfg: IndexConfig) -> dict[str, Measurement]:
    """Every KPI of ``cfg`` measured on ``store`` for ``area`` and ``window``."""
    return {k.id: measure(k.query_id, store, area, window, cfg) for k in cfg.kpis}


def _no_area(area: str) -> Measurement | None:
    if area != ALL_AREAS:
        return Measurement(None, 0, note=f"records carry no area; only {ALL_AREAS!r} is served")
    return None


# -- ETLE ----------------------------------------------------------------------------------

_ETLE = ("etle_cases", "etle_transitions")


def _etle_cases(store: Store, area: str,
                window: Window) -> list[tuple[Any, dict[str, datetime]]]:
    """Cases captured in the window (of the Polda ``area``, unless it is ``"all"``) with the
    first time (before the window end) of each state they reached."""
    where = [CASES.c.observed_at >= window.start, CASES.c.observed_at < window.end]
    if area != ALL_AREAS:
        where.append(CASES.c.polda == area)
    def work(conn: Connection) -> list[tuple[Any, dict[str, datetime]]]:
        cases = conn.execute(select(CASES.c.case_id, CASES.c.observed_at,
                                    CASES.c.confirmation_due_at, CASES.c.payment_due_at)
                             .where(*where)).all()
        reached: dict[str, dict[str, datetime]] = defaultdict(dict)
        rows = conn.execute(
            select(TRANSITIONS.c.case_id, TRANSITIONS.c.to_state, TRANSITIONS.c.at)
            .join(CASES, CASES.c.case_id == TRANSITIONS.c.case_id)
            .where(*where, TRANSITIONS.c.at < window.end)
            .order_by(TRANSITIONS.c.case_id, TRANSITIONS.c.seq))
        for case_id, state, at in rows:
            reached[case_id].setdefault(state, at)
        return [(c, reached.get(c.case_id, {})) for c in cases]
    return store.read(work)


def capture_to_verified_median_days(store: Store, area: str, window: Window,
                                    cfg: IndexConfig) -> Measurement:
    """Median days from capture to an officer's verification (winsorised at P99)."""
    days = [(states["VERIFIED"] - case.observed_at).total_seconds() / DAY_S
            for case, states in _etle_cases(store, area, window) if "VERIFIED" in states]
    if not days:
        return Measurement(None, 0, _ETLE, "no verified case in the window")
    return Measurement(median(winsorise(days, cfg.winsor_pct)), len(days), _ETLE,
                       "median of capture->VERIFIED")


def answered_by_h8_share(store: Store, area: str, window: Window,
                         cfg: IndexConfig) -> Measurement:
    """Share of noticed cases whose owner confirmed or disputed by the H+8 deadline.

    Only cases whose deadline passed before the window end count (a pending answer is
    neither a success nor a failure yet).
    """
    hits = total = 0
    for case, states in _etle_cases(store, area, window):
        due = case.confirmation_due_at
        if "NOTICE_SENT" not in states or due is None or due > window.end:
            continue
        total += 1
        answered = [states[s] for s in ("CONFIRMED", "DISPUTED") if s in states]
        hits += bool(answered and min(answered) <= due)
    return Measurement.share(hits, total, _ETLE, "CONFIRMED or DISPUTED by confirmation_due_at")


def paid_by_h15_share(store: Store, area: str, window: Window, cfg: IndexConfig) -> Measurement:
    """Share of ticketed cases paid by the H+15 deadline (deadline passed in the window)."""
    hits = total = 0
    for case, states in _etle_cases(store, area, window):
        due = case.payment_due_at
        if "TICKET_ISSUED" not in states or due is None or due > window.end:
            continue
        total += 1
        hits += bool("PAID" in states and states["PAID"] <= due)
    return Measurement.share(hits, total, _ETLE, "PAID by payment_due_at")


def disputed_or_overturned_share(store: Store, area: str, window: Window,
                                 cfg: IndexConfig) -> Measurement:
    """Share of noticed cases the owner disputed or an officer dismissed."""
    noticed = [states for _case, states in _etle_cases(store, area, window) if "NOTICE_SENT" in states]
    hits = sum(1 for s in noticed if "DISPUTED" in s or "DISMISSED" in s)
    return Measurement.share(hits, len(noticed), _ETLE, "DISPUTED or DISMISSED among NOTICE_SENT")


def stnk_unblocked_within_1d_share(store: Store, area: str, window: Window,
                                   cfg: IndexConfig) -> Measurement:
    """Share of payments on blocked cases (paid in the window) whose block lifted <= 1 day."""
    query = (select(TRANSITIONS.c.at, BLOCKS.c.blocked_at, BLOCKS.c.lifted_at)
             .join(BLOCKS, BLOCKS.c.case_id == TRANSITIONS.c.case_id)
             .join(CASES, CASES.c.case_id == TRANSITIONS.c.case_id)
             .where(TRANSITIONS.c.to_state == "PAID", TRANSITIONS.c.at >= window.start,
                    TRANSITIONS.c.at < window.end))
    if area != ALL_AREAS:
        query = query.where(CASES.c.polda == area)
    rows = store.read(lambda conn: conn.execute(query).all())
    paid_blocked = [(paid, lifted) for paid, blocked, lifted in rows if blocked <= paid]
    hits = sum(1 for paid, lifted in paid_blocked
               if lifted is not None and lifted - paid <= timedelta(days=1))
    return Measurement.share(hits, len(paid_blocked), ("etle_stnk_blocks", "etle_transitions"),
                  "block lifted <= 1 day after PAID")


# -- observations and the ingest gate ------------------------------------------------------


def detector_fresh_share(store: Store, area: str, window: Window,
                         cfg: IndexConfig) -> Measurement:
    """Share of detector reporting gaps within twice the detector's interval.

    One sample per consecutive pair of a detector's records in the window, plus the gap
    from its last record to the window end (a detector that went silent counts).
    """
    if (none := _no_area(area)) is not None:
        return none
    query = (select(OBSERVATIONS.c.source_id, OBSERVATIONS.c.observed_at, OBSERVATIONS.c.payload)
             .where(OBSERVATIONS.c.kind == ObservationKind.DETECTOR_INTERVAL.value,
                    OBSERVATIONS.c.observed_at >= window.start,
                    OBSERVATIONS.c.observed_at < window.end)
             .order_by(OBSERVATIONS.c.source_id, OBSERVATIONS.c.observed_at))
    by_source: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for source, at, payload in store.read(lambda conn: conn.execute(query).all()):
        by_source[source].append((at, float(payload.get("interval_s") or 0.0)))
    hits = total = 0
    for records in by_source.values():
        times = [at for at, _i in records] + [window.end]
        for (at, interval_s), nxt in zip(records, times[1:], strict=True):
            if interval_s <= 0:
                continue
            total += 1
            hits += (nxt - at).total_seconds() <= 2.0 * interval_s
    return Measurement.share(hits, total, ("observations:detector_interval",), "gaps <= 2 x interval_s")


def alert_latency_p90_s(store: Store, area: str, window: Window, cfg: IndexConfig) -> Measurement:
    """P90 (nearest rank, winsorised) of the seconds from issuing an incident report
    (``observed_at``) to its storage, where it is public (``received_at``).

    Meaningful for live records; a simulated run's clock is not the wall clock, so its
    reports are left out (records with a ``run_id``).
    """
    if (none := _no_area(area)) is not None:
        return none
    query = (select(OBSERVATIONS.c.observed_at, OBSERVATIONS.c.received_at)
             .where(OBSERVATIONS.c.kind == ObservationKind.INCIDENT_REPORT.value,
                    OBSERVATIONS.c.run_id.is_(None),
                    OBSERVATIONS.c.observed_at >= window.start,
                    OBSERVATIONS.c.observed_at < window.end))
    rows = store.read(lambda conn: conn.execute(query).all())
    lat = [max(0.0, (rec - obs).total_seconds()) for obs, rec in rows]
    if not lat:
        return Measurement(None, 0, ("observations:incident_report",), "no live alert")
    return Measurement(nearest_rank(winsorise(lat, cfg.winsor_pct), 90.0), len(lat),
                       ("observations:incident_report",), "P90 of received_at - observed_at")


def quarantine_share(store: Store, area: str, window: Window, cfg: IndexConfig) -> Measurement:
    """Share of input records the ingest gate quarantined (by the time the store got them)."""
    if (none := _no_area(area)) is not None:
        return none
    def work(conn: Connection) -> tuple[Any, Any]:
        bad = conn.execute(select(func.count()).select_from(QUARANTINE).where(
            QUARANTINE.c.received_at >= window.start, QUARANTINE.c.received_at < window.end)
        ).scalar_one()
        good = conn.execute(select(func.count()).select_from(OBSERVATIONS).where(
            OBSERVATIONS.c.received_at >= window.start, OBSERVATIONS.c.received_at < window.end)
        ).scalar_one()
        return bad, good
    bad, good = store.read(work)
    return Measurement.share(int(bad), int(bad) + int(good), ("quarantine", "observations"),
                  "quarantined / (quarantined + stored), by received_at")


for _id, _query in {
    "etle.capture_to_verified_median_days": capture_to_verified_median_days,
    "etle.answered_by_h8_share": answered_by_h8_share,
    "etle.paid_by_h15_share": paid_by_h15_share,
    "etle.disputed_or_overturned_share": disputed_or_overturned_share,
    "etle.stnk_unblocked_within_1d_share": stnk_unblocked_within_1d_share,
    "observations.detector_fresh_share": detector_fresh_share,
    "observations.alert_latency_p90_s": alert_latency_p90_s,
    "store.quarantine_share": quarantine_share,
    **DISPATCH_QUERIES,
}.items():
    register_query(_id, _query)
