"""``kota bridge``: run the MQTT adapter (and any extra adapters) into the gate, the bus and the store.

Prints live counts (received, accepted, quarantined, duplicates, held) on stderr
about once a second, and with ``--json`` the totals as one JSON object on stdout at
exit. Ctrl-C (or SIGTERM) stops it cleanly: the message in hand is finished,
unacknowledged ones stay with the broker for the next start.

Other adapters run on the same gate through :data:`EXTRA_ADAPTERS` (the HTTP
ingest for cameras that push is one; ``--http-port`` is its option).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from twin.bus import Bus
from twin.store import open_store

from .cli_common import LiveLine, add_broker_args, bridge_password, broker_config
from .devices import BRIDGE_USER, DeviceRegistry
from .ingest import Ingest
from .mqtt_adapter import MqttBridge

__all__ = ["EXTRA_ADAPTERS", "Adapter", "add_parser", "run", "run_bridge"]


class Adapter(Protocol):
    """An inbound adapter started and stopped with the bridge."""

    def start(self) -> object:
        """Start serving (on its own threads)."""

    def stop(self) -> None:
        """Stop serving."""


AdapterFactory = Callable[[Ingest, argparse.Namespace], Adapter | None]
EXTRA_ADAPTERS: list[AdapterFactory] = []
"""Factories of the adapters that run beside the MQTT bridge on the same gate.

Each is called with the gate and the parsed options and returns an adapter (an
object with ``start()`` and ``stop()``), or None when its options were not given.
The HTTP ingest belongs here: a factory that returns its server when
``args.http_port`` is set (``EXTRA_ADAPTERS.append(...)`` in this module).
"""


def _http_ingest(ingest: Ingest, args: argparse.Namespace) -> Adapter | None:
    """The HTTP ingest (signed device pushes, ISAPI cameras, NGSI-LD) when ``--http-port`` is given."""
    if args.http_port is None:
        return None
    from .evidence import EvidenceStore
    from .http_ingest import HttpIngestServer

    return HttpIngestServer(ingest, registry=ingest.registry, evidence=EvidenceStore(args.evidence_dir),
                            host=args.http_host, port=args.http_port)


EXTRA_ADAPTERS.append(_http_ingest)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota bridge``."""
    p = sub.add_parser(
        "bridge", help="run the hardware bridge: MQTT devices into the twin",
        description="Subscribe to the device topics on the broker (TLS, the bridge's account), pass "
        "every message through the ingest gate (authentication, replay window, plausibility, "
        "deduplication, quarantine) into the store and the bus. Prints live counts; Ctrl-C stops.",
    )
    add_broker_args(p)
    p.add_argument("--registry", type=Path, required=True, metavar="FILE",
                   help="device registry (TOML, see hardware_bridge/devices.py)")
    p.add_argument("--store", default=None, metavar="URL",
                   help="database URL (default: $KOTA_DB_URL, else sqlite:///var/kota.db)")
    p.add_argument("--password-file", type=Path, default=None, metavar="FILE",
                   help=f"file holding the {BRIDGE_USER!r} broker password "
                   "(default: $KOTA_BRIDGE_PASSWORD)")
    p.add_argument("--client-id", default=BRIDGE_USER,
                   help="MQTT client id; fixed, so the broker keeps the session (default %(default)s)")
    p.add_argument("--http-port", type=int, default=None, metavar="N",
                   help="also run the HTTP ingest (signed JSON pushes, ISAPI ANPR cameras, NGSI-LD "
                   "notifications) on this port")
    p.add_argument("--http-host", default="127.0.0.1",
                   help="address of the HTTP ingest (default %(default)s; put TLS in front in production)")
    p.add_argument("--evidence-dir", type=Path, default=Path("var/evidence"), metavar="DIR",
                   help="where camera pictures are kept by their SHA-256 (default %(default)s)")
    p.add_argument("--max-skew-s", type=float, default=30.0,
                   help="largest accepted difference of a pushed message's sent_at from this "
                   "clock (default %(default)s s)")
    p.add_argument("--max-age-s", type=float, default=86_400.0,
                   help="how late a QoS 1 event kept by the broker during an outage may still be "
                   "taken (default %(default)s s); repeats are refused by sequence number")
    p.add_argument("--duration-s", type=float, default=None, metavar="S",
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--json", action="store_true", help="print the totals as one JSON object at exit")


def run_bridge(bridge: MqttBridge, *, extra: Sequence[Adapter] = (), stop: threading.Event,
               duration_s: float | None = None, live: LiveLine | None = None) -> dict[str, Any]:
    """Run ``bridge`` and ``extra`` until ``stop`` is set (or ``duration_s`` passed); the totals."""
    live = live or LiveLine()
    started: list[Adapter] = []
    bridge.start()
    try:
        for adapter in extra:
            adapter.start()
            started.append(adapter)
        t0 = time.monotonic()
        while not stop.wait(0.2):
            live.show(_line(bridge))
            if duration_s is not None and time.monotonic() - t0 >= duration_s:
                break
    finally:
        for adapter in reversed(started):
            adapter.stop()
        bridge.stop()
    live.show(_line(bridge), force=True)
    return {"bridge": bridge.counts().as_dict(), "gate": bridge.ingest.totals(),
            "devices": bridge.device_report()}


def _line(bridge: MqttBridge) -> str:
    c = bridge.counts()
    state = "connected" if bridge.connected else "reconnecting"
    return (f"bridge ({state}): received {c.received:,}, accepted {c.accepted:,}, "
            f"quarantined {c.quarantined:,}, duplicates {c.duplicates:,}, held {c.held:,}"
            + (f", store retries {c.retries:,}" if c.retries else ""))


def run(args: argparse.Namespace) -> int:
    """``kota bridge``; the exit status."""
    registry = DeviceRegistry.load(args.registry)
    broker = broker_config(args).with_account(BRIDGE_USER, bridge_password(args.password_file))
    store = open_store(args.store)
    try:
        ingest = Ingest(Bus(), registry=registry, store=store, max_skew_s=args.max_skew_s)
        extra = [a for a in (f(ingest, args) for f in EXTRA_ADAPTERS) if a is not None]
        if args.http_port is not None and not extra:
            raise ValueError("--http-port: the HTTP ingest adapter is not part of this build")
        bridge = MqttBridge(broker, ingest, client_id=args.client_id, max_age_s=args.max_age_s)
        stop = threading.Event()
        restore = _on_signals(stop)
        try:
            totals = run_bridge(bridge, extra=extra, stop=stop, duration_s=args.duration_s)
        except ConnectionError as exc:  # refused account, no broker, TLS failure
            print(f"kota bridge: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:  # Ctrl-C before the handler was in place
            totals = {"bridge": bridge.counts().as_dict(), "gate": ingest.totals(),
                      "devices": bridge.device_report()}
        finally:
            restore()
    finally:
        store.close()
    if args.json:
        print(json.dumps(totals, sort_keys=True))
    return 0


def _on_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set ``stop``; returns the undo (no-op off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
