"""KPI queries of the 112/dispatch services on the dispatch module's tables (DOMAIN.md 2.4, 3.3).

Clock time
    ``dispatch_incidents`` and ``dispatch_calls`` hold seconds since their run's start; the
    run's ``runs.started_at`` (the scenario's ``start``) turns them into clock time:
    ``at = started_at + t_s``. A record belongs to the window when its ``t_ring`` (the call
    reaching the centre, where every response interval begins) falls in ``[start, end)``.
    Outcomes are judged at the horizon ``min(window end, run end)`` (run end: ``started_at +
    summary.simulated_s``): an interval not finished by then is "not reached", never a guess.
    Runs stored by ``kota dispatch --compare`` for an alternative station layout (summary
    ``layout`` other than ``stations``) replay the same day and are left out.

Areas
    Each incident carries its area, the station nearest by travel time when it occurred
    (``dispatch_incidents.area``); a call takes its incident's area. ``"all"`` is every
    area. Ghost, prank and information calls belong to no incident and so to no area.

Ghost and prank calls
    They open no incident in the dispatch model, so they never enter an incident interval.
    The call-answering KPI leaves them out of its calls and reports them as
    ``excluded["ghost_or_prank"]`` (area ``"all"`` only); every KPI's note gives their
    share of the calls offered in the window.

Services
    Police, ambulance (EMS) and fire intervals use that kind's unit times (the ``units``
    column); which incidents need which kind is :func:`twin.modules.dispatch.incidents.needs`,
    mirrored in :func:`needs_kind` without importing the dispatch engine. The dispatch model's
    only disaster type is ``flood`` (BPBD's domain in Jakarta): it stands for the
    disaster/SAR calls. Vulnerable-person referrals are not modelled, so
    ``dispatch.vulnerable_referred_24h_share`` has no source and stays unregistered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select

from twin.store import Store
from twin.store.schema import DispatchCallRow, DispatchIncidentRow, RunRow

from .config import IndexConfig
from .index import Measurement, Window
from .stats import nearest_rank, winsorise

ALL_AREAS = "all"
INCIDENTS = cast(Table, DispatchIncidentRow.__table__)
CALLS = cast(Table, DispatchCallRow.__table__)
RUNS = cast(Table, RunRow.__table__)
NUISANCE = ("ghost", "prank")
DISASTER_TYPES = frozenset({"flood"})
"""Incident types standing for disaster/SAR calls."""
ANSWER_TARGET_S = 15.0
FIRE_RESPONSE_TARGET_S = 900.0
PROCESSING_TARGET_S = 60.0
_SRC_INC = ("dispatch_incidents", "runs")
_SRC_CALLS = ("dispatch_calls", "dispatch_incidents", "runs")


def needs_kind(incident_type: str, injury: str, kind: str) -> bool:
    """Whether an incident of ``incident_type``/``injury`` needs a unit of ``kind`` (the
    rules of :func:`twin.modules.dispatch.incidents.needs`)."""
    if incident_type == "crash":
        return kind in (("police", "ambulance", "tow") if injury != "none" else ("police", "tow"))
    return {"breakdown": "tow", "fire": "fire", "medical": "ambulance", "crime": "police",
            "flood": "dishub"}.get(incident_type) == kind


@dataclass(frozen=True)
class RunSpan:
    """A stored dispatch run in the window: ``lo_s``/``hi_s`` bound ``t_ring`` (run seconds),
    ``horizon_s`` is when outcomes are judged."""

    run_id: str
    started_at: datetime
    lo_s: float
    hi_s: float
    horizon_s: float


def _run_end_s(summary: Any) -> float | None:
    if isinstance(summary, dict) and isinstance(summary.get("simulated_s"), int | float):
        return float(summary["simulated_s"])
    return None


def _counted(summary: Any) -> bool:
    return not isinstance(summary, dict) or summary.get("layout", "stations") == "stations"


def run_spans(store: Store, window: Window) -> list[RunSpan]:
    """The dispatch runs whose time overlaps ``window``, with the window in run seconds."""
    return store.read(lambda conn: _run_spans(conn, window))


def _run_spans(conn: Connection, window: Window) -> list[RunSpan]:
    """:func:`run_spans` inside the caller's transaction."""
    ids = {r for (r,) in conn.execute(select(INCIDENTS.c.run_id).distinct())}
    ids |= {r for (r,) in conn.execute(select(CALLS.c.run_id).distinct())}
    if not ids:
        return []
    runs = conn.execute(select(RUNS.c.run_id, RUNS.c.started_at, RUNS.c.summary)
                        .where(RUNS.c.run_id.in_(sorted(ids)))).all()
    spans = []
    for run_id, started, summary in runs:
        if not _counted(summary):
            continue
        lo = (window.start - started).total_seconds()
        hi = (window.end - started).total_seconds()
        end = _run_end_s(summary)
        horizon = hi if end is None else min(hi, end)
        if hi > 0 and (end is None or lo < end):
            spans.append(RunSpan(run_id, started, lo, hi, horizon))
    return spans


