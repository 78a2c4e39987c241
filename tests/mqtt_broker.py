"""A real Mosquitto broker for the tests, with TLS, passwords and ACLs from a device registry.

A thin layer over :mod:`hardware_bridge.mosquitto` (what ``kota broker`` runs too):
a private CA made once per session, and per test a broker on a free loopback port
in its own temporary directory. A setup failure (no Mosquitto, no openssl) fails
the test with the message saying what to install.

Fixtures (import them into a conftest)::

    from tests.mqtt_broker import mqtt_ca, mosquitto  # noqa: F401

``mosquitto(registry)`` starts a broker for that registry and stops it after the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.mosquitto import BrokerCA, MosquittoBroker, MosquittoError, find_mosquitto
from hardware_bridge.mosquitto import make_ca as _make_ca
from tests.pg_server import _free_port

__all__ = ["BrokerCA", "MosquittoBroker", "make_ca", "mosquitto", "mqtt_ca", "start_broker"]

_INSTALL_HINT = " (`make test` installs it: scripts/install_system_deps.sh)"


def make_ca(directory: Path) -> BrokerCA:
    """A CA and a server certificate for ``localhost`` in ``directory`` (the test fails without openssl)."""
    try:
        return _make_ca(directory, days=2)
    except MosquittoError as exc:
        pytest.fail(f"{exc}{_INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="session")
def mqtt_ca() -> Iterator[BrokerCA]:
    """A private CA and server certificate for this test session."""
    directory = Path(tempfile.mkdtemp(prefix="kota-ca-"))
    os.chmod(directory, 0o755)
    try:
        yield make_ca(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def start_broker(registry: DeviceRegistry, ca: BrokerCA, *, max_inflight_messages: int = 20,
                 bridge_password: str | None = None) -> MosquittoBroker:
    """A started broker for ``registry`` (the caller stops it and removes its directory)."""
    # Not pytest's tmp_path: that is private to root, and the broker runs as `mosquitto`.
    directory = Path(tempfile.mkdtemp(prefix="kota-mq-"))
    os.chmod(directory, 0o750)
    broker = MosquittoBroker(directory, _free_port(), ca, bridge_password or secrets.token_urlsafe(18),
                             max_inflight_messages)
    try:
        broker.write_config(registry)
        broker.start()
    except (MosquittoError, FileNotFoundError) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(f"{exc}{_INSTALL_HINT}", pytrace=False)
    return broker


@pytest.fixture
def mosquitto(mqtt_ca: BrokerCA) -> Iterator[Callable[..., MosquittoBroker]]:
    """``mosquitto(registry)``: a running broker for ``registry``, stopped after the test."""
    try:
        find_mosquitto()
    except MosquittoError as exc:
        pytest.fail(f"{exc}{_INSTALL_HINT}", pytrace=False)
    started: list[MosquittoBroker] = []

    def make(registry: DeviceRegistry, **kwargs: Any) -> MosquittoBroker:
        broker = start_broker(registry, mqtt_ca, **kwargs)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
        shutil.rmtree(broker.directory, ignore_errors=True)
