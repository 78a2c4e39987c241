"""``kota broker``: run a local Mosquitto for the bridge and the devices of a registry.

In ``--dir`` it makes a private CA and a server certificate for ``localhost`` /
``127.0.0.1`` once (``tls/``; reused afterwards, so clients keep their ``--ca``),
writes Mosquitto's ``passwd`` and ``acl`` for the registry's devices and the bridge
(whose password is ``bridge.secret`` beside the registry, as ``kota emulate
--init-only`` writes it), writes ``mosquitto.conf`` (:mod:`hardware_bridge.mosquitto`)
and starts the broker: in the background with a pid file, or with ``--foreground``
until Ctrl-C. ``--stop`` stops the one started from ``--dir``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .cli_common import BRIDGE_PASSWORD_ENV, bridge_password
from .devices import DeviceRegistry
from .mosquitto import (
    MosquittoBroker,
    MosquittoError,
    PortInUse,
    check_port,
    daemon_pid,
    ensure_ca,
    find_mosquitto,
    stop_daemon,
)

__all__ = ["add_parser", "run"]

DEFAULT_DIR = Path("var/mqtt")
DEFAULT_PORT = 8883


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``kota broker``."""
    p = sub.add_parser(
        "broker", help="run a local Mosquitto (TLS, device accounts and ACLs from a registry)",
        description="Make a private CA and a server certificate for localhost in --dir (once), write "
        "Mosquitto's passwd and acl for the registry's devices and the bridge, and start the broker "
        "on 127.0.0.1 (in the background, or with --foreground until Ctrl-C). Prints the broker URL "
        "and the CA file to give kota bridge and kota emulate.",
    )
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, metavar="DIR",
                   help="the broker's directory: certificates, config, log, persistence "
                   "(default %(default)s)")
    p.add_argument("--registry", type=Path, default=None, metavar="FILE",
                   help="device registry (TOML) as `kota emulate SCENARIO --init-only` writes it, "
                   "var/emulator/<scenario name>/devices.toml; required to start")
    p.add_argument("--password-file", type=Path, default=None, metavar="FILE",
                   help="the bridge's broker password (default: bridge.secret beside the registry, "
                   f"else ${BRIDGE_PASSWORD_ENV})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, metavar="N",
                   help="TLS port on 127.0.0.1 (default %(default)s)")
    p.add_argument("--foreground", action="store_true",
                   help="run in this terminal until Ctrl-C instead of in the background")
    p.add_argument("--stop", action="store_true", help="stop the broker started from --dir")


def run(args: argparse.Namespace) -> int:
    """``kota broker``; the exit status."""
    try:
        if args.stop:
            return _stop(args.dir)
        return _start(args)
    except MosquittoError as exc:
        print(f"kota broker: error: {exc}", file=sys.stderr)
        return 1


def _stop(directory: Path) -> int:
    pid = stop_daemon(directory / "mosquitto.pid")
    if pid is None:
        print(f"kota broker: no broker is running from {directory}", file=sys.stderr)
    else:
        print(f"kota broker: stopped mosquitto (pid {pid})")
    return 0


def _password_file(args: argparse.Namespace) -> Path | None:
    """Where the bridge's password is: --password-file, bridge.secret beside the registry, or None ($ENV)."""
    if args.password_file is not None:
        return Path(args.password_file)
    beside = Path(args.registry).parent / "bridge.secret"
    if beside.is_file():
        return beside
    if os.environ.get(BRIDGE_PASSWORD_ENV):
        return None
    raise ValueError(f"no bridge password: {beside} does not exist and ${BRIDGE_PASSWORD_ENV} is not set "
                     "(`kota emulate SCENARIO --init-only` writes bridge.secret; or give --password-file)")


def _start(args: argparse.Namespace) -> int:
    if args.registry is None:
        raise ValueError("--registry FILE is needed to start a broker; make one with "
                         "`kota emulate SCENARIO --init-only` (it writes "
                         "var/emulator/<scenario>/devices.toml and bridge.secret beside it)")
    if not args.registry.is_file():
        raise ValueError(f"no device registry at {args.registry}; make one with "
                         "`kota emulate SCENARIO --init-only` (e.g. kota emulate scenarios/grid_small.toml "
                         "--init-only writes var/emulator/grid-small/devices.toml)")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port}: not a TCP port")
    directory: Path = args.dir
    running = daemon_pid(directory / "mosquitto.pid")
    if running is not None:
        raise MosquittoError(f"a broker from {directory} is already running (pid {running}); "
                             f"stop it first: kota broker --dir {directory} --stop")
    find_mosquitto()
    try:
        check_port(args.port)  # before making anything
    except PortInUse as exc:
        raise PortInUse(f"{exc} with --port") from None
    registry = DeviceRegistry.load(args.registry)
    password_file = _password_file(args)
    password = bridge_password(password_file)
    directory.mkdir(parents=True, exist_ok=True)
    tls = directory / "tls"
    ca, made = ensure_ca(tls)
    print(f"kota broker: {'made' if made else 'reusing'} the CA and server certificate in {tls}",
          file=sys.stderr)
    broker = MosquittoBroker(directory, args.port, ca, password)
    try:
        broker.write_config(registry)
    except FileNotFoundError as exc:  # no mosquitto_passwd
        raise MosquittoError(str(exc)) from None
    print(f"kota broker: {len(registry)} devices and the bridge may log in", file=sys.stderr)
    if args.foreground:
        return _foreground(broker, _ready_text(broker, directory, args.registry, password_file))
    pid = broker.start_daemon()
    print(f"mosquitto is running in the background (pid {pid})\n"
          + _ready_text(broker, directory, args.registry, password_file), flush=True)
    return 0


def _ready_text(broker: MosquittoBroker, directory: Path, registry: Path, password_file: Path | None) -> str:
    """The broker URL, the CA file and the commands that use them."""
    url = f"mqtts://localhost:{broker.port}"
    ca = directory / "tls" / "ca.crt"
    common = f"--registry {registry}{'' if broker.port == DEFAULT_PORT else f' --broker {url}'} --ca {ca}"
    password = "" if password_file is None else f" --password-file {password_file}"
    return (f"  broker URL  {url}\n"
            f"  CA file     {ca}\n"
            f"  log         {directory / 'mosquitto.log'}\n"
            f"  bridge      kota bridge {common}{password}\n"
            f"  devices     kota emulate SCENARIO {common}\n"
            f"  stop        kota broker --dir {directory} --stop")


def _foreground(broker: MosquittoBroker, ready: str) -> int:
    broker.start()

    def on_term(signum: int, frame: FrameType | None) -> None:
        if broker.pid is not None:
            os.kill(broker.pid, signal.SIGTERM)  # the broker saves its state and exits; wait() returns

    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, on_term) if main else None
    try:
        print(f"mosquitto is running (pid {broker.pid}); Ctrl-C stops it\n{ready}", flush=True)
        status = broker.wait()
    except KeyboardInterrupt:
        status = 0
    finally:
        broker.stop()
        if main:
            signal.signal(signal.SIGTERM, old)
    print("kota broker: mosquitto stopped", file=sys.stderr)
    return 0 if status in (0, -signal.SIGTERM, -signal.SIGINT) else 1
