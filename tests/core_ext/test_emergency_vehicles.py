"""Emergency vehicles in the microscopic engine (``veh_emergency``; rules in the
:mod:`core_ext._micro_nb` docstring): passing red at a crawl, overtaking vehicles that
move aside, a shorter drive through congestion, and the flag's API on
:class:`twin.simulation.Simulation`."""

from __future__ import annotations

import numpy as np
import pytest

from core_ext.micro import MicroParams
from twin.demand import od_trips
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
