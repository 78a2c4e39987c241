"""Traffic-flow theory the link model must reproduce, on both backends.

Closed-form checks (UXsim's ``test_verification_*`` style), with the model's
fundamental diagram:

- storage per link ``N = max(1, floor(L * lanes * k_jam))``, ``k_jam`` = 0.15 veh/m/lane;
- speed of the moving vehicles ``v = v_limit * max(min_speed_frac, 1 - k / k_jam)`` with
  ``k = n_moving / (tail * lanes)``, where the standing queue at the link end starts at
  ``tail = L - n_queued / (lanes * k_jam)``; so a lone vehicle drives at
  ``v_limit * (1 - 1 / (L * lanes * k_jam))``;
- outflow of a link at most ``capacity_vph`` (plus one vehicle of burst).
"""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from twin.demand import TripRecord, Trips, random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import (
    VEH_ACTIVE,
    VEH_ARRIVED,
    VEH_UNROUTABLE,
    VEH_WAITING,
    EngineConfig,
    Simulation,
)


@pytest.fixture(params=["numba", "reference"])
def backend(request) -> str:
    """The engine backend name; every test here runs on both."""
    return request.param


def chain_network(lengths, *, lanes=1, speed_mps=10.0, capacity_vph=1800.0) -> Network:
    """Nodes 0..n in a line, one link i: i -> i + 1 per entry of ``lengths``."""
    n = len(lengths)
    per = lambda x, dtype: np.broadcast_to(np.asarray(x, dtype), (n,)).copy()  # noqa: E731
    return Network.from_arrays(
        name="chain",
        node_ids=[f"n{i}" for i in range(n + 1)],
        node_lon=106.8 + 0.001 * np.arange(n + 1),
        node_lat=np.full(n + 1, -6.2),
        link_ids=[f"l{i}" for i in range(n)],
        link_from=np.arange(n),
        link_to=np.arange(1, n + 1),
        link_length_m=np.asarray(lengths, float),
        link_lanes=per(lanes, np.int32),
        link_speed_limit_mps=per(speed_mps, np.float64),
        link_capacity_vph=per(capacity_vph, np.float64),
    )


def chain_trips(net: Network, depart_s) -> Trips:
    """Cars driving the whole chain, departing at ``depart_s``."""
    last = net.n_nodes - 1
    return Trips.from_records(net, [
        TripRecord(f"t{i}", "car", float(t), origin_node=0, destination_node=last)
        for i, t in enumerate(depart_s)
    ])


def lone_speed(length_m, lanes, v_limit, k_jam=0.15):
    """Greenshields speed of a link holding one vehicle."""
    return v_limit * (1.0 - 1.0 / (length_m * lanes * k_jam))


@pytest.mark.parametrize("dt_s", [0.5, 1.0, 2.0])
def test_free_flow_travel_time_of_a_lone_vehicle(backend, dt_s):
    """Travel time = sum of length / speed over the chain, for any step length."""
    lengths = [250.0, 80.0, 400.0, 120.0]
    net = chain_network(lengths, lanes=2, speed_mps=13.89)
    sim = Simulation(net, chain_trips(net, [3.7]), seed=0,
                     config=EngineConfig(dt_s=dt_s, backend=backend))
    sim.run(200.0)
    expected = sum(L / lone_speed(L, 2, 13.89) for L in lengths)
    assert sim.n_arrived == 1
    npt.assert_allclose(sim.travel_time_s[0], expected, rtol=1e-12)


def test_bottleneck_passes_at_most_its_capacity(backend):
    """Over-saturated demand: a 900 veh/h bottleneck passes 900 veh/h, not more."""
    cap = 900.0
    net = chain_network([600.0, 200.0, 300.0], lanes=[3, 1, 3],
                        capacity_vph=[5400.0, cap, 5400.0])
    depart = np.arange(0.0, 1200.0, 3600.0 / 1500.0)  # 1500 veh/h for 20 minutes
    sim = Simulation(net, chain_trips(net, depart), seed=0, config=EngineConfig(backend=backend))
    sim.run(300.0)
    assert sim.link_vehicle_count[0] > 10  # the queue has formed upstream
    n0, t0 = int(sim.link_exited[1]), sim.time_s
    sim.run(1200.0)
    n1, t1 = int(sim.link_exited[1]), sim.time_s
    ideal = cap * (t1 - t0) / 3600.0
    assert n1 - n0 <= ideal + 2.0  # + burst + discretisation
    assert n1 - n0 >= ideal - 2.0  # saturated: it runs at capacity


def test_conservation_every_step(backend):
    """total = waiting + active + arrived (+ unroutable); departed = arrived + in network."""
    net = grid_network(3, 4, block_m=150.0)
    trips = random_trips(net, n_trips=600, duration_s=300.0, rng=np.random.default_rng(2))
    sim = Simulation(net, trips, seed=2, config=EngineConfig(backend=backend))
    depart = trips.depart_s
    for _ in range(500):
        sim.step(1.0)
        state = np.asarray(sim.vehicle_state)
        n_wait = int((state == VEH_WAITING).sum())
        n_act = int((state == VEH_ACTIVE).sum())
        n_arr = int((state == VEH_ARRIVED).sum())
        n_unr = int((state == VEH_UNROUTABLE).sum())
        assert n_wait + n_act + n_arr + n_unr == len(trips)
        assert (sim.n_waiting, sim.n_active, sim.n_arrived) == (n_wait, n_act, n_arr)
        departed = int(((depart <= sim.time_s) & (state != VEH_WAITING)).sum())
        assert departed == n_arr + int(sim.link_vehicle_count.sum())
        assert int(sim.link_entered.sum() - sim.link_exited.sum()) == n_act
    assert sim.n_arrived == len(trips)


