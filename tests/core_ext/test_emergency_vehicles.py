"""Emergency vehicles in the microscopic engine (``veh_emergency``; rules in the
:mod:`core_ext._micro_nb` docstring): passing red at a crawl, overtaking vehicles that
move aside, a shorter drive through congestion, and the flag's API on
:class:`twin.simulation.Simulation`."""

from __future__ import annotations

import numpy as np
import pytest

from core_ext.micro import MicroParams
from twin.demand import Trips, od_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import EngineConfig, Simulation


def _sim(net: Network, od: dict[tuple[str, str], int] | None = None,
         duration_s: float = 60.0) -> Simulation:
    trips = od_trips(net, od or {}, duration_s=duration_s, rng=np.random.default_rng(5),
                     rounding="stochastic")
    return Simulation(net, trips, seed=0, config=EngineConfig(dt_s=1.0))


def _route(net: Network, *nodes: str) -> list[int]:
    return [net.link_index[f"{a}-{b}"] for a, b in zip(nodes[:-1], nodes[1:], strict=False)]


def test_passes_red_at_a_crawl_while_a_normal_car_waits():
    """Side by side on a two-lane approach that turns red before they reach it: the
    normal car stops at the line, the emergency vehicle slows to a crawl and goes."""
    net = grid_network(3, 3, block_m=150.0, lanes=2, signals=True)
    sim = _sim(net)
    route = _route(net, "r1c0", "r1c1", "r1c2")
    car = sim.add_vehicle(route, 0.0, "car")
    amb = sim.add_vehicle(route, 0.0, "car", emergency=True)
    sim.trace([car, amb])
    sim.run(90.0)
    tr = sim.take_trajectories()
    first = route[0]
    car_on_first = (tr.vehicle == car) & (tr.link == first)
    assert tr.speed_mps[car_on_first].min() == 0.0  # the normal car waited at the line
    amb_second = np.flatnonzero((tr.vehicle == amb) & (tr.link == route[1]))
    crossed_at = tr.time_s[amb_second[0]]
    waiting = car_on_first & (tr.time_s == crossed_at)
    assert waiting.any()  # the normal car is still held before the line meanwhile
    assert tr.speed_mps[amb_second[0]] <= MicroParams().emergency_crawl_mps + 1e-9
    assert sim.summary()["red_light_runs"] == 1  # the emergency vehicle's, nobody else's
    tt = sim.travel_time_s
    assert tt[amb] < tt[car] - 10.0


def _platoon_run(emergency: bool) -> tuple[float, int, int]:
    """Ten trucks on a two-lane road, then a car just behind them: its travel time, the
    lane changes of the ten, and how many of them arrived after it."""
    net = grid_network(1, 4, block_m=300.0, lanes=2, signals=False)
    sim = _sim(net)
    route = _route(net, "r0c0", "r0c1", "r0c2", "r0c3")
    ahead = sim.add_vehicles([route] * 10, [3.0 * k for k in range(10)], ["truck"] * 10)
    last = sim.add_vehicle(route, 30.0, "car", emergency=emergency)
    lanes_seen = {int(v): set() for v in ahead}
    changes = 0
    while sim.time_s < 200.0:
        before = sim.vehicle_lane[ahead].copy()
        link_before = sim.vehicle_link[ahead].copy()
        sim.step()
        after = sim.vehicle_lane[ahead]
        same_link = sim.vehicle_link[ahead] == link_before
        changes += int(((before != after) & same_link & (after >= 0)).sum())
        for v, g in zip(ahead, after, strict=True):
            lanes_seen[int(v)].add(int(g))
    arrive = sim.arrive_s
    assert np.isfinite(arrive[ahead]).all() and np.isfinite(arrive[last])
    return float(sim.travel_time_s[last]), changes, int((arrive[ahead] > arrive[last]).sum())


def test_vehicles_ahead_move_aside_and_it_overtakes():
    """The same platoon with a normal car, then an emergency vehicle behind it: only the
    emergency vehicle makes the cars ahead change lanes, and it overtakes them."""
    tt_car, changes_car, passed_car = _platoon_run(False)
    tt_amb, changes_amb, passed_amb = _platoon_run(True)
    assert changes_amb > changes_car
    assert passed_amb > passed_car
    assert tt_amb < tt_car


def _corridor_run(emergency: bool) -> float:
    net = grid_network(3, 5, block_m=150.0, lanes=2, signals=True)
    od = {("r1c0", "r1c4"): 160, ("r0c2", "r2c2"): 60, ("r2c1", "r0c3"): 60}
    sim = _sim(net, od, duration_s=240.0)
    route = _route(net, "r1c0", "r1c1", "r1c2", "r1c3", "r1c4")
    sim.run(150.0)
    v = sim.add_vehicle(route, 150.0, "car", emergency=emergency)
    sim.run(700.0)
    assert np.isfinite(sim.arrive_s[v])
    return float(sim.travel_time_s[v])


