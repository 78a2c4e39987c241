"""``kota sweep`` on a real Dask cluster: every point once per seed, CIs, resumable.

A ``distributed.LocalCluster`` of worker processes is started by the fixture, as
``kota sweep`` starts one; ``allowed-failures`` is 0 so a killed worker fails the run it
held at once (the default retries it on another worker).
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client

from tests.dask_cluster import local_client
from tests.pg_server import _free_port
from twin.cli import main
from twin.planning.ci import mean_ci
from twin.planning.run_kpis import KPI_NAMES, run_point
from twin.planning.sweep import (
    SchedulerUnreachable,
    dask_client,
    run_sweep,
    summarise,
    worker_env,
)
from twin.planning.sweep_spec import SweepPoint, SweepSpec

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
GRID = REPO / "scenarios" / "grid_small.toml"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_client(2, **{"distributed.scheduler.allowed-failures": 0}) as c:
        yield c


def _runs(out: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "runs").glob("*.json")}


def test_every_point_runs_once_per_seed_and_a_rerun_runs_nothing(client, tmp_path):
    spec = SweepSpec.build(GRID, {"demand.scale": [0.5, 1.0]}, replications=3, duration_s=900.0)
    seen: list[SweepPoint] = []
    result = run_sweep(spec, tmp_path, client=client, progress=False,
                       on_result=lambda p, _k: seen.append(p))
    assert (result.ran, result.skipped, result.failed) == (6, 0, [])
    runs = _runs(tmp_path)
    assert set(runs) == {p.key for p in spec.points()} == {p.key for p in seen}
    # a worker computes what this process computes: same seed, same records
    point = spec.points()[4]
    here = run_point(str(GRID), point.params, point.seed, 900.0)
    there = runs[point.key]["kpis"]
    assert {k: here[k] for k in KPI_NAMES} == {k: there[k] for k in KPI_NAMES}
    # seeds differ: replications are not copies
    assert len({r["kpis"]["mean_travel_time_s"] for r in runs.values()}) == 6

    rows = {r["point"]: r for r in result.summary}
    assert set(rows) == {"demand.scale=0.5", "demand.scale=1.0"}
    for label, row in rows.items():
        assert (row["runs"], row["seeds"]) == (3, 3)
        mine = [r["kpis"] for r in runs.values() if f"demand.scale={r['params']['demand.scale']}" == label]
        for name in KPI_NAMES:
            values = [k[name] for k in mine]
            assert row[name] == pytest.approx(statistics.fmean(values))
            assert row[f"{name}_ci"] == pytest.approx(mean_ci(values)["ci_half"])
    # below capacity the grid carries its demand: twice the demand, about twice the trips
    ratio = rows["demand.scale=1.0"]["trips_completed"] / rows["demand.scale=0.5"]["trips_completed"]
    assert 1.7 < ratio < 2.3
    assert json.loads((tmp_path / "summary.json").read_text()) == result.summary
    assert (tmp_path / "summary.csv").read_text().count("\n") == 3

    again = run_sweep(spec, tmp_path, client=client, progress=False)
    assert (again.ran, again.skipped) == (0, 6)
    assert again.summary == result.summary


def test_a_killed_worker_fails_only_its_run_and_a_rerun_runs_only_the_missing(client, tmp_path):
    spec = SweepSpec.build(GRID, {"demand.scale": [2.0]}, replications=6, duration_s=1800.0)
    pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_the_workers(_point: SweepPoint, _kpis: dict[str, Any]) -> None:
        if not killed:  # mid-sweep: the first run is in, others are running
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    first = run_sweep(spec, tmp_path, client=client, progress=False, on_result=kill_the_workers)
    assert killed
    assert first.failed, "a run held by a killed worker must fail, not vanish"
    assert all("KilledWorker" in message for _p, message in first.failed)
    assert first.ran + len(first.failed) == 6
    assert len(_runs(tmp_path)) == first.ran  # nothing lost, nothing doubled
    row = first.summary[0]
    assert (row["runs"], row["seeds"]) == (first.ran, 6)

    client.wait_for_workers(2, timeout=60)  # the nannies restart them
    second = run_sweep(spec, tmp_path, client=client, progress=False)
    assert (second.ran, second.skipped, second.failed) == (len(first.failed), first.ran, [])
    assert len(_runs(tmp_path)) == 6
    assert second.summary[0]["runs"] == 6


def test_an_unreachable_scheduler_is_a_clear_error_and_runs_nothing(tmp_path):
    spec = SweepSpec.build(GRID, {"demand.scale": [1.0]}, duration_s=900.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SchedulerUnreachable, match=f"cannot reach the Dask scheduler at {address}"):
        run_sweep(spec, tmp_path, scheduler=address, timeout_s=2.0, progress=False)
    assert not list((tmp_path / "runs").glob("*.json")) if (tmp_path / "runs").exists() else True


def _numba_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def test_local_workers_share_the_cores_between_their_kernels():
    assert worker_env(2, cores=2) == {"NUMBA_NUM_THREADS": "1"}
    assert worker_env(2, cores=8) == {"NUMBA_NUM_THREADS": "4"}
    assert worker_env(4, cores=2) == {"NUMBA_NUM_THREADS": "1"}
    client, cluster = dask_client(None, 2, 30.0)
    try:
        threads = client.run(_numba_threads)
    finally:
        client.close()
        cluster.close()
    assert len(threads) == 2
    assert set(threads.values()) == {max(1, (os.cpu_count() or 1) // 2)}


def test_summary_of_no_finished_runs_says_none_rather_than_zero(tmp_path):
    spec = SweepSpec.build(GRID, {"demand.scale": [1.0]}, replications=2, duration_s=900.0)
    (row,) = summarise(spec, tmp_path)
    assert (row["runs"], row["seeds"]) == (0, 2)
    assert all(row[name] is None and row[f"{name}_ci"] is None for name in KPI_NAMES)


def test_mean_ci_is_students_t_interval():
    out = mean_ci([1.0, 3.0])
    assert out["mean"] == 2.0 and out["ci_half"] == pytest.approx(12.7062, abs=1e-4)  # t(0.975, 1)
    five = [10.0, 12.0, 9.0, 11.0, 13.0]
    sd = statistics.stdev(five)
    assert mean_ci(five)["ci_half"] == pytest.approx(2.7764 * sd / math.sqrt(5), rel=1e-4)
    assert mean_ci(five, level=0.99)["ci_half"] > mean_ci(five)["ci_half"]
    one = mean_ci([4.0, None])
    assert (one["mean"], one["ci_half"], one["n"], one["missing"]) == (4.0, None, 1, 1)
    with pytest.raises(ValueError):
        mean_ci(five, level=1.5)


def test_kota_sweep_prints_means_with_intervals(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", str(GRID), "--param", "demand.scale=0.5,1", "--replications", "2",
            "--duration-s", "900", "--out", str(out), "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    text, err = capsys.readouterr()
    lines = text.strip().splitlines()
    assert lines[0].split()[:3] == ["point", "runs", "mean_travel_time_s"]
    assert [ln.split()[:2] for ln in lines[1:]] == [["demand.scale=0.5", "2/2"],
                                                   ["demand.scale=1", "2/2"]]
    assert " ± " in lines[1]
    assert "4 runs (2 points x 2 seeds)" in err and "ran 4, kept 0 from before, 0 failed" in err
    assert main(argv) == 0
    assert "ran 0, kept 4 from before" in capsys.readouterr().err


@pytest.mark.parametrize(("param", "says"), [
    ("demand.scal=1", "unknown parameter 'demand.scal'"),
    ("demand.scale", "write NAME=V1,V2"),
    ("demand.scale=", "no values after '='"),
])
def test_kota_sweep_refuses_a_bad_parameter_with_a_message(tmp_path, capsys, param, says):
    assert main(["sweep", str(GRID), "--param", param, "--out", str(tmp_path)]) == 1
    assert says in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def _modules_summary(path: Path, seed: int, duration_s: float) -> dict[str, Any]:
    """The module summaries of the scenario run as a plain TwinRun (what a point must match)."""
    from twin.planning.params import apply_parameters
    from twin.runner import TwinRun
    from twin.scenario import load_scenario

    scenario = apply_parameters(load_scenario(path), {"scenario.seed": seed,
                                                      "scenario.duration_s": duration_s})
    run = TwinRun(scenario, store_url="sqlite://")
    try:
        return dict(run.run(chunk_s=600.0).summary["modules"])
    finally:
        run.close()


def test_a_sweep_point_with_modules_reports_their_kpis():
    """112 dispatch runs inside the point's run; its KPIs are the run summary's."""
    dispatch = REPO / "scenarios" / "jakarta_jatinegara_dispatch.toml"
    kpis = run_point(str(dispatch), {}, 7, 3600.0)
    summary = _modules_summary(dispatch, 7, 3600.0)["dispatch"]["kpis"]
    assert kpis["response_p90_s"] == summary["overall"]["total_response_s"]["p90"] is not None
    assert kpis["ambulance_response_p90_s"] == \
        summary["services"]["ambulance"]["total_response_s"]["p90"]
    assert kpis["violations"] is None  # no ETLE in this scenario
    plain = run_point(str(GRID), {}, 7, 900.0)
    assert all(plain[name] is None for name in ("violations", "response_p90_s", "service_index"))


def test_a_sweep_point_with_etle_counts_the_cases_it_created():
    etle = REPO / "scenarios" / "jakarta_jatinegara_etle_engine.toml"
    kpis = run_point(str(etle), {}, 7, 4000.0)
    cases = _modules_summary(etle, 7, 4000.0)["enforcement"]["cases_created"]
    assert kpis["violations"] == cases > 0
    assert kpis["response_p90_s"] is None
