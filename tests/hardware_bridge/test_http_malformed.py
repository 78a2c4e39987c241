"""Bad input over real HTTP: a corpus of malformed pushes, and random input from hypothesis.

Every malformed push must be answered 4xx (never 500), land in the quarantine with a
reason that says what is wrong, publish nothing, and leave the server answering.
"""

# ruff: noqa: F811  (the http_env fixture is imported from http_helpers, then requested by name)

from __future__ import annotations

import itertools
import json
import math
import socket
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware_bridge.http_ingest import EVENTS_PATH, ISAPI_PATH, NOTIFY_PATH
from hardware_bridge.isapi import build_multipart
from hardware_bridge.ngsi_ld import to_entity
from hardware_bridge.plausibility import implausible
from tests.hardware_bridge.http_helpers import JPEG, HttpEnv, basic, http_env, signed_headers  # noqa: F401
from tests.hardware_bridge.test_http_isapi import anpr_xml
from twin.observations import Observation, ObservationKind

_seq = itertools.count(1_000)


def good_obs(n: int = 0) -> dict:
    at = datetime.now(UTC) - timedelta(seconds=60 + n)
    return Observation(ObservationKind.DETECTOR_INTERVAL, "dev-1", at,
                       {"interval_s": 60.0, "count": 10, "occupancy": 0.1, "mean_speed_mps": 8.0},
                       event_id=f"dev-1@{at.isoformat()}").to_dict()


def env_bytes(observations: list, *, seq: int | None = None, sent_at: str | None = None,
              device: str = "dev-1") -> bytes:
    return json.dumps({"device_id": device, "seq": next(_seq) if seq is None else seq,
                       "sent_at": sent_at or datetime.now(UTC).isoformat(),
                       "observations": observations}, allow_nan=True).encode()


def with_payload(**over) -> dict:
    o = good_obs()
    o["payload"].update(over)
    return o


def assert_still_serving(env: HttpEnv) -> None:
    """A valid signed push after the bad ones is taken."""
    body = env_bytes([good_obs(int(datetime.now(UTC).timestamp()) % 1000)])
    r = env.post(EVENTS_PATH, body, signed_headers(body))
    assert r.status == 200 and r.json()["accepted"] == 1, r.body


def assert_valid(obs: Observation) -> None:
    """What may reach the bus: a well-formed, plausible observation of a registered device."""
    assert Observation.from_dict(obs.to_dict()) == obs
    assert implausible(obs) is None
    assert obs.source_id in {"dev-1", "cam-1", "broker-1"} or obs.kind is not ObservationKind.PLATE_READ


def event_corpus() -> list[tuple[str, bytes, str]]:
    """The corpus, built when a test runs: its timestamps must be fresh then, not at collection."""
    return [
        ("truncated JSON", env_bytes([good_obs()])[:-7], "not valid JSON"),
        ("non-UTF-8", b'{"device_id": "dev-1", "x": "\xff\xfe"}', "not UTF-8"),
        ("NaN", env_bytes([with_payload(occupancy=math.nan)]), "not a JSON number"),
        ("Infinity", env_bytes([with_payload(mean_speed_mps=math.inf)]), "not a JSON number"),
        ("wrong type", env_bytes([with_payload(count="twelve")]), "'count' must be int"),
        ("huge value", env_bytes([with_payload(count=10**12)]), "'count'"),
        ("huge integer", env_bytes([with_payload(count=10**400)]), "'count'"),
        ("huge longitude", env_bytes([{**good_obs(), "location": {"lon": 10**400, "lat": 0}}]),
         "location is malformed"),
        ("km/h for m/s", env_bytes([with_payload(mean_speed_mps=120.0)]), "looks like km/h"),
        ("percent occupancy", env_bytes([with_payload(occupancy=45.0)]), "looks like a percentage"),
        ("naive time", env_bytes([{**good_obs(), "observed_at": "2026-11-28T07:00:00"}]), "timezone-aware"),
        ("unknown kind", env_bytes([{**good_obs(), "kind": "ufo_sighting"}]), "unknown observation kind"),
        ("stale", env_bytes([good_obs()], sent_at=(datetime.now(UTC) - timedelta(minutes=5)).isoformat()),
         "stale message"),
        ("future", env_bytes([good_obs()], sent_at=(datetime.now(UTC) + timedelta(minutes=5)).isoformat()),
         "from the future"),
        ("no seq", json.dumps({"device_id": "dev-1", "sent_at": datetime.now(UTC).isoformat(),
                               "observation": good_obs()}).encode(), "'seq' and 'sent_at'"),
        ("not an object", b"[1, 2, 3]", "must be a JSON object"),
        ("other source", env_bytes([{**good_obs(), "source_id": "cam-1"}]), "may not report as 'cam-1'"),
        ("deep nesting", b'{"device_id": "dev-1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
         "nested too deeply"),
    ]