def latest_time(store: Store) -> datetime | None:
    """The latest clock time the stored dispatch runs reached (for ``--end latest``)."""
    def work(conn: Connection) -> datetime | None:
        latest: datetime | None = None
        runs = conn.execute(select(RUNS.c.run_id, RUNS.c.started_at, RUNS.c.summary)
                            .where(RUNS.c.run_id.in_(select(CALLS.c.run_id).distinct()))).all()
        for run_id, started, summary in runs:
            end = _run_end_s(summary)
            if end is None:
                end = conn.execute(select(func.max(CALLS.c.t_ring_s))
                                   .where(CALLS.c.run_id == run_id)).scalar_one()
            if end is not None:
                at = started + timedelta(seconds=float(end))
                latest = at if latest is None or at > latest else latest
        return latest
    return store.read(work)


@dataclass(frozen=True)
class IncidentRecord:
    """One stored incident, times in its run's seconds; ``units`` is kind -> unit times."""

    type: str
    injury: str
    priority: int
    area: str | None
    t_ring: float
    t_answer: float | None
    t_dispatch: float | None
    units: dict[str, dict[str, Any]]
    horizon_s: float

    def unit_time(self, kind: str, name: str) -> float | None:
        """``t_dispatch``/``t_enroute``/``t_onscene`` of the ``kind`` unit, if reached by the
        horizon."""
        t = self.units.get(kind, {}).get(name)
        return float(t) if t is not None and float(t) <= self.horizon_s else None


def incidents(store: Store, area: str, window: Window) -> Iterator[IncidentRecord]:
    """Incidents whose first call rang in ``window`` (in ``area`` unless ``"all"``)."""
    cols = (INCIDENTS.c.type, INCIDENTS.c.injury, INCIDENTS.c.priority, INCIDENTS.c.area,
            INCIDENTS.c.t_ring_s, INCIDENTS.c.t_answer_s, INCIDENTS.c.t_dispatch_s,
            INCIDENTS.c.units)

    def work(conn: Connection) -> list[IncidentRecord]:
        out = []
        for span in _run_spans(conn, window):
            q = select(*cols).where(INCIDENTS.c.run_id == span.run_id,
                                    INCIDENTS.c.t_ring_s >= span.lo_s,
                                    INCIDENTS.c.t_ring_s < span.hi_s)
            if area != ALL_AREAS:
                q = q.where(INCIDENTS.c.area == area)
            for typ, injury, prio, inc_area, ring, answer, disp, units in conn.execute(q):
                h = span.horizon_s
                out.append(IncidentRecord(typ, injury, int(prio), inc_area, float(ring),
                                          answer if answer is not None and answer <= h else None,
                                          disp if disp is not None and disp <= h else None,
                                          dict(units or {}), h))
        return out
    yield from store.read(work)  # fetched whole: a retried read must not repeat what was yielded


