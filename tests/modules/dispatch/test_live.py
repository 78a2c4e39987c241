"""Live reports: calls and incident reports as Observations, placed on the network or
refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from twin.network import unproject_xy
from twin.observations import Location, Observation, ObservationKind

from .conftest import make_model

T = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
CFG = {"stations": [{"id": "a", "node": "r0c0", "units": {"police": 1, "tow": 1}}],
       "max_snap_m": 50.0}


def at_xy(model: Any, x_m: float, y_m: float) -> Location:
    net = model.sim.network
    lon, lat = unproject_xy(np.array([x_m]), np.array([y_m]), net.origin_lon, net.origin_lat)
    return Location(float(lon[0]), float(lat[0]))


def call(loc: Location | None, **payload: Any) -> Observation:
    return Observation(ObservationKind.EMERGENCY_CALL, "psap-1", T,
                       {"call_type": "normal", **payload}, location=loc)


def test_call_is_snapped_to_the_nearest_link_or_refused() -> None:
    env, model = make_model(CFG)
    net = model.sim.network
    a, b = net.node_index["r1c0"], net.node_index["r1c1"]
    mid_x = (net.node_x_m[a] + net.node_x_m[b]) / 2
    mid_y = net.node_y_m[a] + 20.0  # 20 m beside the street r1c0-r1c1
    iid = model.receive(call(at_xy(model, mid_x, mid_y), incident_type="breakdown"))
    assert iid is not None
    link_id = net.link_ids[model.incidents[iid].link]
    assert set(link_id.split("-")) == {"r1c0", "r1c1"}
    assert len(model.sim.open_incidents) == 1  # a breakdown blocks a lane at once
    far = at_xy(model, net.node_x_m.max() + 500.0, net.node_y_m.max() + 500.0)
    assert model.receive(call(far, incident_type="crime")) is None
    assert model.receive(call(None, incident_type="crime")) is None
    assert model.receive(call(at_xy(model, mid_x, mid_y), incident_type="meteor")) is None
    reasons = [r for _, r in model.refused]
    assert "from the nearest road (limit 50 m)" in reasons[0]
    assert reasons[1:] == ["no location", "unknown incident_type 'meteor'"]
    env.run(until=3 * 3600)
    inc = model.incidents[iid]
    assert inc.t_ring == 0.0 and inc.units == {"tow": "a-tow-0"}
    assert inc.t_road_reopened is not None and model.sim.open_incidents == {}


def test_repeat_and_nuisance_calls() -> None:
    env, model = make_model({**CFG, "calls": {"patience_mean_s": 1e6}})  # nobody hangs up
    loc = Location(0.0, 0.0, link_id="r0c1-r1c1")
    iid = model.receive(call(loc, incident_type="crime", incident_id="c1"))
    assert iid == "c1"
    assert model.receive(call(None, incident_id="c1")) == "c1"
    assert model.receive(Observation(ObservationKind.EMERGENCY_CALL, "psap-1", T,
                                     {"call_type": "prank"})) is None
    env.run(until=3600)
    assert model.incidents["c1"].n_calls == 2
    kinds = sorted(c.kind for c in model.calls)
    assert kinds == ["normal", "normal", "prank"]
    assert sum(c.duplicate for c in model.calls) == 1


def position(unit_id: str, status: str, loc: Location | None) -> Observation:
    return Observation(ObservationKind.UNIT_POSITION, "avl-1", T,
                       {"unit_id": unit_id, "status": status}, location=loc)


def test_unit_position_moves_and_restates_a_unit_or_is_refused() -> None:
    env, model = make_model({**CFG, "calls": {"patience_mean_s": 1e6}, "units_in_traffic": True})
    net = model.sim.network
    police = model.units["a-police-0"]
    a, b = net.node_index["r2c1"], net.node_index["r2c2"]
    beside = at_xy(model, (net.node_x_m[a] + net.node_x_m[b]) / 2, net.node_y_m[a] + 15.0)
    assert model.receive(position("a-police-0", "out_of_service", beside)) == "a-police-0"
    assert set(net.link_ids[police.link].split("-")) == {"r2c1", "r2c2"}
    assert police.status == "out_of_service" and police.position_t_s == 0.0
    far = at_xy(model, net.node_x_m.max() + 500.0, net.node_y_m.max() + 500.0)
    assert model.receive(position("a-police-9", "available", beside)) is None
    assert model.receive(position("a-police-0", "napping", beside)) is None
    assert model.receive(position("a-police-0", "available", None)) is None
    assert model.receive(position("a-police-0", "available", far)) is None
    reasons = [r for _, r in model.refused]
    assert reasons[:3] == ["unknown unit 'a-police-9'", "unknown unit status 'napping'",
                           "no location"]
    assert "from the nearest road (limit 50 m)" in reasons[3]
    assert police.status == "out_of_service"  # nothing refused changed it
    # out of service: a crime waits for it; back in service it goes, from where it is
    iid = model.receive(call(Location(0.0, 0.0, link_id="r2c2-r1c2"), incident_type="crime"))
    env.run(until=600)
    assert model.waiting == [model.incidents[iid]] and police.status == "out_of_service"
    here = Location(0.0, 0.0, link_id="r2c1-r2c2")
    assert model.receive(position("a-police-0", "available", here)) == "a-police-0"
    assert model.incidents[iid].units == {"police": "a-police-0"}
    assert police.status == "dispatched"
    assert model.receive(position("a-police-0", "available", here)) == "a-police-0"
    assert police.status == "dispatched"  # its trip holds it until it is back
    env.run(until=3600)
    (drive,) = model.drives.drives
    assert drive.unit == "a-police-0" and drive.vehicle is not None
    assert [net.link_ids[k] for k in model.sim.route_of(drive.vehicle)] == ["r2c1-r2c2"]
    assert model.incidents[iid].t_onscene is not None
    assert police.status == "available" and police.link is None  # back at its station
