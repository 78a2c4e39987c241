"""One run of a sweep point, to the end, and the KPIs a planner compares.

:func:`run_point` is what a Dask worker executes: it takes plain values (picklable), loads
the scenario file itself, runs it headless with an in-memory store, and returns a dict.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from twin.stats import nearest_rank

__all__ = ["KPI_NAMES", "MODULE_KPI_NAMES", "LinkSpeedMeter", "module_kpis", "run_point",
           "traffic_kpis"]

SAMPLE_EVERY_S = 60.0
"""How often a sweep run samples the speed on every link (for the report's maps)."""

KPI_NAMES = ("mean_travel_time_s", "p90_travel_time_s", "mean_delay_s", "trips_completed",
             "completed_share", "refused_entries", "red_light_runs")
"""The traffic KPIs a sweep summarises (means and confidence intervals across seeds)."""

MODULE_KPI_NAMES = ("violations", "response_p90_s", "ambulance_response_p90_s", "service_index")
"""The service modules' KPIs a sweep summarises when the scenario runs them (None otherwise):
ETLE cases created, the 112 total response P90 overall and for ambulances, and the
accountability index (AAI) of the six-service quality index over the run."""


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
        "p90_travel_time_s": nearest_rank(tt[done], 90) if done.any() else None,
        "mean_delay_s": float(delay.mean()) if done.any() else None,
        "trips_total": total,
        "trips_completed": int(done.sum()),
        "completed_share": float(done.sum() / total) if total else None,
        "refused_entries": int(summary["refused_entries"]),
        "red_light_runs": int(summary["red_light_runs"]),
        "gridlocked": bool(summary["gridlocked"]),
        "vehicle_steps": int(summary["vehicle_steps"]),
    }


def module_kpis(modules: Mapping[str, Mapping[str, Any]], store: Any, start: datetime,
                end: datetime) -> dict[str, Any]:
    """The :data:`MODULE_KPI_NAMES` of a run from its modules' summaries and its store.

    ``service_index`` is the quality index's AAI over ``[start, end)`` measured on the run's
    store, computed only when a service module ran; None when the index has too few samples
    to score (a short run), as the index itself says.
    """
    out: dict[str, Any] = dict.fromkeys(MODULE_KPI_NAMES)
    enforcement = modules.get("enforcement")
    if enforcement is not None:
        out["violations"] = enforcement.get("cases_created")
    dispatch = modules.get("dispatch")
    if dispatch is not None:
        kpis = dispatch.get("kpis", {})
        out["response_p90_s"] = kpis.get("overall", {}).get("total_response_s", {}).get("p90")
        ambulance = kpis.get("services", {}).get("ambulance", {})
        out["ambulance_response_p90_s"] = ambulance.get("total_response_s", {}).get("p90")
    if modules:
        from twin.modules.quality import compute, load_config
        from twin.modules.quality.index import Window

        index = compute(store, load_config(), Window(start, end))
        out["service_index"] = index["aai"]["aai"]
    return out


class LinkSpeedMeter:
    """The mean speed on each link over a run, weighted by the vehicles on it at each sample
    (a space-mean speed of the samples); NaN on a link nobody drove at a sample."""

    def __init__(self, n_links: int) -> None:
        self.vehicle_speed_sum = np.zeros(n_links)
        self.vehicle_samples = np.zeros(n_links)

    def sample(self, sim: Any) -> None:
        """Add the vehicles on each link and their mean speed now."""
        count = np.asarray(sim.link_vehicle_count, dtype=np.float64)
        self.vehicle_speed_sum += count * np.asarray(sim.link_speed_mps)
        self.vehicle_samples += count

    def mean_speed_mps(self) -> np.ndarray:
        """Per link, m/s; NaN where no vehicle was ever sampled."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.vehicle_samples > 0,
                            self.vehicle_speed_sum / np.maximum(self.vehicle_samples, 1), np.nan)

    def to_list(self) -> list[float | None]:
        """JSON-ready: rounded to 0.01 m/s, None where unknown."""
        return [None if not np.isfinite(v) else round(float(v), 2) for v in self.mean_speed_mps()]


def run_point(scenario_path: str, params: dict[str, Any], seed: int,
              duration_s: float | None = None,
              window_s: tuple[float, float] | None = None) -> dict[str, Any]:
    """Run one point of a sweep and return its KPIs (plus ``wall_s``, and
    ``link_speed_mps``: :class:`LinkSpeedMeter`'s mean speed per link, for maps).

    With ``window_s = (start, end)`` (seconds from the run's start) it also returns
    ``window_link_speed_mps`` and ``window_link_vehicle_samples``: the meter over the
    samples taken in ``(start, end]`` only (a peak hour), and the vehicles it counted per
    link, so a stretch of links can be averaged vehicle-weighted (a space-mean speed).

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
    meter = LinkSpeedMeter(run.network.n_links)
    window = LinkSpeedMeter(run.network.n_links)
    try:
        while run.time_s < scenario.scenario.duration_s:
            run.advance(run.time_s + SAMPLE_EVERY_S)
            meter.sample(run.sim)
            if window_s is not None and window_s[0] < run.time_s <= window_s[1]:
                window.sample(run.sim)
        summary = run.finish()
        kpis = traffic_kpis(run.sim)
        kpis["camera_observations"] = run.cameras.published
        if "odd_even_trips_affected" in summary:  # trips the odd-even policy diverted or put off
            kpis["odd_even_trips_affected"] = summary["odd_even_trips_affected"]
        meta = scenario.scenario
        kpis.update(module_kpis(summary.get("modules", {}), run.store, meta.start,
                                meta.start + timedelta(seconds=meta.duration_s)))
    finally:
        run.close()
    kpis["wall_s"] = round(time.perf_counter() - wall0, 3)
    kpis["link_speed_mps"] = meter.to_list()
    if window_s is not None:
        kpis["window_link_speed_mps"] = window.to_list()
        kpis["window_link_vehicle_samples"] = [int(v) for v in window.vehicle_samples]
    return kpis