EVENT_CASES = [name for name, _, _ in event_corpus()]


@pytest.mark.parametrize("case", range(len(EVENT_CASES)), ids=EVENT_CASES)
def test_event_corpus_is_quarantined(http_env: HttpEnv, case: int):
    """Signed but malformed envelopes: 422/4xx, quarantined with the reason, nothing published."""
    _, body, why = event_corpus()[case]
    r = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert 400 <= r.status < 500, r.body
    reasons = http_env.quarantine_reasons()
    assert reasons and why in reasons[-1], reasons[-1:]
    assert http_env.published == []
    assert_still_serving(http_env)


def test_oversize_envelope_is_413_and_quarantined_with_a_sample(http_env: HttpEnv):
    """A body over the limit is not read in full: 413, connection closed, a 64 KiB sample kept."""
    body = env_bytes([good_obs()]) + b" " * (http_env.server.max_event_bytes + 1)
    r = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert r.status == 413 and r.headers["connection"] == "close"
    (row,) = http_env.store.quarantined()
    assert "over the limit" in row.reason and len(row.raw) == 64 * 1024
    assert_still_serving(http_env)


def raw_request(env: HttpEnv, data: bytes, shut: bool = False) -> bytes:
    """Send raw bytes on a socket and read the answer (the peer may close)."""
    host, port = env.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and not shut:
                break
    return b"".join(chunks)


@pytest.mark.parametrize("head, body, shut, status, why", [
    ("Content-Type: application/json\r\n", b"{}", False, b"411", "no Content-Length"),
    ("Transfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n", False, b"411", "chunked"),
    ("Content-Length: -5\r\n", b"", False, b"400", "not a size"),
    ("Content-Length: 5000\r\n", b'{"device_id": "dev-1"', True, b"400", "truncated body"),
])
def test_protocol_errors_are_quarantined(http_env: HttpEnv, head, body, shut, status, why):
    """Missing or lying Content-Length, chunked bodies: a 4xx and a quarantine row."""
    request = f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body
    answer = raw_request(http_env, request, shut)
    assert answer.split(b" ", 2)[1] == status, answer[:200]
    assert why in http_env.quarantine_reasons()[-1]
    assert_still_serving(http_env)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<EventNotificationAlert><eventType>ANPR</eventType><ANPR><licensePlate>&lol3;</licensePlate></ANPR>
