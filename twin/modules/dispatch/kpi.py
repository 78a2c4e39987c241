"""KPIs of DOMAIN.md section 2.4: nearest-rank fractiles, answer shares, compliance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import twin.stats as twin_stats

from .incidents import Call, Incident


def nearest_rank(values: Sequence[float], pct: float) -> float | None:
    """The nearest-rank ``pct`` percentile: the value of rank ``ceil(pct/100 * n)``.

    Returns None for no values.

    Examples
    --------
    >>> nearest_rank([15, 20, 35, 40, 50], 30)
    20
    """
    if not 0 < pct <= 100:
        raise ValueError(f"pct must be in (0, 100], got {pct!r}")
    return twin_stats.nearest_rank(values, pct) if values else None


def _fractiles(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": nearest_rank(values, 50), "p90": nearest_rank(values, 90),
            "p95": nearest_rank(values, 95)}


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def call_kpis(calls: Sequence[Call], answer_targets_s: Sequence[float]) -> dict[str, Any]:
    """Offered, abandoned and answered-within shares (abandoned calls count as offered)."""
    offered = len(calls)
    answered = [c.answer_time_s for c in calls if c.answer_time_s is not None]
    out: dict[str, Any] = {
        "offered": offered,
        "abandoned": sum(1 for c in calls if c.t_abandon is not None),
        "answer_s": _fractiles(answered),
        "nuisance_share": _share(sum(1 for c in calls if c.kind != "normal"), offered),
    }
    out["abandonment_rate"] = _share(out["abandoned"], offered)
    for x in answer_targets_s:
        out[f"pct_answered_within_{x:g}s"] = _share(sum(1 for a in answered if a <= x), offered)
    return out


Row = Mapping[str, Any]
"""One incident as seen by one service: ``t_ring``, ``t_answer``, ``t_dispatch``,
``t_enroute``, ``t_onscene``, ``t_clear`` (seconds or None) and ``priority``."""


def incident_row(inc: Incident, kind: str | None = None) -> dict[str, Any]:
    """An incident's timestamps, with the unit timestamps of ``kind`` when given
    (otherwise the first unit's, as the incident records them)."""
    row: dict[str, Any] = {"t_ring": inc.t_ring, "t_answer": inc.t_answer,
                           "t_dispatch": inc.t_dispatch, "t_enroute": inc.t_enroute,
                           "t_onscene": inc.t_onscene, "t_clear": inc.t_clear,
                           "priority": inc.priority}
    if kind is not None:
        times = inc.kind_times.get(kind, {})
        for name in ("t_dispatch", "t_enroute", "t_onscene"):
            row[name] = times.get(name)
    return row


def _interval(rows: Sequence[Row], a: str, b: str) -> list[float]:
    out = []
    for row in rows:
        ta, tb = row[a], row[b]
        if ta is not None and tb is not None:
            out.append(tb - ta)
    return out


def incident_kpis(incidents: Sequence[Row], *, call_processing_target_s: float,
                  turnout_target_s: float | None, response_target_s: float | None,
                  travel_target_s: float | None = None) -> dict[str, Any]:
    """Interval fractiles and target compliance for one service's incidents."""
    processing = _interval(incidents, "t_answer", "t_dispatch")
    turnout = _interval(incidents, "t_dispatch", "t_enroute")
    travel = _interval(incidents, "t_enroute", "t_onscene")
    response = _interval(incidents, "t_ring", "t_onscene")
    p1 = [i for i in incidents if i["priority"] == 1]
    p1_proc = _interval(p1, "t_answer", "t_dispatch")
    out: dict[str, Any] = {
        "incidents": len(incidents),
        "reported": sum(1 for i in incidents if i["t_ring"] is not None),
        "not_reached": sum(1 for i in incidents
                           if i["t_ring"] is not None and i["t_onscene"] is None),
        "call_processing_s": _fractiles(processing),
        "turnout_s": _fractiles(turnout),
        "travel_s": _fractiles(travel),
        "total_response_s": _fractiles(response),
        "dispatch_compliance": _share(sum(1 for v in p1_proc if v <= call_processing_target_s),
                                      len(p1_proc)),
        "call_processing_compliance": _share(
            sum(1 for v in processing if v <= call_processing_target_s), len(processing)),
    }
    if turnout_target_s is not None:
        out["turnout_compliance"] = _share(sum(1 for v in turnout if v <= turnout_target_s),
                                           len(turnout))
    if travel_target_s is not None:
        out["travel_compliance"] = _share(sum(1 for v in travel if v <= travel_target_s),
                                          len(travel))
    if response_target_s is not None:
        out["response_compliance"] = _share(sum(1 for v in response if v <= response_target_s),
                                            len(response))
    return out
