"""The Simulation façade: routing, stepping, state views, detectors, incidents, snapshots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

from core_ext.shortest_path import shortest_path
from twin.demand import TripRecord, Trips, random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import (
    VEH_ARRIVED,
    VEH_UNROUTABLE,
    VEH_WAITING,
    EngineConfig,
    Simulation,
)

REPO = Path(__file__).resolve().parents[2]
JATINEGARA = REPO / "data" / "jakarta" / "jatinegara_drive.graphml.gz"


@pytest.fixture(scope="module")
def grid() -> Network:
    """A 4 x 5 grid of two-way 150 m streets."""
    return grid_network(4, 5, block_m=150.0)


@pytest.fixture
def sim(grid) -> Simulation:
    """300 random trips over five minutes on the grid."""
    trips = random_trips(grid, n_trips=300, duration_s=300.0, rng=np.random.default_rng(5))
    return Simulation(grid, trips, seed=5)


def oneway_network() -> Network:
    """a -> b -> c, and d -> a: nothing leads to d."""
    return Network.from_arrays(
        name="oneway", node_ids=["a", "b", "c", "d"],
        node_lon=[106.80, 106.801, 106.802, 106.799], node_lat=[-6.2, -6.2, -6.2, -6.2],
        link_ids=["ab", "bc", "da"], link_from=[0, 1, 3], link_to=[1, 2, 0],
        link_length_m=[100.0, 100.0, 100.0], link_lanes=[1, 1, 1],
        link_speed_limit_mps=[10.0, 10.0, 10.0], link_capacity_vph=[1800.0, 1800.0, 1800.0],
    )


def test_runs_all_trips_to_arrival(sim):
    """Every random trip is routed and arrives; the summary adds up."""
    assert sim.unroutable == ()
    assert sim.n_waiting == 300 and sim.n_active == 0 and sim.n_arrived == 0
    sim.run(1800.0)
    assert sim.time_s == 1800.0
    assert sim.n_arrived == 300
    summary = sim.summary()
    assert summary["trips_total"] == 300 and summary["trips_completed"] == 300
    assert summary["trips_unroutable"] == 0
    assert summary["vehicle_steps"] > 300
    npt.assert_allclose(summary["mean_travel_time_s"], np.mean(sim.travel_time_s))
    assert np.all(sim.travel_time_s > 0)


def test_routes_are_free_flow_shortest_paths(sim, grid):
    """A trip without a route gets the Cython shortest path on free-flow time."""
    cost = np.ascontiguousarray(grid.free_flow_time_s)
    for i in range(0, 300, 17):
        expected = shortest_path(grid.out_offsets, grid.out_links, grid.link_to, grid.link_from,
                                 cost, int(sim.trips.origin_node[i]),
                                 int(sim.trips.destination_node[i]))
        route = sim.route_of(i)
        npt.assert_allclose(cost[route].sum(), cost[expected].sum())
        assert grid.link_from[route[0]] == sim.trips.origin_node[i]
        assert grid.link_to[route[-1]] == sim.trips.destination_node[i]


def test_explicit_route_is_driven_as_given(grid):
    """A detour given as an explicit route is kept, not replaced by the shortest path."""
    ids = grid.link_index
    detour = ["r0c0-r1c0", "r1c0-r1c1", "r1c1-r0c1"]
    trips = Trips.from_records(grid, [TripRecord("detour", "car", 0.0, route=detour)])
    sim = Simulation(grid, trips, seed=0)
    assert sim.route_of(0).tolist() == [ids[x] for x in detour]
    sim.run(200.0)
    assert sim.n_arrived == 1


def test_unroutable_trips_are_reported_and_never_inserted():
    """A trip to a node nobody can reach is listed in ``unroutable`` and stays out."""
    net = oneway_network()
    trips = Trips(
        trip_ids=("ok", "no"), vehicle_class=np.array([1, 1], np.int8),
        origin_node=np.array([0, 0], np.int32), destination_node=np.array([2, 3], np.int32),
        depart_s=np.array([0.0, 0.0]), route_offsets=np.zeros(3, np.int64),
        route_links=np.zeros(0, np.int32),
    )
    sim = Simulation(net, trips, seed=0)
    assert sim.unroutable == ("no",)
    sim.run(100.0)
    assert sim.vehicle_state.tolist() == [VEH_ARRIVED, VEH_UNROUTABLE]
    assert sim.n_waiting == 0 and sim.summary()["trips_unroutable"] == 1
    assert math.isnan(sim.travel_time_s[1])


def test_broken_explicit_route_is_refused():
    """A route whose links do not join raises ValueError naming the trip and links."""
    net = oneway_network()
    trips = Trips(
        trip_ids=("gap",), vehicle_class=np.array([1], np.int8),
        origin_node=np.array([0], np.int32), destination_node=np.array([2], np.int32),
        depart_s=np.array([0.0]), route_offsets=np.array([0, 2], np.int64),
        route_links=np.array([1, 0], np.int32),
    )
    with pytest.raises(ValueError, match=r"trip 'gap'.*'bc' does not lead to 'ab'"):
        Simulation(net, trips, seed=0)


def test_no_trips(grid):
    """An empty demand is a valid (quiet) simulation."""
    sim = Simulation(grid, Trips.empty(), seed=0)
    sim.run(60.0)
    assert sim.summary()["mean_travel_time_s"] is None
    assert sim.n_vehicles == 0


def test_state_views_are_read_only_and_consistent(sim, grid):
    """Array properties cannot be written and agree with each other."""
    sim.run(120.0)
    for name in ("vehicle_state", "vehicle_link", "vehicle_pos_m", "vehicle_speed_mps",
                 "arrive_s", "insert_s", "link_entered", "link_exited"):
        with pytest.raises(ValueError):
            getattr(sim, name)[0] = 0
    counts = np.bincount(sim.vehicle_link[sim.vehicle_link >= 0], minlength=grid.n_links)
    npt.assert_array_equal(counts, sim.link_vehicle_count)
    npt.assert_allclose(sim.link_density_vpm,
                        sim.link_vehicle_count / (grid.link_length_m * grid.link_lanes))
    speed = sim.link_speed_mps
    assert np.all((speed >= 0) & (speed <= grid.link_speed_limit_mps + 1e-9))


def test_run_lands_exactly_and_checks_times(sim):
    """``run`` lands on a time that is not a multiple of dt; going back is refused."""
    sim.run(10.25)
    assert sim.time_s == 10.25
    sim.step()
    assert sim.time_s == 11.25
    with pytest.raises(ValueError, match="before the current time"):
        sim.run(5.0)
    with pytest.raises(ValueError, match="dt_s"):
        sim.step(0.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dt_s": 0.0}, "dt_s"),
        ({"reroute_share": 1.5}, "reroute_share"),
        ({"reroute_period_s": 0.0}, "reroute_period_s"),
        ({"gridlock_after_s": float("nan")}, "gridlock_after_s"),
        ({"class_params": ()}, "class_params"),
        ({"micro": {"lookahead_m": 1.0}}, "micro"),
        ({"dt_s": "1"}, "dt_s"),
        ({"backend": "cuda"}, "backend"),
    ],
)
def test_engine_config_names_the_bad_field(kwargs, field):
    """Invalid EngineConfig values raise ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        EngineConfig(**kwargs)


