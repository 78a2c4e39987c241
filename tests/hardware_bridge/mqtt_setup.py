"""Helpers of the MQTT tests: a registry, observations, a running bridge on a real broker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.ingest import Ingest
from hardware_bridge.mqtt_adapter import MqttBridge
from hardware_bridge.mqtt_client import new_client
from hardware_bridge.mqtt_device import DevicePublisher
from tests.mqtt_broker import MosquittoBroker
from twin.bus import Bus, Subscription
from twin.observations import Location, Observation, ObservationKind
from twin.store import Store

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def registry_of(*device_ids: str) -> DeviceRegistry:
    """Detector devices with random secrets."""
    return DeviceRegistry.generate(device_ids, kinds=[ObservationKind.DETECTOR_INTERVAL,
                                                      ObservationKind.POINT_SPEED])


def detector_obs(device_id: str, i: int, *, count: int = 12) -> Observation:
    """Interval ``i`` of a loop detector (event id ``{device}:{i}``)."""
    return Observation(ObservationKind.DETECTOR_INTERVAL, device_id, T0 + timedelta(seconds=30 * i),
                       {"interval_s": 30.0, "count": count, "occupancy": 0.12, "mean_speed_mps": 11.5},
                       Location(106.87, -6.22, "L1", 40.0, 0), event_id=f"{device_id}:{i}")


@dataclass
class Rig:
    """A broker, a gate over a bus (and maybe a store), the bridge and a bus feed."""

    broker: MosquittoBroker
    registry: DeviceRegistry
    bus: Bus
    ingest: Ingest
    bridge: MqttBridge
    feed: Subscription

    def device(self, device_id: str, **kwargs: int) -> DevicePublisher:
        """A started publisher of a registered device."""
        dev = self.registry.get(device_id)
        assert dev is not None
        return DevicePublisher(self.broker.bridge_config(), dev, **kwargs).start()


@contextmanager
def rig(mosquitto: Callable[..., MosquittoBroker], registry: DeviceRegistry, *,
        store: Store | None = None, **bridge_kwargs: float) -> Iterator[Rig]:
    """A running bridge on a fresh broker for ``registry``; stopped afterwards."""
    broker = mosquitto(registry)
    bus = Bus()
    feed = bus.subscribe("#", name="test")
    ingest = Ingest(bus, registry=registry, store=store)
    bridge = MqttBridge(broker.bridge_config(), ingest, **bridge_kwargs).start()  # type: ignore[arg-type]
    try:
        yield Rig(broker, registry, bus, ingest, bridge, feed)
    finally:
        bridge.stop()


def settle(bridge: MqttBridge, *, taken: int, timeout_s: float = 30.0, quiet_s: float = 0.3) -> None:
    """Wait until the bridge took ``taken`` observations (accepted or quarantined), then went quiet."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c = bridge.counts()
        if c.accepted + c.quarantined >= taken:
            break
        time.sleep(0.02)
    c = bridge.counts()
    assert c.accepted + c.quarantined >= taken, f"the bridge took only {c} of {taken}"
    assert bridge.wait_idle(timeout_s, quiet_s=quiet_s)


def listener(broker: MosquittoBroker, device_id: str, secret: str,
             topic: str = "info/#") -> tuple[Any, list[tuple[str, bytes]]]:
    """A connected paho client of ``device_id`` subscribed to ``topic``, and the list of
    ``(topic, payload)`` it receives; disconnect it with ``client.disconnect(); client.loop_stop()``."""
    client = new_client(broker.config(device_id, secret), f"listener-{device_id}", persistent=False)
    got: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda c, u, msg: got.append((msg.topic, msg.payload))
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    assert subscribed.wait(10)
    return client, got
