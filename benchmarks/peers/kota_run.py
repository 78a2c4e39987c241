"""Run the scenario in Kota Twin (``python -m benchmarks.peers.kota_run WORKDIR``).

Only the public façade is used: ``twin.simulation.Simulation(network, trips,
seed=...)``, ``.run(until_s)`` in chunks of :data:`CHUNK_S` simulated seconds
(stopping early once every trip has arrived, or at the horizon) and
``.summary()`` (``vehicle_steps``, ``trips_completed``, ``mean_travel_time_s``).
Every trip carries its explicit route, so Kota routes nothing itself.

Before the timed run a tiny 2 x 2 scenario is simulated once, so JIT compilation
(or loading the compiled kernels from numba's disk cache) happens outside the
timed loop; it is counted in ``startup_s`` (and reported as
``extra.warm_up_s``). ``sim_wall_s`` covers the ``run`` calls only (the
``summary`` calls between chunks are included too, they are cheap);
``Simulation`` construction (route checks, state arrays) is in
``extra.build_s``.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

from pathlib import Path  # noqa: E402 - the clock starts before the imports

import numba  # noqa: E402
import numpy as np  # noqa: E402

import twin  # noqa: E402
from benchmarks.peers.common import (  # noqa: E402
    EngineResult,
    child_main,
    current_rss_mb,
    peak_rss_self_mb,
    save_trip_results,
)
from benchmarks.peers.grid import load_scenario, route_ids  # noqa: E402
from twin.simulation import Simulation  # noqa: E402

#: Simulated seconds per ``run`` call between completion checks.
CHUNK_S = 60.0
_MAIN_KEYS = frozenset({"vehicle_steps", "trips_total", "trips_completed", "mean_travel_time_s",
                        "time_s"})


def warm_up() -> float:
    """Simulate a tiny scenario so the kernels are compiled (or loaded); return seconds.

    Also the warm-up of the pytest-benchmark suites (``benchmarks/bench_*.py``).
    """
    from twin.demand import random_trips
    from twin.importers.grid import grid_network

    t = time.perf_counter()
    net = grid_network(2, 2)
    trips = random_trips(net, n_trips=5, duration_s=10.0, rng=np.random.default_rng(0))
    Simulation(net, trips, seed=0).run(30.0)
    return time.perf_counter() - t


def run(workdir: Path) -> EngineResult:
    baseline = current_rss_mb()
    network, trips, params = load_scenario(workdir)
    warm_s = warm_up()

    t_build = time.perf_counter()
    sim = Simulation(network, trips, seed=params.seed)
    build_s = time.perf_counter() - t_build

    t_run = time.perf_counter()
    startup = t_run - _T0
    total = len(trips)
    summary = sim.summary()
    first_gridlock_s: float | None = None
    most_active = 0  # vehicles on the road when a run call starts: decides serial or parallel
    while sim.time_s < params.horizon_s - 1e-9:
        most_active = max(most_active, sim.n_active)
        sim.run(min(sim.time_s + CHUNK_S, params.horizon_s))
        summary = sim.summary()
        if summary.get("gridlocked") and first_gridlock_s is None:
            first_gridlock_s = float(sim.time_s)
        if summary["trips_completed"] + summary["trips_unroutable"] >= total:
            break
    wall = time.perf_counter() - t_run

    tt = np.asarray(sim.travel_time_s, dtype=np.float64)
    driven = [sim.route_of(i) for i in range(total)]
    lengths = np.array([float(network.link_length_m[r].sum()) for r in driven])
    routes = ([[network.link_ids[k] for k in r.tolist()] for r in driven]
              if params.record_routes else None)
    save_trip_results(workdir, "kota", trips.trip_ids, tt, lengths, routes)
    if routes is not None:  # the façade must drive the routes it was given
        for i, route in enumerate(routes):
            if route != route_ids(network, trips, i):
                raise AssertionError(f"Kota drove another route for trip {trips.trip_ids[i]!r}")

    steps = int(summary["vehicle_steps"])
    mean_tt = summary["mean_travel_time_s"]
    return EngineResult(
        engine="kota",
        label=f"Kota Twin {twin.__version__} (twin.Simulation, step 1 s)",
        sim_wall_s=wall,
        startup_s=startup,
        vehicle_steps=steps,
        trips_total=int(summary["trips_total"]),
        trips_completed=int(summary["trips_completed"]),
        mean_travel_time_s=float(mean_tt) if mean_tt is not None else None,
        sim_end_s=float(sim.time_s),
        peak_rss_mb=peak_rss_self_mb(),
        baseline_rss_mb=baseline,
        threads=(int(numba.get_num_threads())
                 if most_active >= sim.config.micro.parallel_min_vehicles else 1),
        extra={"warm_up_s": warm_s, "build_s": build_s,
               "first_gridlock_s": first_gridlock_s,
               # whatever else this engine's summary() reports (waiting, active, ...)
               **{k: v for k, v in summary.items() if k not in _MAIN_KEYS}},
    )


if __name__ == "__main__":
    raise SystemExit(child_main("kota", run))
