"""What ``kota bridge`` and ``kota emulate`` share: broker options, the bridge's password, live counts."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .mqtt_client import BrokerConfig

__all__ = ["BRIDGE_PASSWORD_ENV", "LiveLine", "add_broker_args", "bridge_password", "broker_config"]

BRIDGE_PASSWORD_ENV = "KOTA_BRIDGE_PASSWORD"
DEFAULT_BROKER = "mqtts://localhost:8883"


def add_broker_args(p: argparse.ArgumentParser) -> None:
    """``--broker`` and ``--ca``."""
    p.add_argument("--broker", default=DEFAULT_BROKER, metavar="URL",
                   help="broker URL, mqtts://host:port (mqtt:// only in a lab; default %(default)s)")
    p.add_argument("--ca", type=Path, default=None, metavar="FILE",
                   help="CA certificate that signed the broker's certificate (default: the system's CAs)")


def broker_config(args: argparse.Namespace) -> BrokerConfig:
    """The broker settings of the parsed options (no account yet)."""
    if args.ca is not None and not args.ca.is_file():
        raise ValueError(f"--ca {args.ca}: no such file")
    return BrokerConfig.from_url(args.broker, ca_file=args.ca)


def bridge_password(password_file: Path | None, env: Mapping[str, str] | None = None) -> str:
    """The bridge account's password: from ``password_file`` or ``$KOTA_BRIDGE_PASSWORD``."""
    env = os.environ if env is None else env
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read the bridge password from {password_file}: {exc}") from None
    value = env.get(BRIDGE_PASSWORD_ENV)
    if not value:
        raise ValueError(f"the bridge's broker password is not set: give --password-file or set "
                         f"${BRIDGE_PASSWORD_ENV}")
    return value


class LiveLine:
    """Prints a status line at most every ``every_s`` seconds (and always at the end)."""

    def __init__(self, every_s: float = 1.0, out: TextIO | None = None) -> None:
        self.every_s = every_s
        self.out = out or sys.stderr
        self._last = 0.0

    def show(self, text: str, *, force: bool = False) -> None:
        """Print ``text`` if the last line is ``every_s`` old (or ``force``)."""
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            self._last = now
            print(text, file=self.out, flush=True)
