"""Helpers of the dispatch tests: a small grid with a real traffic engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import simpy

from twin.demand import random_trips
from twin.demand.trips import Trips
from twin.importers.grid import grid_network
from twin.modules.dispatch import DispatchModel, parse_config
from twin.modules.dispatch.run import traffic_process
from twin.simulation import Simulation


def make_sim(n_trips: int = 0, seed: int = 1) -> Simulation:
    """A 3x3 grid of two-lane streets, empty or with ``n_trips`` random trips in an hour."""
    net = grid_network(3, 3, lanes=2)
    trips = Trips.empty() if n_trips == 0 else random_trips(
        net, n_trips=n_trips, duration_s=3600, rng=np.random.default_rng(seed))
    return Simulation(net, trips, seed=seed)


def make_model(raw: dict[str, Any], sim: Simulation | None = None,
               ) -> tuple[simpy.Environment, DispatchModel]:
    """A dispatch model with its traffic process on a fresh clock (not yet run)."""
    sim = make_sim() if sim is None else sim
    env = simpy.Environment()
    model = DispatchModel(sim, env, parse_config(raw))
    env.process(traffic_process(env, model, 1.0))
    return env, model
