"""City scale: a weekday on Chicago-Sketch (``scenarios/chicago_sketch_day.toml``) at
10k, 100k and 1M trips, each simulated vehicle by vehicle in its own process
(``python -m benchmarks.city_day``) so its peak memory is its own.

Timed: the 1M-trip process. The smaller days run first in the same session; their
figures and the growth of the cost go to ``extra_info``:

- per size: setup wall (network, trips, routes, engine), simulation wall, vehicle
  steps, vehicle updates per second, peak resident memory, trips completed;
- ``growth``: each size's simulation wall and vehicle steps divided by the 10k day's,
  so the cost per simulated vehicle-second can be read off against the baseline of
  the same run.

This benchmark takes several minutes (``make bench`` runs it; ``-k city`` alone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.city_day import RESULT_MARKER

REPO = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)


def _day(n_trips: int) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.city_day", "--trips", str(n_trips)],
                          cwd=REPO, capture_output=True, text=True, env=os.environ.copy(),
                          check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"city_day --trips {n_trips} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    return dict(json.loads(lines[-1][len(RESULT_MARKER):]))


@pytest.mark.timeout(3600)  # three days, the last of a million trips: beyond the default 300 s
@pytest.mark.benchmark(group="city-scale")
def test_city_day_growth(benchmark):
    days = {n: _day(n) for n in SIZES[:-1]}  # also warms numba's disk cache
    days[SIZES[-1]] = benchmark.pedantic(_day, args=(SIZES[-1],), rounds=1, iterations=1)
    base = days[SIZES[0]]
    for n, day in days.items():
        assert day["trips_total"] >= 0.97 * n
        # a check that the engine ran, not a target: the 1M day congests in the evening
        # peak (see hourly_active_arrived) and ends with ~10 % of its trips still driving
        assert day["trips_completed"] >= 0.8 * day["trips_total"]
        assert not day["gridlocked"]
        benchmark.extra_info[f"{n}_trips"] = day
    benchmark.extra_info["growth"] = {
        str(n): {"sim_wall_x": round(d["sim_wall_s"] / base["sim_wall_s"], 2),
                 "vehicle_steps_x": round(d["vehicle_steps"] / base["vehicle_steps"], 2),
                 "setup_wall_x": round(d["setup_wall_s"] / base["setup_wall_s"], 2),
                 "peak_rss_x": round(d["peak_rss_mb"] / base["peak_rss_mb"], 2)}
        for n, d in days.items()}
