"""``kota live``: run the twin on the wall clock, its traffic following a live source.

    kota live SOURCE [--speedup X] [--start WHEN] [--duration D] [--no-mirror]
                     [--dashboard [--host H] [--port P]] [--store URL] [--json]

``SOURCE`` ``metr-la`` is built in: the METR-LA sensor graph as the network,
light freeway demand, and the recording played through the ingest gate as if
its 207 detectors were reporting now (:mod:`hardware_bridge.live_mode`). The
mirror nudges the twin's speeds towards each reading as it arrives; a status
line shows the running error of the twin against the readings it is about to
take. At the end (the duration, the recording's end, or Ctrl-C) a summary, or
with ``--json`` one JSON object with the totals. With ``--dashboard`` the
mirrored twin is served on the dashboard until Ctrl-C.

Exit status: 0 when the run ended (or the dashboard was closed), 1 on a user
error or when the store cannot be written, 130 when interrupted without the
dashboard (the totals so far are still printed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .live_mode import LiveReplay

__all__ = ["add_parser", "run"]

SOURCES = ("metr-la",)

EXAMPLES = """\
examples:
  kota live metr-la --start 6h --dashboard          LA from 06:00, one recorded minute per wall second
  kota live metr-la --start 7h --duration 1h --speedup 0 --json     as fast as possible, totals as JSON
  kota live metr-la --start 7h --no-mirror --speedup 0              the baseline: the twin not mirrored
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota live``."""
    p = sub.add_parser(
        "live", help="run the twin live, its traffic following a live source (metr-la)",
        description="Run the twin on the wall clock while a live source reports through the "
        "ingest gate; the mirror keeps the twin's speeds on the observed ones. metr-la replays "
        "207 Los Angeles freeway detectors as if live, so no hardware is needed.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", choices=SOURCES, help="the live source")
    p.add_argument("--speedup", type=float, default=60.0,
                   help="recorded (and simulated) seconds per wall second; 0 or inf: as fast as "
                   "possible (default %(default)s)")
    p.add_argument("--start", default=None, metavar="WHEN",
                   help="start at this recording time (ISO 8601) or this long after its start "
                   "(3600, 90m, 7h, 1d)")
    p.add_argument("--duration", default="6h", metavar="D",
                   help="how long to run, recorded time (3600, 90m, 6h; default %(default)s)")
    p.add_argument("--no-mirror", action="store_true",
                   help="do not assimilate the readings, only score them (the baseline)")
    p.add_argument("--gain", type=float, default=0.8, help="the mirror's nudging gain (0, 1]")
    p.add_argument("--trips-per-hour", type=float, default=12_000.0,
                   help="the twin's demand over the whole network (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="demand and engine seed")
    p.add_argument("--dashboard", action="store_true", help="serve the live dashboard")
    p.add_argument("--host", default="127.0.0.1", help="dashboard address (default %(default)s)")
    p.add_argument("--port", type=int, default=8050, help="dashboard port (default %(default)s)")
    p.add_argument("--store", metavar="URL", default=None,
                   help="also write the readings to this database (default: none, bus only)")
    p.add_argument("--json", action="store_true", help="print the totals as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="hide the status line")


def run(args: argparse.Namespace) -> int:
    """Run ``kota live``; the exit status."""
    from twin.store import open_store

    from .cli_common import LiveLine
    from .ingest import IngestUnavailable
    from .live_mode import LIVE_SOURCES, open_live
    from .replay import parse_start

    if math.isnan(args.speedup) or args.speedup < 0:
        raise ValueError(f"--speedup must be >= 0, got {args.speedup}")
    duration = parse_start(args.duration)
    if not isinstance(duration, timedelta) or duration.total_seconds() <= 0:
        raise ValueError(f"--duration must be a length of time > 0 (90m, 6h), got {args.duration!r}")
    duration_s = duration.total_seconds()
    start = parse_start(args.start) if args.start is not None else None
    source = LIVE_SOURCES[args.source](duration_s, trips_per_hour=args.trips_per_hour,
                                       seed=args.seed)
    line = LiveLine(every_s=5.0) if not (args.no_progress or args.json) else None

    def progress(lr: LiveReplay) -> None:
        if line is not None:
            line.show(_status(lr))

    store = open_store(args.store) if args.store else None
    status = 0
    try:
        live = open_live(source, store=store, mirror=not args.no_mirror, gain=args.gain,
                         speedup=args.speedup, start=start, duration_s=duration_s,
                         progress=progress)
        if args.dashboard:
            status = _run_with_dashboard(live, args)
        else:
            try:
                live.run()
            except KeyboardInterrupt:
                status = 130
            except IngestUnavailable as exc:
                print(f"kota live: error: {exc}", file=sys.stderr)
                status = 1
        if line is not None:
            line.show(_status(live), force=True)
    finally:
        if store is not None:
            store.close()
    totals = live.totals()
    if args.json:
        print(json.dumps(totals, sort_keys=True))
    else:
        _print(totals)
    return status


def _run_with_dashboard(live: LiveReplay, args: argparse.Namespace) -> int:
    from twin.plugins import FRONTENDS, load_plugin

    from .ingest import IngestUnavailable

    serve = load_plugin(FRONTENDS, "dashboard")
    failed: list[BaseException] = []

    def work() -> None:
        try:
            live.run()
        except IngestUnavailable as exc:
            failed.append(exc)

    worker = threading.Thread(target=work, name="kota-live", daemon=True)
    worker.start()
    print(f"Kota Twin live: {live.twin.source.network.summary()}", file=sys.stderr)
    print(f"dashboard on http://{args.host}:{args.port}/  (Ctrl-C to stop)", file=sys.stderr,
          flush=True)
    try:
        serve(live.twin.live, host=args.host, port=args.port)
    except OSError as exc:
        print(f"kota live: error: cannot serve on {args.host}:{args.port} "
              f"({exc.strerror or exc}); choose another port with --port", file=sys.stderr)
        return 1
    finally:
        live.stop()
        worker.join(timeout=10)
    if failed:
        print(f"kota live: error: {failed[0]}", file=sys.stderr)
        return 1
    return 0


def _status(live: LiveReplay) -> str:
    from .replay_records import MPH_TO_MPS

    twin, stats = live.twin, live.stats
    view = twin.live.latest()
    mae = twin.score.mae_mps
    error = "-" if mae is None else f"{mae / MPH_TO_MPS:.1f} mph"
    return (f"{live.twin.source.name} {view.clock_time:%Y-%m-%d %H:%M} | sim {twin.sim.time_s:,.0f} s"
            f" | readings taken {twin.observations_taken:,} | twin vs readings MAE {error}"
            f" | vehicles {twin.sim.n_active:,} | late {stats.max_late_s:.1f} s")


def _print(totals: dict[str, Any]) -> None:
    obs, score, mirror = totals["observations"], totals["score"], totals["mirror"]
    mae = "none scored yet" if score["mae_mph"] is None else \
        f"{score['mae_mph']:.2f} mph over {score['comparisons']:,} readings"
    rows = [
        ("source", f"{totals['source']} (run {totals['run_id']})"),
        ("played", f"{totals['first_time']} .. {totals['last_time']} ({totals['ticks']} instants)"),
        ("simulated", f"{totals['sim_time_s']:.0f} s in {totals['wall_s']:.1f} s wall"),
        ("readings", f"{obs['received']:,} received, {obs['accepted']:,} accepted, "
                     f"{obs['quarantined']:,} quarantined, {obs['taken_by_twin']:,} taken by the twin"),
        ("mirror", "off" if mirror is None else
         f"{mirror['assimilated']:,} assimilated, {mirror['unknown_source']:,} of unknown sensors"),
        ("twin vs readings", mae),
        ("clock skew", f"{totals['clock_skew_max_s']:.3g} s (simulated vs recording time)"),
        ("stopped early", "yes" if totals["stopped"] else "no"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
