"""Incidents, calls, units and the road they block, on a real traffic engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from twin.modules.dispatch import parse_config, run_dispatch

from .conftest import make_model, make_sim

ALL = {"police": 1, "ambulance": 1, "tow": 1, "fire": 1, "dishub": 1}


def day(seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "rates": [{"type": t, "per_hour": 4.0} for t in
                  ("crash", "breakdown", "fire", "medical", "crime", "flood")],
        "calls": {"nuisance_per_hour": 20.0},
        "stations": [{"id": "a", "node": "r0c0", "units": ALL},
                     {"id": "b", "node": "r2c2", "units": ALL}],
        "hospitals": ["r1c1"],
    }


@pytest.fixture(scope="module")
def busy_run() -> Any:
    return run_dispatch(make_sim(n_trips=150), parse_config(day(7)), 2 * 3600.0)


def test_timestamps_monotone_per_incident(busy_run: Any) -> None:
    served = 0
    for inc in busy_run.incidents.values():
        stamps = inc.timestamps()
        reached = [t for _, t in stamps if t is not None]
        assert reached == sorted(reached), (inc.id, stamps)
        names = [n for n, t in stamps if t is not None]
        assert names == [n for n, _ in stamps][:len(names)], (inc.id, stamps)  # no gaps
        for times in inc.kind_times.values():
            seq = [times[k] for k in ("t_dispatch", "t_enroute", "t_onscene") if k in times]
            assert seq == sorted(seq) and seq[0] >= inc.t_classified
        served += inc.t_clear is not None
    assert served >= 5
    k = busy_run.kpis()
    assert k["calls"]["offered"] == len(busy_run.calls) > 20
    assert 0 < k["utilisation"]["police"] <= 1
    assert set(k["areas"]) == {"a", "b"}
    assert sum(a["incidents"] for a in k["areas"].values()) == len(busy_run.incidents)
    assert sum(b["offered"] for b in k["shifts"].values()) == k["calls"]["offered"]
    corner = next(i for i in busy_run.incidents.values()
                  if busy_run.sim.network.link_ids[i.link].startswith("r0c0-"))
    assert corner.area == "a"


def test_seeded_runs_repeat_and_differ_by_seed() -> None:
    def fingerprint(seed: int) -> list[Any]:
        m = run_dispatch(make_sim(), parse_config(day(seed)), 3600.0)
        return [(i.id, i.type, i.link, i.timestamps(), sorted(i.units.items()))
                for i in m.incidents.values()] + [(c.kind, c.t_ring, c.t_answer, c.t_abandon)
                                                   for c in m.calls]
    first = fingerprint(3)
    assert first == fingerprint(3)
    assert first != fingerprint(4)


def test_call_abandoned_after_patience() -> None:
    # one call taker, held for a very long first call: the second caller hangs up
    env, model = make_model({
        "stations": [{"id": "a", "node": "r0c0", "units": {"police": 1}}],
        "call_centre": {"shifts": [{"from_hour": 0, "to_hour": 24, "count": 1}]},
        "calls": {"classify_mean_s": 1e6, "delay_mean_s": 1.0},
        "incidents": [{"id": "x", "type": "crime", "link": "r0c0-r0c1", "at_s": 10, "calls": 2}],
    })
    env.run(until=2000)
    first, second = sorted(model.calls, key=lambda c: c.t_ring)
    assert first.t_answer == first.t_ring and first.t_abandon is None
    assert second.t_answer is None
    assert second.t_abandon == pytest.approx(second.t_ring + second.patience_s)
    k = model.kpis()["calls"]
    assert k["offered"] == 2 and k["abandoned"] == 1 and k["abandonment_rate"] == 0.5


def test_off_shift_means_nobody_answers() -> None:
    env, model = make_model({
        "stations": [{"id": "a", "node": "r0c0", "units": {"police": 1}}],
        "call_centre": {"shifts": [{"from_hour": 1, "to_hour": 24, "count": 1}]},
        "calls": {"patience_mean_s": 30.0},
        "incidents": [{"id": "x", "type": "crime", "link": "r0c0-r0c1", "at_s": 10, "calls": 3}],
    })
    env.run(until=3000)
    assert all(c.t_abandon is not None and c.t_answer is None for c in model.calls)
    assert model.incidents["x"].t_dispatch is None


def crash_config(units_b: dict[str, int]) -> dict[str, Any]:
    return {
        "stations": [{"id": "a", "node": "r0c0", "units": {"ambulance": 1, "tow": 1}},
                     {"id": "b", "node": "r2c2", "units": units_b}],
        "incidents": [{"id": "crash", "type": "crash", "injury": "serious",
                       "link": "r1c1-r1c2", "at_s": 5, "calls": 1, "lanes_blocked": 2}],
    }


def test_crash_with_injuries_needs_all_units_and_reopens_the_road() -> None:
    env, model = make_model(crash_config({"police": 1}))
    sim = model.sim
    link = sim.network.link_index["r1c1-r1c2"]
    env.run(until=6)
    (blocked,) = sim.open_incidents.values()
    assert blocked[0] == link and blocked[1] == (0, 1)
    assert sim.link_speed_factor[link] == pytest.approx(0.5)
    env.run(until=4 * 3600)
    inc = model.incidents["crash"]
    assert set(inc.units) == {"police", "ambulance", "tow"}
    assert set(inc.arrivals) == {"police", "ambulance", "tow"}
    assert inc.t_road_reopened is not None
    assert inc.t_road_reopened >= max(inc.arrivals.values())
    assert sim.open_incidents == {}
    assert sim.link_speed_factor[link] == pytest.approx(1.0)
    assert inc.t_clear is not None and inc.t_clear >= inc.t_road_reopened


def test_missing_agency_keeps_incident_queued_and_road_blocked() -> None:
    env, model = make_model(crash_config({}))  # no police anywhere
    env.run(until=4 * 3600)
    inc = model.incidents["crash"]
    assert set(inc.units) == {"ambulance", "tow"}
    assert inc.t_road_reopened is None and len(model.sim.open_incidents) == 1
    assert model.kpis()["waiting"] == ["crash"]


def nearest_config() -> dict[str, Any]:
    return {"stations": [{"id": "a", "node": "r0c0", "units": {"police": 1}},
                         {"id": "b", "node": "r2c2", "units": {"police": 1}}],
            "incidents": [{"id": "x", "type": "crime", "link": "r0c1-r1c1", "at_s": 5,
                           "calls": 1}]}


def test_nearest_eta_follows_current_travel_times() -> None:
    env, model = make_model(nearest_config())
    a, b = model.units["a-police-0"], model.units["b-police-0"]
    link = model.sim.network.link_index["r0c1-r1c1"]
    assert model.eta_s(a, link) < model.eta_s(b, link)
    env.run(until=600)
    assert model.incidents["x"].units == {"police": "a-police-0"}

    env, model = make_model(nearest_config())
    net = model.sim.network
    out_a = [net.link_ids[k] for k in np.flatnonzero(net.link_from == net.node_index["r0c0"])]
    model.sim.set_link_speed_factor(out_a, 0.02)  # a crawl around station a
    a, b = model.units["a-police-0"], model.units["b-police-0"]
    assert model.eta_s(a, link) > model.eta_s(b, link)
    env.run(until=600)
    assert model.incidents["x"].units == {"police": "b-police-0"}


def test_coverage_policy_keeps_a_lone_station_covered_and_override_wins() -> None:
    raw = {"stations": [{"id": "a", "node": "r0c0", "units": {"ambulance": 1}},
                        {"id": "b", "node": "r1c1", "units": {"ambulance": 2}}],
           "incidents": [{"id": "x", "type": "medical", "link": "r0c0-r0c1", "at_s": 5,
                          "calls": 1}]}
    env, model = make_model(raw)
    env.run(until=300)
    assert model.incidents["x"].units == {"ambulance": "a-ambulance-0"}  # nearest
    env, model = make_model({**raw, "policy": "coverage", "coverage_slack_s": 300})
    env.run(until=300)
    assert model.incidents["x"].units["ambulance"].startswith("b-")
    env, model = make_model({**raw, "overrides": {"x": {"ambulance": "b-ambulance-1"}}})
    env.run(until=300)
    assert model.incidents["x"].units == {"ambulance": "b-ambulance-1"}


def test_unit_routes_avoid_a_closed_link() -> None:
    """A road the twin closed (Simulation.close_link) is not on any unit's route."""
    from tests.modules.dispatch.conftest import make_sim
    from twin.modules.dispatch.travel import TravelTimes

    sim = make_sim()
    travel = TravelTimes(sim)
    net = sim.network
    src = travel.node_vertex(int(net.node_index["r0c0"]))
    target = int(net.link_index["r0c2-r1c2"])
    open_route = travel.route_to_link(src, target)
    assert open_route is not None
    on_route = [int(k) for k in open_route if int(k) != target]
    sim.close_link(net.link_ids[on_route[0]])
    sim.step()  # a new instant: the travel cache refreshes
    detour = travel.route_to_link(src, target)
    assert detour is not None and on_route[0] not in detour.tolist()
    assert travel.to_link_s(src, target) > 0
