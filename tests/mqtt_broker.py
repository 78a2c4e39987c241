"""A real Mosquitto broker for the tests, with TLS, passwords and ACLs from a device registry.

The test setup makes everything itself: a private CA and a server certificate
(``openssl``, once per session), the ``passwd`` and ``acl`` files of a
:class:`~hardware_bridge.devices.DeviceRegistry` (``write_mosquitto_files``), and a
``mosquitto.conf`` with one TLS listener on a free loopback port, no anonymous
clients, ``max_queued_messages 0`` (the default of 1000 drops QoS 1 messages to a
subscriber that falls behind; STACK.md §5) and persistence, so a QoS 1 session
survives :meth:`MosquittoBroker.restart`.

Fixtures (import them into a conftest)::

    from tests.mqtt_broker import mqtt_ca, mosquitto  # noqa: F401

``mosquitto(registry)`` starts a broker for that registry and stops it after the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.mqtt_client import BrokerConfig
from tests.pg_server import _free_port

MOSQUITTO = "/usr/sbin/mosquitto"
_INSTALL_HINT = (
    "Mosquitto is missing (looked for /usr/sbin/mosquitto and mosquitto_passwd). `make test` "
    "installs it (scripts/install_system_deps.sh: apt-get install mosquitto mosquitto-clients)."
)


def _mosquitto_binary() -> str | None:
    if os.access(MOSQUITTO, os.X_OK):
        return MOSQUITTO
    return shutil.which("mosquitto")


def _give_to_mosquitto(path: Path) -> None:
    """Let the ``mosquitto`` user read (and write) ``path``: as root the broker drops to it."""
    if os.geteuid() != 0:
        return
    try:
        shutil.chown(path, "mosquitto", "mosquitto")
        for p in path.rglob("*"):
            shutil.chown(p, "mosquitto", "mosquitto")
    except (LookupError, PermissionError):  # no such user: the broker keeps running as root
        pass


@dataclass(frozen=True)
class TestCA:
    """A private CA and a server certificate for ``localhost`` / ``127.0.0.1``."""

    __test__ = False  # not a pytest test class

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_ca(directory: Path) -> TestCA:
    """Generate a CA and a server certificate signed by it with ``openssl`` into ``directory``."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing; `make test` installs it (apt-get install openssl)", pytrace=False)
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        proc = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True,
                              timeout=60, check=False)
        if proc.returncode != 0:
            pytest.fail(f"openssl {args[0]} failed: {proc.stderr}", pytrace=False)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kota-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", "server.key", "-out", "server.csr")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return TestCA(directory, directory / "ca.crt", directory / "server.crt", directory / "server.key")


@dataclass
class MosquittoBroker:
    """A Mosquitto process the test owns.

    Attributes
    ----------
    directory : Path, config, password and ACL files, log and persistence
    port : int, the TLS listener on 127.0.0.1
    ca : TestCA
    bridge_password : str, password of :data:`~hardware_bridge.devices.BRIDGE_USER`
    """

    directory: Path
    port: int
    ca: TestCA
    bridge_password: str
    max_inflight_messages: int = 20
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``mqtts://127.0.0.1:PORT``."""
        return f"mqtts://127.0.0.1:{self.port}"

    @property
    def log_text(self) -> str:
        """The broker's log so far (for failure messages)."""
        log = self.directory / "mosquitto.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def config(self, username: str, password: str, **kwargs: object) -> BrokerConfig:
        """Connection settings for a client of this broker."""
        return BrokerConfig.from_url(self.url, ca_file=self.ca.ca_cert, username=username,
                                     password=password, **kwargs)  # type: ignore[arg-type]

    def bridge_config(self, **kwargs: object) -> BrokerConfig:
        """Connection settings of the bridge account."""
        from hardware_bridge.devices import BRIDGE_USER

        return self.config(BRIDGE_USER, self.bridge_password, **kwargs)

    def write_config(self, registry: DeviceRegistry) -> None:
        """Write passwd, ACL and ``mosquitto.conf`` for ``registry``."""
        d = self.directory
        passwd, acl = registry.write_mosquitto_files(d, self.bridge_password)
        (d / "persist").mkdir(exist_ok=True)
        (d / "mosquitto.conf").write_text("\n".join([
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
            "max_queued_messages 0",
            f"max_inflight_messages {self.max_inflight_messages}",
            "persistence true",
            f"persistence_location {d / 'persist'}/",
            "autosave_interval 1800",
            f"log_dest file {d / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            f"listener {self.port} 127.0.0.1",
            f"cafile {self.ca.ca_cert}",
            f"certfile {self.ca.server_cert}",
            f"keyfile {self.ca.server_key}",
            "tls_version tlsv1.2",
            "",
        ]))
        _give_to_mosquitto(d)
        _give_to_mosquitto(self.ca.directory)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until its listener accepts connections."""
        binary = _mosquitto_binary()
        if binary is None:
            pytest.fail(_INSTALL_HINT, pytrace=False)
        self._proc = subprocess.Popen([binary, "-c", str(self.directory / "mosquitto.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                pytest.fail(f"mosquitto exited ({self._proc.returncode}): {err}\n{self.log_text}",
                            pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"mosquitto did not listen on {self.port} within {timeout_s} s\n{self.log_text}",
                    pytrace=False)

    def stop(self) -> None:
        """Stop the broker gracefully (SIGTERM: it saves its persistence file)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()

    def restart(self) -> None:
        """Stop, then start on the same port with the same persistence."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None


@pytest.fixture(scope="session")
def mqtt_ca() -> Iterator[TestCA]:
    """A private CA and server certificate for this test session."""
    directory = Path(tempfile.mkdtemp(prefix="kota-ca-"))
    os.chmod(directory, 0o755)
    try:
        yield make_ca(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def start_broker(registry: DeviceRegistry, ca: TestCA, *, max_inflight_messages: int = 20,
                 bridge_password: str | None = None) -> MosquittoBroker:
    """A started broker for ``registry`` (the caller stops it and removes its directory)."""
    # Not pytest's tmp_path: that is private to root, and the broker runs as `mosquitto`.
    directory = Path(tempfile.mkdtemp(prefix="kota-mq-"))
    os.chmod(directory, 0o750)
    broker = MosquittoBroker(directory, _free_port(), ca, bridge_password or secrets.token_urlsafe(18),
                             max_inflight_messages)
    broker.write_config(registry)
    broker.start()
    return broker


@pytest.fixture
def mosquitto(mqtt_ca: TestCA) -> Iterator[Callable[..., MosquittoBroker]]:
    """``mosquitto(registry)``: a running broker for ``registry``, stopped after the test."""
    if _mosquitto_binary() is None or shutil.which("mosquitto_passwd") is None:
        pytest.fail(_INSTALL_HINT, pytrace=False)
    started: list[MosquittoBroker] = []

    def make(registry: DeviceRegistry, **kwargs: Any) -> MosquittoBroker:
        broker = start_broker(registry, mqtt_ca, **kwargs)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()
        shutil.rmtree(broker.directory, ignore_errors=True)