</EventNotificationAlert>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<EventNotificationAlert><ANPR><licensePlate>&xxe;</licensePlate></ANPR></EventNotificationAlert>"""


def isapi(xml: bytes, images: dict | None = None) -> tuple[bytes, str]:
    return build_multipart(xml, {"licensePlatePicture.jpg": JPEG} if images is None else images)


def _truncated() -> tuple[bytes, str]:
    body, ctype = isapi(anpr_xml())
    return body[: len(body) - 40], ctype


ISAPI_CORPUS = [
    ("truncated multipart", *_truncated(), 400, "truncated or malformed"),
    ("XML syntax error", *isapi(anpr_xml()[:-30]), 400, "not well-formed"),
    ("missing plate", *isapi(anpr_xml().replace(b"<licensePlate>B 1234 XYZ</licensePlate>", b"")), 400,
     "no <licensePlate>"),
    ("non-JPEG picture", *isapi(anpr_xml(), {"licensePlatePicture.jpg": b"GIF89a..."}), 400, "not a JPEG"),
    ("XML bomb", *isapi(BOMB), 400, "DOCTYPE"),
    ("external entity", *isapi(XXE), 400, "DOCTYPE"),
    ("not ANPR", *isapi(anpr_xml(event_type="VMD")), 400, "is not ANPR"),
    ("naive dateTime", *isapi(anpr_xml(when="2026-11-28T07:05:01")), 400, "no UTC offset"),
    ("bad dateTime", *isapi(anpr_xml(when="28/11/2026 07:05")), 400, "not ISO 8601"),
    ("text confidence", *isapi(anpr_xml(confidence="high")), 400, "<confidenceLevel> must be a number"),
    ("confidence over 100", *isapi(anpr_xml(confidence="150")), 422, "outside [0, 1]"),
    ("speed 900 km/h", *isapi(anpr_xml(speed="900")), 422, "'speed_mps'"),
    ("lane -3", *isapi(anpr_xml(line="-3")), 400, "lane number"),
    ("no XML part", build_multipart(b"", {})[0].replace(b"anpr.xml", b"x.bin").replace(
        b"application/xml", b"application/octet-stream"), "multipart/form-data; boundary=kota-isapi-boundary",
     400, "unexpected part"),
    ("not multipart", b"plate=B1234", "application/x-www-form-urlencoded", 400, "neither multipart nor XML"),
    ("wrong root", *isapi(b"<html><body>hi</body></html>"), 400, "not <EventNotificationAlert>"),
    ("non-UTF-8 XML", *isapi(b"<EventNotificationAlert>\xff\xfe</EventNotificationAlert>"), 400,
     "not well-formed"),
]


@pytest.mark.parametrize("body, ctype, status, why", [c[1:] for c in ISAPI_CORPUS],
                         ids=[c[0] for c in ISAPI_CORPUS])
def test_isapi_corpus_is_quarantined(http_env: HttpEnv, body, ctype, status, why):
    """Authenticated but malformed camera pushes: 400/422 with the reason; nothing published."""
    r = http_env.post(ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic("cam-1")})
    assert r.status == status, r.body
    assert why in http_env.quarantine_reasons()[-1]
    assert http_env.published == []
    assert_still_serving(http_env)


def test_oversize_isapi_push_is_413(http_env: HttpEnv):
    body, ctype = isapi(anpr_xml(), {"detectionPicture.jpg": JPEG[:-2] + b"\0" * (5 << 20) + b"\xff\xd9"})
    r = http_env.post(ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic("cam-1")})
    assert r.status == 413 and "over the limit" in http_env.quarantine_reasons()[-1]
    assert_still_serving(http_env)


# -- property-based: random input never gives a 500 and never publishes anything invalid -------

PROPERTY = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@PROPERTY
@given(body=st.binary(max_size=2048), signed=st.booleans())
def test_random_bytes_to_events(http_env: HttpEnv, body, signed):
    headers = signed_headers(body) if signed else {"Content-Type": "application/json"}
    r = http_env.post(EVENTS_PATH, body, headers)
    assert r.status in (200, 401, 422), r.body
    assert http_env.published == []


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([10**400, -(10**400)]),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
json_value = st.recursive(
    json_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12)
field_value = st.one_of(json_leaf, st.floats(-1e3, 1e3), st.integers(-5, 200_000))
payload = st.dictionaries(
    st.sampled_from(["interval_s", "count", "occupancy", "mean_speed_mps", "speed_mps", "plate", "confidence",
                     "lane", "heading_deg", "incident_type", "unit_id", "status", "program", "state",
                     "call_type", "x"]), field_value, max_size=8)
location = st.fixed_dictionaries({"lon": field_value, "lat": field_value},
                                 optional={"lane": field_value, "pos_m": field_value, "link_id": json_leaf})
observation = st.fixed_dictionaries(
    {"kind": st.sampled_from([k.value for k in ObservationKind] + ["bogus", 3]),
     "source_id": st.sampled_from(["dev-1", "dev-1", "cam-1", "", None]),
     "observed_at": st.one_of(st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                              st.text(max_size=20), st.integers()),
     "payload": st.one_of(payload, json_value)},
    optional={"event_id": st.text(max_size=40), "location": st.one_of(location, json_value),
              "schema_version": st.integers(0, 2)})


@PROPERTY
@given(items=st.lists(st.one_of(observation, json_value), max_size=5))
def test_random_envelopes_to_events(http_env: HttpEnv, items):
    """Signed envelopes of random observations: 200 or 422; whatever is published is valid."""
    body = env_bytes(items)
    r = http_env.post(EVENTS_PATH, body, signed_headers(body))
    assert r.status in (200, 422), r.body
    for obs in http_env.published:
        assert_valid(obs)
        assert obs.source_id == "dev-1"


@PROPERTY
@given(body=st.binary(max_size=4096), ctype=st.sampled_from(
    ["multipart/form-data; boundary=kota-isapi-boundary", "application/xml", "multipart/form-data",
     "text/plain", "multipart/form-data; boundary=\"\""]))
def test_random_bytes_to_isapi(http_env: HttpEnv, body, ctype):
    r = http_env.post(ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic("cam-1")})
    assert r.status in (200, 400), r.body
    assert http_env.published == []


@PROPERTY
@given(plate=st.text(max_size=20), conf=st.text(max_size=8), line=st.text(max_size=4),
       speed=st.text(max_size=8), when=st.text(max_size=30), vtype=st.text(max_size=12),
       uuid=st.text(alphabet=st.characters(codec="ascii", exclude_characters="<&"), max_size=12))
def test_random_isapi_fields(http_env: HttpEnv, plate, conf, line, speed, when, vtype, uuid):
    """Random text in every field of a real-looking event: 200/400/422; published reads are valid."""
    from xml.sax.saxutils import escape

    fields = [escape(x) for x in (plate, conf, line, speed, when, vtype)]
    xml = anpr_xml(fields[0], confidence=fields[1], line=fields[2], speed=fields[3], when=fields[4],
                   vtype=fields[5], uuid=escape(uuid) or None)
    body, ctype = isapi(xml)
    r = http_env.post(ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic("cam-1")})
    assert r.status in (200, 400, 422), r.body
    for obs in http_env.published:
        assert_valid(obs)


@PROPERTY
@given(entities=st.lists(st.one_of(json_value, st.builds(
    lambda e, k, v: {**e, k: v},
    st.sampled_from([to_entity(Observation(ObservationKind.DETECTOR_INTERVAL, "det-1",
                                           datetime(2026, 11, 28, tzinfo=UTC),
                                           {"interval_s": 60.0, "count": 3, "occupancy": 0.1,
                                            "mean_speed_mps": 5.0}, event_id="det-1@x"))]),
    st.sampled_from(["intensity", "occupancy", "averageVehicleSpeed", "dateObserved", "location", "laneId",
                     "refDevice", "type", "id"]),
    json_value)), max_size=4))
def test_random_notifications(http_env: HttpEnv, entities):
    """Random entities in a notification: 200; whatever is published is valid."""
    body = json.dumps({"type": "Notification", "id": "n", "subscriptionId": "s", "data": entities}).encode()
    r = http_env.post(NOTIFY_PATH, body, {"Authorization": basic("broker-1")})
    assert r.status in (200, 400), r.body  # 400: NaN or Infinity made the JSON invalid
    for obs in http_env.published:
        assert_valid(obs)
