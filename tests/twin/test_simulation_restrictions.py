"""Per-vehicle link restrictions (odd-even), put-off departures and re-planned departures."""

from __future__ import annotations

import numpy as np
import pytest

from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.simulation import VEH_ACTIVE, Simulation


@pytest.fixture(scope="module")
def grid() -> Network:
    return grid_network(3, 4, block_m=150.0)


def _sim(grid: Network, n: int = 400, seed: int = 5) -> Simulation:
    trips = random_trips(grid, n_trips=n, duration_s=600.0, rng=np.random.default_rng(seed),
                         vehicle_mix={"car": 1.0})
    return Simulation(grid, trips, seed=seed)


def _busiest_link(sim: Simulation) -> int:
    used = np.concatenate([sim.route_of(v) for v in range(sim.n_vehicles)])
    return int(np.bincount(used, minlength=sim.network.n_links).argmax())


def _drive(sim: Simulation, until_s: float, link: int) -> set[int]:
    """Run to ``until_s`` second by second; the vehicles seen on ``link``."""
    seen: set[int] = set()
    while sim.time_s < until_s:
        sim.run(sim.time_s + 1.0)
        on = (np.asarray(sim.vehicle_state) == VEH_ACTIVE) & (np.asarray(sim.vehicle_link) == link)
        seen |= set(np.flatnonzero(on).tolist())
    return seen


def test_restricted_vehicles_keep_off_the_link_and_the_others_use_it(grid):
    sim = _sim(grid)
    link = _busiest_link(sim)
    users = np.flatnonzero(sim.route_ahead_uses([link]))
    banned = users[::2]
    rid, changed = sim.restrict_links([link], banned)
    assert changed == banned.size  # on a grid there is always a way around
    assert not sim.route_ahead_uses([link])[banned].any()
    seen = _drive(sim, 1200.0, link)
    assert not seen & set(banned.tolist())
    assert seen & set(users[1::2].tolist())
    assert sim.n_arrived == sim.n_vehicles
    sim.lift_restriction(rid)
    with pytest.raises(KeyError):
        sim.lift_restriction(rid)


def test_a_closure_keeps_restricted_vehicles_off_their_links(grid):
    """A re-plan for another reason (a closure) does not send them back onto a forbidden link."""
    sim = _sim(grid)
    link = _busiest_link(sim)
    everyone = np.arange(sim.n_vehicles)
    sim.restrict_links([link], everyone)
    other = int(np.bincount(np.concatenate([sim.route_of(v) for v in everyone]),
                            minlength=grid.n_links).argmax())
    sim.close_link(other)
    assert not sim.route_ahead_uses([link]).any()


def test_postpone_moves_only_waiting_departures_later(grid):
    sim = _sim(grid)
    sim.run(100.0)
    active = int(np.flatnonzero(np.asarray(sim.vehicle_state) == VEH_ACTIVE)[0])
    late = np.flatnonzero(np.asarray(sim.trips.depart_s) > 200.0)[:20]
    assert sim.postpone(np.append(late, active), 900.0) == late.size
    sim.run(899.0)
    assert np.isnan(np.asarray(sim.insert_s)[late]).all()
    sim.run(1500.0)
    assert (np.asarray(sim.insert_s)[late] >= 900.0).all()


def test_replanned_departures_come_back_to_a_reopened_link(grid):
    sim = _sim(grid)
    link = _busiest_link(sim)
    later = np.flatnonzero(sim.route_ahead_uses([link])
                           & (np.asarray(sim.trips.depart_s) > 300.0))
    sim.close_link(link)
    assert not sim.route_ahead_uses([link])[later].any()
    sim.run(200.0)
    sim.reopen_link(link)
    assert sim.replan_departures(later) > 0
    assert sim.route_ahead_uses([link])[later].any()
