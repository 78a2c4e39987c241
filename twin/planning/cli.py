"""``kota sweep``: a parameter grid with seed replications, fanned out on Dask.

    kota sweep SCENARIO [--param NAME=V1,V2,...]... [--replications N | --seeds S1,S2,...]
               [--duration-s S] [--out DIR] [--workers N] [--scheduler ADDRESS] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from twin.planning.run_kpis import KPI_NAMES

_SHOWN = ("mean_travel_time_s", "mean_delay_s", "p90_travel_time_s", "trips_completed")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sweep`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "sweep", help="run a parameter grid with seed replications on Dask",
        description="Run SCENARIO for every combination of the --param values, once per seed, "
        "on a Dask cluster (a LocalCluster on this machine by default), and print the mean and "
        "95%% confidence interval of each KPI across seeds. Finished runs are kept in --out; "
        "running the same sweep again runs only the missing ones.",
        epilog="example: kota sweep scenarios/jakarta_jatinegara.toml --param demand.scale=0.8,1,1.2 "
        "--replications 5 --duration-s 3600",
    )
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2",
                   help="a scenario field by its dotted path and the values to try, e.g. "
                   "demand.scale=0.8,1.2 or incidents.0.lanes_blocked=1,2 (repeatable: the grid "
                   "is every combination)")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--replications", type=int, default=None, metavar="N",
                       help="run each point with N seeds: the scenario's seed and the next N-1 "
                       "(default 1)")
    seeds.add_argument("--seeds", default=None, metavar="S1,S2",
                       help="run each point with these seeds")
    p.add_argument("--duration-s", type=float, default=None,
                   help="simulate this many seconds instead of the scenario's duration")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default var/sweeps/<scenario name>)")
    p.add_argument("--workers", type=int, default=2,
                   help="worker processes of the local cluster (default %(default)s)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786, instead of a "
                   "local cluster")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary rows as JSON")


def parse_param(text: str) -> tuple[str, list[Any]]:
    """``NAME=V1,V2`` -> ``(NAME, [V1, V2])`` with numbers and booleans parsed.

    Raises
    ------
    ValueError : no ``=``, an empty name, or no values.
    """
    from twin.planning.params import parse_value

    name, sep, values = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--param {text!r}: write NAME=V1,V2 (e.g. demand.scale=0.8,1.2)")
    parts = [v for v in values.split(",") if v.strip()]
    if not parts:
        raise ValueError(f"--param {text!r}: no values after '='")
    return name.strip(), [parse_value(v) for v in parts]


def _fmt(value: float | None, half: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if half is None else f"{value:.1f} ± {half:.1f}"


def format_summary(rows: list[dict[str, Any]]) -> str:
    """The summary as a table: one line per grid point, mean ± 95 % CI half-width."""
    head = ["point", "runs", *_SHOWN]
    lines = [[str(r["point"]), f"{r['runs']}/{r['seeds']}",
              *(_fmt(r[k], r[f"{k}_ci"]) for k in _SHOWN)] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=True)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
                     for line in [head, *lines])


def run(args: argparse.Namespace) -> int:
    """Execute ``kota sweep``; the exit code (1 when a run failed)."""
    from twin.planning.sweep import SchedulerUnreachable, run_sweep
    from twin.planning.sweep_spec import SweepSpec

    # the cluster's chatter off, here and in the worker processes (read at dask's import)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    params = dict(parse_param(t) for t in args.param)
    if len(params) != len(args.param):
        raise ValueError("a --param is given twice")
    seeds = None if args.seeds is None else [int(s) for s in args.seeds.split(",") if s.strip()]
    spec = SweepSpec.build(args.scenario, params, seeds=seeds, replications=args.replications,
                           duration_s=args.duration_s)
    out = args.out or Path("var") / "sweeps" / args.scenario.stem
    points = spec.points()
    print(f"kota sweep: {len(points)} runs ({len(points) // len(spec.seeds)} points x "
          f"{len(spec.seeds)} seeds) into {out}", file=sys.stderr)
    try:
        result = run_sweep(spec, out, scheduler=args.scheduler, workers=args.workers,
                           progress=not args.no_progress)
    except SchedulerUnreachable as exc:
        print(f"kota sweep: error: {exc}", file=sys.stderr)
        return 1
    print(f"kota sweep: ran {result.ran}, kept {result.skipped} from before, "
          f"{len(result.failed)} failed", file=sys.stderr)
    for point, message in result.failed:
        print(f"kota sweep: run failed: {point.label} seed {point.seed}: {message}", file=sys.stderr)
    if result.failed:
        print(f"kota sweep: the finished runs are kept in {out}; run the same command again to "
              "run only the missing ones", file=sys.stderr)
    print(json.dumps(result.summary, default=str) if args.json else format_summary(result.summary))
    return 1 if result.failed else 0


__all__ = ["KPI_NAMES", "add_parser", "format_summary", "parse_param", "run"]