def nuisance_calls(store: Store, window: Window) -> tuple[int, int]:
    """(ghost or prank calls, all calls) offered in ``window``."""
    def work(conn: Connection) -> tuple[int, int]:
        bad = total = 0
        for span in _run_spans(conn, window):
            rows = conn.execute(select(CALLS.c.kind, func.count()).where(
                CALLS.c.run_id == span.run_id, CALLS.c.t_ring_s >= span.lo_s,
                CALLS.c.t_ring_s < span.hi_s).group_by(CALLS.c.kind))
            for kind, n in rows:
                total += int(n)
                bad += int(n) if kind in NUISANCE else 0
        return bad, total
    return store.read(work)


def _nuisance_note(store: Store, area: str, window: Window) -> str:
    bad, total = nuisance_calls(store, window)
    if not total:
        return "no call in the window"
    where = "" if area == ALL_AREAS else " (centre-wide: they carry no area)"
    return (f"ghost/prank calls {bad} of {total} offered ({bad / total:.1%}){where} "
            "open no incident and are left out")


def _p90(values: list[float], cfg: IndexConfig, scale: float, note: str,
         excluded: dict[str, int]) -> Measurement:
    if not values:
        return Measurement(None, 0, _SRC_INC, "no events in the window", excluded)
    return Measurement(nearest_rank(winsorise(values, cfg.winsor_pct), 90.0) / scale,
                       len(values), _SRC_INC, note, excluded)


def _left_out(n: int, reason: str) -> dict[str, int]:
    return {reason: n} if n else {}


# -- security --------------------------------------------------------------------------------


def police_calls_answered_15s_share(store: Store, area: str, window: Window,
                                    cfg: IndexConfig) -> Measurement:
    """Share of calls about incidents needing police answered within 15 s (NENA).

    Abandoned calls count as offered (DOMAIN.md 2.4). A call counts once its outcome is
    known at the horizon: answered or abandoned by then, or ringing for 15 s already.
    """
    cols = (CALLS.c.t_ring_s, CALLS.c.t_answer_s, CALLS.c.t_abandon_s, INCIDENTS.c.type,
            INCIDENTS.c.injury)

    def work(conn: Connection) -> tuple[int, int]:
        hits = total = 0
        for span in _run_spans(conn, window):
            q = (select(*cols).join(INCIDENTS, (INCIDENTS.c.run_id == CALLS.c.run_id)
                                    & (INCIDENTS.c.incident_id == CALLS.c.incident_id))
                 .where(CALLS.c.run_id == span.run_id, CALLS.c.kind == "normal",
                        CALLS.c.t_ring_s >= span.lo_s, CALLS.c.t_ring_s < span.hi_s))
            if area != ALL_AREAS:
                q = q.where(INCIDENTS.c.area == area)
            for ring, answer, abandon, typ, injury in conn.execute(q):
                if not needs_kind(typ, injury, "police"):
                    continue
                h = span.horizon_s
                answered = answer is not None and answer <= h
                if not (answered or (abandon is not None and abandon <= h)
                        or ring + ANSWER_TARGET_S <= h):
                    continue
                total += 1
                hits += answered and answer - ring <= ANSWER_TARGET_S
        return hits, total
    hits, total = store.read(work)
    bad = nuisance_calls(store, window)[0] if area == ALL_AREAS else 0
    return Measurement.share(hits, total, _SRC_CALLS, "answered <= 15 s / offered police calls; "
                             + _nuisance_note(store, area, window), _left_out(bad, "ghost_or_prank"))


def p1_police_call_to_scene_p90_min(store: Store, area: str, window: Window,
                                    cfg: IndexConfig) -> Measurement:
    """P90 (nearest rank, winsorised) minutes from the first call to the police unit on
    scene, over P1 incidents needing police; those not reached by the horizon are left
    out and counted (``not_reached``)."""
    vals, missing = [], 0
    for inc in incidents(store, area, window):
        if inc.priority != 1 or not needs_kind(inc.type, inc.injury, "police"):
            continue
        onscene = inc.unit_time("police", "t_onscene")
        if onscene is None:
            missing += 1
        else:
            vals.append(onscene - inc.t_ring)
    return _p90(vals, cfg, 60.0, "P90 of police t_onscene - t_ring, P1; "
                + _nuisance_note(store, area, window), _left_out(missing, "not_reached"))


# -- safety ----------------------------------------------------------------------------------


