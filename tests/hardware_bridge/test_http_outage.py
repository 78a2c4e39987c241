"""Store outages over real HTTP: 503 with Retry-After, nothing taken, the retry taken once."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from hardware_bridge.http_ingest import EVENTS_PATH, ISAPI_PATH
from hardware_bridge.isapi import build_multipart
from tests.hardware_bridge.http_helpers import JPEG, basic, envelope, signed_headers, start_env
from tests.hardware_bridge.test_http_isapi import anpr_xml
from twin.observations import Observation, ObservationKind
from twin.store import Store, make_engine, open_store


def reading(n: int) -> Observation:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60 * (n + 1))
    payload = {"interval_s": 60.0, "count": n, "occupancy": 0.05, "mean_speed_mps": 9.0 if n else None}
    return Observation(ObservationKind.DETECTOR_INTERVAL, "dev-1", at, payload,
                       event_id=f"dev-1@{at.isoformat()}")


@pytest.mark.postgres
def test_database_outage_is_503_and_the_retry_is_taken_once(tmp_path, postgres_server, postgres_url):
    """PostgreSQL stopped mid-stream: pushes get 503 + Retry-After and nothing is published;
    after the restart the same bytes are taken once, and a second retry is a duplicate."""
    open_store(postgres_url).close()  # migrate
    store = Store(make_engine(postgres_url), reconnect_timeout_s=1.0)
    env = start_env(tmp_path, store, ingest_kw={"max_skew_s": 300.0})
    try:
        first = envelope([reading(0)], seq=1)
        assert env.post(EVENTS_PATH, first, signed_headers(first)).json()["accepted"] == 1
        second = envelope([reading(1), reading(2)], seq=2)
        camera, ctype = build_multipart(anpr_xml(uuid="outage-1"), {"licensePlatePicture.jpg": JPEG})
        camera_headers = {"Content-Type": ctype, "Authorization": basic("cam-1")}

        postgres_server.stop()
        try:
            r = env.post(EVENTS_PATH, second, signed_headers(second))
            assert r.status == 503 and r.headers["retry-after"] == "5"
            assert env.post(ISAPI_PATH, camera, camera_headers).status == 503
            assert len(env.published) == 1
        finally:
            postgres_server.start()

        r = env.post(EVENTS_PATH, second, signed_headers(second))
        assert r.status == 200 and r.json()["accepted"] == 2
        assert env.post(ISAPI_PATH, camera, camera_headers).json()["accepted"] == 1
        again = env.post(EVENTS_PATH, second, signed_headers(second))
        assert again.status == 200 and again.json() == {"accepted": 0, "duplicates": 2, "quarantined": 0,
                                                        "reason": None}
        assert env.post(ISAPI_PATH, camera, camera_headers).json()["duplicates"] == 1
        assert len(env.published) == 4
        assert len({o.event_id for o in env.published}) == 4
        assert store.count_observations() == 4
        assert store.quarantined() == []
    finally:
        env.server.stop()
        store.close()


def test_evidence_outage_is_503_and_the_retry_is_taken_once(tmp_path):
    """A picture that cannot be written: 503, nothing published; once the disk is back, taken once."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    env = start_env(tmp_path, store)
    try:
        shard = env.evidence.root / hashlib.sha256(JPEG).hexdigest()[:2]
        shard.write_bytes(b"a file where the folder should be")  # the write fails like a full disk
        body, ctype = build_multipart(anpr_xml(uuid="disk-1"), {"licensePlatePicture.jpg": JPEG})
        headers = {"Content-Type": ctype, "Authorization": basic("cam-1")}
        r = env.post(ISAPI_PATH, body, headers)
        assert r.status == 503 and "retry-after" in r.headers
        assert env.published == [] and store.count_observations() == 0
        shard.unlink()
        assert env.post(ISAPI_PATH, body, headers).json()["accepted"] == 1
        assert env.post(ISAPI_PATH, body, headers).json()["duplicates"] == 1
        assert len(env.published) == 1 and env.evidence.verify(hashlib.sha256(JPEG).hexdigest())
    finally:
        env.server.stop()
        store.close()
        shutil.rmtree(tmp_path / "evidence", ignore_errors=True)
