"""``kota report``: a self-contained HTML report of a sweep (:mod:`dashboard.sweep_report`).

    kota report SWEEP_DIR [--out FILE] [--baseline POINT]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "report", help="write an HTML report comparing a sweep's points",
        description="Read what kota sweep wrote in SWEEP_DIR and write one self-contained HTML "
        "file (opens offline): the scenario's settings, every point's KPIs with 95%% intervals, "
        "a chart per KPI, and maps of the change in link speeds against the baseline point.",
        epilog="example: kota report var/sweeps/jakarta_jatinegara --baseline demand.scale=1",
    )
    p.add_argument("sweep_dir", type=Path, help="the folder kota sweep wrote (its --out)")
    p.add_argument("--out", type=Path, default=None,
                   help="the HTML file (default SWEEP_DIR/report.html)")
    p.add_argument("--baseline", default=None, metavar="POINT",
                   help="the point the maps compare against, as the summary names it "
                   "(e.g. demand.scale=1); default the first")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota report``; the exit code."""
    from dashboard.sweep_report import write_report

    path = write_report(args.sweep_dir, args.out, args.baseline)
    print(f"kota report: wrote {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)",
          file=sys.stderr)
    print(path)
    return 0
