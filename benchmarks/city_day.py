"""A city-scale day in one process: ``scenarios/chicago_sketch_day.toml`` with its demand
scaled to a given number of trips, run as ``kota run`` runs it (engine, loop detectors,
SQLite store), reporting where the time and memory go.

Run it on its own (one size per process, so the peak resident memory is this size's)::

    python -m benchmarks.city_day --trips 1000000

It prints one line ``CITY_DAY {json}`` with:

- ``trips_total``, ``trips_completed``, ``mean_travel_time_s``, ``vehicle_steps``: the run;
- ``setup_wall_s``: reading the network and trip table, drawing the trips, routing every
  trip on free-flow times, building the engine and loading its kernels;
- ``sim_wall_s``: the 24 simulated hours (``TwinRun.run``);
- ``vehicle_updates_per_s``: ``vehicle_steps / sim_wall_s``;
- ``peak_rss_mb``: the process's peak resident memory;
- ``hourly_active_arrived``: (hour, vehicles on the road, trips arrived) at each hour's end,
  to see the day's load and whether the network drains.

``benchmarks/bench_city_scale.py`` runs it at 10k, 100k and 1M trips.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twin.demand import read_tntp_trips
from twin.planning.params import apply_parameters
from twin.runner import TwinRun, peak_rss_mb
from twin.scenario import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
CITY_DAY = REPO / "scenarios" / "chicago_sketch_day.toml"
RESULT_MARKER = "CITY_DAY "


def table_trips(scenario: Scenario) -> float:
    """Trips of the scenario's TNTP table at scale 1 that use the network (origin != destination)."""
    assert scenario.demand.file is not None
    od = read_tntp_trips(scenario.resolve(scenario.demand.file))
    return sum(flow for (o, d), flow in od.items() if o != d)


def scaled(scenario: Scenario, n_trips: int) -> Scenario:
    """``scenario`` with ``demand.scale`` set so that ``n_trips`` trips are expected."""
    return apply_parameters(scenario, {"demand.scale": n_trips / table_trips(scenario)})


def run_day(n_trips: int, *, scenario_path: Path = CITY_DAY, progress: bool = False) -> dict[str, Any]:
    """Run the day with about ``n_trips`` trips; the figures listed in the module docstring."""
    scenario = scaled(load_scenario(scenario_path), n_trips)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = TwinRun(scenario, store_url=f"sqlite:///{Path(tmp) / 'day.db'}")
        setup_wall_s = time.perf_counter() - t0
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=scenario.scenario.duration_s, unit="sim s", file=sys.stderr)
        done = [0.0]
        hourly: list[tuple[int, int, int]] = []

        def tick(t: float) -> None:
            if bar is not None:
                bar.update(t - done[0])
                done[0] = t
            if t % 3600.0 == 0.0:
                hourly.append((int(t // 3600), run.sim.n_active, run.sim.n_arrived))

        try:
            summary = run.run(progress=tick, chunk_s=900.0).summary
        finally:
            run.close()
            if bar is not None:
                bar.close()
    sim_wall_s = float(summary["sim_wall_s"])
    return {
        "trips_requested": n_trips,
        "trips_total": int(summary["trips_total"]),
        "trips_completed": int(summary["trips_completed"]),
        "mean_travel_time_s": round(float(summary["mean_travel_time_s"]), 1),
        "vehicle_steps": int(summary["vehicle_steps"]),
        "setup_wall_s": round(setup_wall_s, 2),
        "sim_wall_s": round(sim_wall_s, 2),
        "vehicle_updates_per_s": round(summary["vehicle_steps"] / sim_wall_s),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "gridlocked": bool(summary["gridlocked"]),
        "hourly_active_arrived": hourly,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.city_day", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trips", type=int, default=1_000_000,
                   help="trips in the day (default %(default)s)")
    p.add_argument("--scenario", type=Path, default=CITY_DAY, help="scenario file (TOML)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    args = p.parse_args(argv)
    if args.trips <= 0:
        p.error("--trips must be > 0")
    result = run_day(args.trips, scenario_path=args.scenario, progress=args.progress)
    print(RESULT_MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
