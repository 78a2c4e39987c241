"""Property tests: whatever arrives, the gate neither crashes nor lets an invalid record through."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.ingest import Ingest
from hardware_bridge.plausibility import implausible
from hardware_bridge.replay_guard import SequenceWindow, SeqVerdict
from twin.bus import Bus
from twin.observations import Observation, ObservationKind

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
REGISTRY = DeviceRegistry.generate(["det-1", "cam-1"])

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                      st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)


def _observation_like() -> st.SearchStrategy[dict[str, Any]]:
    """Dicts close to a valid observation, with any field possibly wrong."""
    return st.fixed_dictionaries({
        "kind": st.one_of(st.sampled_from([k.value for k in ObservationKind]), st.text(max_size=8)),
        "source_id": st.sampled_from(["det-1", "cam-1", "", "other"]),
        "observed_at": st.one_of(
            st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), st.text(max_size=10)),
        "payload": st.dictionaries(
            st.sampled_from(["speed_mps", "count", "occupancy", "interval_s", "mean_speed_mps",
                             "plate", "confidence", "lane", "state", "program", "incident_type"]),
            json_leaf, max_size=6),
    }, optional={"event_id": st.text(max_size=12), "location": json_value})


def _check_published(bus_items: list[Observation]) -> None:
    for o in bus_items:
        assert isinstance(o, Observation)
        assert implausible(o) is None
        assert o.source_id in ("det-1", "cam-1")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_and_never_publish(raw: bytes) -> None:
    bus = Bus()
    sub = bus.subscribe("#")
    gate = Ingest(bus, registry=REGISTRY, now=lambda: NOW)
    out = gate.submit_message(raw, transport="mqtt", device_id="det-1")
    assert out.accepted == 0 and out.quarantined == 1
    assert sub.drain() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(_observation_like(), min_size=1, max_size=5), st.integers(0, 10),
       st.sampled_from(["det-1", "cam-1", None]))
def test_random_envelopes_publish_only_valid_plausible_own_observations(
    items: list[dict[str, Any]], seq: int, device: str | None
) -> None:
    bus = Bus()
    sub = bus.subscribe("#")
    gate = Ingest(bus, registry=REGISTRY, now=lambda: NOW)
    raw = json.dumps({"device_id": device, "seq": seq, "sent_at": NOW.isoformat(),
                      "observations": items}).encode()
    out = gate.submit_message(raw, transport="mqtt", device_id=device)
    published = sub.drain()
    _check_published(published)
    assert len(published) == out.accepted
    for o in published:
        assert o.source_id == device
    # every item is accounted for exactly once (or the whole message was refused)
    assert out.accepted + out.duplicates + out.quarantined in (len(items), 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=80), st.integers(1, 16))
def test_sequence_window_matches_a_set_reference(seqs: list[int], window: int) -> None:
    """The bitmap window agrees with the obvious implementation on a set of numbers."""
    w = SequenceWindow(window)
    taken: set[int] = set()
    for s in seqs:
        verdict = w.check("d", s)
        highest = max(taken) if taken else None
        if highest is None or s > highest:
            expected = SeqVerdict.NEW
        elif highest - s >= window:
            expected = SeqVerdict.STALE
        else:
            expected = SeqVerdict.REPEAT if s in taken else SeqVerdict.NEW
        assert verdict is expected
        if verdict is SeqVerdict.NEW:
            w.record("d", s)
            taken.add(s)
    if taken:
        first = seqs[0]
        # gaps: numbers between the first taken and the highest that never came
        assert w.gaps["d"] == sum(1 for n in range(first + 1, max(taken)) if n not in taken)


def test_a_stale_but_plausible_replay_is_refused_by_time_alone() -> None:
    bus = Bus()
    gate = Ingest(bus, registry=REGISTRY, now=lambda: NOW)
    item = Observation(ObservationKind.POINT_SPEED, "det-1", NOW, {"speed_mps": 10.0}).to_dict()
    for delta_s, ok in ((29.0, True), (31.0, False), (-29.0, True), (-31.0, False)):
        raw = json.dumps({"device_id": "det-1", "seq": int(delta_s) + 100,
                          "sent_at": (NOW - timedelta(seconds=delta_s)).isoformat(),
                          "observation": dict(item, event_id=f"e{delta_s}")}).encode()
        out = gate.submit_message(raw, transport="mqtt", device_id="det-1")
        assert (out.accepted == 1) is ok, (delta_s, out)
