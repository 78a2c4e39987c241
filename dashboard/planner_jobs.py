"""The Planner page's background sweep: one at a time per app, its progress readable any time.

A :class:`PlannerJobs` lives in the Flask config of the app (:func:`planner_jobs`), like
the live twin of :mod:`dashboard.state`: no module global. :meth:`PlannerJobs.start` runs
:func:`twin.planning.sweep.run_sweep` in a daemon thread and counts the finished runs
through its ``on_result``; a second start while one runs is refused with
:class:`JobRefused`. A run that fails, or a sweep that cannot start (a scheduler out of
reach), ends the job with its message; nothing is raised into the page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import flask

from twin.planning.sweep import SweepResult, run_sweep
from twin.planning.sweep_spec import SweepPoint, SweepSpec

__all__ = ["JOBS_CONFIG_KEY", "JobRefused", "JobStatus", "PlannerJobs", "planner_jobs"]

JOBS_CONFIG_KEY = "KOTA_PLANNER_JOBS"

Runner = Callable[..., SweepResult]


class JobRefused(RuntimeError):
    """A sweep is already running in this app (the message names it)."""


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one sweep job.

    Attributes
    ----------
    job_id : counts the jobs started in this app (1, 2, ...).
    name : the sweep's folder name under the sweeps root.
    out_dir : where it writes.
    total, done : runs in the sweep, runs finished (also those found from before).
    state : ``running``, ``done`` (every run finished), ``failed`` (some runs failed) or
        ``error`` (the sweep itself stopped).
    errors : one message per failed run, or the sweep's error.
    started_s, ended_s : ``time.monotonic`` at the start and the end (None while running).
    """

    job_id: int
    name: str
    out_dir: Path
    total: int
    done: int = 0
    state: str = "running"
    errors: tuple[str, ...] = ()
    started_s: float = field(default_factory=time.monotonic)
    ended_s: float | None = None

    @property
    def running(self) -> bool:
        """True until the sweep's thread has finished."""
        return self.state == "running"


class PlannerJobs:
    """The sweep jobs of one app: at most one running.

    Parameters
    ----------
    runner : what runs a sweep (default :func:`twin.planning.sweep.run_sweep`).
    **sweep_options : passed to the runner (``workers``, ``scheduler``, ``client``).
    """

    def __init__(self, runner: Runner = run_sweep, **sweep_options: Any) -> None:
        self._runner = runner
        self._options = sweep_options
        self._lock = threading.Lock()
        self._status: JobStatus | None = None
        self._thread: threading.Thread | None = None

    def status(self) -> JobStatus | None:
        """The latest job (running or finished), or None before the first."""
        with self._lock:
            return self._status

    def start(self, spec: SweepSpec, out_dir: str | Path, name: str) -> JobStatus:
        """Start ``spec`` into ``out_dir`` in a background thread.

        Raises
        ------
        JobRefused : a sweep is still running.
        """
        out = Path(out_dir)
        points = spec.points()
        already = sum((out / "runs" / f"{p.key}.json").exists() for p in points)
        with self._lock:
            if self._status is not None and self._status.running:
                raise JobRefused(f"the sweep {self._status.name!r} is still running "
                                 f"({self._status.done}/{self._status.total} runs); "
                                 "start another when it has finished")
            job_id = 1 if self._status is None else self._status.job_id + 1
            self._status = JobStatus(job_id, name, out, len(points), already)
            self._thread = threading.Thread(target=self._run, args=(spec, out),
                                            name=f"kota-sweep-{job_id}", daemon=True)
            self._thread.start()
            return self._status

    def wait(self, timeout_s: float | None = None) -> JobStatus | None:
        """Wait for the running job's thread to end (tests, shutdown); its status."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.status()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            assert self._status is not None
            self._status = replace(self._status, **changes)

    def _count(self, _point: SweepPoint, _kpis: dict[str, Any]) -> None:
        with self._lock:
            assert self._status is not None
            self._status = replace(self._status, done=self._status.done + 1)

    def _run(self, spec: SweepSpec, out: Path) -> None:
        try:
            result = self._runner(spec, out, progress=False, on_result=self._count,
                                  **self._options)
        except Exception as exc:  # the sweep could not run at all: shown, never raised
            self._update(state="error", errors=(f"{type(exc).__name__}: {exc}",),
                         ended_s=time.monotonic())
            return
        errors = tuple(f"{p.label}, seed {p.seed}: {message}" for p, message in result.failed)
        self._update(state="failed" if errors else "done", errors=errors,
                     done=result.ran + result.skipped, ended_s=time.monotonic())


def planner_jobs(**sweep_options: Any) -> PlannerJobs:
    """The :class:`PlannerJobs` of the app serving this request (made on first use).

    ``sweep_options`` (``workers``, ``scheduler``) are used only when it is made; set
    ``app.server.config[JOBS_CONFIG_KEY]`` yourself to give it other options.
    """
    config = flask.current_app.config
    jobs = config.get(JOBS_CONFIG_KEY)
    if not isinstance(jobs, PlannerJobs):
        jobs = config.setdefault(JOBS_CONFIG_KEY, PlannerJobs(**sweep_options))
    return jobs
