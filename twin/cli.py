"""The ``kota`` command line.

    kota run SCENARIO [--dashboard] [--speedup X] [--store URL] [--json]
    kota validate SCENARIO...
    kota import NETWORK_FILE OUT.npz [--format F]
    kota enforce SCENARIO [--store URL] [--json] | kota enforce --verify-audit [--store URL]
    kota quarantine [--store URL] [--device ID] [--limit N] [--json]
    kota evaluate-forecast [--data PATH] [--json]
    kota assign NETWORK_DIR [--gap 1e-4] [--json]
    kota what-if SCENARIO [--at S] [--horizon S] [--intervention SPEC]... [--json]
    kota dispatch SCENARIO [--store URL] [--duration-s S] [--compare] [--json]
    kota quality [--store URL] [--window-days N] [--area A] [--export DIR] [--json]
    kota sweep SCENARIO [--param NAME=V1,V2]... [--replications N] [--scheduler ADDRESS]
    kota calibrate SCENARIO [--param NAME=LOW:HIGH]... [--seeds S1,S2] [--corridor NAME]...
    kota user add NAME --role ROLE [--password-file F] | kota user list | kota user disable NAME
    kota serve [SCENARIO] [--host H] [--port P] [--store URL] [--idle-timeout-min M]
    kota bridge | broker | emulate | replay ...   (the hardware bridge's commands, when installed)

Every command exits 0 on success, 1 on a user error (a broken scenario or
network file, with a message naming the file and the problem) and 2 on a
usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.runner import RunResult, TwinRun

COMMANDS = "kota_twin.commands"
"""Entry-point group of sub-commands contributed by packages above ``twin`` (the bridge's)."""

EXAMPLES = """\
examples:
  kota run scenarios/jakarta_jatinegara.toml --dashboard   watch the demo on http://127.0.0.1:8050
  kota run scenarios/grid_small.toml                       run to the end with a progress bar
  kota run scenarios/grid_small.toml --json                print one JSON summary line
  kota validate scenarios/*.toml                           check scenario files and their networks
  kota import data/jakarta/jatinegara_drive.graphml.gz var/jatinegara.npz
  kota enforce scenarios/jakarta_jatinegara_etle.toml        ETLE end to end, with a summary
  kota dispatch scenarios/jakarta_jatinegara_dispatch.toml  112 calls and units, response KPIs
  kota sweep scenarios/grid_small.toml --param demand.scale=0.5,1 --replications 5
                                                           a grid with seeds on Dask, with CIs
  kota calibrate scenarios/jakarta_jatinegara.toml         fit demand and speed level to
                                                           observed Jakarta corridor speeds
  kota user add ana --role admin                            the first admin (asks for a password)
  kota serve --host 0.0.0.0                                the dashboard with login, under waitress
  kota quarantine --limit 5                                what the bridge refused, and why
  kota replay metr-la --speedup 300 --start 7h             a real recording through the ingest gate
  kota evaluate-forecast                                   forecasts vs baselines on METR-LA
  (live devices: see "Live data" in README.md for kota emulate, broker and bridge)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kota",
        description="Kota Twin: a digital twin of a city's roads and public services.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="simulate a scenario (optionally with the live dashboard)",
        description="Simulate a scenario to its end. Without --dashboard it runs as fast as "
        "it can with a progress bar and ends with a summary; with --dashboard the "
        "simulation is paced to the wall clock (see --speedup) and served at --host:--port.",
    )
    run.add_argument("scenario", type=Path, help="scenario file (TOML)")
    run.add_argument("--dashboard", action="store_true", help="serve the live dashboard")
    run.add_argument("--host", default="127.0.0.1", help="dashboard address (default %(default)s)")
    run.add_argument("--port", type=int, default=8050, help="dashboard port (default %(default)s)")
    run.add_argument("--speedup", type=float, default=10.0,
                     help="with --dashboard: simulated seconds per wall second (default %(default)s)")
    run.add_argument("--store", metavar="URL", default=None,
                     help="database URL, e.g. postgresql+psycopg://user@host/db "
                     "(default: the scenario's [store] url, SQLite under var/)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    val = sub.add_parser(
        "validate", help="check scenario files and the networks they name",
        description="Load each scenario, its network and its demand; report every problem.",
    )
    val.add_argument("scenarios", type=Path, nargs="+", help="scenario files (TOML)")

    imp = sub.add_parser(
        "import", help="convert a network file to the native .npz format",
        description="Read an OSMnx GraphML, SUMO .net.xml, TNTP _net.tntp or .npz network and "
        "write it in the native format, which loads fastest.",
    )
    imp.add_argument("source", type=Path, help="network file to read")
    imp.add_argument("output", type=Path, help="where to write the .npz network")
    imp.add_argument("--format", default="auto",
                     choices=["auto", "graphml", "sumo", "tntp", "npz"],
                     help="input format (default: from the file name)")

    quar = sub.add_parser(
        "quarantine", help="list refused input (bad device messages) with reasons",
        description="Show what the hardware bridge refused: counts per device, then the most "
        "recent quarantined messages with their reasons and raw content.",
    )
    quar.add_argument("--store", metavar="URL", default=None,
                      help="database URL (default: $KOTA_DB_URL or sqlite:///var/kota.db)")
    quar.add_argument("--device", default=None, help="only this device (or adapter)")
    quar.add_argument("--limit", type=int, default=20, help="how many recent records (default %(default)s)")
    quar.add_argument("--json", action="store_true", help="print JSON instead of text")

    from twin.modules.enforcement import cli as enforce_cli

    enforce_cli.add_parser(sub)
    from twin.modules.prediction import cli as forecast_cli

    forecast_cli.add_parser(sub)
    from twin.assignment import cli as assign_cli

    assign_cli.add_parser(sub)
    from twin.modules.prediction import whatif_cli

    whatif_cli.add_parser(sub)
    from twin.modules.dispatch import cli as dispatch_cli

    dispatch_cli.add_parser(sub)
    from twin.modules.quality import cli as quality_cli

    quality_cli.add_parser(sub)
    from twin.planning import cli as sweep_cli

    sweep_cli.add_parser(sub)
    from twin.planning import calibrate_cli

    calibrate_cli.add_parser(sub)
    from twin.accounts import cli as user_cli

    user_cli.add_parser(sub)
    srv = sub.add_parser(
        "serve", help="serve the live dashboard with login (waitress)",
        description="Run a scenario on the wall clock and serve the dashboard with login and "
        "roles under waitress. Accounts come from the store (create the first admin with "
        "'kota user add NAME --role admin'); there is no default account.",
    )
    srv.add_argument("scenario", type=Path, nargs="?", default=Path("scenarios/jakarta_jatinegara.toml"),
                     help="scenario TOML file (default %(default)s)")
    srv.add_argument("--host", default="127.0.0.1", help="address (default %(default)s)")
    srv.add_argument("--port", type=int, default=8050, help="port (default %(default)s)")
    srv.add_argument("--store", metavar="URL", default=None,
                     help="database URL for accounts and the run "
                     "(default: $KOTA_DB_URL or sqlite:///var/kota.db)")
    srv.add_argument("--idle-timeout-min", type=float, default=15.0,
                     help="log out sessions idle this many minutes (default %(default)s)")
    srv.add_argument("--secure-cookie", action="store_true",
                     help="mark the session cookie Secure (when served over HTTPS via a proxy)")
    srv.add_argument("--speedup", type=float, default=1.0,
                     help="simulated seconds per wall second (default %(default)s)")
    for name, command in plugin_commands().items():
        try:
            command.add_parser(sub)
        except ImportError as exc:  # a plug-in whose implementation is missing
            logging.getLogger(__name__).debug("kota command %r is unavailable: %s", name, exc)
    return p


def plugin_commands() -> dict[str, Any]:
    """Sub-commands registered in the ``kota_twin.commands`` entry-point group, by name.

    Each is an object with ``add_parser(sub)`` and ``run(args) -> int``. One whose
    implementation does not import is left out with a warning, so a broken plug-in
    cannot take the other commands down.
    """
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=COMMANDS):
        try:
            command = ep.load()
        except (ImportError, AttributeError) as exc:
            logging.getLogger(__name__).warning("kota command %r is unavailable: %s", ep.name, exc)
            continue
        found[ep.name] = command
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kota`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from twin.network import NetworkError
    from twin.plugins import PluginError
    from twin.scenario import ScenarioError

    try:
        if args.command == "run":
            return _cmd_run(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command == "quarantine":
            return _cmd_quarantine(args)
        if args.command in (commands := plugin_commands()):
            return int(commands[args.command].run(args))
        if args.command == "enforce":
            from twin.modules.enforcement import cli as enforce_cli

            return enforce_cli.run(args)
        if args.command == "dispatch":
            from twin.modules.dispatch import cli as dispatch_cli

            return dispatch_cli.run(args)
        if args.command == "evaluate-forecast":
            from twin.modules.prediction import cli as forecast_cli

            return forecast_cli.run(args)
        if args.command == "assign":
            from twin.assignment import cli as assign_cli

            return assign_cli.run(args)
        if args.command == "what-if":
            from twin.modules.prediction import whatif_cli

            return whatif_cli.run(args)
        if args.command == "user":
            from twin.accounts import cli as user_cli

            return user_cli.run(args)
        if args.command == "serve":
            return _cmd_serve(args)
        if args.command == "quality":
            from twin.modules.quality import cli as quality_cli

            return quality_cli.run(args)
        if args.command == "sweep":
            from twin.planning import cli as sweep_cli

            return sweep_cli.run(args)
        if args.command == "calibrate":
            from twin.planning import calibrate_cli

            return calibrate_cli.run(args)
        return _cmd_import(args)
    except (ScenarioError, NetworkError, PluginError, ValueError) as exc:
        print(f"kota {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kota {args.command}: interrupted", file=sys.stderr)
        return 130


def _cmd_validate(args: argparse.Namespace) -> int:
    from twin.assemble import build_network, build_trips, run_seeds
    from twin.scenario import check_against_network, load_scenario

    failed = 0
    for path in args.scenarios:
        try:
            scenario = load_scenario(path)
            network = build_network(scenario)
            check_against_network(scenario, network)
            _check_module_sections(scenario, network)
            trips = build_trips(scenario, network, run_seeds(scenario.scenario.seed)[0])
        except ValueError as exc:
            failed += 1
            print(f"FAIL {path}\n{exc}", file=sys.stderr)
            continue
        print(f"ok   {path}: {scenario.scenario.name}; {network.summary()}; {len(trips)} trips")
    return 1 if failed else 0


def _check_module_sections(scenario: Any, network: Any) -> None:
    """Validate the scenario's service-module sections that are present (ETLE, dispatch)."""
    if "enforcement" in scenario.modules:
        from twin.modules.enforcement.scenario_run import enforcement_settings

        enforcement_settings(scenario)
    if "dispatch" in scenario.modules:
        from twin.modules.dispatch.scenario_run import check_dispatch

        check_dispatch(scenario, network)


def _cmd_quarantine(args: argparse.Namespace) -> int:
    from twin.store import open_store

    with open_store(args.store) as store:
        counts = store.quarantine_counts()
        records = store.quarantined(limit=args.limit, source=args.device)
    if args.device is not None:
        counts = {k: v for k, v in counts.items() if k == args.device}
    if args.json:
        print(json.dumps({
            "counts": counts,
            "recent": [{"id": r.id, "received_at": r.received_at.isoformat(), "source": r.source,
                        "reason": r.reason, "raw": r.raw} for r in records],
        }, sort_keys=True))
        return 0
    if not counts:
        print("quarantine is empty")
        return 0
    width = max(len(k) for k in counts)
    print("quarantined per source:")
    for source, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {source:<{width}}  {n:>8,}")
    print(f"\nmost recent {len(records)}:")
    for r in records:
        raw = r.raw if len(r.raw) <= 120 else r.raw[:117] + "..."
        print(f"  #{r.id} {r.received_at:%Y-%m-%d %H:%M:%S}Z {r.source}: {r.reason}\n      {raw}")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from twin.importers import load_network

    network = load_network(args.source, format=args.format)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    written = network.save(args.output)
    print(f"wrote {written}: {network.summary()}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from twin.runner import TwinRun
    from twin.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    run = TwinRun(scenario, realtime=args.dashboard, speedup=args.speedup, store_url=args.store)
    try:
        if args.dashboard:
            return _run_with_dashboard(run, args)
        result = _run_with_progress(run, show=not (args.no_progress or args.json))
    finally:
        run.close()
    if args.json:
        print(json.dumps(result.summary, sort_keys=True))
    else:
        _print_summary(result.summary)
    return 0


def _run_with_progress(run: TwinRun, show: bool) -> RunResult:
    from tqdm import tqdm

    total = run.scenario.scenario.duration_s
    with tqdm(total=total, unit="sim s", disable=not show, dynamic_ncols=True,
              desc=run.scenario.scenario.name) as bar:
        def progress(done_s: float) -> None:
            bar.update(done_s - bar.n)
            bar.set_postfix(active=run.sim.n_active, arrived=run.sim.n_arrived, refresh=False)
        return run.run(progress=progress)


def _run_with_dashboard(run: TwinRun, args: argparse.Namespace, **serve_options: Any) -> int:
    from twin.plugins import FRONTENDS, load_plugin

    serve = load_plugin(FRONTENDS, "dashboard")
    # chunks of about one wall second, so Ctrl-C stops the run promptly
    worker = threading.Thread(target=run.run, kwargs={"chunk_s": max(1.0, args.speedup)},
                              name="kota-simulation", daemon=True)
    worker.start()
    print(f"Kota Twin: {run.network.summary()}")
    mode = "login required" if serve_options.get("accounts") else "demo mode: no login"
    print(f"dashboard on http://{args.host}:{args.port}/  ({mode}; Ctrl-C to stop)", flush=True)
    enforcement = run.module("enforcement")
    if enforcement is not None:  # the Enforcement page verifies this run's cases with it
        serve_options["enforcement"] = enforcement
    try:
        # the run's own store, for the Sensors page; simulated time, so the data clock
        serve(run.live, host=args.host, port=args.port, store=run.store, sensors_clock="data",
              **serve_options)
    except OSError as exc:
        print(f"kota run: error: cannot serve on {args.host}:{args.port} ({exc.strerror or exc}); "
              f"is another dashboard running? Choose another port with --port", file=sys.stderr)
        return 1
    finally:
        run.stop()
        worker.join(timeout=10)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from twin.accounts import AccountStore
    from twin.runner import TwinRun
    from twin.scenario import load_scenario
    from twin.store import open_store

    store = open_store(args.store)
    accounts = AccountStore.of(store)
    if not any(not u.disabled for u in accounts.users()):
        store.close()
        print("kota serve: error: no active account in the store; create the first admin with "
              "'kota user add NAME --role admin'", file=sys.stderr)
        return 1
    run = TwinRun(load_scenario(args.scenario), realtime=True, speedup=args.speedup,
                  store_url=args.store)
    try:
        return _run_with_dashboard(run, args, accounts=accounts,
                                   idle_timeout_s=args.idle_timeout_min * 60.0,
                                   secure_cookie=args.secure_cookie)
    finally:
        run.close()
        store.close()


def _seconds(value: float | None) -> str:
    return "no trip completed" if value is None else f"{value:.1f} s"


def _print_summary(summary: Mapping[str, Any]) -> None:
    rows = [
        ("scenario", summary.get("scenario")),
        ("run id", summary.get("run_id")),
        ("simulated", f"{summary.get('sim_time_s', 0):.0f} s in {summary.get('sim_wall_s', 0):.1f} s wall"),
        ("trips completed", f"{summary.get('trips_completed')} of {summary.get('trips_total')}"),
        ("mean travel time", _seconds(summary.get("mean_travel_time_s"))),
        ("vehicle-steps", summary.get("vehicle_steps")),
        ("observations stored", summary.get("observations_stored")),
        ("peak memory", f"{summary.get('peak_rss_mb', 0):.0f} MiB"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    for name, part in (summary.get("modules") or {}).items():
        print()
        print(_module_report(name, part))


def _module_report(name: str, part: Mapping[str, Any]) -> str:
    """A live module's part of a run summary as text: dispatch's KPI report, or one aligned
    line per key."""
    if name == "dispatch" and "kpis" in part:
        from twin.modules.dispatch.scenario_run import format_summary

        return format_summary(dict(part))
    lines = [f"[modules.{name}]"]
    width = max((len(k) for k in part), default=0)
    for k, v in part.items():
        if isinstance(v, Mapping):
            v = ", ".join(f"{kk} {vv}" for kk, vv in sorted(v.items())) or "none"
        lines.append(f"  {k.replace('_', ' '):<{width}}  {v}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
