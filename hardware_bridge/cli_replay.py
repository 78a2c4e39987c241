"""``kota replay``: play a recording into the twin's store through the ingest gate.

    kota replay SOURCE [--speedup X] [--start WHEN] [--limit N] [--store URL | --no-store] [--json]

``SOURCE`` is ``metr-la``, ``i94`` or a file (JSONL or CSV, see
:mod:`hardware_bridge.replay_sources`). A progress bar shows the counts as they
change (received, accepted, duplicates, quarantined); at the end a summary, or
with ``--json`` one JSON object with the totals. Exit status: 0 when the replay
ran (quarantined lines included: they are reported, not fatal), 1 on a user
error or when the store cannot be written, 130 when interrupted (the totals so
far are still printed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

__all__ = ["add_parser", "run"]

EXAMPLES = """\
examples:
  kota replay i94 --limit 1000                     the first 1,000 hours of I-94, as fast as possible
  kota replay metr-la --speedup 300 --start 7h     LA from 07:00, 5-minute intervals each second
  kota replay readings.csv --store sqlite:///var/lab.db --json
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota replay``."""
    p = sub.add_parser(
        "replay", help="replay a recording (metr-la, i94, or a JSONL/CSV file) into the twin",
        description="Play recorded observations through the ingest gate into the store and the "
        "bus, paced to the wall clock or as fast as possible. Replaying the same recording "
        "twice ingests it once (deterministic event ids).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="metr-la, i94, or a .jsonl/.csv file (optionally .gz)")
    p.add_argument("--speedup", type=float, default=0.0,
                   help="recorded seconds per wall second; 0 (default) or inf: as fast as possible")
    p.add_argument("--start", default=None, metavar="WHEN",
                   help="start at this recording time (ISO 8601) or this long after its start "
                   "(3600, 90m, 2h30m, 1d)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="replay at most N observations")
    store = p.add_mutually_exclusive_group()
    store.add_argument("--store", metavar="URL", default=None,
                       help="database URL (default: sqlite:///var/kota.db)")
    store.add_argument("--no-store", action="store_true",
                       help="no database: publish on the bus only (deduplicates within this run)")
    p.add_argument("--json", action="store_true", help="print the totals as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``kota replay``; the exit status."""
    from twin.bus import Bus
    from twin.store import DEFAULT_URL, open_store

    from .ingest import Ingest, IngestUnavailable
    from .replay import Replayer, parse_start
    from .replay_sources import open_recording

    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must be >= 0, got {args.limit}")
    if math.isnan(args.speedup) or args.speedup < 0:
        raise ValueError(f"--speedup must be >= 0, got {args.speedup}")
    start = parse_start(args.start) if args.start is not None else None
    recording = open_recording(args.source)
    store = None if args.no_store else open_store(args.store or DEFAULT_URL)
    status = 0
    try:
        ingest = Ingest(Bus(), store=store, require_freshness=False)
        replayer = Replayer(ingest, recording, speedup=args.speedup, start=start,
                            limit=args.limit)
        with _Progress(not (args.no_progress or args.json), recording.name,
                       replayer.stats.total) as bar:
            replayer.progress = bar.update
            try:
                stats = replayer.run()
            except KeyboardInterrupt:
                stats = replayer.stats
                stats.stopped = True
                status = 130
            except IngestUnavailable as exc:
                print(f"kota replay: error: {exc}", file=sys.stderr)
                stats = replayer.stats
                status = 1
    finally:
        if store is not None:
            store.close()
    totals: dict[str, Any] = stats.as_dict()
    totals["source"] = recording.summary()
    if args.json:
        print(json.dumps(totals, sort_keys=True))
    else:
        _print(totals)
    return status


class _Progress:
    """A tqdm bar of observations received, with the gate's counts beside it."""

    def __init__(self, show: bool, name: str, total: int | None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="obs", disable=not show, dynamic_ncols=True, desc=name)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.bar.close()

    def update(self, stats: Any) -> None:
        self.bar.update(stats.received - self.bar.n)
        self.bar.set_postfix(accepted=stats.accepted, duplicates=stats.duplicates,
                             quarantined=stats.quarantined, refresh=False)


def _print(totals: dict[str, Any]) -> None:
    rows = [
        ("recording", totals["recording"]),
        ("played", f"{totals['first_time']} .. {totals['last_time']} ({totals['ticks']} instants)"),
        ("received", totals["received"]),
        ("accepted", totals["accepted"]),
        ("duplicates", totals["duplicates"]),
        ("quarantined", f"{totals['quarantined']} ({totals['bad_lines']} unreadable lines)"),
        ("missing readings", f"{totals['missing']} in {totals['gaps']} gaps"),
        ("wall time", f"{totals['wall_s']:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
