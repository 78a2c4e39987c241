"""The MQTT path end to end over a real Mosquitto with TLS: device -> broker -> bridge -> gate -> bus."""

from __future__ import annotations

from hardware_bridge.ingest import Ingest
from hardware_bridge.mqtt_adapter import MqttBridge
from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, rig, settle
from twin.bus import Bus


def test_events_arrive_on_the_bus_once_each(mosquitto):
    registry = registry_of("loop-a", "loop-b")
    with rig(mosquitto, registry) as r:
        a, b = r.device("loop-a"), r.device("loop-b")
        for i in range(50):
            a.publish([detector_obs("loop-a", i)])
        b.publish([detector_obs("loop-b", i) for i in range(100)])
        assert a.flush(10) and b.flush(10)
        settle(r.bridge, taken=150)
        got = r.feed.drain()
        ids = sorted(o.event_id for o in got)
        assert ids == sorted([f"loop-a:{i}" for i in range(50)] + [f"loop-b:{i}" for i in range(100)])
        assert got[0] == detector_obs(got[0].source_id, int(got[0].event_id.split(":")[1]))
        c = r.bridge.counts()
        assert (c.accepted, c.duplicates, c.quarantined) == (150, 0, 0)
        a.stop()
        b.stop()


def test_telemetry_at_qos0_and_status_reach_the_bridge(mosquitto):
    registry = registry_of("loop-a")
    with rig(mosquitto, registry) as r:
        a = r.device("loop-a")
        a.publish([detector_obs("loop-a", i) for i in range(3)], channel="telemetry", qos=0)
        a.publish([detector_obs("loop-a", 3)])
        assert a.flush(10)
        settle(r.bridge, taken=4)
        assert sorted(o.event_id for o in r.feed.drain()) == [f"loop-a:{i}" for i in range(4)]
        assert r.bridge.links()["loop-a"].online is True
        report = r.bridge.device_report()["loop-a"]
        assert report["accepted"] == 4 and report["gaps"] == 0 and report["online"] is True
        assert report["last_lag_s"] is not None and report["last_lag_s"] < 5
        a.stop()


def test_the_broker_keeps_events_for_the_bridge_while_it_is_away(mosquitto):
    """The persistent session: a bridge that comes back with its client id gets what it missed."""
    registry = registry_of("loop-a")
    with rig(mosquitto, registry) as r:
        a = r.device("loop-a")
        a.publish([detector_obs("loop-a", 0)])
        assert a.flush(10)
        settle(r.bridge, taken=1)
        r.bridge.stop()
        for i in range(1, 101):
            a.publish([detector_obs("loop-a", i)])
        assert a.flush(10)
        bus = Bus()
        feed = bus.subscribe("#")
        again = MqttBridge(r.broker.bridge_config(), Ingest(bus, registry=registry)).start()
        try:
            settle(again, taken=100)
            assert sorted(int(o.event_id.split(":")[1]) for o in feed.drain()) == list(range(1, 101))
        finally:
            again.stop()
        a.stop()
