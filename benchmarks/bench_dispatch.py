"""Dispatch: a 24-hour day on the Jatinegara network with traffic and at least 5,000
calls to the 112 centre, dispatched end to end (issue 6's benchmark)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "scenarios" / "jakarta_jatinegara_dispatch.toml"


def day_scenario(tmp_path: Path) -> Any:
    """The example scaled to a day: 1,000 trips/h flat, four times the incident rates and
    fleet, 140 nuisance calls/h, six call takers."""
    from twin.scenario import load_scenario

    sc = load_scenario(EXAMPLE)
    raw = dict(sc.modules["dispatch"])
    raw["rates"] = [{**r, "per_hour": 4 * r["per_hour"]} for r in raw["rates"]]
    raw["calls"] = {**raw["calls"], "nuisance_per_hour": 140.0}
    raw["call_centre"] = {"shifts": [{"from_hour": 0, "to_hour": 24, "count": 6}]}
    raw["stations"] = [{**s, "units": {k: 4 * n for k, n in s["units"].items()}}
                       for s in raw["stations"]]
    raw.pop("layouts", None)
    return sc.model_copy(update={
        "scenario": sc.scenario.model_copy(update={"duration_s": 86400.0}),
        "demand": sc.demand.model_copy(update={"trips_per_hour": 1000.0, "profile": "flat"}),
        "modules": {"dispatch": raw},
        "store": sc.store.model_copy(update={"url": f"sqlite:///{tmp_path / 'd.db'}"}),
    })


@pytest.mark.benchmark(group="dispatch")
def test_jatinegara_day_dispatch(benchmark: Any, tmp_path: Path) -> None:
    """Timed: traffic + dispatch + storing the results, one 24 h day."""
    from twin.modules.dispatch.scenario_run import run_scenario

    scenario = day_scenario(tmp_path)
    summary = benchmark.pedantic(lambda: run_scenario(scenario)[1], rounds=1, iterations=1)
    assert summary["calls"] >= 5000
    for key in ("calls", "incidents", "run_wall_s", "engine_wall_s", "dispatch_share_of_wall",
                "routing_queries", "routing_wall_s"):
        benchmark.extra_info[key] = summary[key]
