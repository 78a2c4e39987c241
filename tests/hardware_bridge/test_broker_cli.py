"""``kota broker``: a real Mosquitto started, used over TLS by a registry's devices and the bridge, stopped.

Through ``twin.cli.main``: the command must be registered (``pip install -e .`` after a change
of the ``kota_twin.commands`` entry points).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.ingest import Ingest
from hardware_bridge.mosquitto import MosquittoMissing, find_mosquitto, port_in_use, stop_daemon
from hardware_bridge.mqtt_adapter import MqttBridge
from hardware_bridge.mqtt_client import BrokerConfig
from hardware_bridge.mqtt_device import DeviceConnectError, DevicePublisher
from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, settle
from tests.pg_server import _free_port
from twin.bus import Bus
from twin.cli import main


@pytest.fixture
def home() -> Iterator[Path]:
    """A directory the broker's ``mosquitto`` user can reach (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="kota-broker-cli-"))
    os.chmod(d, 0o755)
    yield d
    for mqtt in (d / "mqtt", d / "var" / "mqtt"):  # should a test fail while its broker runs
        stop_daemon(mqtt / "mosquitto.pid")
    shutil.rmtree(d, ignore_errors=True)


def _registry(home: Path) -> tuple[Path, DeviceRegistry, str]:
    """A registry file with ``bridge.secret`` beside it, as ``kota emulate --init-only`` writes them."""
    registry = registry_of("loop-a", "loop-b")
    path = home / "emulator" / "devices.toml"
    path.parent.mkdir()
    path.write_text(registry.to_toml(), encoding="utf-8")
    password = secrets.token_urlsafe(18)
    (path.parent / "bridge.secret").write_text(password + "\n", encoding="utf-8")
    return path, registry, password


def _field(out: str, name: str) -> str:
    match = re.search(rf"^  {name}\s+(\S+)$", out, re.MULTILINE)
    assert match, out
    return match.group(1)


def _pid_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except (OSError, IndexError):
        return False


def test_start_devices_and_bridge_connect_over_tls_then_stop_and_restart_with_the_same_ca(
        home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(home)  # relative paths, as a user types them
    registry_path, registry, password = _registry(Path("."))
    port = _free_port()
    mqtt = Path("var/mqtt")
    assert main(["broker", "--dir", str(mqtt), "--registry", str(registry_path), "--port", str(port)]) == 0
    out, err = capsys.readouterr()
    assert "made the CA and server certificate in var/mqtt/tls" in err
    assert _field(out, "broker URL") == f"mqtts://localhost:{port}"
    ca = Path(_field(out, "CA file"))
    assert ca == mqtt / "tls" / "ca.crt" and ca.is_file()
    assert "kota broker --dir var/mqtt --stop" in out
    assert f"--password-file {registry_path.parent / 'bridge.secret'}" in out
    pid = int((mqtt / "mosquitto.pid").read_text())
    assert _pid_alive(pid)

    broker = BrokerConfig.from_url(f"mqtts://localhost:{port}", ca_file=ca)
    bus = Bus()
    feed = bus.subscribe("#", name="test")
    bridge = MqttBridge(broker.with_account("kota-bridge", password), Ingest(bus, registry=registry)).start()
    try:
        dev = registry.get("loop-a")
        assert dev is not None
        with DevicePublisher(broker, dev) as pub:  # the device's own account, over TLS
            pub.publish([detector_obs("loop-a", 1)])
            assert pub.flush(10)
        settle(bridge, taken=1)
        assert [o.event_id for o in feed.drain()] == ["loop-a:1"]
        with pytest.raises(DeviceConnectError):  # the passwd file is enforced
            DevicePublisher(broker, replace(dev, secret="wrong")).start(timeout_s=2)
    finally:
        bridge.stop()

    # a second start while it runs is refused, and says how to stop it
    assert main(["broker", "--dir", str(mqtt), "--registry", str(registry_path), "--port", str(port)]) == 1
    assert "already running" in capsys.readouterr().err

    ca_bytes = ca.read_bytes()
    assert main(["broker", "--dir", str(mqtt), "--stop"]) == 0
    assert f"stopped mosquitto (pid {pid})" in capsys.readouterr().out
    assert not _pid_alive(pid)
    assert not (mqtt / "mosquitto.pid").exists()
    assert not port_in_use(port)
    assert main(["broker", "--dir", str(mqtt), "--stop"]) == 0  # nothing to stop: said, not an error
    assert "no broker is running" in capsys.readouterr().err

    # started again: the CA is reused, so clients keep their CA file
    assert main(["broker", "--dir", str(mqtt), "--registry", str(registry_path), "--port", str(port)]) == 0
    assert "reusing the CA and server certificate in var/mqtt/tls" in capsys.readouterr().err
    assert ca.read_bytes() == ca_bytes
    with DevicePublisher(broker, dev) as pub:
        assert pub.connected
    assert main(["broker", "--dir", str(mqtt), "--stop"]) == 0


def test_a_taken_port_is_a_clear_error_and_nothing_is_started(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry_path, _, _ = _registry(home)
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        status = main(["broker", "--dir", str(home / "mqtt"), "--registry", str(registry_path),
                       "--port", str(port)])
    assert status == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is taken" in err and "--port" in err
    assert not (home / "mqtt" / "mosquitto.pid").exists()


def test_a_missing_registry_points_to_kota_emulate_init_only(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["broker", "--dir", str(home / "mqtt"), "--registry", str(home / "nope.toml")])
    assert status == 1
    err = capsys.readouterr().err
    assert f"no device registry at {home / 'nope.toml'}" in err
    assert "kota emulate SCENARIO --init-only" in err
    assert main(["broker", "--dir", str(home / "mqtt")]) == 1
    assert "--registry FILE is needed" in capsys.readouterr().err
    assert not (home / "mqtt").exists()


def test_a_missing_mosquitto_names_the_debian_packages(tmp_path: Path) -> None:
    with pytest.raises(MosquittoMissing, match="mosquitto and mosquitto_passwd not found.*"
                       "apt-get install mosquitto mosquitto-clients"):
        find_mosquitto(path=str(tmp_path))
    (tmp_path / "mosquitto").symlink_to(find_mosquitto()[0])  # the broker alone is not enough
    with pytest.raises(MosquittoMissing, match="^mosquitto_passwd not found"):
        find_mosquitto(path=str(tmp_path))


def test_foreground_serves_until_sigterm(home: Path) -> None:
    registry_path, registry, _ = _registry(home)
    port = _free_port()
    mqtt = home / "mqtt"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from twin.cli import main; sys.exit(main(sys.argv[1:]))",
         "broker", "--dir", str(mqtt), "--registry", str(registry_path), "--port", str(port), "--foreground"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("mosquitto is running (pid "), first
        broker_pid = int((mqtt / "mosquitto.pid").read_text())
        dev = registry.get("loop-b")
        assert dev is not None
        ca = mqtt / "tls" / "ca.crt"
        with DevicePublisher(BrokerConfig.from_url(f"mqtts://localhost:{port}", ca_file=ca), dev) as pub:
            assert pub.connected
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 10
    while _pid_alive(broker_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _pid_alive(broker_pid)
    assert not port_in_use(port)
