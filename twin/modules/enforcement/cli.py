"""``kota enforce``: run a scenario's ETLE section, or verify a store's audit chain.

    kota enforce SCENARIO [--store URL] [--json]
    kota enforce --verify-audit [--store URL]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``enforce`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "enforce", help="run a scenario's ETLE section, or verify the audit chain",
        description="Run the [modules.enforcement] section of a scenario on simulated time: "
        "camera stream, detection, officer verification, letters, payments over HTTP, "
        "STNK blocks and SIM points, then print a summary. With --verify-audit, recompute "
        "the hash chain of the store's ETLE audit log instead (exit 1 if it is broken).",
    )
    p.add_argument("scenario", type=Path, nargs="?", help="scenario file (TOML)")
    p.add_argument("--store", metavar="URL", default=None,
                   help="database URL (default: the scenario's [store] url; with "
                   "--verify-audit: $KOTA_DB_URL or sqlite:///var/kota.db)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--verify-audit", action="store_true",
                   help="check the audit log's hash chain and exit")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota enforce``; the exit code."""
    if args.verify_audit:
        from twin.store import open_store

        from .repository import CaseStore

        with open_store(args.store) as store:
            report = CaseStore.of(store).verify_audit()
        if args.json:
            print(json.dumps({"ok": report.ok, "entries": report.entries,
                              "head_hash": report.head_hash, "first_bad_seq": report.first_bad_seq,
                              "problem": report.problem}))
        elif report.ok:
            print(f"audit chain intact: {report.entries} entries, head {report.head_hash}")
        else:
            print(f"audit chain BROKEN at entry {report.first_bad_seq}: {report.problem} "
                  f"({report.entries} entries verified before it)")
        return 0 if report.ok else 1
    if args.scenario is None:
        raise ValueError("give a SCENARIO file, or --verify-audit")
    from twin.scenario import load_scenario

    from .scenario_run import format_summary, run_enforcement

    scenario = load_scenario(args.scenario)
    summary = run_enforcement(scenario, store_url=args.store,
                              progress=None if args.json else lambda line: print(line, flush=True))
    print(json.dumps(summary, sort_keys=True) if args.json else format_summary(summary))
    return 0