def test_shorter_drive_through_a_congested_corridor():
    """A signalised corridor loaded near capacity: the emergency vehicle gets through it
    faster than the same car without the flag, departing at the same moment."""
    tt_car = _corridor_run(False)
    tt_amb = _corridor_run(True)
    assert tt_amb < 0.8 * tt_car


def test_flag_api_snapshot_and_clearing():
    net = grid_network(3, 3, block_m=150.0, lanes=2, signals=True)
    sim = _sim(net)
    route = _route(net, "r1c0", "r1c1", "r1c2")
    ids = sim.add_vehicles([route, route], [0.0, 5.0], ["car", "car"], emergency=[True, False])
    assert sim.emergency[ids].tolist() == [True, False]
    snap = sim.snapshot()
    sim.set_emergency([ids[0]], False)  # back in ordinary service
    assert not sim.emergency.any()
    sim.restore(snap)
    assert sim.emergency[ids].tolist() == [True, False]
    with pytest.raises(ValueError):
        sim.set_emergency([99], True)
    with pytest.raises(ValueError):
        sim.add_vehicles([route], [0.0], ["car"], emergency=[True, True])


def test_cleared_flag_waits_at_red_again():
    """A unit back in service drives as an ordinary car: it waits at the red line."""
    net = grid_network(3, 3, block_m=150.0, lanes=2, signals=True)
    sim = _sim(net)
    route = _route(net, "r1c0", "r1c1", "r1c2")
    unit = sim.add_vehicle(route, 0.0, "car", emergency=True)
    sim.set_emergency([unit], False)
    sim.run(90.0)
    assert sim.summary()["red_light_runs"] == 0
    assert sim.travel_time_s[unit] > 40.0


def _lanes_in_order(sim: Simulation) -> bool:
    """Every lane front first, no vehicle reaching into the one ahead of it."""
    s = sim._state
    for g in range(s.n_lanes):
        off, cap = int(s.lane_slot_off[g]), int(s.lane_slot_off[g + 1] - s.lane_slot_off[g])
        lane = [int(s.slots[off + (int(s.lane_head[g]) + k) % cap])
                for k in range(int(s.lane_count[g]))]
        for ahead, behind in zip(lane[:-1], lane[1:], strict=True):
            if s.veh_pos_m[behind] > s.veh_pos_m[ahead] - s.cls_length_m[s.veh_class[ahead]]:
                return False
    return True


def _blocked_street(pass_mps: float, n_queued: int, wait_s: float) -> tuple[float, bool]:
    """A one-lane street of five 200 m blocks; ``n_queued`` cars stand in a queue behind an
    incident on the last block, back over the junctions before it. An ambulance sets off
    behind the queue for the incident (the end of the fourth block): its drive time (inf
    when it has not arrived within ``wait_s``), and whether the lanes stayed in order."""
    net = grid_network(1, 6, block_m=200.0, lanes=1, signals=False)
    links = _route(net, *[f"r0c{j}" for j in range(6)])
    cfg = EngineConfig(dt_s=1.0, micro=MicroParams(emergency_pass_mps=pass_mps))
    sim = Simulation(net, Trips.empty(), seed=3, config=cfg)
    sim.add_vehicles([links] * n_queued, list(np.linspace(0.0, 2.0 * n_queued, n_queued)),
                     ["car"] * n_queued)
    sim.open_incident(links[4], 1, pos_m=150.0)
    sim.run(500.0)
    assert sim.n_active == n_queued and not (sim.vehicle_speed_mps[:n_queued] > 0.1).any()
    amb = sim.add_vehicle(links[:4], sim.time_s, "car", emergency=True)
    start = sim.time_s
    ordered = True
    while sim.time_s < start + wait_s and not np.isfinite(sim.arrive_s[amb]):
        sim.step()
        ordered = ordered and _lanes_in_order(sim)
    return float(sim.arrive_s[amb] - start) if np.isfinite(sim.arrive_s[amb]) else np.inf, ordered


def test_passes_a_stopped_single_lane_queue_to_the_incident():
    """Behind a queue of 80 stopped cars on a one-lane street nobody can move aside: with
    queue passing the ambulance gets past every one of them (and across the junctions the
    queue spills over) within the time the rule allows, the lanes staying in order;
    without it (``emergency_pass_mps = 0``) it waits in the queue like everyone else."""
    n = 80
    p, car = MicroParams(), EngineConfig().class_params[1]
    close_m = car.min_gap_m + p.emergency_pass_mps * car.headway_s  # how near it closes up
    per_car_s = (car.length_m + close_m) / p.emergency_pass_mps + 2.0  # beside it, the swap
    free_s = 4 * 200.0 / (13.89 * p.emergency_speed_factor)
    wait_s = free_s + n * per_car_s + 60.0
    drive_s, ordered = _blocked_street(p.emergency_pass_mps, n, wait_s)
    assert drive_s < wait_s and ordered
    assert drive_s > n * car.length_m / p.emergency_pass_mps  # it did not jump the queue
    stuck_s, _ = _blocked_street(0.0, n, wait_s)
    assert stuck_s == np.inf
