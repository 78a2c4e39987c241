"""What every engine run reports, and the plumbing shared by the engine subprocesses.

Each engine runs in its own Python subprocess (``python -m benchmarks.peers.<engine>_run
WORKDIR``) so its peak resident memory is its own. The subprocess prints one line
``PEERS_RESULT {json}`` (an :class:`EngineResult`) on stdout; anything else the
engine prints is passed through. Per-trip figures go to ``WORKDIR/<engine>_trips.npz``
(see :func:`save_trip_results`) for the tests.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

RESULT_MARKER = "PEERS_RESULT "
INSTALL_HINT = "pip install -e '.[peers]'"


@dataclass
class EngineResult:
    """The figures of one engine's run of the scenario.

    Attributes
    ----------
    engine : "kota", "sumo" or "uxsim".
    label : what ran, e.g. ``"UXsim 1.15.1 (C++ mode, deltan=1)"``.
    ok : False when the engine was skipped or failed; ``message`` says why.
    message : skip/failure reason or an empty string.
    sim_wall_s : wall seconds of the simulation loop only (no imports, network
        loading, route parsing, JIT compilation or world building).
    startup_s : wall seconds from process start to the first simulated step
        (imports, loading, building, JIT compile or cache load).
    process_wall_s : wall seconds of the whole subprocess, measured by the parent.
    vehicle_steps : vehicle-seconds simulated = vehicle updates at a 1 s step
        (each vehicle on the network counts once per step; see README).
    vehicle_updates_per_s : ``vehicle_steps / sim_wall_s`` (derived, not passed; NaN
        when the wall time is not positive).
    trips_total, trips_completed : trips given and trips that reached their
        destination before the horizon.
    mean_travel_time_s : mean of (arrival - scheduled departure) over the
        completed trips, so waiting for insertion counts; None if none arrived.
    sim_end_s : simulation time at which the run stopped (all trips done or
        the horizon).
    peak_rss_mb : peak resident set size of the engine's process, MiB.
    baseline_rss_mb : resident set size after the imports, before the scenario
        was loaded (the interpreter and libraries), MiB; 0 for SUMO (no Python).
    threads : threads the engine may use.
    extra : engine-specific figures (teleports, the engine's own counters...).
    """

    engine: str
    label: str = ""
    ok: bool = True
    message: str = ""
    sim_wall_s: float = 0.0
    startup_s: float = 0.0
    process_wall_s: float = 0.0
    vehicle_steps: int = 0
    vehicle_updates_per_s: float = field(init=False, default=0.0)
    trips_total: int = 0
    trips_completed: int = 0
    mean_travel_time_s: float | None = None
    sim_end_s: float = 0.0
    peak_rss_mb: float = 0.0
    baseline_rss_mb: float = 0.0
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ok:
            self.vehicle_updates_per_s = (self.vehicle_steps / self.sim_wall_s
                                          if self.sim_wall_s > 0 else float("nan"))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EngineResult:
        fields = cls.__dataclass_fields__
        known = {k: v for k, v in d.items() if k in fields and fields[k].init}
        return cls(**known)

    @classmethod
    def skipped(cls, engine: str, message: str) -> EngineResult:
        return cls(engine=engine, ok=False, message=message)


def emit(result: EngineResult) -> None:
    """Print the result line the parent process parses."""
    sys.stdout.write(RESULT_MARKER + result.to_json() + "\n")
    sys.stdout.flush()


def parse_result(stdout: str) -> EngineResult | None:
    """The last ``PEERS_RESULT`` line of a subprocess's stdout, or None."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return EngineResult.from_dict(json.loads(line[len(RESULT_MARKER):]))
    return None


def peak_rss_self_mb() -> float:
    """Peak resident set size of this process, MiB (``ru_maxrss`` is KiB on Linux).

    The same figure as :func:`twin.runner.peak_rss_mb`, without importing the
    runner (and its ~100 MiB of dependencies) into a measured engine process.
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_rss_children_mb() -> float:
    """Largest peak resident set size among this process's waited-for children, MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size of this process, MiB (from /proc; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def save_trip_results(
    workdir: Path,
    engine: str,
    trip_ids: list[str] | tuple[str, ...],
    travel_time_s: NDArray[np.float64],
    route_length_m: NDArray[np.float64],
    routes: list[list[str]] | None = None,
) -> Path:
    """Write per-trip figures of one engine, in the scenario's trip order.

    ``travel_time_s`` is NaN for trips that did not arrive; ``route_length_m``
    is the length of the route the engine drove (or was given), NaN when
    unknown; ``routes`` (optional) the link ids each trip drove.
    """
    path = workdir / f"{engine}_trips.npz"
    arrays: dict[str, Any] = {
        "trip_ids": np.array(list(trip_ids)),
        "travel_time_s": np.asarray(travel_time_s, dtype=np.float64),
        "route_length_m": np.asarray(route_length_m, dtype=np.float64),
    }
    if routes is not None:
        arrays["routes"] = np.array([" ".join(r) for r in routes])
    np.savez(path, **arrays)
    return path


def child_main(engine: str, run: Any, argv: list[str] | None = None) -> int:
    """Entry point of an engine subprocess: ``python -m benchmarks.peers.X_run WORKDIR``.

    ``run(workdir)`` returns an :class:`EngineResult`; an exception becomes a
    failed result (so the parent reports it rather than crashing).
    """
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write(f"usage: python -m benchmarks.peers.{engine}_run WORKDIR\n")
        return 2
    try:
        result = run(Path(args[0]))
    except Exception as exc:  # reported to the parent, which prints it
        import traceback

        traceback.print_exc()
        result = EngineResult(engine=engine, ok=False,
                              message=f"{type(exc).__name__}: {exc}")
    emit(result)
    return 0 if result.ok else 1


def sumo_tool(name: str) -> Path | None:
    """The path of a SUMO executable (``sumo``, ``netgenerate``), or None when SUMO is missing.

    Looks in the ``eclipse-sumo`` wheel (``sumo.SUMO_HOME/bin``; importing
    ``sumo`` also sets ``SUMO_HOME`` in the environment), then in ``$SUMO_HOME/bin``
    and on ``PATH``.
    """
    import importlib
    import os
    import shutil

    try:
        sumo = importlib.import_module("sumo")
        candidate = Path(sumo.SUMO_HOME) / "bin" / name
        if candidate.is_file():
            return candidate
    except ImportError:
        pass
    home = os.environ.get("SUMO_HOME")
    if home and (Path(home) / "bin" / name).is_file():
        return Path(home) / "bin" / name
    found = shutil.which(name)
    return Path(found) if found else None
