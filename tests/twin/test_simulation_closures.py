"""Simulation controls used by the what-if forks: road closures, signal timing, re-routing settings."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from twin.demand import od_trips, random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import VEH_WAITING, Simulation

CARS = {"car": 1.0}


@pytest.fixture(scope="module")
def grid() -> Network:
    """A 3 x 4 grid of two-way 150 m streets, signals at the four-way junctions."""
    return grid_network(3, 4, block_m=150.0)


def _sim(grid: Network, n: int = 400, seed: int = 3) -> Simulation:
    trips = random_trips(grid, n_trips=n, duration_s=600.0, rng=np.random.default_rng(seed),
                         vehicle_mix=CARS)
    return Simulation(grid, trips, seed=seed)


def _busiest_link(sim: Simulation) -> int:
    """The link most routes use."""
    used = np.concatenate([sim.route_of(v) for v in range(sim.n_vehicles)])
    return int(np.bincount(used, minlength=sim.network.n_links).argmax())


def test_closed_link_is_never_entered_and_everyone_arrives_around_it(grid):
    """After close_link nobody enters the link, and on a grid every trip still arrives."""
    sim = _sim(grid)
    link = _busiest_link(sim)
    sim.run(120.0)
    changed = sim.close_link(link)
    assert changed > 0
    assert sim.closed_links == (grid.link_ids[link],)
    entered = int(sim.link_entered[link])
    sim.run(2400.0)
    assert int(sim.link_entered[link]) == entered
    assert sim.n_arrived == sim.n_vehicles


def test_trip_starting_on_a_closed_link_departs_another_way(grid):
    """A trip still to depart whose route starts on the closed link re-plans from its node."""
    sim = _sim(grid)
    sim.run(30.0)
    waiting = np.flatnonzero(np.asarray(sim.vehicle_state) == VEH_WAITING)
    firsts = np.array([sim.route_of(v)[0] for v in waiting])
    link = int(np.bincount(firsts).argmax())
    starters = waiting[firsts == link]
    assert starters.size > 0
    sim.close_link(link)
    for v in starters.tolist():
        route = sim.route_of(v)
        assert route[0] != link
        assert grid.link_from[route[0]] == grid.link_from[link]  # the same origin node
    sim.run(2400.0)
    assert np.all(np.isfinite(np.asarray(sim.arrive_s)[starters]))
    assert sim.n_arrived == sim.n_vehicles


def test_closing_the_only_road_strands_its_trips():
    """On a line, the trips bound for its end cannot arrive while the last link is closed
    (they wait at the closure); once it reopens, every trip arrives."""
    line = grid_network(1, 4, block_m=200.0, signals=False)
    trips = od_trips(line, {("r0c0", "r0c3"): 40.0, ("r0c0", "r0c2"): 40.0}, duration_s=300.0,
                     rng=np.random.default_rng(1), vehicle_mix=CARS)
    sim = Simulation(line, trips, seed=1)
    sim.close_link("r0c2-r0c3")
    sim.run(1500.0)
    to_end = np.asarray(trips.destination_node) == line.node_index["r0c3"]
    arrived = np.isfinite(np.asarray(sim.arrive_s))
    assert to_end.sum() > 0
    assert not arrived[to_end].any()
    assert int(sim.link_entered[line.link_index["r0c2-r0c3"]]) == 0
    sim.reopen_link("r0c2-r0c3")
    assert sim.closed_links == ()
    sim.run(2400.0)
    assert sim.n_arrived == sim.n_vehicles


def test_closure_is_part_of_the_snapshot(grid):
    """Restoring a snapshot from before a closure undoes it, routes included: the run
    goes on exactly as without the closure."""
    plain = _sim(grid)
    sim = _sim(grid)
    sim.run(120.0)
    snap = sim.snapshot()
    sim.close_link(_busiest_link(sim))
    sim.run(300.0)
    sim.restore(snap)
    assert sim.closed_links == ()
    sim.run(1800.0)
    plain.run(1800.0)
    npt.assert_array_equal(sim.arrive_s, plain.arrive_s)
    npt.assert_array_equal(sim.link_entered, plain.link_entered)


def test_signal_timing_is_set_checked_and_snapshotted(grid):
    """set_signal_timing changes the durations the engine runs, refuses bad input, and a
    snapshot restores the old plan."""
    sim = _sim(grid)
    program = grid.signals.program_ids[0]
    durations, offset = sim.signal_timing(program)
    snap = sim.snapshot()
    sim.set_signal_timing(program, durations * 2, offset_s=5.0)
    new, new_offset = sim.signal_timing(program)
    npt.assert_array_equal(new, durations * 2)
    assert new_offset == 5.0
    with pytest.raises(ValueError, match="phases"):
        sim.set_signal_timing(program, durations[:-1])
    with pytest.raises(ValueError, match="> 0"):
        sim.set_signal_timing(program, -durations)
    with pytest.raises(ValueError, match="unknown signal program"):
        sim.set_signal_timing("nope", durations)
    npt.assert_array_equal(sim.signal_timing(program)[0], durations * 2)  # refused: unchanged
    sim.restore(snap)
    npt.assert_array_equal(sim.signal_timing(program)[0], durations)


def test_longer_green_lets_more_of_a_saturated_approach_through():
    """At a junction fed mostly from the west, giving the west approach more of the cycle
    lets more vehicles cross in the same time."""
    net = grid_network(3, 3, block_m=200.0)
    west = net.link_index["r1c0-r1c1"]
    conns = np.flatnonzero(net.conn_from_link == west)
    states = net.signals.phase_state
    west_phase = next(k for k, st in enumerate(states)
                      if all(st[i] in "Gg" for i in net.conn_signal_index[conns]))
    assert [len(states), west_phase] in ([4, 0], [4, 2])
    trips = od_trips(net, {("r1c0", "r1c2"): 500.0, ("r0c1", "r2c1"): 100.0},
                     duration_s=900.0, rng=np.random.default_rng(2), vehicle_mix=CARS)
    crossed = []
    for west_green_s in (30.0, 45.0):
        durations = [60.0 - west_green_s, 3.0, 60.0 - west_green_s, 3.0]
        durations[west_phase] = west_green_s
        sim = Simulation(net, trips, seed=2)
        sim.set_signal_timing("r1c1", durations)
        sim.run(900.0)
        crossed.append(int(sim.link_entered[net.link_index["r1c1-r1c2"]]))
    assert crossed[1] > crossed[0] * 1.1


def test_set_rerouting_replans_at_the_next_step(grid):
    """With a link blocked, turning re-routing on makes drivers re-plan at the next step
    end; the settings land in ``config``."""
    sim = _sim(grid)
    sim.run(120.0)
    link = _busiest_link(sim)
    sim.open_incident(link, 1, speed_factor=0.05)
    sim.run(180.0)
    before = [sim.route_of(v).copy() for v in range(sim.n_vehicles)]
    sim.set_rerouting(1.0, 600.0)
    assert sim.config.reroute_share == 1.0 and sim.config.reroute_period_s == 600.0
    sim.step()
    changed = sum(not np.array_equal(before[v], sim.route_of(v)) for v in range(sim.n_vehicles))
    assert changed > 0
    with pytest.raises(ValueError, match="reroute_share"):
        sim.set_rerouting(1.5)


def test_route_cost_is_the_travel_time_with_closed_links_impassable(grid):
    """route_cost_s: the current link travel times, inf on closed links; a travel-time array
    the caller already has gives the same cost and is left as it was."""
    sim = _sim(grid)
    sim.run(200.0)
    link = _busiest_link(sim)
    sim.close_link(link)
    travel = sim.link_travel_time_s()
    cost = sim.route_cost_s()
    assert np.isinf(cost[link]) and np.isfinite(travel[link])
    open_links = np.arange(grid.n_links) != link
    npt.assert_array_equal(cost[open_links], travel[open_links])
    given = travel.copy()
    npt.assert_array_equal(sim.route_cost_s(given), cost)
    npt.assert_array_equal(given, travel)
