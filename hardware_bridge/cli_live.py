"""``kota live``: run the twin on the wall clock, its traffic following a live source.

    kota live metr-la [--speedup X] [--start WHEN] [--duration D]
                      [--warnings [--publish-alerts [--broker URL] [--ca FILE]
                       [--password-file FILE] [--kab-kota NAME]]] [common options]
    kota live mqtt --scenario FILE --registry FILE [--broker URL] [--ca FILE]
                   [--password-file FILE] [--duration D] [common options]
    common options: [--no-mirror] [--dashboard [--host H] [--port P]] [--store URL] [--json]

``metr-la`` is built in: the METR-LA sensor graph as the network, light freeway
demand, and the recording played through the ingest gate as if its 207
detectors were reporting now (:mod:`hardware_bridge.live_mode`); simulated time
is recording time. ``mqtt`` runs the MQTT bridge into the same gate and the
twin in real time on a scenario's network and demand, its loop detectors being
the devices that report (:mod:`hardware_bridge.live_feed`; ``kota emulate``
publishes a scenario's detectors so).

``--warnings`` (metr-la) fits the prediction module's forecaster on METR-LA's fit
rows (0-1611, as ``kota evaluate-forecast``) and raises early congestion warnings
from the readings as they are played (:mod:`hardware_bridge.live_warnings`); the
replay then starts by default at the first held-out interval, 2012-03-06 14:20-14:25
Los Angeles time (its reading at 14:25), so the warnings are forecasts of data the
forecaster never saw. ``--publish-alerts`` also publishes them to the broker as
NGSI-LD Alerts on ``info/{kab_kota}/alert/{severity}``
(:mod:`hardware_bridge.alert_publisher`).

The mirror nudges the twin's speeds towards each reading as it arrives; a status
line shows the running error of the twin against the readings it is about to
take. At the end (the duration, the recording's end, or Ctrl-C) a summary, or
with ``--json`` one JSON object with the totals. With ``--dashboard`` the
mirrored twin is served on the dashboard until Ctrl-C.

Exit status: 0 when the run ended (or the dashboard was closed), 1 on a user
error, when the broker refuses or the store cannot be written, 130 when
interrupted without the dashboard (the totals so far are still printed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cli_common import add_broker_args

if TYPE_CHECKING:
    from twin.store import Store

    from .alert_publisher import AlertPublisher
    from .live_feed import LiveFeed
    from .live_mode import LiveReplay

    LiveRun = LiveReplay | LiveFeed

__all__ = ["add_parser", "run"]

SOURCES = ("metr-la", "mqtt")
DEFAULT_SPEEDUP = 60.0
DEFAULT_DURATION = "6h"

EXAMPLES = """\
examples:
  kota live metr-la --start 6h --dashboard          LA from 06:05, one recorded minute per wall second
  kota live metr-la --start 7h --duration 1h --speedup 0 --json     as fast as possible, totals as JSON
  kota live metr-la --start 7h --no-mirror --speedup 0              the baseline: the twin not mirrored
  kota live metr-la --warnings --dashboard       early warnings from 6 March 14:25 (held-out rows)
  kota live metr-la --warnings --publish-alerts --broker mqtts://localhost:8883 --ca var/ca.pem \
      --password-file var/bridge.pw                                  the warnings on info/.../alert/#
  kota live mqtt --scenario scenarios/grid_small.toml --registry var/devices.toml \\
      --broker mqtts://localhost:8883 --ca var/ca.pem --password-file var/bridge.pw --dashboard
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota live``."""
    p = sub.add_parser(
        "live", help="run the twin live, its traffic following a live source (metr-la, mqtt)",
        description="Run the twin on the wall clock while a live source reports through the "
        "ingest gate; the mirror keeps the twin's speeds on the observed ones. metr-la replays "
        "207 Los Angeles freeway detectors as if live, so no hardware is needed; mqtt takes "
        "the devices on the broker.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", choices=SOURCES, help="the live source")
    p.add_argument("--speedup", type=float, default=None,
                   help=f"metr-la: recorded (and simulated) seconds per wall second; 0 or inf: as "
                   f"fast as possible (default {DEFAULT_SPEEDUP:g}); mqtt runs in real time (1)")
    p.add_argument("--start", default=None, metavar="WHEN",
                   help="metr-la: start at this recording time (ISO 8601) or this long after its "
                   "start (3600, 90m, 7h, 1d)")
    p.add_argument("--duration", default=None, metavar="D",
                   help=f"how long to run (3600, 90m, 6h; default: {DEFAULT_DURATION} of metr-la, "
                   "the scenario's duration for mqtt)")
    p.add_argument("--no-mirror", action="store_true",
                   help="do not assimilate the readings, only score them (the baseline)")
    p.add_argument("--gain", type=float, default=0.8, help="the mirror's nudging gain (0, 1]")
    p.add_argument("--trips-per-hour", type=float, default=12_000.0,
                   help="metr-la: the twin's demand over the whole network (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="metr-la: demand and engine seed")
    p.add_argument("--scenario", type=Path, default=None, metavar="FILE",
                   help="mqtt: the scenario whose network, demand and loop detectors the twin has")
    p.add_argument("--registry", type=Path, default=None, metavar="FILE",
                   help="mqtt: device registry (TOML, see hardware_bridge/devices.py)")
    add_broker_args(p)
    p.add_argument("--password-file", type=Path, default=None, metavar="FILE",
                   help="mqtt: file holding the bridge's broker password "
                   "(default: $KOTA_BRIDGE_PASSWORD)")
    p.add_argument("--client-id", default="kota-live",
                   help="mqtt: the bridge's MQTT client id (default %(default)s)")
    p.add_argument("--warnings", action="store_true",
                   help="metr-la: raise early congestion warnings from the forecaster fitted on "
                   "the fit rows (0-1611); --start defaults to the first held-out interval, "
                   "2012-03-06 14:20-14:25 LA time")
    p.add_argument("--publish-alerts", action="store_true",
                   help="with --warnings: publish them to the broker as NGSI-LD Alerts "
                   "(--broker, --ca, --password-file)")
    p.add_argument("--kab-kota", default="los-angeles", metavar="NAME",
                   help="topic level of the published alerts (default %(default)s)")
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

    _check(args)
    line = LiveLine(every_s=5.0) if not (args.no_progress or args.json) else None

    def progress(lr: LiveRun) -> None:
        if line is not None:
            line.show(_status(lr))

    store = open_store(args.store) if args.store else None
    status = 0
    publisher: AlertPublisher | None = None
    try:
        live = _open_mqtt(args, store, progress) if args.source == "mqtt" \
            else _open_metr_la(args, store, progress)
        if args.publish_alerts:
            publisher = _start_publisher(args, live)
        if publisher is None and args.publish_alerts:
            status = 1
        elif args.dashboard:
            status = _run_with_dashboard(live, args)
        else:
            try:
                live.run()
            except KeyboardInterrupt:
                status = 130
            except (IngestUnavailable, ConnectionError) as exc:
                print(f"kota live: error: {exc}", file=sys.stderr)
                status = 1
        if line is not None:
            line.show(_status(live), force=True)
    finally:
        if publisher is not None:
            publisher.stop()
        if store is not None:
            store.close()
    totals = live.totals()
    if totals.get("alerts") is not None:
        totals["alerts"]["published"] = None if publisher is None \
            else publisher.counts().published
    if args.json:
        print(json.dumps(totals, sort_keys=True))
    else:
        _print(totals)
    return status


def _check(args: argparse.Namespace) -> None:
    mqtt_only = {"--scenario": args.scenario, "--registry": args.registry,
                 "--password-file": args.password_file, "--ca": args.ca}
    if args.source == "mqtt":
        for name in ("--scenario", "--registry"):
            if mqtt_only[name] is None:
                raise ValueError(f"kota live mqtt needs {name}")
        if args.speedup not in (None, 1.0):
            raise ValueError("kota live mqtt runs in real time: --speedup must be 1 (or left out)")
        if args.start is not None:
            raise ValueError("--start is for a replayed source (metr-la); devices report now")
        if args.warnings or args.publish_alerts:
            raise ValueError("--warnings and --publish-alerts: only for kota live metr-la")
    else:
        if args.publish_alerts:
            if not args.warnings:
                raise ValueError("--publish-alerts publishes the early warnings: give --warnings")
            mqtt_only = {k: v for k, v in mqtt_only.items() if k in ("--scenario", "--registry")}
        given = [name for name, value in mqtt_only.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: only for kota live mqtt")
        if args.speedup is not None and (math.isnan(args.speedup) or args.speedup < 0):
            raise ValueError(f"--speedup must be >= 0, got {args.speedup}")


def _duration_s(text: str) -> float:
    from .replay import parse_start

    duration = parse_start(text)
    if not isinstance(duration, timedelta) or duration.total_seconds() <= 0:
        raise ValueError(f"--duration must be a length of time > 0 (90m, 6h), got {text!r}")
    return duration.total_seconds()


def _open_metr_la(args: argparse.Namespace, store: Store | None, progress: Any) -> LiveReplay:
    from .live_mode import open_live
    from .live_sources import LIVE_SOURCES
    from .live_warnings import HELD_OUT_START
    from .replay import parse_start

    duration_s = _duration_s(args.duration or DEFAULT_DURATION)
    start_text = args.start
    if start_text is None and args.warnings:
        start_text = HELD_OUT_START
    start = parse_start(start_text) if start_text is not None else None
    source = LIVE_SOURCES[args.source](duration_s, trips_per_hour=args.trips_per_hour,
                                       seed=args.seed)
    speedup = DEFAULT_SPEEDUP if args.speedup is None else args.speedup
    live = open_live(source, store=store, mirror=not args.no_mirror, gain=args.gain,
                     speedup=speedup, start=start, duration_s=duration_s, progress=progress)
    if args.warnings:
        _attach_warnings(live)
    return live


def _attach_warnings(live: LiveReplay) -> None:
    from .live_warnings import metr_la_warnings
    from .replay_datasets import MetrLa

    recording = live.twin.source.recording
    if not isinstance(recording, MetrLa):
        raise ValueError("--warnings needs the METR-LA recording")
    first = live.replayer.since or recording.start_time
    live.warnings = metr_la_warnings(live.ingest.bus, recording, start=first,
                                     event_scope=live.run_id)
    held_out = live.warnings.first_held_out
    if first < held_out:
        print(f"kota live: warning: --start {first.isoformat()} is inside the forecaster's fit "
              f"rows; warnings are raised only from the first held-out reading, "
              f"{held_out.isoformat()} (the default start with --warnings)",
              file=sys.stderr, flush=True)


def _start_publisher(args: argparse.Namespace, live: LiveRun) -> AlertPublisher | None:
    from .alert_publisher import AlertPublisher
    from .cli_common import bridge_password, broker_config
    from .devices import BRIDGE_USER

    broker = broker_config(args).with_account(BRIDGE_USER, bridge_password(args.password_file))
    publisher = AlertPublisher(broker, live.ingest.bus, kab_kota=args.kab_kota,
                               client_id=f"{args.client_id}-alerts")
    try:
        return publisher.start()
    except ConnectionError as exc:
        print(f"kota live: error: {exc}", file=sys.stderr)
        return None


def _open_mqtt(args: argparse.Namespace, store: Store | None, progress: Any) -> LiveFeed:
    from .cli_common import bridge_password, broker_config
    from .devices import BRIDGE_USER, DeviceRegistry
    from .live_feed import open_mqtt_live
    from .live_sources import scenario_source

    registry = DeviceRegistry.load(args.registry)
    broker = broker_config(args).with_account(BRIDGE_USER, bridge_password(args.password_file))
    source = scenario_source(args.scenario)
    duration_s = _duration_s(args.duration) if args.duration is not None \
        else source.duration_s or math.inf
    return open_mqtt_live(source, broker, registry, store=store, mirror=not args.no_mirror,
                          gain=args.gain, duration_s=duration_s, client_id=args.client_id,
                          progress=progress)


def _run_with_dashboard(live: LiveRun, args: argparse.Namespace) -> int:
    from twin.plugins import FRONTENDS, load_plugin

    from .ingest import IngestUnavailable

    serve = load_plugin(FRONTENDS, "dashboard")
    failed: list[BaseException] = []

    def work() -> None:
        try:
            live.run()
        except (IngestUnavailable, ConnectionError) as exc:
            failed.append(exc)
            print(f"kota live: error: {exc}; the dashboard shows where the twin stopped "
                  f"(Ctrl-C to quit)", file=sys.stderr, flush=True)

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
    return 1 if failed else 0


def _status(live: LiveRun) -> str:
    from .replay_records import MPH_TO_MPS

    twin = live.twin
    view = twin.live.latest()
    mae = twin.score.mae_mps
    error = "-" if mae is None else f"{mae / MPH_TO_MPS:.1f} mph"
    late = live.totals().get("max_late_s")
    return (f"{twin.source.name} {view.clock_time:%Y-%m-%d %H:%M} | sim {twin.sim.time_s:,.0f} s"
            f" | readings taken {twin.observations_taken:,} | twin vs readings MAE {error}"
            f" | vehicles {twin.sim.n_active:,}" + ("" if late is None else f" | late {late:.1f} s"))


def _print(totals: dict[str, Any]) -> None:
    obs, score, mirror = totals["observations"], totals["score"], totals["mirror"]
    mae = "none scored yet" if score["mae_mph"] is None else \
        f"{score['mae_mph']:.2f} mph over {score['comparisons']:,} readings"
    rows = [
        ("source", f"{totals['source']} (run {totals['run_id']})"),
        ("played", f"{totals['first_time']} .. {totals['last_time']}"),
        ("simulated", f"{totals['sim_time_s']:.0f} s in {totals['wall_s']:.1f} s wall"),
        ("readings", f"{obs.get('received', obs.get('messages', 0)):,} received, "
                     f"{obs['accepted']:,} accepted, {obs['quarantined']:,} quarantined, "
                     f"{obs['taken_by_twin']:,} taken by the twin"),
        ("mirror", "off" if mirror is None else
         f"{mirror['assimilated']:,} assimilated, {mirror['unknown_source']:,} of unknown sensors"),
        ("twin vs readings", mae),
        ("clock skew", f"{totals['clock_skew_max_s']:.3g} s (twin's clock vs reading time)"),
        ("stopped early", "yes" if totals["stopped"] else "no"),
    ]
    alerts = totals.get("alerts")
    if alerts is not None:
        published = "" if alerts["published"] is None else f", {alerts['published']:,} published"
        rows.insert(-2, ("early warnings", f"{alerts['raised']:,} raised, {alerts['cleared']:,} "
                                           f"cleared, {alerts['active']:,} still active{published}"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
