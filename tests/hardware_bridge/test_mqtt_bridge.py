"""The MQTT path end to end over a real Mosquitto with TLS: device -> broker -> bridge -> gate -> bus."""

from __future__ import annotations

from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, rig


def test_events_arrive_on_the_bus_once_each(mosquitto):
    registry = registry_of("loop-a", "loop-b")
    with rig(mosquitto, registry) as r:
        a, b = r.device("loop-a"), r.device("loop-b")
        for i in range(50):
            a.publish([detector_obs("loop-a", i)])
        b.publish([detector_obs("loop-b", i) for i in range(100)])
        assert a.flush(10) and b.flush(10)
        assert r.bridge.wait_idle(10)
        got = r.feed.drain()
        ids = sorted(o.event_id for o in got)
        assert ids == sorted([f"loop-a:{i}" for i in range(50)] + [f"loop-b:{i}" for i in range(100)])
        assert got[0] == detector_obs(got[0].source_id, int(got[0].event_id.split(":")[1]))
        c = r.bridge.counts()
        assert (c.accepted, c.duplicates, c.quarantined) == (150, 0, 0)
        a.stop()
        b.stop()
