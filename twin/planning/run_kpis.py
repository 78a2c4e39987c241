"""One run of a sweep point, to the end, and the KPIs a planner compares.

:func:`run_point` is what a Dask worker executes: it takes plain values (picklable), loads
the scenario file itself, runs it headless with an in-memory store, and returns a dict.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["KPI_NAMES", "run_point", "traffic_kpis"]

KPI_NAMES = ("mean_travel_time_s", "p90_travel_time_s", "mean_delay_s", "trips_completed",
             "completed_share", "refused_entries", "red_light_runs")
"""The KPIs a sweep summarises (means and confidence intervals across seeds)."""


def traffic_kpis(sim: Any) -> dict[str, Any]:
    """Travel time, delay and throughput of a :class:`~twin.simulation.Simulation` so far.

    Delay is travel time less the route's free-flow time (speed limits), over arrived trips.
    """
    tt = np.asarray(sim.travel_time_s)
    done = np.isfinite(tt)
    delay = tt[done] - np.asarray(sim.route_free_flow_s)[done]
    summary = sim.summary()
    total = int(summary["trips_total"])
    return {
        "mean_travel_time_s": float(tt[done].mean()) if done.any() else None,
        "p90_travel_time_s": float(np.percentile(tt[done], 90)) if done.any() else None,
        "mean_delay_s": float(delay.mean()) if done.any() else None,
        "trips_total": total,
        "trips_completed": int(done.sum()),
        "completed_share": float(done.sum() / total) if total else None,
        "refused_entries": int(summary["refused_entries"]),
        "red_light_runs": int(summary["red_light_runs"]),
        "gridlocked": bool(summary["gridlocked"]),
        "vehicle_steps": int(summary["vehicle_steps"]),
    }


def run_point(scenario_path: str, params: dict[str, Any], seed: int,
              duration_s: float | None = None) -> dict[str, Any]:
    """Run one point of a sweep and return its KPIs (plus ``wall_s``).

    Raises
    ------
    ScenarioError, ParameterError : the scenario or a value is refused.
    """
    from twin.planning.sweep_spec import SweepPoint, SweepSpec
    from twin.runner import TwinRun

    spec = SweepSpec(Path(scenario_path), {k: [v] for k, v in params.items()}, (seed,), duration_s)
    scenario = spec.scenario_for(SweepPoint(params, seed, ""))
    wall0 = time.perf_counter()
    run = TwinRun(scenario, store_url="sqlite://")
    try:
        run.run(chunk_s=300.0)
        kpis = traffic_kpis(run.sim)
        kpis["camera_observations"] = run.cameras.published
    finally:
        run.close()
    kpis["wall_s"] = round(time.perf_counter() - wall0, 3)
    return kpis
