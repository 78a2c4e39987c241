"""The city as a Mesa model: ``mesa.batch_run`` sweeps it like any Mesa model.

``batch_run`` switches the process's multiprocessing start method to ``spawn``
(globally), so it runs in a child interpreter here, as a user's script would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from twin.planning.mesa_city import REPORTED, CityModel
from twin.planning.run_kpis import traffic_kpis

REPO = Path(__file__).resolve().parents[2]
GRID = REPO / "scenarios" / "grid_small.toml"

BATCH = """
import json, sys, mesa
from twin.planning.mesa_city import CityModel
if __name__ == "__main__":
    rows = mesa.batch_run(CityModel, {"scenario_file": sys.argv[1], "demand__scale": [0.5, 1.0],
                                      "step_s": 300.0},
                          rng=[1, 2], max_steps=10, number_processes=1, display_progress=False)
    print(json.dumps(rows, default=str))
"""


def test_steps_advance_the_twin_and_collect_its_kpis():
    model = CityModel(GRID, step_s=300.0, rng=7, demand__scale=0.5)
    assert model.city.demand.scale == 0.5 and model.city.scenario.seed == 7
    for _ in range(3):
        model.step()
    assert model.twin.time_s == 900.0 and model.running
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns) == list(REPORTED) and len(frame) == 3
    assert frame["trips_completed"].is_monotonic_increasing
    now = traffic_kpis(model.twin.sim)
    assert frame["trips_completed"].iloc[-1] == now["trips_completed"]
    while model.running:
        model.step()
    assert model.twin.time_s == model.city.scenario.duration_s


def test_mesa_batch_run_sweeps_it_and_a_seed_gives_the_same_run(tmp_path):
    proc = subprocess.run([sys.executable, "-c", BATCH, str(GRID)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted((r["demand__scale"], r["rng"]) for r in rows) == \
        [(0.5, 1), (0.5, 2), (1.0, 1), (1.0, 2)]
    by = {(r["demand__scale"], r["rng"]): r for r in rows}
    for seed in (1, 2):
        assert by[(1.0, seed)]["trips_completed"] > 1.6 * by[(0.5, seed)]["trips_completed"]
    here = CityModel(GRID, step_s=300.0, rng=2, demand__scale=1.0)
    while here.running:
        here.step()
    assert traffic_kpis(here.twin.sim)["trips_completed"] == by[(1.0, 2)]["trips_completed"]
    assert traffic_kpis(here.twin.sim)["mean_travel_time_s"] == \
        by[(1.0, 2)]["mean_travel_time_s"]