def test_queue_spills_back_to_storage_and_no_further(backend):
    """A closed downstream link fills, then each upstream link fills to storage exactly."""
    lengths = [200.0, 100.0, 60.0]
    net = chain_network(lengths)
    depart = np.arange(0.0, 400.0, 2.0)  # 200 vehicles, more than fit
    sim = Simulation(net, chain_trips(net, depart), seed=0, config=EngineConfig(backend=backend))
    sim.open_incident("l2", 1)  # all lanes blocked: nothing leaves the last link
    storage = np.floor(np.array(lengths) * 0.15 + 1e-9).astype(int)
    npt.assert_array_equal(sim.link_storage_veh, storage)
    for _ in range(600):
        sim.step(1.0)
        assert np.all(sim.link_vehicle_count <= storage)
    npt.assert_array_equal(sim.link_vehicle_count, storage)
    assert sim.n_arrived == 0
    assert sim.n_waiting == len(depart) - storage.sum()
    assert int(sim.link_exited[2]) == 0


def test_incident_lowers_throughput_and_queue_dissolves_after(backend):
    """Blocking one of two lanes halves the outflow; after clearance everyone arrives."""
    net = chain_network([500.0, 300.0, 500.0], lanes=2, capacity_vph=3600.0)
    depart = np.arange(0.0, 900.0, 3600.0 / 2400.0)  # 2400 veh/h for 15 minutes
    runs = {}
    for blocked in (False, True):
        sim = Simulation(net, chain_trips(net, depart), seed=0,
                         config=EngineConfig(backend=backend))
        sim.run(120.0)
        incident = sim.open_incident("l1", 1) if blocked else None
        n0 = int(sim.link_exited[1])
        sim.run(720.0)
        runs[blocked] = int(sim.link_exited[1]) - n0
        if blocked:
            assert sim.link_vehicle_count[1] == sim.link_storage_veh[1]  # incident link full
            assert sim.link_queue_veh[0] > 0  # and the queue spilled back upstream
            sim.clear_incident(incident)
        sim.run(3000.0)
        assert sim.n_arrived == len(depart)
        assert int(sim.link_vehicle_count.sum()) == 0
    assert runs[False] >= 2400.0 * 600.0 / 3600.0 - 20.0  # the demand passes freely
    assert runs[True] <= 1800.0 * 600.0 / 3600.0 + 2.0  # half the capacity, 600 s
    assert runs[True] < runs[False] - 50


def _record(sim: Simulation) -> dict[str, np.ndarray]:
    return {
        "state": np.array(sim.vehicle_state), "link": np.array(sim.vehicle_link),
        "pos": np.array(sim.vehicle_pos_m), "speed": np.array(sim.link_speed_mps),
        "count": np.array(sim.link_vehicle_count), "arrive": np.array(sim.arrive_s),
    }


def _assert_records_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for key in a:
        npt.assert_array_equal(a[key], b[key], err_msg=key)


def test_same_seed_gives_the_same_run(backend):
    """Two simulations built the same way produce identical trajectories."""
    net = grid_network(4, 4, block_m=120.0)
    records = []
    for _ in range(2):
        trips = random_trips(net, n_trips=800, duration_s=300.0, rng=np.random.default_rng(9))
        sim = Simulation(net, trips, seed=9, config=EngineConfig(backend=backend))
        run = []
        for t in range(60, 420, 60):
            sim.run(float(t))
            run.append(_record(sim))
        records.append((run, sim.summary()))
    for a, b in zip(records[0][0], records[1][0], strict=True):
        _assert_records_equal(a, b)
    assert records[0][1] == records[1][1]


def test_snapshot_run_restore_run_is_identical(backend):
    """snapshot -> run -> restore -> run gives the same arrays, twice over."""
    net = grid_network(4, 4, block_m=120.0)
    trips = random_trips(net, n_trips=800, duration_s=300.0, rng=np.random.default_rng(4))
    sim = Simulation(net, trips, seed=4, config=EngineConfig(backend=backend))
    sim.add_loop_detector("d", net.link_ids[5], 60.0)
    sim.run(150.0)
    incident = sim.open_incident(net.link_ids[3], 1)
    snap = sim.snapshot()

    def play() -> list[dict[str, np.ndarray]]:
        out = []
        for t in (200.0, 260.0, 330.0):
            sim.run(t)
            out.append(_record(sim) | {"det": sim.take_detector_counts().count})
        sim.clear_incident(incident)
        sim.run(400.0)
        out.append(_record(sim))
        return out

    first = play()
    sim.restore(snap)
    assert sim.time_s == 150.0 and incident in sim.open_incidents
    second = play()
    sim.restore(snap)
    third = play()
    for a, b, c in zip(first, second, third, strict=True):
        _assert_records_equal(a, b)
        _assert_records_equal(a, c)
