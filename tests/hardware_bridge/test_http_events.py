"""POST /ingest/v1/events: HMAC-signed JSON envelopes over real HTTP."""

# ruff: noqa: F811  (the http_env fixture is imported from http_helpers, then requested by name)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hardware_bridge.http_ingest import EVENTS_PATH
from tests.hardware_bridge.http_helpers import HttpEnv, envelope, http_env, signed_headers  # noqa: F401
from twin.observations import Observation, ObservationKind


def reading(n: int = 0, source: str = "dev-1") -> Observation:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60 * (n + 1))
    return Observation(ObservationKind.DETECTOR_INTERVAL, source, at,
                       {"interval_s": 60.0, "count": 12 + n, "occupancy": 0.1, "mean_speed_mps": 9.5},
                       event_id=f"{source}@{at.isoformat()}")


def test_signed_envelope_is_accepted_stored_and_published(http_env: HttpEnv):
    """A correctly signed batch: 200 with counts, every observation stored and on the bus."""
    obs = [reading(i) for i in range(3)]
    body = envelope(obs)
    r = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert r.status == 200
    assert r.json() == {"accepted": 3, "duplicates": 0, "quarantined": 0, "reason": None}
    assert http_env.published == obs
    assert http_env.store.known_event_ids([o.event_id for o in obs]) == {o.event_id for o in obs}
    assert http_env.ingest.stats()["dev-1"].accepted == 3


def test_duplicate_push_is_ingested_once(http_env: HttpEnv):
    """The same envelope twice, and the same events under a new seq: taken once, then duplicates."""
    obs = [reading(0), reading(1)]
    body = envelope(obs, seq=1)
    assert http_env.post(EVENTS_PATH, body, signed_headers(body)).json()["accepted"] == 2
    again = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert again.status == 200 and again.json()["duplicates"] == 2 and again.json()["accepted"] == 0
    resent = envelope(obs, seq=2)
    r = http_env.post(EVENTS_PATH, resent, signed_headers(resent))
    assert r.status == 200 and r.json() == {"accepted": 0, "duplicates": 2, "quarantined": 0, "reason": None}
    assert http_env.published == obs
    assert http_env.store.count_observations() == 2


def test_header_names_are_case_insensitive(http_env: HttpEnv):
    """Lower-case signature headers (as some HTTP clients send them) work."""
    body = envelope([reading()])
    headers = {k.lower(): v for k, v in signed_headers(body).items()}
    assert http_env.post(EVENTS_PATH, body, headers).status == 200


def test_bad_signature_unknown_device_and_missing_headers_are_401_and_quarantined(http_env: HttpEnv):
    """Each unauthenticated push: 401, nothing published, a quarantine row saying why."""
    body = envelope([reading()])
    cases = [
        (signed_headers(body, secret="someone-elses-secret-0000"), "bad signature"),
        (signed_headers(body, device_id="cam-9"), "unknown device 'cam-9'"),
        ({"X-Kota-Device": "dev-1", "Content-Type": "application/json"}, "no X-Kota-Signature"),
        ({"Content-Type": "application/json"}, "no X-Kota-Device"),
        ({**signed_headers(body), "X-Kota-Signature": "sha256=" + "0" * 64}, "bad signature"),
    ]
    for headers, why in cases:
        r = http_env.post(EVENTS_PATH, body, headers)
        assert r.status == 401, why
        assert why in http_env.quarantine_reasons()[-1]
    assert http_env.published == []
    assert len(http_env.store.quarantined(limit=None)) == len(cases)


def test_signature_over_other_bytes_is_refused(http_env: HttpEnv):
    """A signature of the original body does not cover a body changed in transit."""
    body = envelope([reading()])
    headers = signed_headers(body)
    tampered = body.replace(b'"count": 12', b'"count": 99')
    assert tampered != body
    assert http_env.post(EVENTS_PATH, tampered, headers).status == 401
    assert http_env.published == []


def test_signed_but_refused_envelope_is_422_with_the_gates_reason(http_env: HttpEnv):
    """A device reporting as another source: the gate refuses it, the answer says why."""
    body = envelope([reading(source="dev-2")])
    r = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert r.status == 422
    assert "may not report as 'dev-2'" in r.json()["reason"]
    assert r.json()["quarantined"] == 1
    assert http_env.published == []


def test_envelope_device_must_match_the_signer(http_env: HttpEnv):
    """An envelope naming dev-1 but signed by cam-1's key is refused by the gate."""
    body = envelope([reading()], device_id="dev-1")
    r = http_env.post(EVENTS_PATH, body, signed_headers(body, device_id="cam-1"))
    assert r.status == 422 and "transport authenticated 'cam-1'" in r.json()["reason"]


def test_other_paths_and_methods(http_env: HttpEnv):
    """Unknown paths are 404, GET on a push endpoint 405; the server still answers afterwards."""
    assert http_env.post("/ingest/v1/nope", b"{}").status == 404
    assert http_env.request("GET", EVENTS_PATH).status == 405
    body = envelope([reading()])
    assert http_env.post(EVENTS_PATH, body, signed_headers(body)).status == 200


def test_keep_alive_connection_serves_many_pushes(http_env: HttpEnv):
    """One HTTP/1.1 connection carries several pushes in a row (as a camera keeps it open)."""
    import http.client

    host, port = http_env.server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for seq in range(1, 6):
            body = envelope([reading(seq)], seq=seq)
            conn.request("POST", EVENTS_PATH, body=body, headers=signed_headers(body))
            resp = conn.getresponse()
            assert resp.status == 200 and resp.read()
    finally:
        conn.close()
    assert len(http_env.published) == 5


def test_example_registry_loads_with_secrets_from_the_environment():
    """hardware_bridge/examples/devices.example.toml is a valid registry; secrets come from secret_env."""
    from pathlib import Path

    import pytest

    import hardware_bridge
    from hardware_bridge.devices import DeviceRegistry, DeviceRegistryError

    path = Path(hardware_bridge.__file__).parent / "examples" / "devices.example.toml"
    names = ["KOTA_SECRET_CAM_JTN_01", "KOTA_SECRET_SPD_DIB_02", "KOTA_SECRET_VDS_MTR_03",
             "KOTA_SECRET_ORION_LD_DKI", "KOTA_SECRET_AVL_AMB_114"]
    reg = DeviceRegistry.load(path, env={n: f"secret-of-{n.lower()}" for n in names})
    assert [d.device_id for d in reg] == ["cam-jtn-01", "spd-dib-02", "vds-mtr-03", "orion-ld-dki",
                                          "avl-amb-114"]
    cam = reg.get("cam-jtn-01")
    assert cam is not None and cam.secret == "secret-of-kota_secret_cam_jtn_01"
    assert cam.kinds == {ObservationKind.PLATE_READ}
    with pytest.raises(DeviceRegistryError, match="KOTA_SECRET_CAM_JTN_01"):
        DeviceRegistry.load(path, env={})
