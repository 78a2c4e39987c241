"""The ingest gate: what is taken, what is a duplicate, what is quarantined and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hardware_bridge.devices import Device, DeviceRegistry
from hardware_bridge.ingest import Ingest, IngestUnavailable
from twin.bus import Bus
from twin.observations import Observation, ObservationKind
from twin.store import Store, open_store

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SECRET = "s" * 24


def registry() -> DeviceRegistry:
    return DeviceRegistry([
        Device("det-1", "jakarta-timur", "traffic", "jatinegara", frozenset(ObservationKind), SECRET),
        Device("cam-1", "jakarta-timur", "etle", "jatinegara",
               frozenset({ObservationKind.PLATE_READ}), SECRET),
    ])


def obs(event_id: str = "e1", source: str = "det-1", **payload: Any) -> dict[str, Any]:
    """A point-speed observation as a device sends it (not validated here, on purpose)."""
    return {"schema_version": 1, "kind": "point_speed", "source_id": source,
            "observed_at": (NOW - timedelta(seconds=2)).isoformat(), "event_id": event_id,
            "location": None, "payload": payload or {"speed_mps": 12.5}}


def envelope(items: list[dict[str, Any]], seq: int = 1, device: str = "det-1",
             sent_at: datetime = NOW, **extra: Any) -> bytes:
    body: dict[str, Any] = {"device_id": device, "seq": seq, "sent_at": sent_at.isoformat(),
                            "observations": items}
    body.update(extra)
    return json.dumps(body).encode()


@pytest.fixture
def bus() -> Bus:
    return Bus()


@pytest.fixture
def gate(bus: Bus) -> Ingest:
    return Ingest(bus, registry=registry(), now=lambda: NOW)


def test_a_valid_batch_is_published_once(bus: Bus, gate: Ingest) -> None:
    sub = bus.subscribe("#")
    out = gate.submit_message(envelope([obs("a"), obs("b")]), transport="mqtt", device_id="det-1")
    assert (out.accepted, out.duplicates, out.quarantined) == (2, 0, 0)
    assert [o.event_id for o in sub.drain()] == ["a", "b"]
    # the same events again under a new sequence number: duplicates, nothing published
    out = gate.submit_message(envelope([obs("a"), obs("b")], seq=2), transport="mqtt", device_id="det-1")
    assert (out.accepted, out.duplicates) == (0, 2)
    assert sub.drain() == []
    # the same message again (same seq): a repeat, nothing published
    out = gate.submit_message(envelope([obs("c")], seq=2), transport="mqtt", device_id="det-1")
    assert (out.accepted, out.duplicates) == (0, 1)
    assert sub.drain() == []
    stats = gate.stats()["det-1"]
    assert (stats.messages, stats.accepted, stats.duplicates, stats.quarantined) == (3, 2, 3, 0)
    assert stats.last_lag_s == 0.0


def test_a_single_observation_envelope(bus: Bus, gate: Ingest) -> None:
    sub = bus.subscribe("#")
    body = json.dumps({"device_id": "det-1", "seq": 1, "sent_at": NOW.isoformat(),
                       "observation": obs("x")}).encode()
    assert gate.submit_message(body, transport="mqtt", device_id="det-1").accepted == 1
    assert [o.event_id for o in sub.drain()] == ["x"]


def test_one_bad_observation_does_not_sink_its_batch(bus: Bus, gate: Ingest) -> None:
    sub = bus.subscribe("#")
    bad = obs("bad", speed_mps=72.0 * 3.6)  # km/h sent as m/s
    out = gate.submit_message(envelope([obs("good"), bad]), transport="mqtt", device_id="det-1")
    assert (out.accepted, out.quarantined) == (1, 1)
    assert "looks like km/h" in (out.reason or "")
    assert [o.event_id for o in sub.drain()] == ["good"]
    (q,) = gate.recent_quarantine
    assert q.device_id == "det-1" and json.loads(q.raw)["event_id"] == "bad"


MALFORMED: list[tuple[str, bytes, str]] = [
    ("truncated JSON", envelope([obs()])[:-7], "not valid JSON"),
    ("non-UTF-8", b'{"device_id": "det-1", "x": "\xff\xfe"}', "not UTF-8"),
    ("NaN literal", envelope([obs()]).replace(b"12.5", b"NaN"), "NaN is not a JSON number"),
    ("Infinity literal", envelope([obs()]).replace(b"12.5", b"Infinity"), "not a JSON number"),
    ("not an object", b"[1, 2, 3]", "must be a JSON object"),
    ("oversize", envelope([obs(f"e{i}") for i in range(3000)]), "over the limit"),
    ("no observations", json.dumps({"device_id": "det-1", "seq": 1,
                                     "sent_at": NOW.isoformat()}).encode(), "carries no"),
    ("observations not a list", envelope([]).replace(b"[]", b"{}"), "must be a list"),
    ("no seq", json.dumps({"device_id": "det-1", "sent_at": NOW.isoformat(),
                           "observations": [obs()]}).encode(), "replay protection"),
    ("seq a string", envelope([obs()]).replace(b'"seq": 1', b'"seq": "1"'), "seq must be"),
    ("negative seq", envelope([obs()], seq=-5), "seq must be"),
    ("stale timestamp", envelope([obs()], sent_at=NOW - timedelta(minutes=5)), "stale message"),
    ("timestamp from the future", envelope([obs()], sent_at=NOW + timedelta(minutes=5)),
     "from the future"),
    ("naive timestamp", envelope([obs()]).replace(b"+00:00", b""), "no time zone"),
    ("unknown device", envelope([obs(source="det-9")], device="det-9"), "unknown device"),
    ("device speaking for another", envelope([obs(source="cam-1")]), "may not report as"),
    ("kind not registered", envelope([obs(source="cam-1")], device="cam-1"), "not registered for"),
    ("wrong type", envelope([obs(speed_mps="fast")]), "must be int/float"),
    ("huge value", envelope([obs(speed_mps=1e308)]), "outside"),
    ("negative speed", envelope([obs(speed_mps=-3.0)]), "outside"),
    ("missing field", envelope([obs(speed_kmh=50.0)]), "missing 'speed_mps'"),
    ("unknown kind", envelope([dict(obs(), kind="telepathy")]), "unknown observation kind"),
    ("bad time", envelope([dict(obs(), observed_at="yesterday")]), "not an ISO 8601"),
    ("deep nesting", b'{"device_id": "det-1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "nested too deeply"),
]


@pytest.mark.parametrize("name,raw,reason", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_input_is_quarantined_with_its_reason(
    bus: Bus, gate: Ingest, name: str, raw: bytes, reason: str
) -> None:
    sub = bus.subscribe("#")
    out = gate.submit_message(raw, transport="mqtt", device_id=None)
    assert out.accepted == 0 and out.quarantined == 1, name
    assert reason in (out.reason or ""), out.reason
    assert sub.drain() == []
    # the gate keeps working afterwards
    ok = gate.submit_message(envelope([obs("after")], seq=99), transport="mqtt", device_id="det-1")
    assert ok.accepted == 1


def test_the_transport_identity_wins_over_the_envelope(gate: Ingest) -> None:
    out = gate.submit_message(envelope([obs(source="cam-1")], device="cam-1"),
                              transport="mqtt", device_id="det-1")
    assert out.quarantined == 1 and "transport authenticated 'det-1'" in (out.reason or "")


def test_a_device_must_publish_under_its_own_place(gate: Ingest) -> None:
    out = gate.submit_message(envelope([obs()]), transport="mqtt", device_id="det-1",
                              place=("jakarta-barat", "traffic", "jatinegara"))
    assert out.quarantined == 1 and "not its own place" in (out.reason or "")
    ok = gate.submit_message(envelope([obs()]), transport="mqtt", device_id="det-1",
                             place=("jakarta-timur", "traffic", "jatinegara"))
    assert ok.accepted == 1


def test_sequence_numbers_out_of_order_within_the_window_are_taken(bus: Bus) -> None:
    gate = Ingest(bus, registry=registry(), now=lambda: NOW, sequence_window=8)
    for seq in (5, 3, 4):
        assert gate.submit_message(envelope([obs(f"s{seq}")], seq=seq), transport="mqtt",
                                   device_id="det-1").accepted == 1
    assert gate.stats()["det-1"].gaps == 0  # nothing above the first is missing
    gate.submit_message(envelope([obs("s20")], seq=20), transport="mqtt", device_id="det-1")
    assert gate.stats()["det-1"].gaps == 14  # 6..19 never arrived
    out = gate.submit_message(envelope([obs("s2")], seq=2), transport="mqtt", device_id="det-1")
    assert out.quarantined == 1 and "older than the replay window" in (out.reason or "")


def test_trusted_sources_may_omit_freshness(bus: Bus) -> None:
    gate = Ingest(bus, registry=None, require_freshness=False, now=lambda: NOW)
    body = json.dumps({"observations": [obs("r1", source="replay-7")]}).encode()
    assert gate.submit_message(body, transport="replay", device_id="replay-7").accepted == 1


def test_submit_checks_adapter_built_observations(bus: Bus, gate: Ingest) -> None:
    sub = bus.subscribe("#")
    plate = Observation(ObservationKind.PLATE_READ, "cam-1", NOW, {"plate": "B 1234 XYZ", "confidence": 0.93},
                        event_id="p1")
    percent = Observation(ObservationKind.PLATE_READ, "cam-1", NOW, {"plate": "B 1 X", "confidence": 93.0},
                          event_id="p2")
    out = gate.submit([plate, percent], transport="http", device_id="cam-1")
    assert (out.accepted, out.quarantined) == (1, 1)
    assert "looks like a percentage" in (out.reason or "")
    assert [o.event_id for o in sub.drain()] == ["p1"]
    assert gate.submit([plate], transport="http", device_id="nobody").quarantined == 1


# -- with a real store ------------------------------------------------------------------------


def test_dedupe_survives_a_restart_through_the_store(bus: Bus, store: Store) -> None:
    sub = bus.subscribe("#")
    first = Ingest(bus, registry=registry(), store=store, now=lambda: NOW)
    assert first.submit_message(envelope([obs("a"), obs("b")]), transport="mqtt",
                                device_id="det-1").accepted == 2
    restarted = Ingest(bus, registry=registry(), store=store, now=lambda: NOW)  # empty memory
    out = restarted.submit_message(envelope([obs("a"), obs("c")], seq=7), transport="mqtt",
                                   device_id="det-1")
    assert (out.accepted, out.duplicates) == (1, 1)
    assert [o.event_id for o in sub.drain()] == ["a", "b", "c"]
    assert store.count_observations() == 3


def test_quarantine_reaches_the_store_with_raw_bytes_device_and_reason(bus: Bus, store: Store) -> None:
    gate = Ingest(bus, registry=registry(), store=store, now=lambda: NOW)
    raw = b'{"device_id": "det-1", "seq": 1, "sent_at": "' + NOW.isoformat().encode() + b'", "x": "\xc3\x28"}'
    gate.submit_message(raw, transport="mqtt", device_id="det-1")
    gate.submit_message(envelope([obs("z", speed_mps=float(500))]), transport="mqtt", device_id="det-1")
    rows = store.quarantined(source="det-1")
    assert len(rows) == 2
    assert rows[1].reason.startswith("mqtt: message is not UTF-8")
    assert "\\xc3(" in rows[1].raw
    assert "speed_mps" in rows[0].reason and json.loads(rows[0].raw)["event_id"] == "z"


@pytest.mark.postgres
def test_a_database_outage_takes_nothing_and_the_retry_takes_it_once(
    bus: Bus, postgres_server: Any, postgres_url: str
) -> None:
    """PostgreSQL stopped under the gate: IngestUnavailable, then the redelivery is taken once."""
    from twin.store.core import Store as StoreClass

    store = open_store(postgres_url)
    store = StoreClass(store.engine, reconnect_timeout_s=1.0)
    sub = bus.subscribe("#")
    gate = Ingest(bus, registry=registry(), store=store, now=lambda: NOW)
    msg = envelope([obs("a"), obs("b")])
    postgres_server.stop()
    try:
        with pytest.raises(IngestUnavailable):
            gate.submit_message(msg, transport="mqtt", device_id="det-1")
        with pytest.raises(IngestUnavailable):  # a bad message cannot be quarantined either
            gate.submit_message(b"{", transport="mqtt", device_id="det-1")
    finally:
        postgres_server.start()
    assert sub.drain() == []
    out = gate.submit_message(msg, transport="mqtt", device_id="det-1")  # the redelivery
    assert out.accepted == 2  # not mistaken for a repeat of a message that was never taken
    assert gate.submit_message(msg, transport="mqtt", device_id="det-1").accepted == 0
    assert gate.submit_message(b"{", transport="mqtt", device_id="det-1").quarantined == 1
    assert [o.event_id for o in sub.drain()] == ["a", "b"]
    assert store.count_observations() == 2
    assert len(store.quarantined()) == 1
    store.close()


def test_a_relay_forwards_other_sources_and_takes_their_counts(bus: Bus, gate: Ingest) -> None:
    """A context broker (registered as det-1) relays observations of sensors it is not."""
    sub = bus.subscribe("#")
    relayed = [Observation(ObservationKind.POINT_SPEED, f"far-sensor-{i}", NOW, {"speed_mps": 9.0},
                           event_id=f"r{i}") for i in range(3)]
    out = gate.submit(relayed, transport="ngsi-ld", relayed_by="det-1")
    assert out.accepted == 3
    assert [o.source_id for o in sub.drain()] == ["far-sensor-0", "far-sensor-1", "far-sensor-2"]
    assert gate.stats()["det-1"].accepted == 3 and "unknown" not in gate.stats()
    plate = Observation(ObservationKind.SIGNAL_STATE, "sig-1", NOW, {"program": "p", "state": "G"})
    only_plates = gate.submit([plate], transport="ngsi-ld", relayed_by="cam-1")
    assert only_plates.quarantined == 1 and "relay 'cam-1' is not registered" in (only_plates.reason or "")
    assert gate.submit(relayed, transport="ngsi-ld", relayed_by="nobody").quarantined == 1
    with pytest.raises(ValueError, match="not both"):
        gate.submit(relayed, transport="ngsi-ld", relayed_by="det-1", device_id="det-1")


def test_a_broker_delivering_late_after_an_outage_is_allowed_its_max_age(gate: Ingest) -> None:
    """Events a broker kept for an hour are taken with max_age_s; their repeats still are not."""
    late = envelope([obs("late")], seq=5, sent_at=NOW - timedelta(hours=1))
    assert gate.submit_message(late, transport="mqtt", device_id="det-1").quarantined == 1
    out = gate.submit_message(late, transport="mqtt", device_id="det-1", max_age_s=86_400)
    assert out.accepted == 1
    again = gate.submit_message(late, transport="mqtt", device_id="det-1", max_age_s=86_400)
    assert (again.accepted, again.duplicates) == (0, 1)
    future = envelope([obs("f")], seq=6, sent_at=NOW + timedelta(hours=1))
    assert gate.submit_message(future, transport="mqtt", device_id="det-1",
                               max_age_s=86_400).quarantined == 1
