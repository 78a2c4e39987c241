"""Whole scenarios, run to the end: a synthetic grid, and the Jatinegara demo as
``kota run`` runs it (engine, sensors, store). Each reports vehicle updates per
second (vehicle-steps simulated per wall second of the timed call) and the
process's peak RSS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.peers.common import peak_rss_self_mb
from benchmarks.peers.kota_run import warm_up
from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.simulation import Simulation

REPO = Path(__file__).resolve().parents[1]
JATINEGARA_DEMO = REPO / "scenarios" / "jakarta_jatinegara.toml"


def _report(benchmark, summary: dict) -> None:
    benchmark.extra_info.update({k: summary[k] for k in
                                 ("vehicle_steps", "trips_completed", "trips_total",
                                  "mean_travel_time_s")})
    benchmark.extra_info["peak_rss_mb"] = round(peak_rss_self_mb(), 1)
    if benchmark.stats is not None:
        benchmark.extra_info["vehicle_updates_per_s"] = round(
            summary["vehicle_steps"] / benchmark.stats.stats.mean)


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

    summary = benchmark.pedantic(scenario, rounds=3, iterations=1).summary()
    assert summary["trips_completed"] > 0.95 * summary["trips_total"]
    _report(benchmark, summary)


@pytest.mark.benchmark(group="scenario")
def test_jatinegara_demo(benchmark, tmp_path):
    """The demo of ``make run`` without the dashboard: 4 h of the morning peak on the
    real Jatinegara network (~12,000 trips), loop detectors into SQLite, one incident.
    Timed: ``TwinRun.run`` (network import and routing are outside)."""
    from twin.runner import TwinRun
    from twin.scenario import load_scenario

    scenario = load_scenario(JATINEGARA_DEMO)  # TwinRun loads the kernels in the untimed setup
    runs: list[TwinRun] = []

    def setup() -> tuple[tuple[TwinRun], dict[str, object]]:
        run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / f'run{len(runs)}.db'}")
        runs.append(run)
        return (run,), {}

    def run_it(run: TwinRun) -> dict:
        return run.run().summary

    summary = benchmark.pedantic(run_it, setup=setup, rounds=2, iterations=1)
    for run in runs:
        run.close()
    assert summary["trips_completed"] > 0.95 * summary["trips_total"]
    _report(benchmark, summary)