def test_loop_detectors_count_and_reset(sim, grid):
    """Detectors count passing vehicles; taking the counts resets them."""
    assert sim.add_loop_detector("a", grid.link_ids[0], 75.0) == 0
    assert sim.add_loop_detector("b", 1, 150.0, lane=0) == 1
    with pytest.raises(ValueError, match="exists already"):
        sim.add_loop_detector("a", 2, 10.0)
    with pytest.raises(ValueError, match="unknown link"):
        sim.add_loop_detector("c", "nope", 10.0)
    with pytest.raises(ValueError, match="outside the link"):
        sim.add_loop_detector("c", 2, 151.0)
    with pytest.raises(ValueError, match="lane 3 does not exist"):
        sim.add_loop_detector("c", 2, 10.0, lane=3)
    sim.run(600.0)
    expected = [passed_detector(sim, 0, 75.0), passed_detector(sim, 1, 150.0)]
    counts = sim.take_detector_counts()
    assert counts.detector_ids == ("a", "b") and counts.lane == (None, 0)
    assert counts.interval_start_s == 0.0 and counts.interval_end_s == 600.0
    assert counts.count.sum() > 0
    assert counts.count.tolist() == expected
    ok = counts.count > 0
    assert np.all(counts.mean_speed_mps[ok] > 0) and np.all(np.isnan(counts.mean_speed_mps[~ok]))
    assert np.all((counts.occupancy >= 0) & (counts.occupancy <= 1))
    again = sim.take_detector_counts()
    assert again.count.sum() == 0 and again.interval_start_s == 600.0


def passed_detector(sim: Simulation, link: int, pos_m: float) -> int:
    """Vehicles that have passed ``pos_m`` on ``link`` so far, from their routes and positions.

    A vehicle joining the queue at the link end counts as having reached the end.
    """
    model = sim.snapshot().model
    n = 0
    for v in range(sim.n_vehicles):
        route = sim.route_of(v)
        where = np.flatnonzero(route == link)
        if where.size == 0 or sim.vehicle_state[v] == VEH_WAITING:
            continue
        at = int(model.route_offsets[v]) + int(where[0])
        if sim.vehicle_state[v] == VEH_ARRIVED or model.veh_route_pos[v] > at \
                or (model.veh_route_pos[v] == at and sim.vehicle_pos_m[v] >= pos_m):
            n += 1
    return n


