"""Units driven as vehicles in the traffic engine: on scene at the engine's arrival."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import simpy

from core_ext.micro import MicroParams
from twin.demand.trips import Trips
from twin.importers.grid import grid_network
from twin.modules.dispatch import DispatchModel, parse_config
from twin.modules.dispatch.run import traffic_process
from twin.simulation import VEH_ARRIVED, Simulation

from .conftest import make_model

ONE_CALL = {"per_incident_mean": 1.0, "patience_mean_s": 1e6}


def _corridor_run(crowd: int, *, in_traffic: bool = True) -> DispatchModel:
    """A one-lane street r0c0..r0c5; police at r0c0, a crime on the last block at 300 s;
    ``crowd`` cars queued on the street ahead of the police car's departure."""
    net = grid_network(1, 6, lanes=1)
    sim = Simulation(net, Trips.empty(), seed=3)
    links = [int(net.link_index[f"r0c{i}-r0c{i + 1}"]) for i in range(5)]
    if crowd:
        sim.set_link_speed_factor([links[3]], 0.25)  # a slow block the crowd backs up from
        sim.add_vehicles([links[:4]] * crowd, list(np.linspace(0.0, 250.0, crowd)),
                         ["car"] * crowd)
    env = simpy.Environment()
    cfg = parse_config({"stations": [{"id": "a", "node": "r0c0", "units": {"police": 1}}],
                        "incidents": [{"id": "c", "type": "crime", "link": "r0c4-r0c5",
                                       "at_s": 300.0, "calls": 1}],
                        "calls": ONE_CALL, "units_in_traffic": in_traffic})
    model = DispatchModel(sim, env, cfg)
    env.process(traffic_process(env, model, 1.0))
    env.run(until=3 * 3600)
    return model


def test_on_scene_is_departure_plus_the_engine_vehicles_travel_time() -> None:
    model = _corridor_run(0)
    inc = model.incidents["c"]
    times = inc.kind_times["police"]
    (drive,) = model.drives.drives
    v = drive.vehicle
    assert v is not None and model.sim.n_added == 1
    net = model.sim.network
    assert [net.link_ids[k] for k in model.sim.route_of(v)] == [
        "r0c0-r0c1", "r0c1-r0c2", "r0c2-r0c3", "r0c3-r0c4"]
    assert model.sim.vehicle_state[v] == VEH_ARRIVED
    assert drive.depart_s == times["t_enroute"] == model.sim.arrive_s[v] - model.sim.travel_time_s[v]
    assert drive.engine_s == pytest.approx(float(model.sim.travel_time_s[v]), abs=1e-9)
    # plus half the incident's link (the incident is in its middle) at its current time
    assert drive.last_s == pytest.approx(100.0 / 13.89, rel=0.01)
    assert times["t_onscene"] == pytest.approx(times["t_enroute"] + drive.engine_s + drive.last_s,
                                               abs=1e-9)
    assert inc.t_onscene == times["t_onscene"]
    # an emergency vehicle: its desired speed is the limit times emergency_speed_factor
    free_s = 4 * 200.0 / (13.89 * MicroParams().emergency_speed_factor)
    assert free_s - 1e-6 <= drive.engine_s < free_s + 10.0
    assert inc.t_clear is not None  # the rest of the trip goes on as before


def test_a_congested_corridor_lengthens_the_response() -> None:
    free, jammed = _corridor_run(0), _corridor_run(120)
    r_free = free.incidents["c"].t_onscene - free.incidents["c"].t_enroute
    r_jam = jammed.incidents["c"].t_onscene - jammed.incidents["c"].t_enroute
    assert r_jam > r_free + 60.0
    (drive,) = jammed.drives.drives
    assert drive.engine_s == pytest.approx(float(jammed.sim.travel_time_s[drive.vehicle]))


def test_switched_off_the_travel_time_is_computed_and_no_vehicle_is_added() -> None:
    assert parse_config({"stations": [{"id": "a", "node": "r0c0"}]}).units_in_traffic is True
    model = _corridor_run(0, in_traffic=False)
    times = model.incidents["c"].kind_times["police"]
    assert model.sim.n_added == 0 and model.drives.drives == []
    assert times["t_onscene"] - times["t_enroute"] == pytest.approx(
        4.5 * 200.0 / 13.89, rel=0.02)


def test_units_in_traffic_runs_repeat() -> None:
    def fingerprint() -> list[Any]:
        env, model = make_model({
            "seed": 4, "units_in_traffic": True,
            "rates": [{"type": t, "per_hour": 6.0} for t in ("crash", "medical")],
            "stations": [{"id": "a", "node": "r0c0", "units": {"police": 1, "ambulance": 1,
                                                                "tow": 1}}],
            "hospitals": ["r1c1"]})
        env.run(until=3600)
        return [(d.incident_id, d.unit, d.vehicle, d.depart_s, d.engine_s)
                for d in model.drives.drives]
    first = fingerprint()
    assert len(first) >= 3 and first == fingerprint()


def test_the_unit_drives_as_an_emergency_vehicle() -> None:
    """The unit's engine vehicle is on an emergency call: above the 50 km/h limit on the
    empty street, it beats that limit's travel time over its four blocks."""
    # (an ordinary car's drive here is 4 * 200 m / 13.89 m/s and a little more)
    model = _corridor_run(0)
    (drive,) = model.drives.drives
    v = drive.vehicle
    assert v is not None and bool(model.sim.emergency[v])
    assert model.sim.travel_time_s[v] < 4 * 200.0 / 13.89
