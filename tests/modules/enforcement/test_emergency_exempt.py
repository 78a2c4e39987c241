"""Emergency vehicles on duty are exempt from ETLE (UU 22/2009 art. 134-135), end to end:
the engine's emergency vehicles cross the red-light camera's red at a crawl and pass the
40 km/h speed camera above the limit, the cameras read them like any vehicle, flagged,
and the rules raise nothing for them; ordinary cars running the same signal's red, and
speeding past the same camera, are violations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core_ext._micro_nb import C_PASSES
from twin.assemble import build_network
from twin.modules.enforcement import Detector, PlateTokenizer, ViolationCode
from twin.modules.enforcement.enginefeed import add_read_vehicles
from twin.modules.enforcement.scenario_run import enforcement_settings
from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario, load_scenario
from twin.vehicles import Registry

from .test_engine_feed import GRID

ROUTE = ["r1c0-r1c1", "r1c1-r1c2", "r1c2-r1c3"]  # past speed-a, the red light, speed-b
GRACE_S = 0.3  # the scenario's red_light_grace_s


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    path = tmp_path_factory.mktemp("etle-ev") / "grid.toml"
    path.write_text(GRID.format(index=0))
    net = build_network(load_scenario(path))
    approach = net.conn_from_link == net.link_index["r1c0-r1c1"]
    path.write_text(GRID.format(index=int(net.conn_signal_index[approach][0])))
    return load_scenario(path)


def test_emergency_vehicles_on_duty_raise_no_violation(scenario: Scenario, tmp_path: Path) -> None:
    run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / 'a.db'}", modules=())
    seen: list[Observation] = []
    run.bus.subscribe_callback("plate_read/#", seen.append, name="reads")
    run.bus.subscribe_callback("signal_state/#", seen.append, name="signals")
    net = run.network
    route = np.array([net.link_index[k] for k in ROUTE], dtype=np.int64)
    # units on call, as the dispatch module adds them, every 13 s over three signal cycles
    units = [run.sim.add_vehicle(route, 300.0 + 13.0 * k, "car", emergency=True)
             for k in range(12)]
    try:
        run.run()
    finally:
        run.close()
    seen.sort(key=lambda o: o.observed_at)
    reads = [o for o in seen if o.kind is ObservationKind.PLATE_READ]
    unit_plates = set(run.fleet.service_plates(units))
    of_units = [o for o in reads if o.payload["plate"] in unit_plates]
    # the cameras read the units, each at most once per camera, every read flagged;
    # nobody else is flagged. A unit passing a standing queue beside a camera is not read
    # there: the engine records no crossing for a queue pass (MicroParams.emergency_pass_mps)
    per_camera = [(o.payload["plate"], o.source_id) for o in of_units]
    assert len(set(per_camera)) == len(per_camera)
    assert {p for p, _ in per_camera} == unit_plates
    assert len(of_units) == 3 * len(units) or int(run.sim._state.counters[C_PASSES]) > 0
    assert all(o.payload.get("emergency") is True for o in of_units)
    assert not any("emergency" in o.payload for o in reads if o not in of_units)

    settings = enforcement_settings(scenario)
    detector = Detector(settings.detection, PlateTokenizer(b"k" * 16))
    found = [v for obs in seen for v in detector.feed(obs)]
    assert detector.counts.emergency_exempt == len(of_units)
    assert not [v for v in found if v.plate in unit_plates]

    # units crossed the red well after its onset, at a crawl, and drove above 40 km/h
    red_units = [o for o in of_units if o.source_id == "red"
                 and o.payload["signal_aspect"] == "red" and o.payload["red_elapsed_s"] > GRACE_S]
    assert red_units
    assert all(o.payload["speed_mps"] < 13.89 / 2 for o in red_units)
    fast_units = [o for o in of_units if o.source_id == "speed-b"
                  and o.payload["speed_mps"] * 3.6 > 45.0]
    assert fast_units
    # ordinary cars running the same signal's red, or speeding there, are violations
    red_cars = [o for o in reads if o.source_id == "red" and o not in of_units
                and o.payload["signal_aspect"] == "red" and o.payload["red_elapsed_s"] > GRACE_S]
    red = [v for v in found if v.code is ViolationCode.RED_LIGHT]
    assert red_cars and sorted(v.source_event_id for v in red) == sorted(
        o.event_id for o in red_cars)
    fast_cars = [o for o in reads if o.source_id == "speed-b" and o not in of_units
                 and o.payload["speed_mps"] * 3.6 > 45.0]
    speeding = [v for v in found if v.code is ViolationCode.SPEEDING]
    assert fast_cars and len(speeding) == len(fast_cars)

    # the flag is what spares a unit: the same read without it is a violation
    again = Detector(settings.detection, PlateTokenizer(b"k" * 16))
    for obs in seen:
        if obs.kind is ObservationKind.SIGNAL_STATE:
            again.feed(obs)
        elif obs is red_units[0]:
            bare = {k: v for k, v in obs.payload.items() if k != "emergency"}
            (v,) = again.feed(dataclasses.replace(obs, payload=bare))
            assert v.code is ViolationCode.RED_LIGHT and v.plate in unit_plates
            break

    # a unit's plate is its service's, not a household's of the synthetic registry
    registry = Registry()
    add_read_vehicles(registry, run.fleet, of_units)
    assert not registry.vehicles
