"""Broker security as the registry configures it: TLS, passwords, per-device ACLs, last wills."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hardware_bridge.devices import Device
from hardware_bridge.mqtt_client import new_client
from hardware_bridge.mqtt_device import DeviceConnectError, DevicePublisher, envelope_bytes
from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, rig, settle
from tests.mqtt_broker import make_ca
from twin.cli import main as kota


def test_wrong_password_is_refused(mosquitto):
    registry = registry_of("loop-a")
    broker = mosquitto(registry)
    real = registry.get("loop-a")
    assert real is not None
    impostor = Device(real.device_id, real.kab_kota, real.domain, real.site, real.kinds,
                      "not-the-secret-0123456789")
    with pytest.raises(DeviceConnectError, match="[Nn]ot authori[sz]ed"):
        DevicePublisher(broker.bridge_config(), impostor).start(timeout_s=5)
    with DevicePublisher(broker.bridge_config(), real) as ok:  # the right secret gets in
        assert ok.connected


def test_plaintext_and_an_unknown_ca_are_refused(mosquitto, tmp_path):
    registry = registry_of("loop-a")
    broker = mosquitto(registry)
    dev = registry.get("loop-a")
    assert dev is not None
    good = broker.config(dev.device_id, dev.secret)
    with pytest.raises(DeviceConnectError):  # the listener speaks only TLS
        DevicePublisher(replace(good, tls=False), dev).start(timeout_s=1)
    other = make_ca(tmp_path / "other-ca")  # the broker's certificate is not signed by this CA
    with pytest.raises(DeviceConnectError):
        DevicePublisher(replace(good, ca_file=other.ca_cert), dev).start(timeout_s=1)
    with DevicePublisher(good, dev) as ok:
        assert ok.connected


def test_a_device_cannot_write_under_another_devices_topic(mosquitto):
    registry = registry_of("loop-a", "loop-b")
    with rig(mosquitto, registry) as r:
        a = r.device("loop-a")
        b_dev = registry.get("loop-b")
        assert b_dev is not None
        # loop-a forges loop-b's observation on loop-b's topic; the broker's ACL drops it
        forged = detector_obs("loop-b", 1)
        a.publish_raw(envelope_bytes("loop-b", 7, [forged], datetime.now(UTC)),
                      topic=b_dev.topic("event"))
        a.publish([detector_obs("loop-a", 1)])  # and its own, which arrives
        assert a.flush(10)
        settle(r.bridge, taken=1, quiet_s=0.5)
        got = [o.event_id for o in r.feed.drain()]
        assert got == ["loop-a:1"]
        assert "loop-b" not in r.ingest.stats()  # the gate never saw it either
        a.stop()


def test_a_device_cannot_read_the_city(mosquitto):
    registry = registry_of("loop-a", "loop-b")
    with rig(mosquitto, registry) as r:
        dev = registry.get("loop-a")
        assert dev is not None
        spy = new_client(r.broker.config(dev.device_id, dev.secret), "spy-loop-a")
        got: list[str] = []
        subscribed = threading.Event()
        spy.on_connect = lambda client, *_: client.subscribe("city/#", qos=1)
        spy.on_subscribe = lambda *_: subscribed.set()
        spy.on_message = lambda client, userdata, msg: got.append(msg.topic)
        spy.connect("127.0.0.1", r.broker.port)
        spy.loop_start()
        try:
            # Mosquitto 2.0 grants the SUBACK but checks every delivery against the ACL
            assert subscribed.wait(10)
            b = r.device("loop-b")
            b.publish([detector_obs("loop-b", 1)])
            assert b.flush(10)
            settle(r.bridge, taken=1)
            assert [o.event_id for o in r.feed.drain()] == ["loop-b:1"]  # the bridge reads it
            b.stop()
            assert r.bridge.wait_idle(10, quiet_s=0.3)
            assert got == [], f"a device read other devices' topics: {got}"
        finally:
            spy.disconnect()
            spy.loop_stop()


def test_last_will_marks_a_crashed_device_offline(mosquitto):
    registry = registry_of("loop-a")
    with rig(mosquitto, registry) as r:
        a = r.device("loop-a")
        deadline = time.monotonic() + 10
        while r.bridge.links().get("loop-a") is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert r.bridge.links()["loop-a"].online is True
        # the device dies: its network thread stops and the TCP connection drops without DISCONNECT
        a._client.loop_stop()
        sock = a._client.socket()
        assert sock is not None
        sock.shutdown(socket.SHUT_RDWR)
        while r.bridge.links()["loop-a"].online is not False and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        link = r.bridge.links()["loop-a"]
        assert link.online is False and link.last_status == {"online": False}
        report = r.bridge.device_report()["loop-a"]
        assert report["online"] is False


def test_kota_bridge_with_a_wrong_password_says_so(mosquitto, tmp_path, capsys):
    registry = registry_of("loop-a")
    broker = mosquitto(registry)
    (tmp_path / "devices.toml").write_text(registry.to_toml())
    (tmp_path / "wrong").write_text("not-the-bridge-password\n")
    status = kota(["bridge", "--broker", broker.url, "--ca", str(broker.ca.ca_cert),
                   "--registry", str(tmp_path / "devices.toml"), "--store", f"sqlite:///{tmp_path / 'k.db'}",
                   "--password-file", str(tmp_path / "wrong")])
    assert status == 1
    assert "Not authorized" in capsys.readouterr().err
