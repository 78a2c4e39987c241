"""The in-process bus: topic filters, bounded queues that count what they refuse."""

import threading
from datetime import UTC, datetime

import pytest

from twin.bus import Bus, topic_matches
from twin.observations import Observation


def _speed(source="cam-1", speed=10.0, i=0):
    return Observation(kind="point_speed", source_id=source,
                       observed_at=datetime(2026, 3, 2, tzinfo=UTC), payload={"speed_mps": speed},
                       event_id=f"{source}-{i}")


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("#", "point_speed/cam-1", True),
        ("point_speed/#", "point_speed/cam-1", True),
        ("point_speed/+", "point_speed/cam-1", True),
        ("point_speed/cam-1", "point_speed/cam-1", True),
        ("point_speed/cam-2", "point_speed/cam-1", False),
        ("plate_read/#", "point_speed/cam-1", False),
        ("+", "point_speed/cam-1", False),
        ("point_speed/+/x", "point_speed/cam-1", False),
    ],
)
def test_topic_matching(pattern, topic, expected):
    assert topic_matches(pattern, topic) is expected


def test_invalid_patterns_are_rejected():
    bus = Bus()
    with pytest.raises(ValueError, match="'#'"):
        bus.subscribe("a/#/b")
    with pytest.raises(ValueError, match="'\\+'"):
        bus.subscribe("a/b+")


def test_only_matching_subscribers_receive_in_order():
    bus = Bus()
    speeds = bus.subscribe("point_speed/#")
    plates = bus.subscribe("plate_read/#")
    for i in range(5):
        bus.publish(_speed(speed=float(i), i=i))
    assert [o.payload["speed_mps"] for o in speeds.drain()] == [0, 1, 2, 3, 4]
    assert plates.drain() == []
    assert bus.stats().published == 5


def test_full_queue_counts_every_refused_observation():
    bus = Bus()
    bus.subscribe("#", maxsize=3, name="slow")
    big = bus.subscribe("#", maxsize=100)
    for i in range(10):
        bus.publish(_speed(i=i))
    stats = {s.name: s for s in bus.stats().subscriptions}
    assert stats["slow"].queued == 3 and stats["slow"].dropped == 7
    assert stats["slow"].delivered + stats["slow"].dropped == 10
    assert bus.stats().dropped == 7
    assert len(big.drain()) == 10


def test_unrouted_publications_are_counted():
    bus = Bus()
    bus.publish(_speed())
    assert bus.stats().unrouted == 1


def test_failing_callback_does_not_stop_other_subscribers():
    bus = Bus()
    seen = []

    def broken(_obs):
        raise RuntimeError("subscriber bug")

    bus.subscribe_callback("#", broken, name="broken")
    bus.subscribe_callback("#", seen.append, name="ok")
    assert bus.publish(_speed()) == 1
    stats = {s.name: s for s in bus.stats().subscriptions}
    assert stats["broken"].failed == 1 and stats["ok"].delivered == 1
    assert len(seen) == 1


def test_concurrent_publishers_lose_nothing():
    bus = Bus()
    sub = bus.subscribe("#", maxsize=10_000)

    def publish(source):
        for i in range(500):
            bus.publish(_speed(source=source, i=i))

    threads = [threading.Thread(target=publish, args=(f"cam-{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sub.drain()
    assert len(got) == 2000
    assert len({o.event_id for o in got}) == 2000
    assert bus.stats().published == 2000
