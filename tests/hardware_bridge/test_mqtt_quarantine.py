"""Malformed payloads over the real broker land in quarantine; the bridge keeps running."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, rig, settle
from twin.store import open_store


def _env(seq: int, obs: dict | list, *, device: str = "loop-a", sent_at: datetime | None = None,
         key: str = "observation") -> bytes:
    return json.dumps({"device_id": device, "seq": seq,
                       "sent_at": (sent_at or datetime.now(UTC)).isoformat(), key: obs}).encode()


def _obs(**payload: object) -> dict:
    d = detector_obs("loop-a", 1).to_dict()
    d["payload"] = {**d["payload"], **payload}
    return d


def corpus() -> dict[str, bytes]:
    """Named malformed messages, each refused by the gate for its own reason."""
    good = _env(1, detector_obs("loop-a", 1).to_dict())
    return {
        "truncated json": good[: len(good) // 2],
        "not utf-8": b'{"device_id": "loop-a", "seq": 2, "x": "\xff\xfe"}',
        "not an object": b"[1, 2, 3]",
        "empty": b"",
        "nan": _env(3, _obs()).replace(b'"occupancy": 0.12', b'"occupancy": NaN'),
        "wrong type": _env(4, _obs(count="twelve")),
        "huge value": _env(5, _obs(count=10**12)),
        "wrong units (km/h)": _env(6, _obs(mean_speed_mps=180.0)),
        "occupancy in percent": _env(7, _obs(occupancy=45.0)),
        "another device in the envelope": _env(8, _obs(), device="loop-b"),
        "reports as another source": _env(9, {**_obs(), "source_id": "loop-b"}),
        "kind not registered": _env(10, {**_obs(), "kind": "plate_read",
                                         "payload": {"plate": "B1234XYZ", "confidence": 0.9}}),
        # over the bridge's max_age_s (a day): a broker may deliver late after an outage, not this late
        "stale timestamp": _env(11, _obs(), sent_at=datetime.now(UTC) - timedelta(days=2)),
        "from the future": _env(12, _obs(), sent_at=datetime.now(UTC) + timedelta(minutes=10)),
        "no seq": json.dumps({"device_id": "loop-a", "sent_at": datetime.now(UTC).isoformat(),
                              "observation": _obs()}).encode(),
        "oversize": _env(13, [_obs() for _ in range(1)]).replace(b'"interval_s"', b'"pad": "'
                                                                   + b"x" * 300_000 + b'", "interval_s"'),
        "naive observed_at": _env(14, {**_obs(), "observed_at": "2026-03-02T06:00:00"}),
    }


def test_malformed_payloads_are_quarantined_and_the_bridge_keeps_running(mosquitto, tmp_path):
    registry = registry_of("loop-a", "loop-b")
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    bad = corpus()
    try:
        with rig(mosquitto, registry, store=store) as r:
            a = r.device("loop-a")
            for payload in bad.values():
                a.publish_raw(payload)
            a.publish_raw(b'{"online": "yes"}', channel="status")  # a malformed status
            a.next_seq = 100
            a.publish([detector_obs("loop-a", 2)])  # a good one after all that
            assert a.flush(10)
            settle(r.bridge, taken=len(bad) + 2)
            assert [o.event_id for o in r.feed.drain()] == ["loop-a:2"]
            c = r.bridge.counts()
            assert c.accepted == 1
            assert c.quarantined == len(bad) + 1
            rows = store.quarantined(limit=None)
            assert len(rows) == len(bad) + 1
            assert all(row.reason.startswith("mqtt: ") for row in rows)
            assert len({row.reason for row in rows}) == len(rows)  # each refused for its own reason
            assert {row.source for row in rows} == {"loop-a"}
            assert store.count_observations() == 1
            assert r.ingest.stats()["loop-a"].quarantined == len(bad) + 1
            assert r.bridge.connected
            a.stop()
    finally:
        store.close()