def fire_response_15min_share(store: Store, area: str, window: Window,
                              cfg: IndexConfig) -> Measurement:
    """Share of fire incidents with the fire unit on scene within 15 min of the first call
    (SPM Damkar); an incident not reached counts as a miss once 15 min have passed."""
    hits = total = 0
    for inc in incidents(store, area, window):
        if not needs_kind(inc.type, inc.injury, "fire"):
            continue
        onscene = inc.unit_time("fire", "t_onscene")
        if onscene is None and inc.t_ring + FIRE_RESPONSE_TARGET_S > inc.horizon_s:
            continue
        total += 1
        hits += onscene is not None and onscene - inc.t_ring <= FIRE_RESPONSE_TARGET_S
    return Measurement.share(hits, total, _SRC_INC, "fire t_onscene - t_ring <= 15 min; "
                             + _nuisance_note(store, area, window))


def ems_call_to_arrival_p90_min(store: Store, area: str, window: Window,
                                cfg: IndexConfig) -> Measurement:
    """P90 minutes from the first call to the ambulance on scene, over incidents needing
    an ambulance (not reached by the horizon: left out and counted)."""
    vals, missing = [], 0
    for inc in incidents(store, area, window):
        if not needs_kind(inc.type, inc.injury, "ambulance"):
            continue
        onscene = inc.unit_time("ambulance", "t_onscene")
        if onscene is None:
            missing += 1
        else:
            vals.append(onscene - inc.t_ring)
    return _p90(vals, cfg, 60.0, "P90 of ambulance t_onscene - t_ring; "
                + _nuisance_note(store, area, window), _left_out(missing, "not_reached"))


def turnout_p90_s(store: Store, area: str, window: Window, cfg: IndexConfig) -> Measurement:
    """P90 seconds from a fire or ambulance unit's dispatch to its setting off, one sample
    per unit sent (NFPA 1710: 80 s fire, 60 s EMS; the index's target is 80 s)."""
    vals, missing = [], 0
    for inc in incidents(store, area, window):
        for kind in ("fire", "ambulance"):
            sent = inc.unit_time(kind, "t_dispatch")
            if sent is None:
                continue
            enroute = inc.unit_time(kind, "t_enroute")
            if enroute is None:
                missing += 1
            else:
                vals.append(enroute - sent)
    return _p90(vals, cfg, 1.0, "P90 of t_enroute - t_dispatch, fire and ambulance units; "
                + _nuisance_note(store, area, window), _left_out(missing, "not_en_route"))


# -- humanitarian ----------------------------------------------------------------------------


def sar_call_processing_60s_share(store: Store, area: str, window: Window,
                                  cfg: IndexConfig) -> Measurement:
    """Share of disaster incidents (floods) dispatched within 60 s of the answer (NFPA 1225);
    one not dispatched counts as a miss once 60 s have passed."""
    hits = total = 0
    for inc in incidents(store, area, window):
        if inc.type not in DISASTER_TYPES or inc.t_answer is None:
            continue
        if inc.t_dispatch is None and inc.t_answer + PROCESSING_TARGET_S > inc.horizon_s:
            continue
        total += 1
        hits += inc.t_dispatch is not None and \
            inc.t_dispatch - inc.t_answer <= PROCESSING_TARGET_S
    return Measurement.share(hits, total, _SRC_INC, "flood t_dispatch - t_answer <= 60 s; "
                             + _nuisance_note(store, area, window))


DISPATCH_QUERIES = {
    "dispatch.police_calls_answered_15s_share": police_calls_answered_15s_share,
    "dispatch.p1_police_call_to_scene_p90_min": p1_police_call_to_scene_p90_min,
    "dispatch.fire_response_15min_share": fire_response_15min_share,
    "dispatch.ems_call_to_arrival_p90_min": ems_call_to_arrival_p90_min,
    "dispatch.turnout_p90_s": turnout_p90_s,
    "dispatch.sar_call_processing_60s_share": sar_call_processing_60s_share,
}
"""The dispatch queries by id; ``dispatch.vulnerable_referred_24h_share`` has no source."""
