"""``kota dispatch``: run a scenario's 112 dispatch section and print its KPIs.

    kota dispatch SCENARIO [--store URL] [--duration-s S] [--compare] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dispatch`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "dispatch", help="run a scenario's 112 call centre and dispatch section",
        description="Run the [modules.dispatch] section of a scenario beside its traffic: "
        "incidents blocking lanes, calls answered by call takers on shifts, units of each "
        "agency dispatched on the current travel times; store the incidents, calls and "
        "KPIs (DOMAIN.md section 2.4) and print a summary.",
    )
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    p.add_argument("--store", metavar="URL", default=None,
                   help="database URL (default: the scenario's [store] url)")
    p.add_argument("--duration-s", type=float, default=None,
                   help="simulate this many seconds instead of the scenario's duration")
    p.add_argument("--compare", action="store_true",
                   help="replay the same day with each of [modules.dispatch.layouts] and print "
                   "the change in P90 total response per service")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota dispatch``; the exit code."""
    from twin.scenario import load_scenario

    from .scenario_run import compare_layouts, format_comparison, format_summary, run_scenario

    scenario = load_scenario(args.scenario)
    if args.compare:
        result = compare_layouts(scenario, store_url=args.store, duration_s=args.duration_s)
        print(json.dumps(result, sort_keys=True) if args.json else format_comparison(result))
        return 0
    _model, summary = run_scenario(scenario, store_url=args.store, duration_s=args.duration_s)
    print(json.dumps(summary, sort_keys=True) if args.json else format_summary(summary))
    return 0
