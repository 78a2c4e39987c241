"""The dispatch board in the store: units, candidates, calls, incidents and overrides."""

from __future__ import annotations

import math

import pytest

from twin.modules.dispatch.board import (
    OverrideRefused,
    apply_overrides,
    dispatch_runs,
    load_board,
    load_calls,
    load_incidents,
    load_overrides,
    override_log,
    record_override,
)
from twin.modules.dispatch.persist import save_run
from twin.modules.dispatch.policies import OperatorOverride
from twin.store import Store

from .board_run import CRASH, board_run


def test_board_holds_every_unit_and_ranked_candidates(store: Store) -> None:
    run = board_run(store)
    board = load_board(store, run.run_id)
    assert board is not None and board.t_now_s == run.env.now
    assert {u.unit_id: u.status for u in board.units} == {
        name: u.status for name, u in run.model.units.items()}
    assert any(u.status != "available" for u in board.units)  # the fire engine is out
    crash = run.model.incidents[CRASH]
    for kind in crash.needs:
        cands = [c for c in board.candidates if c.incident_id == CRASH and c.kind == kind]
        assert {c.unit_id for c in cands} == {u.name for u in run.model.available(kind)}
        assert [c.rank for c in cands] == list(range(len(cands)))
        assert cands[0].recommended and not any(c.recommended for c in cands[1:])
        etas = {u.name: run.model.eta_s(u, crash.link) for u in run.model.available(kind)}
        assert cands[0].eta_s == min(etas.values())  # nearest ETA is the default policy
        assert all(math.isfinite(c.eta_s) for c in cands)
    assert dispatch_runs(store)[0][:2] == (run.run_id, "dispatch-board-test")


def test_calls_and_incidents_read_back_as_the_model_has_them(store: Store) -> None:
    run = board_run(store)
    calls = load_calls(store, run.run_id)
    assert len(calls) == len(run.model.calls)
    states = {c.state for c in calls}
    assert "waiting" in states and "answered" in states
    assert [c.t_ring_s for c in calls] == sorted(c.t_ring_s for c in calls)
    incs = {i.incident_id: i for i in load_incidents(store, run.run_id)}
    crash = run.model.incidents[CRASH]
    assert incs[CRASH].times_s["t_classified"] == crash.t_classified
    assert incs[CRASH].times_s["t_dispatch"] is None and incs[CRASH].is_open
    assert incs["fire-1"].units["fire"]["unit"] == "a-fire-0"


def test_override_is_recorded_and_the_model_sends_that_unit(store: Store) -> None:
    run = board_run(store)
    board = load_board(store, run.run_id)
    assert board is not None
    police = [c for c in board.candidates if c.incident_id == CRASH and c.kind == "police"]
    other = police[1].unit_id  # not the recommendation
    rec = record_override(store, run.run_id, CRASH, "police", other, actor="dan")
    assert (rec.unit_id, rec.recommended_unit_id, rec.actor) == (other, police[0].unit_id, "dan")
    assert load_overrides(store, run.run_id) == {CRASH: {"police": other}}

    assert apply_overrides(store, run.run_id, run.model) == 1
    run.env.run(until=run.env.now + 300.0)
    crash = run.model.incidents[CRASH]
    assert crash.units["police"] == other
    assert isinstance(run.model.policy, OperatorOverride)
    assert (CRASH, "police", other) in run.model.policy.applied
    save_run(store, run.run_id, run.model)
    (inc,) = [i for i in load_incidents(store, run.run_id) if i.incident_id == CRASH]
    assert inc.units["police"]["unit"] == other
    after = load_board(store, run.run_id)
    assert after is not None and not [c for c in after.candidates if c.incident_id == CRASH]
    assert [r.unit_id for r in override_log(store, run.run_id)] == [other]


def test_override_refused_when_not_a_candidate(store: Store) -> None:
    run = board_run(store)
    with pytest.raises(OverrideRefused, match="not an available police unit"):
        record_override(store, run.run_id, CRASH, "police", "a-tow-0", actor="dan")
    with pytest.raises(OverrideRefused, match="no fire unit"):
        record_override(store, run.run_id, CRASH, "fire", "a-fire-0", actor="dan")
    with pytest.raises(OverrideRefused, match="no saved dispatch board"):
        record_override(store, "nope", CRASH, "police", "a-police-0", actor="dan")
    assert override_log(store, run.run_id) == []
