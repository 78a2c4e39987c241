"""Vehicles added while a run is under way (emergency units driven in the traffic)."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import VEH_ARRIVED, EngineConfig, Simulation


@pytest.fixture(scope="module")
def grid() -> Network:
    """A 3 x 4 grid of two-way 150 m two-lane streets."""
    return grid_network(3, 4, block_m=150.0, lanes=2)


def _route(net: Network, *nodes: str) -> list[int]:
    return [int(net.link_index[f"{a}-{b}"]) for a, b in zip(nodes[:-1], nodes[1:], strict=True)]


def _sim(net: Network, n_trips: int = 0, seed: int = 5) -> Simulation:
    trips = random_trips(net, n_trips=n_trips, duration_s=600.0,
                         rng=np.random.default_rng(seed), vehicle_mix={"car": 1.0})
    return Simulation(net, trips, seed=seed)


def test_added_vehicle_drives_its_route_no_faster_than_free_flow(grid):
    sim = _sim(grid, n_trips=40)
    route = _route(grid, "r0c0", "r0c1", "r0c2", "r1c2")
    sim.run(30.0)
    v = sim.add_vehicle(route, 45.0, "car")
    assert v == 40 and sim.n_vehicles == 41 and sim.n_added == 1
    assert np.isnan(sim.arrive_s[v])
    npt.assert_array_equal(sim.route_of(v), route)
    sim.run(900.0)
    assert sim.vehicle_state[v] == VEH_ARRIVED
    assert sim.insert_s[v] >= 45.0
    free_s = float(np.sum(grid.link_length_m[route] / grid.link_speed_limit_mps[route]))
    assert sim.travel_time_s[v] >= free_s - 1e-6
    assert sim.travel_time_s[v] < 3 * free_s
    assert sim.n_arrived == 41  # the trips are not disturbed into a standstill


def test_added_vehicle_is_slower_on_a_congested_road(grid):
    route = _route(grid, "r0c0", "r0c1", "r0c2", "r0c3")
    times = []
    for crowd in (0, 250):
        sim = _sim(grid)
        sim.set_link_speed_factor([route[-1]], 0.3)  # a slow stretch the crowd queues behind
        if crowd:
            sim.add_vehicles([route] * crowd, [0.0] * crowd, ["car"] * crowd)
        sim.run(60.0)
        v = sim.add_vehicle(route, 60.0)
        sim.run(3600.0)
        assert sim.vehicle_state[v] == VEH_ARRIVED
        times.append(float(sim.travel_time_s[v]))
    assert times[1] > times[0] + 60.0


def test_bad_additions_are_refused_and_nothing_is_added(grid):
    sim = _sim(grid, n_trips=5)
    sim.run(20.0)
    ok = _route(grid, "r0c0", "r0c1")
    with pytest.raises(ValueError, match="at least one link"):
        sim.add_vehicle([], 30.0)
    with pytest.raises(ValueError, match="connects to link"):
        sim.add_vehicle(_route(grid, "r0c0", "r0c1") + _route(grid, "r1c1", "r1c2"), 30.0)
    with pytest.raises(ValueError, match="before the current time"):
        sim.add_vehicle(ok, 10.0)
    with pytest.raises(ValueError, match="unknown vehicle class"):
        sim.add_vehicle(ok, 30.0, "tank")
    with pytest.raises(ValueError, match="2 routes but 1 departures"):
        sim.add_vehicles([ok, ok], [30.0], ["car", "car"])
    assert sim.n_vehicles == 5 and sim.n_added == 0


def _records(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    return sim.arrive_s.copy(), sim.insert_s.copy()


def _with_additions(grid: Network) -> Simulation:
    sim = _sim(grid, n_trips=120)
    sim.run(60.0)
    sim.add_vehicles([_route(grid, "r0c0", "r0c1", "r1c1"), _route(grid, "r2c3", "r2c2")],
                     [60.0, 90.0], ["car", "motorcycle"])
    return sim


def test_same_seed_and_additions_give_the_same_records(grid):
    a, b = _with_additions(grid), _with_additions(grid)
    for s in (a, b):
        s.run(200.0)
        s.add_vehicle(_route(grid, "r1c0", "r1c1", "r1c2"), 200.0)
        s.run(1200.0)
    assert a.n_arrived == a.n_vehicles == 123
    for x, y in zip(_records(a), _records(b), strict=True):
        npt.assert_array_equal(x, y)


def test_snapshot_and_restore_with_added_vehicles(grid):
    sim = _with_additions(grid)
    sim.run(120.0)
    snap = sim.snapshot()
    sim.add_vehicle(_route(grid, "r1c0", "r1c1"), 130.0)  # after the snapshot
    sim.run(1200.0)
    assert sim.n_vehicles == 123
    sim.restore(snap)
    assert sim.n_vehicles == 122  # the later addition is not part of the snapshot
    sim.run(1200.0)
    first = _records(sim)
    assert np.isfinite(first[0]).all()
    fresh = _sim(grid, n_trips=120)  # built the same way, never given the additions
    fresh.restore(snap)
    assert fresh.n_added == 2
    fresh.run(1200.0)
    for x, y in zip(first, _records(fresh), strict=True):
        npt.assert_array_equal(x, y)
    fresh.restore(snap)
    fresh.reroute(1.0)  # re-planning knows the destinations of the restored additions
    fresh.run(1200.0)
    assert fresh.n_arrived == 122


def test_reference_backend_drives_added_vehicles_the_same(grid):
    out = []
    for backend in ("numba", "reference"):
        trips = random_trips(grid, n_trips=30, duration_s=300.0, rng=np.random.default_rng(2),
                             vehicle_mix={"car": 1.0})
        sim = Simulation(grid, trips, seed=2, config=EngineConfig(backend=backend))
        sim.run(50.0)
        v = sim.add_vehicle(_route(grid, "r0c0", "r0c1", "r1c1"), 50.0)
        sim.run(600.0)
        assert sim.vehicle_state[v] == VEH_ARRIVED
        out.append(sim.arrive_s.copy())
    npt.assert_array_equal(out[0], out[1])
