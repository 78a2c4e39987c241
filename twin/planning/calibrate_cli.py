"""``kota calibrate``: fit a scenario's demand scale and speed level to observed corridor speeds.

    kota calibrate SCENARIO [--observed CSV] [--corridors MAP] [--corridor NAME]...
                   [--param NAME=LOW:HIGH]... [--grid N] [--refine N] [--seeds S1,S2]
                   [--window-s START:END] [--workers N | --scheduler ADDRESS]
                   [--write TOML] [--json PATH]

Prints the RMSE before and after, observed vs simulated speed per corridor, the fitted
parameters, and what the comparison cannot show; writes the scenario with the fitted values.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twin.planning.calibrate import (
    CalibrationProblem,
    CalibrationResult,
    Evaluation,
    ParamRange,
    RunMany,
    calibrate,
    evaluate,
)
from twin.planning.corridor_speeds import (
    CalibrationError,
    CorridorMap,
    corridor_links,
    load_corridor_map,
    load_observed_speeds,
)

DEFAULT_OBSERVED = "../data/jakarta/speed/jakarta_41_corridor_peak_speed_2023.csv"
DEFAULT_MAP = "../data/jakarta/speed/corridor_map.toml"
DEFAULT_PARAMS = ("demand.scale=0.5:1.5", "network.speed_limit_factor=0.6:1.4")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``calibrate`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "calibrate", help="fit demand scale and speed level to observed corridor speeds",
        description="Fit SCENARIO's parameters so the simulated space-mean speed on mapped "
        "corridors during the peak window matches observed peak-hour speeds: RMSE (km/h) over "
        "the corridors, a grid then Nelder-Mead, the same seeds at every point.",
        epilog="example: kota calibrate scenarios/jakarta_jatinegara.toml --seeds 1,2 --grid 3",
    )
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    p.add_argument("--observed", type=Path, default=None,
                   help=f"observed speeds CSV (default {DEFAULT_OBSERVED}, from the scenario's folder)")
    p.add_argument("--corridors", type=Path, default=None,
                   help=f"corridor map TOML (default {DEFAULT_MAP}, from the scenario's folder)")
    p.add_argument("--corridor", action="append", default=[], metavar="NAME",
                   help="fit only this mapped corridor (repeatable; default all in the map)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=LOW:HIGH",
                   help="a parameter and its range (repeatable; default "
                   + " ".join(DEFAULT_PARAMS) + ")")
    p.add_argument("--grid", type=int, default=5, help="grid values per parameter (default 5)")
    p.add_argument("--refine", type=int, default=12,
                   help="Nelder-Mead evaluations after the grid (default 12; 0: grid only)")
    p.add_argument("--tie-kmh", type=float, default=1.0,
                   help="fits within this RMSE of the best count as equal; the one nearest the "
                   "scenario's own values is taken (default 1 km/h, below the seed noise of a "
                   "corridor's speed here; 0: the lowest RMSE)")
    p.add_argument("--seeds", default="1,2,3", help="seeds of every evaluation (default 1,2,3)")
    p.add_argument("--check-seeds", default="101,102,103,104,105", metavar="S1,S2",
                   help="after the fit, run before and after again with these other seeds "
                   "(default 101-105; 'none' to skip)")
    p.add_argument("--window-s", default="3600:7200", metavar="START:END",
                   help="peak window in seconds from the scenario's start; the run stops at END "
                   "(default 3600:7200, 07:00-08:00 for a 06:00 start)")
    p.add_argument("--workers", type=int, default=1,
                   help="run on a local Dask cluster of N processes (default 1: in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="a running Dask scheduler to run on instead")
    p.add_argument("--write", type=Path, default=None,
                   help="calibrated scenario to write (default <scenario>_calibrated.toml beside it)")
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")


def parse_range(text: str) -> ParamRange:
    """``NAME=LOW:HIGH`` -> a :class:`ParamRange`.

    Raises
    ------
    CalibrationError : not of that form.
    """
    name, eq, rest = text.partition("=")
    low, colon, high = rest.partition(":")
    try:
        if not (eq and colon and name.strip()):
            raise ValueError
        bounds = float(low), float(high)
    except ValueError:
        raise CalibrationError(f"--param {text!r}: expected NAME=LOW:HIGH, e.g. "
                               f"demand.scale=0.5:2") from None
    return ParamRange(name.strip(), *bounds)


def _pair(text: str, what: str) -> tuple[float, float]:
    a, colon, b = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return float(a), float(b)
    except ValueError:
        raise CalibrationError(f"{what} {text!r}: expected START:END in seconds") from None


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise CalibrationError(f"--seeds {text!r}: expected integers like 1,2") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise CalibrationError(f"--seeds {text!r}: give distinct seeds")
    return seeds


def build_problem(args: argparse.Namespace) -> tuple[CalibrationProblem, list[CorridorMap]]:
    """The problem the arguments describe, data files and corridors checked.

    Raises
    ------
    CalibrationError : a missing file, an unknown corridor or street, a bad window or seed.
    ScenarioError : the scenario cannot be read.
    """
    from twin.assemble import build_network
    from twin.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    observed = load_observed_speeds(args.observed or scenario.resolve(DEFAULT_OBSERVED))
    mapping = load_corridor_map(args.corridors or scenario.resolve(DEFAULT_MAP))
    if args.corridor:
        mapped = {c.observed: c for c in mapping}
        unknown = [n for n in args.corridor if n not in mapped]
        if unknown:
            raise CalibrationError(f"unknown corridor {', '.join(map(repr, unknown))}: the map "
                                   f"has {', '.join(mapped)}")
        mapping = [mapped[n] for n in args.corridor]
    links = corridor_links(build_network(scenario), mapping, observed)
    window = _pair(args.window_s, "--window-s")
    problem = CalibrationProblem(Path(args.scenario).resolve(),
                                 {c.observed: observed[c.observed].mean_kmh for c in mapping},
                                 links, window, _seeds(args.seeds), duration_s=window[1])
    return problem, mapping


def _dask_runs(problem: CalibrationProblem, client: Any) -> RunMany:
    from twin.planning.run_kpis import run_point

    def run(jobs: Sequence[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
        futures = [client.submit(run_point, str(problem.scenario_path), p, s, problem.duration_s,
                                 problem.window_s, pure=False) for p, s in jobs]
        return list(client.gather(futures))
    return run


def write_calibrated(source: Path, target: Path, params: dict[str, float], header: str) -> Path:
    """``source``'s text with each ``table.key`` parameter set in its ``[table]``.

    Raises
    ------
    CalibrationError : a parameter is not ``table.key``, or its table is not in the file.
    """
    lines = source.read_text(encoding="utf-8").splitlines()
    for name, value in params.items():
        table, dot, key = name.partition(".")
        if not dot or "." in key:
            raise CalibrationError(f"cannot write {name}: only table.key parameters are written")
        try:
            head = lines.index(f"[{table}]")
        except ValueError:
            raise CalibrationError(f"cannot write {name}: {source} has no [{table}] table") from None
        end = next((i for i in range(head + 1, len(lines)) if lines[i].startswith("[")),
                   len(lines))
        pattern = re.compile(rf"^{re.escape(key)}\s*=")
        found = next((i for i in range(head + 1, end) if pattern.match(lines[i])), None)
        text = f"{key} = {value:g}"
        if found is None:
            lines.insert(head + 1, text)
        else:
            lines[found] = text
    body = "\n".join(f"# {h}" if h else "#" for h in header.splitlines())
    target.write_text(body + "\n#\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return target


def format_result(problem: CalibrationProblem, mapping: list[CorridorMap],
                  result: CalibrationResult,
                  check: tuple[tuple[int, ...], Evaluation, Evaluation] | None = None) -> str:
    """The report printed: before/after RMSE, per corridor, the fitted values, the caveats;
    ``check`` = (other seeds, before and after run with them)."""
    out = [f"peak window {problem.window_s[0]:g}-{problem.window_s[1]:g} s, seeds "
           f"{list(problem.seeds)}, {result.runs} runs",
           f"RMSE before: {result.before.rmse_kmh:.2f} km/h  ({_params(result.before.params)})",
           f"RMSE after:  {result.after.rmse_kmh:.2f} km/h  ({_params(result.after.params)})"]
    if check is not None:
        other, before, after = check
        out.append(f"with other seeds {list(other)}: before {before.rmse_kmh:.2f}, after "
                   f"{after.rmse_kmh:.2f} km/h")
    out += ["", f"{'corridor':<24}{'match':<13}{'observed':>9}{'before':>9}{'after':>9}  km/h"
            "  (after, per seed)"]
    for c in mapping:
        per_seed = ", ".join(f"{v:.1f}" for v in result.after.seed_kmh.get(c.observed, []))
        out.append(f"{c.observed:<24}{c.match:<13}{problem.observed_kmh[c.observed]:>9.1f}"
                   f"{result.before.simulated_kmh[c.observed]:>9.1f}"
                   f"{result.after.simulated_kmh[c.observed]:>9.1f}  ({per_seed})")
    out += ["", "fitted: " + _params(result.after.params), "", "cannot match:"]
    out += [f"- {line}" for line in limitations(problem, mapping, result)]
    return "\n".join(out)


def _params(params: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in params.items())


def limitations(problem: CalibrationProblem, mapping: list[CorridorMap],
                result: CalibrationResult) -> list[str]:
    """What this fit does not establish, stated plainly."""
    notes = []
    proxies = [c.observed for c in mapping if c.match != "same street"]
    if proxies:
        notes.append(f"{', '.join(proxies)}: compared on network streets standing in for the "
                     f"corridor (a proxy, not the same road); see the corridor map's notes")
    n_params = len(result.after.params)
    if len(mapping) < n_params:
        best = min(e.rmse_kmh for e in result.history)
        tied = sorted((e for e in result.history if e.rmse_kmh <= best + 1.0),
                      key=lambda e: e.rmse_kmh)
        notes.append(f"{len(mapping)} corridor(s) for {n_params} parameters: the fit is not "
                     f"unique; {len(tied)} of {len(result.history)} points evaluated came within "
                     f"1 km/h of the best RMSE ({best:.2f}): "
                     f"{'; '.join(_params(e.params) for e in tied[:4])}")
    spread = [e.rmse_kmh for e in result.history]
    if spread and max(spread) - min(spread) < 1.0:
        notes.append("the RMSE hardly moves over the ranges: these parameters do not shape "
                     "the corridor's speed here")
    from twin.scenario import load_scenario

    incidents = load_scenario(problem.scenario_path).incidents
    if incidents:
        notes.append(f"the scenario's incidents ({', '.join(i.id for i in incidents)}) are part "
                     f"of every run; the observed speeds are means over ordinary days")
    notes.append("the observed speed is a 2023 monthly mean over a whole corridor; the "
                 "simulated one is one peak window of one synthetic day")
    return notes


def run(args: argparse.Namespace) -> int:
    """Execute ``kota calibrate``; 0 on success (errors are raised for the CLI to print)."""
    problem, mapping = build_problem(args)
    ranges = [parse_range(t) for t in (args.param or DEFAULT_PARAMS)]
    client = cluster = None
    run_many: RunMany | None = None
    if args.scheduler is not None or args.workers > 1:
        from twin.planning.sweep import dask_client

        client, cluster = dask_client(args.scheduler, args.workers, 10.0)
        run_many = _dask_runs(problem, client)
    check_seeds = None if args.check_seeds.strip().lower() == "none" else _seeds(args.check_seeds)
    check = None
    try:
        result = calibrate(problem, ranges, grid=args.grid, refine=args.refine,
                           tie_kmh=args.tie_kmh, run_many=run_many,
                           log=lambda line: print(line, file=sys.stderr))
        if check_seeds is not None:
            other = dataclasses.replace(problem, seeds=check_seeds)
            before, after = evaluate(other, [result.before.params, result.after.params],
                                     _dask_runs(other, client) if client is not None else None)
            check = (check_seeds, before, after)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    report = format_result(problem, mapping, result, check)
    print(report)
    target = args.write or args.scenario.with_name(f"{args.scenario.stem}_calibrated.toml")
    header = (f"Calibrated by `kota calibrate {args.scenario}` against observed corridor "
              f"speeds\n(grid, then Nelder-Mead; objective RMSE km/h over the corridors).\n"
              + report)
    write_calibrated(args.scenario, target, result.after.params, header)
    print(f"\nwrote {target}")
    if args.json is not None:
        data = result.to_dict(problem)
        if check is not None:
            data["check"] = {"seeds": list(check[0]), "before_rmse_kmh": check[1].rmse_kmh,
                             "after_rmse_kmh": check[2].rmse_kmh,
                             "before_kmh": check[1].simulated_kmh,
                             "after_kmh": check[2].simulated_kmh}
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return 0
