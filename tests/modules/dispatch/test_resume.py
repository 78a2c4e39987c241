"""A restart resumes the open incidents of a twin run whose process died (issue 6, item 7).

Run A of grid_small with ``[modules.dispatch]`` runs to the middle of its day and dies
(never finished, its store closed); run B of the same scenario starts on the same store
and takes over A's open incidents: same ids and timestamps (on B's clock), no duplicates,
cleared ones absent, lanes still blocked, busy units busy, the incident that waited for a
unit still waiting, visibly, in the store; then B clears them all.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from twin.module_host import LiveModule
from twin.modules.dispatch.board import load_board, load_calls, load_incidents
from twin.modules.dispatch.incidents import needs
from twin.modules.dispatch.live import DispatchLive
from twin.modules.dispatch.resume import is_over, resume_gap_s
from twin.modules.dispatch.scenario_run import format_summary
from twin.runner import TwinRun
from twin.scenario import Scenario, load_scenario
from twin.store import open_store

GRID = Path(__file__).resolve().parents[3] / "scenarios" / "grid_small.toml"
CRASH_S = 2400.0
"""When run A's process dies."""

SECTION: dict[str, Any] = {
    "seed": 3,
    "hospitals": ["r4c4"],
    "rates": [{"type": "breakdown", "per_hour": 2.0}],
    "incidents": [
        {"id": "early", "type": "breakdown", "link": "r0c1-r0c2", "at_s": 0, "calls": 1},
        {"id": "crime-a", "type": "crime", "link": "r3c3-r3c4", "at_s": 2000, "calls": 1},
        {"id": "crime-b", "type": "crime", "link": "r1c3-r1c4", "at_s": 2010, "calls": 1},
        {"id": "crash", "type": "crash", "injury": "minor", "link": "r2c1-r2c2",
         "at_s": 2100, "calls": 2},
    ],
    "stations": [{"id": "west", "node": "r2c0",
                  "units": {"police": 1, "ambulance": 1, "tow": 2}}],
}
"""One police car for two crimes and a crash: whatever comes second waits for it."""


def scenario(**section: Any) -> Scenario:
    s = load_scenario(GRID)
    return s.model_copy(update={
        "scenario": s.scenario.model_copy(update={"duration_s": 3 * 3600.0}),
        "incidents": [],
        "modules": {**s.modules, "dispatch": {**SECTION, **section}},
    })


def dispatch_of(run: TwinRun) -> DispatchLive:
    module: LiveModule | None = run.module("dispatch")
    assert isinstance(module, DispatchLive)
    return module


def crashed_run(store_url: str, **section: Any) -> str:
    """Run A to :data:`CRASH_S` and let it die: no finish, the store closed."""
    a = TwinRun(scenario(**section), store_url=store_url)
    a.advance(CRASH_S)
    a.store.close()
    return a.run_id