def test_vehicle_steps_sum_the_active_vehicles_of_every_step(sim):
    """``vehicle_steps`` (the benchmarks' throughput figure) adds, per step, the vehicles on
    the road during it: those there at its start plus those inserted at its start."""
    total = 0
    for _ in range(400):
        t0 = sim.time_s
        before = sim.n_active
        sim.step(1.0)
        total += before + int(np.count_nonzero(np.asarray(sim.insert_s) == t0))
    assert total > 0
    assert sim.summary()["vehicle_steps"] == total


def test_link_speed_is_the_mean_speed_of_its_vehicles():
    """A link's speed is the mean of its vehicles' speeds; an empty link reports the speed an
    entering vehicle aims for (limit times the incident factor)."""
    net = oneway_network()
    trips = Trips.from_records(net, [TripRecord(f"t{i}", "car", 2.0 * i, route=["ab", "bc"])
                                     for i in range(12)])
    sim = Simulation(net, trips, seed=0)
    sim.open_incident("bc", 1, speed_factor=0.5)
    for _ in range(40):
        sim.step(1.0)
    on = np.asarray(sim.vehicle_link)
    speed = np.asarray(sim.vehicle_speed_mps)
    for link in range(net.n_links):
        here = on == link
        if here.any():
            assert sim.link_speed_mps[link] == pytest.approx(speed[here].mean())
        else:
            factor = 0.5 if net.link_ids[link] == "bc" else 1.0
            assert sim.link_speed_mps[link] == pytest.approx(
                factor * net.link_speed_limit_mps[link])
    assert sim.link_vehicle_count.sum() == sim.n_active
    assert sim.link_queue_veh.sum() == int(np.count_nonzero(
        (on >= 0) & (speed <= sim.config.micro.stop_speed_mps)))


def test_trip_to_its_own_origin_is_unroutable(grid):
    """Origin == destination gives no path: the trip is unroutable, not an instant arrival."""
    trips = Trips(  # Trips.from_arrays refuses this; the raw constructor does not
        trip_ids=("loop", "ok"), vehicle_class=np.array([1, 1], np.int8),
        origin_node=np.array([3, 3], np.int32), destination_node=np.array([3, 4], np.int32),
        depart_s=np.array([0.0, 0.0]), route_offsets=np.zeros(3, np.int64),
        route_links=np.zeros(0, np.int32),
    )
    sim = Simulation(grid, trips, seed=0)
    assert sim.unroutable == ("loop",)
    assert sim.route_of(0).size == 0
    sim.run(120.0)
    assert sim.vehicle_state.tolist() == [VEH_UNROUTABLE, VEH_ARRIVED]


def test_incidents_block_lanes_and_combine(grid):
    """Incidents block lanes from a position; several on one link combine; clearing restores;
    bad arguments are refused."""
    net = grid_network(2, 2, lanes=2)
    sim = Simulation(net, Trips.empty(), seed=0)
    first = int(sim.snapshot().model.link_lane_off[0])
    a = sim.open_incident(net.link_ids[0], 1, speed_factor=0.5, pos_m=50.0)
    b = sim.open_incident(0, 2, pos_m=120.0)
    m = sim.snapshot().model
    assert m.lane_block_pos_m[first:first + 2].tolist() == [50.0, 120.0]
    assert m.link_speed_factor[0] == 0.5
    assert sim.link_speed_mps[0] == pytest.approx(0.5 * net.link_speed_limit_mps[0])
    sim.clear_incident(b)
    m = sim.snapshot().model
    assert m.lane_block_pos_m[first] == 50.0 and np.isinf(m.lane_block_pos_m[first + 1])
    assert sim.open_incidents == {a: (0, (0,), 50.0, 0.5)}
    sim.clear_incident(a)
    m = sim.snapshot().model
    assert np.isinf(m.lane_block_pos_m).all() and m.link_speed_factor[0] == 1.0
    c = sim.open_incident(0, 1, lanes=[1])
    assert sim.open_incidents[c][1] == (1,)
    assert sim.open_incidents[c][2] == pytest.approx(net.link_length_m[0] / 2)
    with pytest.raises(KeyError):
        sim.clear_incident(a)
    with pytest.raises(ValueError, match="lanes_blocked"):
        sim.open_incident(0, 3)
    with pytest.raises(ValueError, match="speed_factor"):
        sim.open_incident(0, 1, speed_factor=0.0)
    with pytest.raises(ValueError, match="pos_m"):
        sim.open_incident(0, 1, pos_m=-1.0)
    with pytest.raises(ValueError, match="lane 5 does not exist"):
        sim.open_incident(0, 1, lanes=[5])


