"""Simulation.set_link_speed_factor: a per-link desired-speed factor (the live mirror's hook)."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from twin.demand import TripRecord, Trips
from twin.network import Network
from twin.simulation import EngineConfig, Simulation


def straight() -> Network:
    """a -> b -> c: two 2 km one-lane links, limit 20 m/s."""
    return Network.from_arrays(
        name="straight", node_ids=["a", "b", "c"],
        node_lon=[-118.30, -118.28, -118.26], node_lat=[34.1, 34.1, 34.1],
        link_ids=["ab", "bc"], link_from=[0, 1], link_to=[1, 2],
        link_length_m=[2000.0, 2000.0], link_lanes=[1, 1],
        link_speed_limit_mps=[20.0, 20.0], link_capacity_vph=[1800.0, 1800.0],
    )


def one_car(backend: str = "numba") -> Simulation:
    trips = Trips.from_records(straight(), [TripRecord("car", "car", 0.0, route=["ab", "bc"])])
    return Simulation(straight(), trips, seed=0, config=EngineConfig(backend=backend))


@pytest.mark.parametrize("factor", [0.5, 1.3])
def test_a_lone_car_settles_at_the_limit_times_the_factor(factor: float) -> None:
    sim = one_car()
    sim.set_link_speed_factor(["ab"], factor)
    sim.run(60.0)  # IDM needs a while to approach v0; 60 s is plenty at a = 1.5 m/s2
    assert sim.vehicle_link[0] == 0
    assert sim.vehicle_speed_mps[0] == pytest.approx(20.0 * factor, rel=0.02)
    assert sim.link_speed_mps[1] == pytest.approx(20.0)  # empty bc: its own (unset) factor


def test_factor_multiplies_an_open_incident_and_survives_its_clearing() -> None:
    sim = one_car()
    sim.set_link_speed_factor(["bc", "ab"], [0.8, 0.9])
    npt.assert_allclose(sim.link_speed_factor, [0.9, 0.8])
    inc = sim.open_incident("bc", 1, speed_factor=0.5)
    assert sim.link_speed_factor[1] == pytest.approx(0.4)
    sim.set_link_speed_factor([1], 0.6)  # set while the incident is open
    assert sim.link_speed_factor[1] == pytest.approx(0.3)
    sim.clear_incident(inc)
    assert sim.link_speed_factor[1] == pytest.approx(0.6)
    assert sim.link_speed_mps[1] == pytest.approx(12.0)  # empty link: limit x factor


def test_snapshot_restore_keeps_the_factors() -> None:
    sim = one_car()
    sim.set_link_speed_factor(["ab"], 0.5)
    snap = sim.snapshot()
    sim.set_link_speed_factor(["ab"], 1.1)
    sim.open_incident("ab", 1, speed_factor=0.5)
    sim.restore(snap)
    assert sim.link_speed_factor[0] == pytest.approx(0.5)
    sim.open_incident("ab", 1, speed_factor=0.5)  # recomputed from the restored factor
    assert sim.link_speed_factor[0] == pytest.approx(0.25)


def test_bad_factors_are_refused_and_change_nothing() -> None:
    sim = one_car()
    for links, factors, match in ((["ab"], 0.0, "> 0"), (["ab", "bc"], [1.0, np.nan], "> 0"),
                                  (["zz"], 1.0, "unknown link"), (["ab"], [1.0, 2.0], "factors")):
        with pytest.raises(ValueError, match=match):
            sim.set_link_speed_factor(links, factors)
    npt.assert_array_equal(sim.link_speed_factor, [1.0, 1.0])


def test_kernel_and_reference_agree_with_factors() -> None:
    """The factor lives in an array both implementations already read: they agree."""
    runs = []
    for backend in ("numba", "reference"):
        sim = one_car(backend)
        sim.set_link_speed_factor(["ab", "bc"], [0.6, 1.2])
        sim.run(40.0)
        sim.set_link_speed_factor(["ab"], 1.1)
        sim.run(150.0)
        runs.append((sim.vehicle_link[0], sim.vehicle_pos_m[0], sim.vehicle_speed_mps[0]))
    assert runs[0] == runs[1]