def test_a_restart_resumes_the_open_incidents(store_url: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    a_id = crashed_run(store_url)
    store = open_store(store_url)
    run_a = store.run(a_id)
    assert run_a is not None and run_a.status == "running"
    board_a = load_board(store, a_id)
    assert board_a is not None and board_a.t_now_s == CRASH_S
    stored_a = {r.incident_id: r for r in load_incidents(store, a_id)}
    open_a = [i for i, r in stored_a.items() if not is_over(r)]
    cleared_a = [i for i, r in stored_a.items() if r.times_s["t_clear"] is not None]
    # the day gave every case: cleared, on the way or on scene, and waiting for the police
    assert "early" in cleared_a
    assert {"crime-a", "crime-b", "crash"} <= set(open_a)
    waiting_a = [i for i in open_a if stored_a[i].times_s["t_classified"] is not None
                 and set(needs(stored_a[i].type, stored_a[i].injury)) - set(stored_a[i].units)]
    assert waiting_a, "no incident waited for the one police car"
    busy_a = {u.unit_id: u for u in board_a.units if u.incident_id is not None}
    assert busy_a["west-police-0"].incident_id in open_a
    store.close()

    b = TwinRun(scenario(), store_url=store_url)
    with caplog.at_level(logging.INFO, logger="twin.modules.dispatch.live"):
        b.start()
    assert f"resumed {len(open_a)} open incidents from run {a_id}" in caplog.text
    live = dispatch_of(b)
    model = live.model
    assert model is not None and live.resumed is not None
    shift = -CRASH_S  # A's last saved instant is B's start
    assert live.resumed.shift_s == shift
    assert list(model.incidents) == open_a  # same ids, cleared ones absent
    for iid in open_a:
        inc, rec = model.incidents[iid], stored_a[iid]
        for name, t in rec.times_s.items():
            assert getattr(inc, name) == (None if t is None else t + shift), (iid, name)
        assert inc.units == {k: v["unit"] for k, v in rec.units.items()}
    # lanes of the open road incidents blocked again in the engine
    blocked = {model.sim.network.link_ids[v[0]] for v in model.sim.open_incidents.values()}
    assert {stored_a[i].link_id for i in open_a
            if model.incidents[i].is_road and stored_a[i].times_s["t_road_reopened"] is None
            } == blocked and "r2c1-r2c2" in blocked
    # busy units busy for the same incidents; the waiting ones queue for the police car
    for name, state in busy_a.items():
        assert (model.units[name].status, model.units[name].incident_id) == (
            state.status, state.incident_id)
    assert {i.id for i in model.waiting} == set(waiting_a)
    # the interrupted run is closed, naming the run that took over; it is resumed once
    run_a = b.store.run(a_id)
    assert run_a is not None and run_a.status == "interrupted"
    assert run_a.summary == {"resumed_by": b.run_id, "resumed_incidents": open_a}

    b.advance(60.0)
    # B's store shows the queue: classified, no police car sent
    stored_b = {r.incident_id: r for r in load_incidents(b.store, b.run_id)}
    assert set(open_a) <= set(stored_b)
    for iid in waiting_a:
        assert stored_b[iid].times_s["t_classified"] == stored_a[iid].times_s["t_classified"] \
            + shift
        rec = stored_b[iid]
        assert set(needs(rec.type, rec.injury)) - set(rec.units)
        assert rec.times_s["t_clear"] is None
    # the open incidents' calls came along, at their times (answered ones still answered)
    calls_a = [c for c in load_calls(b.store, a_id) if c.incident_id in open_a]
    calls_b = {(c.incident_id, c.t_ring_s): c for c in load_calls(b.store, b.run_id)}
    assert calls_a
    for c in calls_a:
        again = calls_b[(c.incident_id, c.t_ring_s + shift)]
        if c.t_abandon_s is not None:
            assert again.t_abandon_s == c.t_abandon_s + shift
        if c.state == "answered" and stored_a[str(c.incident_id)].times_s["t_classified"]:
            assert again.t_answer_s is not None

    summary = b.run(chunk_s=1800.0).summary["modules"]["dispatch"]
    assert summary["resumed_from"] == a_id and summary["resumed_incidents"] == len(open_a)
    assert f"resumed {len(open_a)} open incidents from run {a_id}" in format_summary(summary)
    final = load_incidents(b.store, b.run_id)
    ids = [r.incident_id for r in final]
    assert len(ids) == len(set(ids))
    assert not set(cleared_a) & set(ids)  # not resurrected, nor their ids reused
    for r in final:  # every resumed incident went on to be cleared (or, never reported,
        if r.incident_id in open_a:  # its drivers reopened the road themselves)
            assert r.times_s["t_clear"] is not None or (
                r.n_calls == 0 and r.times_s["t_road_reopened"] is not None), r
    assert any(r.incident_id not in stored_a for r in final)  # B's own day went on
    b.close()

    # a third start finds nothing to resume: A was resumed once, B finished
    c = TwinRun(scenario(), store_url=store_url)
    c.start()
    assert dispatch_of(c).resumed is None
    c.finish()
    c.close()


def test_resume_off_starts_afresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    a_id = crashed_run(url)
    b = TwinRun(scenario(resume=False), store_url=url)
    b.advance(60.0)
    model = dispatch_of(b).model
    assert model is not None and dispatch_of(b).resumed is None
    assert "early" in model.incidents and "crime-a" not in model.incidents
    run_a = b.store.run(a_id)
    assert run_a is not None and run_a.status == "running"
    b.finish()
    b.close()


@pytest.mark.parametrize("status", ["transporting", "returning"])
def test_a_unit_mid_trip_finishes_its_trip_after_the_restart(tmp_path: Path, status: str) -> None:
    """A dies while the ambulance is at the hospital leg or driving home; in B it goes on
    from that stage: the crash is cleared and the ambulance is back, not sent twice."""
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    a = TwinRun(scenario(rates=[]), store_url=url)
    t, state = CRASH_S, None
    while state is None and t < 3 * 3600.0:
        t = a.advance(t + 30.0)
        board = load_board(a.store, a.run_id)
        assert board is not None
        state = next((u for u in board.units
                      if u.unit_id == "west-ambulance-0" and u.status == status), None)
    assert state is not None and state.incident_id == "crash"
    a_id = a.run_id
    a.store.close()  # A dies at t

    b = TwinRun(scenario(rates=[]), store_url=url)
    b.start()
    model = dispatch_of(b).model
    assert model is not None
    amb = model.units["west-ambulance-0"]
    assert (amb.status, amb.incident_id) == (status, "crash")
    crash = model.incidents["crash"]
    before = load_incidents(b.store, a_id)
    t_transport = next(r for r in before if r.incident_id == "crash").times_s["t_transport"]
    assert t_transport is not None and crash.t_transport == t_transport - t
    b.run(chunk_s=3600.0)
    assert crash.t_clear is not None and crash.t_clear >= 0.0
    assert crash.t_at_facility is not None
    assert crash.units["ambulance"] == "west-ambulance-0"
    assert amb.status == "available" and amb.incident_id is None
    assert crash.units_done == len(crash.needs)
    # not sent again: the arrival kept; the hospital reached after the restart, or before
    stored = next(r for r in before if r.incident_id == "crash")
    assert crash.kind_times["ambulance"]["t_onscene"] == \
        stored.units["ambulance"]["t_onscene"] - t
    assert (crash.t_at_facility > 0) == (status == "transporting" and
                                         stored.times_s["t_at_facility"] is None)
    b.close()


def test_units_in_traffic_drive_again_after_the_restart(tmp_path: Path) -> None:
    """With units driven in the engine, a unit en route when A died sets off again in B as
    an engine vehicle from its last known position and arrives."""
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    a_id = crashed_run(url, units_in_traffic=True, rates=[])
    store = open_store(url)
    board = load_board(store, a_id)
    assert board is not None
    en_route = {u.unit_id: u.incident_id for u in board.units if u.status == "en_route"}
    assert en_route
    store.close()
    b = TwinRun(scenario(units_in_traffic=True, rates=[]), store_url=url)
    b.run(chunk_s=3600.0)
    model = dispatch_of(b).model
    assert model is not None
    driven = {d.unit: d.incident_id for d in model.drives.drives}
    for unit, iid in en_route.items():
        assert driven[unit] == iid
        assert model.incidents[str(iid)].t_clear is not None
    assert any(d.vehicle is not None for d in model.drives.drives)
    b.close()


def test_a_real_time_run_counts_the_time_it_was_down() -> None:
    """Wall seconds since the last board, in simulated seconds (never negative)."""
    saved = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    assert resume_gap_s(saved, saved + timedelta(seconds=90), 10.0) == 900.0
    assert resume_gap_s(saved, saved - timedelta(seconds=5), 1.0) == 0.0
