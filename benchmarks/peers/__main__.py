"""``python -m benchmarks.peers``: the same grid and routes in Kota Twin, SUMO and UXsim.

See ``benchmarks/peers/README.md`` for the definitions and how to read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.peers.common import INSTALL_HINT, EngineResult, parse_result
from benchmarks.peers.grid import GridParams, build_scenario
from benchmarks.peers.report import format_table, json_report

REPO = Path(__file__).resolve().parents[2]
ENGINES = ("kota", "sumo", "uxsim")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.peers",
        description=(
            "Build one grid network (SUMO netgenerate) and one set of routed trips (Kota), "
            "run them in Kota Twin, SUMO and UXsim, each in its own subprocess, and print "
            "wall time, vehicle-updates/s, completed trips, mean travel time and peak memory "
            "per engine, plus Kota's ratios to each peer. The peers are optional: install them "
            f"with {INSTALL_HINT}; a missing one is skipped with a message."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = GridParams()
    p.add_argument("--grid", type=int, default=d.grid, metavar="N",
                   help="junctions per side of the square grid")
    p.add_argument("--trips", type=int, default=d.trips, metavar="N",
                   help="number of trips (one car each)")
    p.add_argument("--seed", type=int, default=d.seed, metavar="N",
                   help="seed of the trip draw and of every engine")
    p.add_argument("--horizon-s", type=float, default=d.horizon_s, metavar="S",
                   help="simulated seconds at most; engines stop earlier once every trip arrived")
    p.add_argument("--depart-window-s", type=float, default=d.depart_window_s, metavar="S",
                   help="departures are uniform over [0, S)")
    p.add_argument("--lanes", type=int, default=d.lanes, metavar="N", help="lanes per direction")
    p.add_argument("--block-m", type=float, default=d.block_m, metavar="M",
                   help="link length (distance between junctions)")
    p.add_argument("--speed-mps", type=float, default=d.speed_mps, metavar="V",
                   help="speed limit of every link")
    p.add_argument("--signals", choices=("interior", "none"), default=d.signals,
                   help="fixed-time signals at interior junctions (SUMO's default static "
                        "program), or priority junctions only")
    p.add_argument("--engines", default=",".join(ENGINES),
                   help="comma-separated engines to run, of " + ", ".join(ENGINES))
    p.add_argument("--uxsim-mode", choices=("cpp", "python"), default="cpp",
                   help="UXsim's engine: World(cpp=True) or the pure-Python one")
    p.add_argument("--record-routes", action="store_true",
                   help="also record the links each vehicle drove (slower; for checks)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the scenario and outputs here; without it a temporary directory "
                        "is used and removed at the end")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the table (progress goes to stderr)")
    return p


def engine_env(uxsim_mode: str = "cpp") -> dict[str, str]:
    """The environment of the engine subprocesses: this one, the repository on
    ``PYTHONPATH``, and ``UXSIM_MODE``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["UXSIM_MODE"] = uxsim_mode
    return env


def run_engine(engine: str, workdir: Path, env: dict[str, str]) -> EngineResult:
    """Run one engine's subprocess; its result with the process wall time filled in."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"benchmarks.peers.{engine}_run", str(workdir)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    (workdir / f"{engine}_log.txt").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    result = parse_result(proc.stdout)
    if result is None:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return EngineResult(engine=engine, ok=False,
                            message=f"no result (exit {proc.returncode}): {tail}")
    result.process_wall_s = wall
    return result


def run(args: argparse.Namespace) -> dict[str, object]:
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engine(s) {', '.join(unknown)}; choose from {', '.join(ENGINES)}")
    params = GridParams(grid=args.grid, trips=args.trips, seed=args.seed,
                        horizon_s=args.horizon_s, depart_window_s=args.depart_window_s,
                        block_m=args.block_m, lanes=args.lanes, speed_mps=args.speed_mps,
                        signals=args.signals, record_routes=args.record_routes)
    log = sys.stderr if args.json else sys.stdout
    tmp = None
    if args.workdir is None:
        tmp = tempfile.mkdtemp(prefix="kota-peers-")
        workdir = Path(tmp)
    else:
        workdir = args.workdir.resolve()
    try:
        t = time.perf_counter()
        scenario = build_scenario(params, workdir)
        print(f"scenario built in {time.perf_counter() - t:.1f} s in {workdir}: "
              f"{scenario.network.summary()} [{scenario.network_source}]; "
              f"{scenario.trips.summary()}", file=log, flush=True)
        env = engine_env(args.uxsim_mode)
        results: list[EngineResult] = []
        for engine in engines:
            print(f"running {engine} ...", file=log, flush=True)
            result = run_engine(engine, workdir, env)
            if not result.ok:
                print(f"  {engine} skipped: {result.message}", file=log, flush=True)
            else:
                print(f"  {engine}: {result.sim_wall_s:.2f} s, "
                      f"{result.trips_completed}/{result.trips_total} trips", file=log, flush=True)
            results.append(result)
        scenario_info: dict[str, object] = {
            **asdict(params),
            "network": scenario.network.summary(),
            "network_source": scenario.network_source,
            "trips_summary": scenario.trips.summary(),
            "car": asdict(scenario.car),
            "workdir": str(workdir) if tmp is None else None,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        }
        report = json_report(results, scenario_info)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            c = scenario.car
            line = (f"grid {params.grid}x{params.grid}, {params.lanes} lane(s)/direction, "
                    f"{params.block_m:g} m links at {params.speed_mps:g} m/s, signals: "
                    f"{params.signals}; {params.trips:,} trips over {params.depart_window_s:g} s, "
                    f"horizon {params.horizon_s:g} s, seed {params.seed}\n"
                    f"car (IDM): length {c.length_m:g} m, s0 {c.min_gap_m:g} m, T {c.tau_s:g} s, "
                    f"a {c.accel_mps2:g} m/s2, b {c.decel_mps2:g} m/s2 [{c.source}]")
            print(format_table(results, line))
        return report
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
