"""The 112 centre inside a twin run (``[modules.dispatch]`` of ``kota run``): the same day
as ``kota dispatch``, a board in the store that follows the run, operators' overrides
taken mid-run, reports from the bus, and an engine that never runs ahead of the clock or
back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twin.module_host import LiveModule
from twin.modules.dispatch.board import dispatch_runs, load_board, load_incidents, record_override
from twin.modules.dispatch.live import DispatchLive
from twin.modules.dispatch.persist import load_kpis
from twin.modules.dispatch.scenario_run import run_scenario
from twin.observations import Location, Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario, load_scenario

GRID = Path(__file__).resolve().parents[3] / "scenarios" / "grid_small.toml"

SECTION: dict[str, Any] = {
    "seed": 7,
    "hospitals": ["r4c4"],
    "rates": [{"type": "crash", "per_hour": 12.0, "serious_share": 0.5},
              {"type": "breakdown", "per_hour": 8.0},
              {"type": "medical", "per_hour": 8.0}],
    "incidents": [{"id": "crash-r2c1", "type": "crash", "injury": "minor", "link": "r2c1-r2c2",
                   "at_s": 120, "calls": 2}],
    "calls": {"nuisance_per_hour": 20.0},
    "stations": [{"id": "west", "node": "r2c0", "units": {"police": 1, "ambulance": 1, "tow": 1}},
                 {"id": "east", "node": "r2c4", "units": {"police": 1, "ambulance": 1, "tow": 1}}],
}


def scenario(duration_s: float = 900.0, **section: Any) -> Scenario:
    """grid_small with a dispatch section and without its own (undispatched) incident."""
    s = load_scenario(GRID)
    return s.model_copy(update={
        "scenario": s.scenario.model_copy(update={"duration_s": duration_s}),
        "incidents": [],
        "modules": {**s.modules, "dispatch": {**SECTION, **section}},
    })


def dispatch_of(run: TwinRun) -> DispatchLive:
    module: LiveModule | None = run.module("dispatch")
    assert isinstance(module, DispatchLive)
    return module


@pytest.mark.parametrize("units_in_traffic", [False, True])
def test_a_twin_run_dispatches_the_same_day_as_kota_dispatch(units_in_traffic: bool) -> None:
    sc = scenario(units_in_traffic=units_in_traffic)
    batch, batch_summary = run_scenario(sc, store_url="sqlite://")
    run = TwinRun(sc, store_url="sqlite://")
    result = run.run(chunk_s=300.0)
    live = dispatch_of(run).model
    assert live is not None
    part = result.summary["modules"]["dispatch"]

    assert len(batch.incidents) >= 4 and len(batch.calls) >= 10  # a day worth comparing
    assert [(c.kind, c.incident_id, c.t_ring, c.t_answer, c.t_abandon, c.t_classified)
            for c in live.calls] == [
        (c.kind, c.incident_id, c.t_ring, c.t_answer, c.t_abandon, c.t_classified)
        for c in batch.calls]
    assert list(live.incidents) == list(batch.incidents)
    for iid, inc in batch.incidents.items():
        other = live.incidents[iid]
        assert (other.type, other.link, other.units, other.kind_times, other.t_road_reopened,
                other.t_clear) == (inc.type, inc.link, inc.units, inc.kind_times,
                                   inc.t_road_reopened, inc.t_clear)
    if units_in_traffic:  # the units drove in the engine, and arrived as in the batch
        assert [(d.unit, d.vehicle, d.travel_s) for d in live.drives.drives] == [
            (d.unit, d.vehicle, d.travel_s) for d in batch.drives.drives]
        assert any(d.vehicle is not None and d.engine_s < 600 for d in live.drives.drives)
    assert part["incidents"] == batch_summary["incidents"]
    assert part["calls"] == batch_summary["calls"]
    assert part["kpis"]["services"] == batch_summary["kpis"]["services"]
    assert part["kpis"]["calls"] == batch_summary["kpis"]["calls"]
    assert part["kpis"]["utilisation"] == pytest.approx(batch_summary["kpis"]["utilisation"])
    # stored under the twin run's id, for the dispatch page
    stored = load_kpis(run.store, run.run_id)
    assert stored[("calls", "offered")] == batch_summary["kpis"]["calls"]["offered"]
    assert [i.incident_id for i in load_incidents(run.store, run.run_id)] == sorted(
        batch.incidents, key=lambda i: (batch.incidents[i].t_occurred, i))
    run.close()


def test_the_board_in_the_store_follows_the_run() -> None:
    run = TwinRun(scenario(board_every_s=60.0), store_url="sqlite://")
    run.advance(300.0)
    first = load_board(run.store, run.run_id)
    run.advance(600.0)
    second = load_board(run.store, run.run_id)
    assert first is not None and second is not None
    assert (first.t_now_s, second.t_now_s) == (300.0, 600.0)
    assert first.saved_at < second.saved_at
    assert [u.busy_s for u in first.units] != [u.busy_s for u in second.units]
    # the dispatch page's run list offers the running twin run, by its scenario
    assert (run.run_id, "grid-small") in [(r[0], r[1]) for r in dispatch_runs(run.store)]
    run.finish()
    run.close()


def test_an_override_recorded_mid_run_sends_the_chosen_unit() -> None:
    run = TwinRun(scenario(), store_url="sqlite://")
    live = dispatch_of(run)
    chosen: tuple[str, str, str, str] | None = None
    t = 0.0
    while chosen is None and t < 900.0:
        t = run.advance(t + 30.0)
        board = load_board(run.store, run.run_id)
        assert board is not None and board.t_now_s == t
        for c in board.candidates:
            if c.rank == 1:  # a unit the policy does not recommend
                rec = record_override(run.store, run.run_id, c.incident_id, c.kind, c.unit_id,
                                      actor="operator-1")
                chosen = (c.incident_id, c.kind, c.unit_id, rec.recommended_unit_id or "")
                break
    assert chosen is not None, "no incident offered two candidates on the board"
    iid, kind, unit, recommended = chosen
    assert unit != recommended
    run.advance(t + 60.0)
    assert live.model is not None
    assert live.model.incidents[iid].units[kind] == unit
    assert live.overrides_seen == 1
    assert (iid, kind, unit) in getattr(live.model.policy, "applied", [])
    summary = run.finish()
    assert summary["modules"]["dispatch"]["overrides_applied"] == 1
    run.close()


def test_calls_and_unit_positions_from_the_bus_reach_the_centre() -> None:
    """A section without rates or scripted incidents runs on reported calls alone."""
    run = TwinRun(scenario(rates=[], incidents=[], calls={"nuisance_per_hour": 0.0}),
                  store_url="sqlite://")
    live = dispatch_of(run)
    run.advance(60.0)

    def publish(kind: ObservationKind, payload: dict[str, Any], link: str, eid: str) -> None:
        run.bus.publish(Observation(kind, "psap-1", run.clock.now, payload,
                                    location=Location(106.8, -6.2, link_id=link), event_id=eid))

    publish(ObservationKind.UNIT_POSITION, {"unit_id": "east-police-0", "status": "available"},
            "r2c2-r2c3", "pos-1")
    publish(ObservationKind.EMERGENCY_CALL, {"call_type": "normal", "incident_type": "crime"},
            "r1c1-r1c2", "call-1")
    run.advance(600.0)
    model = live.model
    assert model is not None
    assert model.units["east-police-0"].link == run.network.link_index["r2c2-r2c3"] or \
        model.units["east-police-0"].incident_id == "call-1"
    inc = model.incidents["call-1"]
    assert inc.t_occurred == pytest.approx(60.0) and inc.t_ring == pytest.approx(60.0)
    assert "police" in inc.units
    assert list(model.incidents) == ["call-1"]
    summary = run.finish()["modules"]["dispatch"]
    assert summary["received"]["emergency_call"] == 1
    assert summary["received"]["unit_position"] == 1
    run.close()


def test_the_engine_never_runs_ahead_of_the_clock_or_back() -> None:
    run = TwinRun(scenario(), store_url="sqlite://")
    env, sim = run.clock.env, run.sim
    seen: list[tuple[float, float]] = []
    original = sim.run

    def watched(until_s: float) -> None:
        before = float(sim.time_s)
        original(until_s)
        seen.append((before, float(sim.time_s)))
        assert float(sim.time_s) <= float(env.now) + 1e-9, "engine ahead of the clock"

    sim.run = watched  # type: ignore[method-assign]
    run.run(chunk_s=300.0)
    model = dispatch_of(run).model
    assert model is not None and len(model.incidents) >= 4
    assert all(after >= before for before, after in seen)
    assert all(b[0] == pytest.approx(a[1]) for a, b in zip(seen, seen[1:], strict=False))
    assert seen[-1][1] == pytest.approx(900.0)
    # the dispatch model advanced the engine between traffic steps, and nothing overshot
    assert any(abs(after - round(after)) > 1e-6 for _before, after in seen)
    run.close()


def test_kota_run_prints_the_dispatch_kpis(capsys: pytest.CaptureFixture[str]) -> None:
    from twin.cli import _print_summary

    run = TwinRun(scenario(duration_s=600.0), store_url="sqlite://")
    summary = run.run(chunk_s=600.0).summary
    run.close()
    _print_summary(summary)
    out = capsys.readouterr().out
    part = summary["modules"]["dispatch"]
    assert f"dispatch run {run.run_id} of grid-small" in out
    assert f"incidents {part['incidents']}," in out
    assert f"calls {part['kpis']['calls']['offered']}:" in out
    for kind in part["kpis"]["services"]:
        assert f"\n{kind:<9}" in out
