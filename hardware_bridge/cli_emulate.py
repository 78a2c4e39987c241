"""``kota emulate SCENARIO``: run a scenario and publish its virtual sensors to the broker as devices.

Each loop detector of the scenario (and, with ``[modules.enforcement]``, each
camera and signal of its synthetic stream) logs in to the broker with its own
account from the device registry and publishes what it observes. Without a
registry file one is generated for the scenario and written, together with
Mosquitto's ``passwd`` and ``acl`` beside it, so the broker and ``kota bridge``
can use them (``--init-only`` stops there). Each device's next sequence number is
kept in ``<registry>.seq.json``, so a second run continues the count.

Prints live counts on stderr, and with ``--json`` the totals on stdout at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from twin.runner import TwinRun
from twin.scenario import load_scenario

from .cli_common import BRIDGE_PASSWORD_ENV, LiveLine, add_broker_args, broker_config
from .devices import DeviceRegistry
from .emulator import (
    DeviceEmulator,
    EmulatorCounts,
    emulate_scenario,
    enforcement_stream,
    load_seq_state,
    registry_for,
    scenario_sources,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota emulate``."""
    p = sub.add_parser(
        "emulate", help="publish a scenario's virtual sensors to an MQTT broker as real devices",
        description="Run the scenario and publish every observation of its virtual sensors to the "
        "broker, each from its own device account (TLS, last will, QoS 1 events).",
    )
    p.add_argument("scenario", type=Path, help="scenario file (TOML)")
    add_broker_args(p)
    p.add_argument("--registry", type=Path, default=None, metavar="FILE",
                   help="device registry (TOML); generated for the scenario and written when the file "
                   "does not exist (default var/emulator/<scenario>/devices.toml)")
    p.add_argument("--init-only", action="store_true",
                   help="only write the registry and the Mosquitto passwd/acl files, then exit")
    p.add_argument("--batch", type=int, default=1, metavar="N",
                   help="observations per message (default %(default)s: one per message)")
    p.add_argument("--max-inflight", type=int, default=20, metavar="N",
                   help="per device, QoS 1 messages awaiting acknowledgement (default %(default)s)")
    p.add_argument("--speedup", type=float, default=None, metavar="X",
                   help="pace the simulation at X simulated seconds per wall second "
                   "(default: as fast as it runs)")
    p.add_argument("--no-cameras", action="store_true",
                   help="leave out the [modules.enforcement] camera stream")
    p.add_argument("--json", action="store_true", help="print the totals as one JSON object at exit")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _new_registry(path: Path, registry: DeviceRegistry) -> list[str]:
    """Write ``registry`` and the broker's files beside it; lines telling what was written."""
    _write_private(path, registry.to_toml())
    password = os.environ.get(BRIDGE_PASSWORD_ENV)
    lines = [f"wrote the device registry {path} ({len(registry)} devices)"]
    if not password:
        password = secrets.token_urlsafe(24)
        _write_private(path.parent / "bridge.secret", password + "\n")
        lines.append(f"wrote the bridge's broker password to {path.parent / 'bridge.secret'} "
                     f"(give it to kota bridge with --password-file)")
    try:
        passwd, acl = registry.write_mosquitto_files(path.parent, password)
        lines.append(f"wrote Mosquitto's password_file {passwd} and acl_file {acl}; point the broker "
                     "at them and reload it (SIGHUP) before devices connect, or start a local one: "
                     f"kota broker --registry {path}")
    except FileNotFoundError as exc:
        lines.append(f"did not write Mosquitto's files: {exc}")
    return lines


def run(args: argparse.Namespace) -> int:
    """``kota emulate``; the exit status."""
    if args.batch < 1 or args.max_inflight < 1:
        raise ValueError("--batch and --max-inflight must be at least 1")
    scenario = load_scenario(args.scenario)
    realtime = args.speedup is not None
    twin = TwinRun(scenario, store_url="sqlite://", realtime=realtime,  # the devices only:
                   speedup=args.speedup if realtime else 10.0, modules=())  # modules run at the bridge's twin
    try:
        cameras = [] if args.no_cameras else enforcement_stream(scenario)
        path: Path = args.registry or Path("var/emulator") / scenario.scenario.name / "devices.toml"
        seq_path = path.with_name(path.name + ".seq.json")
        if path.exists():
            registry = DeviceRegistry.load(path)
            # a registry from elsewhere: without saved counts, start above anything sent before
            seq: dict[str, int] | int = load_seq_state(seq_path) or time.time_ns() // 1_000_000
        else:
            registry = registry_for(scenario_sources(twin, cameras))
            for line in _new_registry(path, registry):
                print(f"kota emulate: {line}", file=sys.stderr)
            seq = {d.device_id: 0 for d in registry}  # new devices count from 0
            _write_private(seq_path, json.dumps(seq, sort_keys=True))
        if args.init_only:
            return 0
        broker = broker_config(args)
        emulator = DeviceEmulator(broker, registry, batch_size=args.batch,
                                  max_inflight=args.max_inflight, first_seq=seq)
        live = LiveLine()
        duration = scenario.scenario.duration_s

        def progress(done_s: float, c: EmulatorCounts) -> None:
            live.show(_line(done_s, duration, c))

        summary: dict[str, Any] = {}
        status = "finished"
        try:
            summary = emulate_scenario(twin, emulator, extra=cameras, progress=progress)
        except KeyboardInterrupt:
            status = "stopped"
        except ConnectionError as exc:  # a device refused (registry not loaded by the broker?), no broker
            print(f"kota emulate: error: {exc}", file=sys.stderr)
            status = "failed"
        finally:
            emulator.close()
            saved = load_seq_state(seq_path)
            saved.update(emulator.next_seq())
            _write_private(seq_path, json.dumps(saved, sort_keys=True))
        counts = emulator.counts()
        live.show(_line(float(twin.sim.time_s), duration, counts), force=True)
        if args.json:
            print(json.dumps({"status": status, "emulator": counts.as_dict(),
                              "scenario": scenario.scenario.name, "broker": broker.url,
                              "registry": str(path), "run": summary}, sort_keys=True, default=str))
        return 0 if status != "failed" else 1
    finally:
        twin.close()


def _line(done_s: float, duration_s: float, c: EmulatorCounts) -> str:
    return (f"emulate: {done_s:,.0f}/{duration_s:,.0f} s simulated, {c.devices} devices, "
            f"{c.observations:,} observations in {c.messages:,} messages, {c.acked:,} acknowledged"
            + (f", {c.skipped:,} skipped (no device)" if c.skipped else "")
            + (f", {c.reconnects} reconnects" if c.reconnects else ""))
