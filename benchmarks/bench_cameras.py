"""Virtual cameras on the engine: the Jatinegara ETLE example's traffic run with and
without its cameras, and the fleet's plates for a million vehicles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.vehicles import Fleet

REPO = Path(__file__).resolve().parents[1]
ENGINE_EXAMPLE = REPO / "scenarios" / "jakarta_jatinegara_etle_engine.toml"


@pytest.mark.benchmark(group="cameras")
@pytest.mark.parametrize("cameras", ["all", "none"])
def test_jatinegara_cameras(benchmark, tmp_path, cameras):
    """4 h of the morning peak (~12,000 trips) with the example's five cameras (two speed
    with a section, red light, ANPR, CCTV; ~8,300 observations) or none, into SQLite.
    Timed: ``TwinRun.run``."""
    from twin.runner import TwinRun
    from twin.scenario import load_scenario

    scenario = load_scenario(ENGINE_EXAMPLE)
    if cameras == "none":
        scenario = scenario.model_copy(update={"cameras": []})
    runs: list[TwinRun] = []

    def setup() -> tuple[tuple[TwinRun], dict[str, object]]:
        run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / f'run{len(runs)}.db'}")
        runs.append(run)
        return (run,), {}

    summary = benchmark.pedantic(lambda run: run.run().summary, setup=setup, rounds=2,
                                 iterations=1)
    for run in runs:
        run.close()
    benchmark.extra_info["camera_observations"] = summary["camera_observations"]
    assert (summary["camera_observations"] > 5000) == (cameras == "all")


@pytest.mark.benchmark(group="cameras")
def test_fleet_plates_for_a_million_vehicles(benchmark):
    """Plates of 1,000,000 vehicles as strings, derived from index and seed."""
    fleet = Fleet(np.random.default_rng(0).integers(0, 4, 1_000_000).astype(np.int8), seed=1)
    plates = benchmark.pedantic(fleet.plates, args=(np.arange(1_000_000),), rounds=2,
                                iterations=1)
    assert len(set(plates)) == 1_000_000
