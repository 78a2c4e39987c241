"""A whole scenario on a grid: build the Simulation (routing included) and run it to the end."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.peers.kota_run import warm_up
from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.simulation import Simulation


@pytest.mark.benchmark(group="scenario")
def test_grid_scenario(benchmark):
    """12 x 12 two-lane grid, 20,000 trips over one hour, run to 90 minutes at dt = 1 s."""
    warm_up()
    net = grid_network(12, 12, block_m=200.0, lanes=2)
    trips = random_trips(net, n_trips=20_000, duration_s=3600.0, rng=np.random.default_rng(3))

    def scenario() -> Simulation:
        sim = Simulation(net, trips, seed=3)
        sim.run(5400.0)
        return sim

    result = benchmark.pedantic(scenario, rounds=3, iterations=1).summary()
    benchmark.extra_info.update({k: result[k] for k in
                                 ("vehicle_steps", "trips_completed", "trips_total",
                                  "mean_travel_time_s")})
    if benchmark.stats is not None:
        benchmark.extra_info["vehicle_updates_per_s"] = round(
            result["vehicle_steps"] / benchmark.stats.stats.mean)
