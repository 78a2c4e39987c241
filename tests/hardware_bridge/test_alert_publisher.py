"""Early warnings leave the twin as public information messages: NGSI-LD Alerts on info/... topics."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from hardware_bridge.alert_publisher import AlertPublisher, alert_topic, is_public_alert
from hardware_bridge.mqtt_client import new_client
from hardware_bridge.ngsi_ld import from_entity
from tests.hardware_bridge.mqtt_setup import listener, registry_of
from twin.bus import Bus
from twin.modules.prediction.alerts import CongestionWarner, WarningConfig
from twin.observations import Location, Observation, ObservationKind

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
FREE = 15.0


def _warning_alerts() -> list[Observation]:
    """A real early warning: the forecaster's 30-minute speed falls below half the free speed."""
    warner = CongestionWarner(["loop-a"], [FREE], (15, 30, 60), WarningConfig(event_scope="live"),
                              locations={"loop-a": Location(106.87, -6.22, link_id="L1")})
    forecasts = np.array([[12.0], [4.0], [3.0]])
    return warner.update(T0, np.array([FREE]), forecasts)


def _wait_for(got: list, n: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_congestion_warning_reaches_public_subscribers_as_an_ngsi_ld_alert(mosquitto):
    registry = registry_of("loop-a")
    broker = mosquitto(registry)
    dev = registry.get("loop-a")
    assert dev is not None
    client, got = listener(broker, dev.device_id, dev.secret)
    bus = Bus()
    publisher = AlertPublisher(broker.bridge_config(), bus, kab_kota="jakarta-timur").start()
    try:
        (alert,) = _warning_alerts()
        private = Observation(ObservationKind.INCIDENT_REPORT, "cctv-3", T0,
                              {"incident_type": "stopped_vehicle", "plate": "B 1234 XYZ"})
        assert is_public_alert(alert) and not is_public_alert(private)
        bus.publish(private)  # stays inside the twin
        bus.publish(alert)
        assert publisher.flush(10)
        _wait_for(got, 1)
        assert publisher.counts().published == 1 and publisher.counts().skipped == 1
        (topic, payload), = got
        assert topic == alert_topic("jakarta-timur", alert.payload["severity"])
        entity = json.loads(payload)
        assert entity["type"] == "Alert" and entity["subCategory"]["value"] == "trafficJam"
        assert from_entity(entity) == alert  # nothing lost on the way
    finally:
        publisher.stop()
        client.disconnect()
        client.loop_stop()


def test_a_device_cannot_publish_public_information(mosquitto):
    registry = registry_of("loop-a", "loop-b")
    broker = mosquitto(registry)
    a, b = registry.get("loop-a"), registry.get("loop-b")
    assert a is not None and b is not None
    client, got = listener(broker, b.device_id, b.secret)
    forger = new_client(broker.config(a.device_id, a.secret), "forger", persistent=False)
    forger.connect("127.0.0.1", broker.port)
    forger.loop_start()
    try:
        info = forger.publish(alert_topic("jakarta-timur", "critical"), b'{"type": "Alert"}', qos=1)
        info.wait_for_publish(10)
        time.sleep(0.5)
        assert got == [], "a device wrote a public alert"
    finally:
        forger.disconnect()
        forger.loop_stop()
        client.disconnect()
        client.loop_stop()



def test_a_refused_account_is_a_clear_error_at_once(mosquitto):
    broker = mosquitto(registry_of("loop-a"))
    wrong = dataclasses.replace(broker.bridge_config(), password="not-the-password")
    publisher = AlertPublisher(wrong, Bus(), kab_kota="jakarta-timur")
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="refused the connection: Not authorized"):
        publisher.start(timeout_s=30)
    assert time.monotonic() - started < 25  # the refusal, not the timeout
