"""Bad input inside a twin run (issue 6, item 7): a call off the network is snapped to
the nearest road or refused with a reason kept in the store's quarantine; a call when no
unit is free waits in the queue the store shows, and is served once a unit is back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from twin.module_host import LiveModule
from twin.modules.dispatch.board import load_incidents
from twin.modules.dispatch.live import DispatchLive
from twin.network import unproject_xy
from twin.observations import Location, Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario, load_scenario

GRID = Path(__file__).resolve().parents[3] / "scenarios" / "grid_small.toml"
SECTION: dict[str, Any] = {
    "seed": 5, "max_snap_m": 50.0, "calls": {"nuisance_per_hour": 0.0},
    "stations": [{"id": "west", "node": "r2c0", "units": {"police": 1}}],
}


def scenario() -> Scenario:
    s = load_scenario(GRID)
    return s.model_copy(update={
        "scenario": s.scenario.model_copy(update={"duration_s": 2 * 3600.0}),
        "incidents": [], "modules": {**s.modules, "dispatch": SECTION}})


def at_xy(run: TwinRun, x_m: float, y_m: float) -> Location:
    net = run.network
    lon, lat = unproject_xy(np.array([x_m]), np.array([y_m]), net.origin_lon, net.origin_lat)
    return Location(float(lon[0]), float(lat[0]))


def test_calls_off_the_network_and_calls_with_no_unit_free(tmp_path: Path) -> None:
    run = TwinRun(scenario(), store_url=f"sqlite:///{tmp_path / 'kota.db'}")
    module: LiveModule | None = run.module("dispatch")
    assert isinstance(module, DispatchLive)
    run.advance(30.0)
    net = run.network
    a, b = net.node_index["r1c1"], net.node_index["r1c2"]
    beside = at_xy(run, (net.node_x_m[a] + net.node_x_m[b]) / 2, net.node_y_m[a] + 30.0)
    far = at_xy(run, net.node_x_m.max() + 400.0, net.node_y_m.max() + 400.0)

    def call(loc: Location, eid: str) -> None:
        run.bus.publish(Observation(ObservationKind.EMERGENCY_CALL, "psap-1", run.clock.now,
                                    {"call_type": "normal", "incident_type": "crime"},
                                    location=loc, event_id=eid))

    call(beside, "near")   # 30 m off a street: snapped to it
    call(far, "far")       # hundreds of metres from any road: refused with the reason
    run.advance(120.0)
    call(beside, "second")  # the only police car is busy with "near": this one waits
    run.advance(600.0)

    model = module.model
    assert model is not None
    assert set(net.link_ids[model.incidents["near"].link].split("-")) == {"r1c1", "r1c2"}
    assert "far" not in model.incidents
    (event, reason), = model.refused
    assert event == "far" and "from the nearest road (limit 50 m)" in reason
    (q,) = run.store.quarantined(source="dispatch/psap-1")
    assert q.reason == reason and json.loads(q.raw)["event_id"] == "far"

    second = model.incidents["second"]
    assert second.t_classified is not None and second.units == {}
    assert model.kpis()["waiting"] == ["second"]
    stored = {r.incident_id: r for r in load_incidents(run.store, run.run_id)}
    assert stored["second"].times_s["t_classified"] is not None  # the queue, in the store
    assert stored["second"].units == {} and stored["second"].times_s["t_clear"] is None

    run.advance(2 * 3600.0)  # the car comes back and takes it
    assert second.units == {"police": "west-police-0"} and second.t_clear is not None
    assert model.waiting == []
    run.finish()
    run.close()
