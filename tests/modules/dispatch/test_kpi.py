"""Nearest-rank fractiles and the section 2.4 shares against hand-computed values."""

from __future__ import annotations

import pytest

from twin.modules.dispatch import Call, nearest_rank
from twin.modules.dispatch.kpi import call_kpis, incident_kpis


def test_nearest_rank_hand_example() -> None:
    values = [50, 15, 40, 20, 35]  # sorted: 15 20 35 40 50
    assert nearest_rank(values, 5) == 15   # rank ceil(0.25) = 1
    assert nearest_rank(values, 30) == 20  # rank ceil(1.5) = 2
    assert nearest_rank(values, 40) == 20  # rank ceil(2.0) = 2
    assert nearest_rank(values, 50) == 35  # rank ceil(2.5) = 3
    assert nearest_rank(values, 90) == 50  # rank ceil(4.5) = 5
    assert nearest_rank(list(range(1, 21)), 90) == 18
    assert nearest_rank(list(range(1, 21)), 95) == 19
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError, match="pct"):
        nearest_rank(values, 0)


def test_answer_shares_count_abandoned_calls_as_offered() -> None:
    calls = [Call(id=0, kind="normal", t_ring=0.0, t_answer=5.0),
             Call(id=1, kind="normal", t_ring=0.0, t_answer=12.0),
             Call(id=2, kind="prank", t_ring=0.0, t_answer=18.0),
             Call(id=3, kind="normal", t_ring=0.0, t_abandon=30.0)]
    k = call_kpis(calls, (10.0, 15.0, 20.0))
    assert k["offered"] == 4 and k["abandoned"] == 1
    assert k["abandonment_rate"] == 0.25
    assert k["pct_answered_within_10s"] == 0.25
    assert k["pct_answered_within_15s"] == 0.5
    assert k["pct_answered_within_20s"] == 0.75
    assert k["nuisance_share"] == 0.25


def test_incident_intervals_and_compliance() -> None:
    def row(ring: float, answer: float, dispatch: float, enroute: float, onscene: float,
            prio: int) -> dict[str, float | int | None]:
        return {"t_ring": ring, "t_answer": answer, "t_dispatch": dispatch,
                "t_enroute": enroute, "t_onscene": onscene, "t_clear": None, "priority": prio}
    rows = [row(0, 10, 50, 100, 400, 1),    # processing 40, turnout 50, travel 300, total 400
            row(0, 5, 95, 155, 655, 1),     # processing 90, turnout 60, travel 500, total 655
            row(0, 20, 60, 90, 190, 2)]     # processing 40, turnout 30, travel 100, total 190
    k = incident_kpis(rows, call_processing_target_s=60, turnout_target_s=55,
                      response_target_s=539)
    assert k["call_processing_s"] == {"n": 3, "p50": 40, "p90": 90, "p95": 90}
    assert k["travel_s"]["p50"] == 300
    assert k["total_response_s"]["p90"] == 655
    assert k["dispatch_compliance"] == 0.5           # P1 only: 40 ok, 90 not
    assert k["turnout_compliance"] == pytest.approx(2 / 3)
    assert k["response_compliance"] == pytest.approx(2 / 3)