def test_restore_refuses_a_foreign_snapshot(sim, grid):
    """A snapshot of a simulation with other vehicles cannot be restored."""
    other = Simulation(grid, Trips.empty(), seed=0)
    with pytest.raises(ValueError, match="snapshot has"):
        sim.restore(other.snapshot())


def test_snapshot_is_independent_of_the_running_simulation(sim):
    """Running on after a snapshot does not change the snapshot."""
    sim.run(60.0)
    snap = sim.snapshot()
    before = snap.model.veh_pos_m.copy()
    sim.run(120.0)
    npt.assert_array_equal(snap.model.veh_pos_m, before)
    assert snap.time_s == 60.0


def test_restore_brings_back_incident_ids_rng_and_live_views(sim, grid):
    """After a restore the next incident id, the rng draws and held views repeat the snapshot's."""
    sim.run(60.0)
    first = sim.open_incident(grid.link_ids[4], 1)
    snap = sim.snapshot()
    counts_view = sim.vehicle_pos_m  # read-only view held across the restore
    at_snapshot = counts_view.copy()
    second = sim.open_incident(grid.link_ids[6], 1)
    draws = sim.rng.random(5)
    sim.run(200.0)
    assert not np.array_equal(counts_view, at_snapshot)
    sim.restore(snap)
    npt.assert_array_equal(counts_view, at_snapshot)
    assert list(sim.open_incidents) == [first]
    assert np.isinf(sim.snapshot().model.lane_block_pos_m[
        sim.snapshot().model.link_lane_off[6]])
    assert sim.open_incident(grid.link_ids[6], 1) == second
    npt.assert_array_equal(sim.rng.random(5), draws)


def test_restore_checks_the_snapshot_columns(sim):
    """A snapshot whose arrays were tampered with is refused, and the simulation is unchanged."""
    sim.run(30.0)
    snap = sim.snapshot()
    snap.model.veh_pos_m = snap.model.veh_pos_m.astype(np.float32)
    before = np.array(sim.vehicle_pos_m)
    with pytest.raises(ValueError, match="veh_pos_m"):
        sim.restore(snap)
    npt.assert_array_equal(sim.vehicle_pos_m, before)


def test_simulation_owns_its_arrays(grid):
    """Changing the network's or the trips' arrays after construction does not change the run."""
    net = grid_network(3, 3)
    trips = random_trips(net, n_trips=50, duration_s=60.0, rng=np.random.default_rng(2))
    sim = Simulation(net, trips, seed=0)
    net.link_capacity_vph[:] = 0.0
    trips.depart_s[:] = 1e9
    sim.run(600.0)
    assert sim.n_arrived == 50


def test_seed_must_be_an_integer(grid):
    """``seed`` is required and must be an int."""
    with pytest.raises(ValueError, match="seed"):
        Simulation(grid, Trips.empty(), seed=1.5)  # type: ignore[arg-type]


def test_jatinegara_random_trips_are_routed_inserted_and_arrive():
    """On the real Jatinegara network random trips are routed, inserted and arrive."""
    if not JATINEGARA.exists():
        pytest.skip("Jatinegara network not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    trips = random_trips(net, n_trips=1000, duration_s=600.0, rng=np.random.default_rng(1))
    sim = Simulation(net, trips, seed=1)
    assert sim.unroutable == ()
    sim.run(900.0)
    assert sim.n_waiting < 50 and sim.n_arrived > 400


def test_jatinegara_random_trips_all_arrive_without_gridlock():
    """1,000 random trips in 10 minutes all arrive within 40 minutes."""
    if not JATINEGARA.exists():
        pytest.skip("Jatinegara network not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    trips = random_trips(net, n_trips=1000, duration_s=600.0, rng=np.random.default_rng(1))
    sim = Simulation(net, trips, seed=1)
    sim.run(2400.0)
    assert not sim.summary()["gridlocked"]
    assert sim.n_arrived == 1000


def test_load_kernels_changes_nothing_and_the_run_is_the_same(grid):
    """Loading the kernels ahead is invisible: the same records as without it."""
    trips = random_trips(grid, n_trips=60, duration_s=120.0, rng=np.random.default_rng(5))
    a = Simulation(grid, trips, seed=5)
    before = a.snapshot()
    a.load_kernels()
    after = a.snapshot()
    b = Simulation(grid, trips, seed=5)
    a.run(300.0)
    b.run(300.0)
    np.testing.assert_array_equal(a.travel_time_s, b.travel_time_s)
    np.testing.assert_array_equal(a.vehicle_pos_m, b.vehicle_pos_m)
    assert a.summary() == b.summary()
    assert before.time_s == after.time_s == 0.0
    for name, column in before.model.arrays().items():
        np.testing.assert_array_equal(column, after.model.arrays()[name], err_msg=name)
