"""``kota what-if``: fork a scenario's twin at a time, try interventions, print the ranking.

    kota what-if SCENARIO --at 5400 --horizon 3600 [--intervention SPEC]... [--crash LINK] [--json]

Without ``--intervention`` the built-in candidate set for an incident is tried
(:func:`.whatif_demo.incident_candidates`) on the scenario's incident open at ``--at``;
when none is open, a crash is opened at ``--at`` on ``--crash`` (default: the link of the
scenario's first incident, else the busiest multi-lane link), blocking ``--crash-lanes``
lanes for ``--crash-duration`` seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``what-if`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "what-if", help="fork a scenario's twin, try interventions, rank them by delay saved",
        description="Run the scenario to --at, fork its state, run the do-nothing fork and one "
        "fork per intervention for --horizon seconds, and rank the interventions by the "
        "vehicle-hours of delay they save (gains: positive = better than doing nothing).",
    )
    p.add_argument("scenario", type=Path, help="scenario TOML file")
    p.add_argument("--at", type=float, default=5400.0,
                   help="simulation second to fork at (default %(default)s: 07:30 in the demo)")
    p.add_argument("--horizon", type=float, default=3600.0,
                   help="seconds each fork runs (default %(default)s)")
    p.add_argument("--intervention", action="append", default=[], metavar="SPEC",
                   help="close:LINK, reroute:SHARE[:PERIOD_S], green:LINK:EXTRA_S[:cycle], "
                   "signal:PROGRAM:D1,D2,..., clear-earlier:INCIDENT:SECONDS, "
                   "clear-at:INCIDENT:TIME_S; several joined with & act together; repeat the "
                   "option for more candidates (default: the built-in incident set)")
    p.add_argument("--crash", default=None, metavar="LINK",
                   help="open a crash on this link at --at (default: only when no incident is "
                   "open; on the scenario's incident link, else the busiest multi-lane link)")
    p.add_argument("--crash-lanes", type=int, default=1, help="lanes the crash blocks (default 1)")
    p.add_argument("--crash-duration", type=float, default=1800.0,
                   help="seconds until the crash would be cleared without help (default 1800)")
    p.add_argument("--sample-s", type=float, default=10.0,
                   help="seconds between KPI samples in a fork (default 10)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota what-if``; the exit code."""
    from twin.scenario import load_scenario

    from .interventions import parse_intervention
    from .whatif import WhatIf
    from .whatif_demo import (
        OpenIncident,
        busiest_link,
        incident_candidates,
        scenario_plan,
        twin_at,
    )

    candidates = [parse_intervention(text) for text in args.intervention]
    scenario = load_scenario(args.scenario)
    wall0 = time.perf_counter()
    sim = twin_at(scenario, args.at)
    prepare_s = time.perf_counter() - wall0
    plan, open_incidents = scenario_plan(scenario, sim)
    if args.crash is not None or (not candidates and not open_incidents):
        link = args.crash or (scenario.incidents[0].link if scenario.incidents
                              else busiest_link(sim))
        incident_id = sim.open_incident(link, args.crash_lanes)
        clear_at = args.at + args.crash_duration
        plan.clearances[incident_id] = clear_at
        open_incidents.append(OpenIncident(incident_id, link, args.crash_lanes, clear_at,
                                           f"crash opened at {args.at:g} s"))
    if not candidates:
        candidates = incident_candidates(sim, open_incidents[-1])
    result = WhatIf(sim, sample_s=args.sample_s).evaluate(candidates, args.horizon, plan)
    incidents = [{"incident_id": o.incident_id, "link": o.link, "lanes_blocked": o.lanes_blocked,
                  "clear_at_s": o.clear_at_s if o.clear_at_s != float("inf") else None,
                  "label": o.label} for o in open_incidents]
    if args.json:
        out = result.to_dict()
        out.update(scenario=scenario.scenario.name, incidents=incidents,
                   prepare_wall_s=round(prepare_s, 3))
        print(json.dumps(out, sort_keys=True))
        return 0
    print(f"scenario {scenario.scenario.name}: twin run to t={args.at:g} s in {prepare_s:.1f} s")
    for o in incidents:
        until = "open" if o["clear_at_s"] is None else f"cleared at {o['clear_at_s']:g} s"
        print(f"incident {o['incident_id']} ({o['label']}): link {o['link']}, "
              f"{o['lanes_blocked']} lane(s) blocked, {until} without intervention")
    print(result.format_table())
    return 0
