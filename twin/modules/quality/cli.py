"""``kota quality``: the six services' quality scores, grades and coverage, and the AAI.

    kota quality [--store URL] [--window-days N] [--area A] [--end ISO|latest]
                 [--survey FILE] [--export DIR] [--publish] [--json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``quality`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "quality", help="public-service quality index per service, with the AAI",
        description="Compute the transparent quality index (DOMAIN.md 3.3) of the six public "
        "services over a rolling window from the store: score on the IKM 25-100 scale, grade "
        "A-D and data coverage, or 'insufficient data'; optionally blend IKM surveys, export "
        "the scores with their explanation records, and store them for trends.",
    )
    p.add_argument("--store", metavar="URL", default=None,
                   help="database URL (default: $KOTA_DB_URL or sqlite:///var/kota.db)")
    p.add_argument("--window-days", type=float, default=None,
                   help="rolling window in days (default: the index config's, 30)")
    p.add_argument("--area", default="all",
                   help="area: 'all' (default, the whole store), a Polda for the ETLE KPIs or "
                   "a dispatch station id for the 112 KPIs")
    p.add_argument("--end", default="now",
                   help="window end: ISO 8601 time with offset, 'now' (default) or 'latest' "
                   "(the newest ETLE case change or observation, or the end of the newest "
                   "dispatch run, for simulated runs)")
    p.add_argument("--survey", type=Path, default=None,
                   help='IKM survey JSON: {"service": [[nine ratings 1-4], ...], ...}')
    p.add_argument("--export", metavar="DIR", type=Path, default=None,
                   help="write quality_scores.json, quality_kpis.csv and index_config.json")
    p.add_argument("--publish", action="store_true",
                   help="store the scores in the quality_scores table (history)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def _end(store: Any, text: str) -> Any:
    from datetime import UTC, datetime

    from .extent import latest_data_time

    if text == "now":
        return datetime.now(UTC)
    if text == "latest":
        latest = latest_data_time(store)
        if latest is None:
            raise ValueError("--end latest: the store holds no ETLE case, observation or "
                             "dispatch run")
        return latest
    end = datetime.fromisoformat(text)
    if end.tzinfo is None:
        raise ValueError(f"--end {text!r} needs a UTC offset")
    return end


def _surveys(path: Path | None) -> dict[str, float]:
    from .config import SERVICES
    from .ikm import ikm_score

    if path is None:
        return {}
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict) or set(data) - set(SERVICES):
        raise ValueError(f"{path}: an object keyed by the services {list(SERVICES)}")
    return {s: ikm_score(rows) for s, rows in data.items()}


def format_result(result: dict[str, Any]) -> str:
    """The text table of one computed index."""
    w = result["window"]
    lines = [f"quality index {result['index_version']}  area {result['area']}  "
             f"{w['start']} .. {w['end']}",
             f"  {'service':<15} {'score':>6} {'grade':>5} {'coverage':>8}  kpis"]
    for s in result["services"]:
        avail = sum(e["available"] for e in s["explanations"])
        kpis = f"{avail}/{len(s['explanations'])}"
        if s["final"] is None:
            lines.append(f"  {s['service']:<15} {'insufficient data':>20} {s['coverage']:>6.0%}  {kpis}")
        else:
            ikm = "" if s["ikm"] is None else f"  (IKM {s['ikm']:.2f})"
            lines.append(f"  {s['service']:<15} {s['final']:>6.2f} {s['grade']:>5} "
                         f"{s['coverage']:>8.0%}  {kpis}{ikm}")
    a = result["aai"]
    lines.append(f"  {'AAI':<15} " + ("insufficient data" if a["aai"] is None else
                                      f"{a['aai']:>6.2f} {a['grade']:>5}")
                 + f"  ({a['coverage']:.0%} of the service weight scored)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Execute ``kota quality``; the exit code."""
    from twin.store import open_store

    from .config import load_config
    from .export import write_export
    from .history import compute, publish, rolling_window

    cfg = load_config()
    days = cfg.window_days if args.window_days is None else args.window_days
    if not days > 0:
        raise ValueError("--window-days must be > 0")
    ikm = _surveys(args.survey)
    with open_store(args.store) as store:
        window = rolling_window(_end(store, args.end), days)
        result = compute(store, cfg, window, args.area, ikm)
        if args.publish:
            publish(store, result)
    if args.export is not None:
        write_export(args.export, [result], cfg)
    print(json.dumps(result, indent=1) if args.json else format_result(result))
    return 0
