"""Run the scenario in SUMO (``python -m benchmarks.peers.sumo_run WORKDIR``).

The ``sumo`` binary of the ``eclipse-sumo`` wheel runs headless as a child of
this process: ``--step-length 1``, the IDM ``vType`` of the route file,
``--end`` = the horizon, SUMO's default ``--time-to-teleport 300`` (teleports
are reported), ``--seed``. Figures:

- ``sim_wall_s``: SUMO's own ``clockDuration`` (statistic output): the
  simulation loop, which includes SUMO's incremental route loading but not
  the network loading.
- ``vehicle_steps``: the vehicle-seconds on the network, the sum of the
  tripinfo ``duration`` of every vehicle (unfinished ones up to the end); at
  a 1 s step that is SUMO's count of vehicle updates. SUMO's own
  ``vehicleUpdatesPerSecond`` is kept in ``extra`` for comparison.
- travel time: tripinfo ``duration + departDelay`` = arrival - scheduled
  departure, as for the other engines.
- ``peak_rss_mb``: ``ru_maxrss`` of the sumo process (RUSAGE_CHILDREN: it is
  this process's only child).
"""

from __future__ import annotations

import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from benchmarks.peers.common import (
    INSTALL_HINT,
    EngineResult,
    child_main,
    peak_rss_children_mb,
    save_trip_results,
    sumo_tool,
)
from benchmarks.peers.grid import NET_FILE, ROUTES_FILE, load_params

_T0 = time.perf_counter()


def sumo_command(workdir: Path, exe: Path, horizon_s: float, seed: int,
                 record_routes: bool) -> list[str]:
    """The sumo command line (outputs go to ``workdir/sumo_*.xml``)."""
    cmd = [
        str(exe),
        "--net-file", str(workdir / NET_FILE),
        "--route-files", str(workdir / ROUTES_FILE),
        "--begin", "0",
        "--end", f"{horizon_s:g}",
        "--step-length", "1",
        "--seed", str(seed),
        "--time-to-teleport", "300",
        "--no-step-log", "true",
        "--no-warnings", "true",
        "--duration-log.statistics", "true",
        "--statistic-output", str(workdir / "sumo_stats.xml"),
        "--tripinfo-output", str(workdir / "sumo_tripinfo.xml"),
        "--tripinfo-output.write-unfinished", "true",
    ]
    if record_routes:
        cmd += ["--vehroute-output", str(workdir / "sumo_vehroutes.xml")]
    return cmd


def sumo_version(exe: Path) -> str:
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else ""
    return first.replace("Eclipse SUMO sumo ", "").strip() or "?"


def run(workdir: Path) -> EngineResult:
    exe = sumo_tool("sumo")
    if exe is None:
        return EngineResult.skipped("sumo", f"SUMO is not installed; install it with {INSTALL_HINT} "
                                            f"(the eclipse-sumo wheel)")
    if not (workdir / NET_FILE).is_file():
        return EngineResult.skipped("sumo", "the scenario has no SUMO network file (netgenerate "
                                            "was missing when it was built)")
    params = load_params(workdir)
    version = sumo_version(exe)
    cmd = sumo_command(workdir, exe, params.horizon_s, params.seed, params.record_routes)
    t_start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    sumo_wall = time.perf_counter() - t_start
    (workdir / "sumo_stdout.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return EngineResult(engine="sumo", ok=False,
                            message=f"sumo exited with {proc.returncode}: {' | '.join(tail)}")
    peak = peak_rss_children_mb()

    stats = ET.parse(workdir / "sumo_stats.xml").getroot()
    perf = stats.find("performance")
    teleports = stats.find("teleports")
    wall = float(perf.get("clockDuration", "nan")) if perf is not None else float("nan")

    ids: list[str] = []
    tt: list[float] = []
    length: list[float] = []
    durations: list[float] = []
    steps = 0.0
    for _, el in ET.iterparse(workdir / "sumo_tripinfo.xml"):
        if el.tag != "tripinfo":
            continue
        arrival = float(el.get("arrival", "-1"))
        duration = float(el.get("duration", "0"))
        delay = float(el.get("departDelay", "0"))
        ids.append(el.get("id", ""))
        steps += max(duration, 0.0)
        tt.append(duration + delay if arrival >= 0 else float("nan"))
        if arrival >= 0:
            durations.append(duration)
        length.append(float(el.get("routeLength", "nan")))
        el.clear()
    tt_a = np.array(tt)
    done = np.isfinite(tt_a)

    routes: list[list[str]] | None = None
    if params.record_routes:
        driven: dict[str, list[str]] = {}
        for v in ET.parse(workdir / "sumo_vehroutes.xml").getroot().iter("vehicle"):
            r = v.find("route")
            driven[v.get("id", "")] = (r.get("edges", "") if r is not None else "").split()
        routes = [driven.get(i, []) for i in ids]
    save_trip_results(workdir, "sumo", ids, tt_a, np.array(length), routes)

    vehicles = stats.find("vehicles")
    loaded = int(vehicles.get("loaded", "0")) if vehicles is not None else len(ids)
    sim_end = float(perf.get("end", "nan")) if perf is not None else float("nan")
    return EngineResult(
        engine="sumo",
        label=f"SUMO {version} (IDM, step 1 s)",
        sim_wall_s=wall,
        startup_s=max(t_start - _T0 + sumo_wall - wall, 0.0),
        vehicle_steps=int(round(steps)),
        trips_total=max(loaded, params.trips),
        trips_completed=int(done.sum()),
        mean_travel_time_s=float(tt_a[done].mean()) if done.any() else None,
        sim_end_s=sim_end,
        peak_rss_mb=peak,
        baseline_rss_mb=0.0,
        threads=1,
        extra={
            "sumo_vehicle_updates_per_s": float(perf.get("vehicleUpdatesPerSecond", "nan"))
            if perf is not None else None,
            "teleports": int(teleports.get("total", "0")) if teleports is not None else None,
            "mean_duration_s": float(np.mean(durations)) if durations else None,
            "sumo_process_s": sumo_wall,
        },
    )


if __name__ == "__main__":
    raise SystemExit(child_main("sumo", run))
