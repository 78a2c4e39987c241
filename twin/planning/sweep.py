"""Run a sweep on Dask: every point once per seed, finished runs kept and skipped on a rerun.

The default cluster is a ``distributed.LocalCluster`` of worker processes on this
machine; ``scheduler="tcp://host:8786"`` sends the same runs to a real cluster (its
workers need Kota Twin installed and the scenario's files at the same paths).

Layout of the output folder::

    sweep.json          the sweep (scenario, parameters, seeds, duration)
    runs/<key>.json     one finished run: its parameters, seed and KPIs
    summary.json/.csv   per grid point: mean and confidence interval of each KPI across seeds

A run that fails (a worker that died, an error in the run) is reported with its
parameters and seed; the runs that finished are kept, and running the sweep again
runs only the missing ones.
"""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from twin.planning.ci import mean_ci
from twin.planning.run_kpis import KPI_NAMES, MODULE_KPI_NAMES, run_point
from twin.planning.sweep_spec import SweepPoint, SweepSpec

__all__ = ["SchedulerUnreachable", "SweepResult", "dask_client", "run_sweep", "summarise"]


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler given cannot be reached."""


@dataclass
class SweepResult:
    """What a sweep did and found.

    Attributes
    ----------
    out_dir : the output folder.
    ran, skipped : runs executed now, and runs found finished from before.
    failed : ``(point, message)`` of each run that did not finish.
    summary : one row per grid point (see :func:`summarise`).
    """

    out_dir: Path
    ran: int = 0
    skipped: int = 0
    failed: list[tuple[SweepPoint, str]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)


def _run_file(out_dir: Path, point: SweepPoint) -> Path:
    return out_dir / "runs" / f"{point.key}.json"


def _write_json(path: Path, data: Any) -> None:
    """Write atomically: a reader (or a rerun) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _finished(out_dir: Path, point: SweepPoint) -> dict[str, Any] | None:
    try:
        record = json.loads(_run_file(out_dir, point).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == point.key else None


def dask_client(scheduler: str | None, workers: int, timeout_s: float) -> tuple[Any, Any]:
    """A Dask client of ``scheduler``, or of a new LocalCluster of ``workers`` processes,
    and the LocalCluster it owns (None for a scheduler); close both when done.

    Raises
    ------
    SchedulerUnreachable : ``scheduler`` cannot be reached within ``timeout_s``.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=timeout_s), None
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnreachable(
                f"cannot reach the Dask scheduler at {scheduler} within {timeout_s:g} s ({exc}); "
                "check the address, or leave --scheduler out to run on this machine") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0",  # any free port: never fight over 8787
                           env=worker_env(workers))
    return Client(cluster), cluster


def worker_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment of a local worker process: its share of the cores for the engine's
    parallel kernels (``NUMBA_NUM_THREADS``, at least 1). Without it each worker's kernels
    would start a thread per core once a run has enough vehicles on the road, and the
    workers' threads would wait on each other at every parallel region's barrier."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return {"NUMBA_NUM_THREADS": str(max(1, cores // max(1, workers)))}


def _warm_kernels(spec: SweepSpec, point: SweepPoint) -> None:
    """Compile (or load) the engine's kernels here first, so local workers read a warm
    disk cache instead of compiling into it at the same time."""
    from twin.runner import TwinRun

    TwinRun(spec.scenario_for(point), store_url="sqlite://").close()


def run_sweep(spec: SweepSpec, out_dir: str | Path, *, scheduler: str | None = None,
              workers: int = 2, client: Any = None, progress: bool = True,
              timeout_s: float = 10.0,
              on_result: Callable[[SweepPoint, dict[str, Any]], None] | None = None) -> SweepResult:
    """Run every point of ``spec`` not finished in ``out_dir`` on Dask; summarise all.

    Parameters
    ----------
    spec : the sweep.
    out_dir : where runs and the summary are written (made if missing).
    scheduler : a Dask scheduler address; default a LocalCluster of ``workers`` processes.
    workers : worker processes of the LocalCluster.
    client : an existing ``distributed.Client`` to use instead (not closed here).
    progress : show a progress bar on stderr.
    timeout_s : how long to try to reach ``scheduler``.
    on_result : called with each run as it finishes.

    Raises
    ------
    SchedulerUnreachable : ``scheduler`` cannot be reached.
    """
    from distributed import as_completed

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "sweep.json", spec.to_dict())
    points = spec.points()
    result = SweepResult(out)
    todo = [p for p in points if _finished(out, p) is None]
    result.skipped = len(points) - len(todo)
    if todo:
        if client is None and scheduler is None:
            _warm_kernels(spec, todo[0])
        own_client, cluster = (client, None) if client is not None else \
            dask_client(scheduler, workers, timeout_s)
        try:
            attempt = uuid.uuid4().hex[:8]  # a failed run's key is remembered by the scheduler
            futures = {own_client.submit(run_point, str(spec.scenario_path), p.params, p.seed,
                                         spec.duration_s, key=f"kota-run-{p.key}-{attempt}",
                                         pure=False): p
                       for p in todo}
            bar = tqdm(total=len(todo), desc="sweep", unit="run", disable=not progress)
            for future in as_completed(futures):
                point = futures[future]
                try:
                    kpis = future.result()
                except Exception as exc:  # a worker died, or the run raised
                    result.failed.append((point, f"{type(exc).__name__}: {exc}"))
                else:
                    _write_json(_run_file(out, point), {"key": point.key, "params": point.params,
                                                        "seed": point.seed, "kpis": kpis})
                    result.ran += 1
                    if on_result is not None:
                        on_result(point, kpis)
                bar.update(1)
            bar.close()
        finally:
            if client is None:
                own_client.close()
                if cluster is not None:
                    cluster.close()
    result.summary = summarise(spec, out)
    _write_json(out / "summary.json", result.summary)
    _write_csv(out / "summary.csv", result.summary)
    return result


def summarise(spec: SweepSpec, out_dir: str | Path, level: float = 0.95) -> list[dict[str, Any]]:
    """One row per grid point of ``spec``, over its finished runs in ``out_dir``.

    A row has the point's parameters, ``runs`` (finished) of ``seeds`` (asked), and for
    each KPI of :data:`~twin.planning.run_kpis.KPI_NAMES` and ``MODULE_KPI_NAMES`` its mean
    (None when no run measured it) and the half-width
    of the ``level`` confidence interval across seeds (:func:`~twin.planning.ci.mean_ci`).
    """
    out = Path(out_dir)
    rows: dict[str, dict[str, Any]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    for point in spec.points():
        row = rows.setdefault(point.label, {"point": point.label, **point.params,
                                            "seeds": 0, "runs": 0})
        row["seeds"] += 1
        record = _finished(out, point)
        if record is not None:
            row["runs"] += 1
            runs.setdefault(point.label, []).append(record["kpis"])
    for label, row in rows.items():
        found = runs.get(label, [])
        for name in (*KPI_NAMES, *MODULE_KPI_NAMES):
            stat = mean_ci([k.get(name) for k in found], level)
            row[name] = stat["mean"]
            row[f"{name}_ci"] = stat["ci_half"]
    return list(rows.values())


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
