"""POST /ingest/v1/isapi/anpr: Hikvision-style ANPR pushes (multipart XML + JPEG) over real HTTP."""

# ruff: noqa: F811  (the http_env fixture is imported from http_helpers, then requested by name)

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from hardware_bridge.http_ingest import ISAPI_PATH
from hardware_bridge.isapi import IsapiSite, build_multipart
from tests.hardware_bridge.http_helpers import JPEG, HttpEnv, basic, http_env, start_env  # noqa: F401
from twin.modules.enforcement.rules.base import PlateRead
from twin.observations import ObservationKind
from twin.store import open_store

WITA = timezone(timedelta(hours=8))
OVERVIEW = JPEG[:-2] + b"overview" + b"\xff\xd9"


def anpr_xml(plate: str = "B 1234 XYZ", *, confidence: str = "92", line: str = "2",
             when: str = "2026-11-28T07:05:01+07:00", state: str = "active", uuid: str | None = "ev-0001",
             speed: str = "54", vtype: str = "SUVMPV", direction: str = "forward", extra_anpr: str = "",
             event_type: str = "ANPR", post_count: int = 1) -> bytes:
    """An EventNotificationAlert shaped like a DS-TCG camera's (ISAPI namespace)."""
    uuid_el = f"<UUID>{uuid}</UUID>" if uuid else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>172.20.16.40</ipAddress><protocol>HTTP</protocol><macAddress>44:a6:42:f3:2a:d7</macAddress>
<channelID>1</channelID><dateTime>{when}</dateTime><activePostCount>{post_count}</activePostCount>
<eventType>{event_type}</eventType><eventState>{state}</eventState><eventDescription>ANPR</eventDescription>
<ANPR><country>64</country><licensePlate>{plate}</licensePlate><line>{line}</line>
<direction>{direction}</direction><confidenceLevel>{confidence}</confidenceLevel><plateType>unknown</plateType>
<plateColor>unknown</plateColor><speedLimit>0</speedLimit><vehicleType>{vtype}</vehicleType>
<vehicleInfo><index>0</index><colorDepth>0</colorDepth><color>white</color><speed>{speed}</speed></vehicleInfo>
<pictureInfoList>
<pictureInfo><fileName>detectionPicture.jpg</fileName><type>detectionPicture</type></pictureInfo>
<pictureInfo><fileName>licensePlatePicture.jpg</fileName><type>licensePlatePicture</type></pictureInfo>
</pictureInfoList>{extra_anpr}</ANPR>{uuid_el}
<DeviceGPSInfo><longitudeType>E</longitudeType><latitudeType>S</latitudeType>
<Longitude><degree>106</degree><minute>52</minute><sec>12.0</sec></Longitude>
<Latitude><degree>6</degree><minute>12</minute><sec>54.0</sec></Latitude></DeviceGPSInfo>
</EventNotificationAlert>""".encode()


def push(env: HttpEnv, xml: bytes, images: dict[str, bytes] | None = None, device: str = "cam-1",
         secret: str | None = None):
    pictures = images if images is not None else {"licensePlatePicture.jpg": JPEG,
                                                  "detectionPicture.jpg": OVERVIEW}
    body, ctype = build_multipart(xml, pictures)
    return env.post(ISAPI_PATH, body, {"Content-Type": ctype, "Authorization": basic(device, secret)})


def test_anpr_push_becomes_a_plate_read_etle_can_use(http_env: HttpEnv):
    """Plate, 0-1 confidence, class, lane, speed, time with offset, evidence hashes, camera GPS."""
    r = push(http_env, anpr_xml())
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 1
    (obs,) = http_env.published
    assert obs.kind is ObservationKind.PLATE_READ and obs.source_id == "cam-1"
    assert obs.event_id == "isapi:cam-1:1:ev-0001" == r.json()["event_id"]
    assert obs.observed_at == datetime(2026, 11, 28, 7, 5, 1, tzinfo=timezone(timedelta(hours=7)))
    assert obs.observed_at.utcoffset() == timedelta(hours=7)
    p = obs.payload
    assert (p["plate"], p["confidence"], p["vehicle_class"], p["lane"]) == ("B 1234 XYZ", 0.92, "car", 1)
    assert p["speed_mps"] == pytest.approx(15.0)  # 54 km/h
    assert p["image_sha256"] == hashlib.sha256(OVERVIEW).hexdigest()  # the overview picture first
    assert p["image_sha256s"] == [hashlib.sha256(OVERVIEW).hexdigest(), hashlib.sha256(JPEG).hexdigest()]
    assert p["camera_direction"] == "forward" and p["vehicle_color"] == "white"
    assert obs.location is not None
    assert (round(obs.location.lon, 4), round(obs.location.lat, 4)) == (106.87, -6.215)
    read = PlateRead.of(obs)  # what ETLE's rules see
    assert read.plate == "B 1234 XYZ" and read.plate_valid and read.speed_kmh == pytest.approx(54.0)
    assert read.lane == 1 and len(read.image_sha256) == 2
    for digest in [*p["image_sha256s"], p["event_xml_sha256"]]:
        assert http_env.evidence.verify(digest)
    assert http_env.evidence.get(p["event_xml_sha256"]) == anpr_xml()
    assert http_env.store.count_observations() == 1


def test_retried_push_is_a_duplicate(http_env: HttpEnv):
    """A camera re-sending the same event (activePostCount up) is taken once."""
    assert push(http_env, anpr_xml(post_count=1)).json()["accepted"] == 1
    r = push(http_env, anpr_xml(post_count=2))
    assert r.status == 200 and r.json()["duplicates"] == 1 and r.json()["accepted"] == 0
    assert len(http_env.published) == 1 and http_env.store.count_observations() == 1


def test_event_without_uuid_is_keyed_by_time_plate_and_lane(http_env: HttpEnv):
    """No UUID: the same time/plate/lane is a duplicate, another plate at that time is not."""
    assert push(http_env, anpr_xml(uuid=None)).json()["accepted"] == 1
    assert push(http_env, anpr_xml(uuid=None)).json()["duplicates"] == 1
    assert push(http_env, anpr_xml("B 777 AB", uuid=None)).json()["accepted"] == 1
    assert len(http_env.published) == 2


def test_unread_plate_and_wita_offset(http_env: HttpEnv):
    """An 'unknown' plate is a read with plate None; a +08:00 time keeps its offset."""
    r = push(http_env, anpr_xml("unknown", confidence="0", when="2026-11-28T08:05:01+08:00", uuid="ev-2"))
    assert r.status == 200
    (obs,) = http_env.published
    assert obs.payload["plate"] is None and obs.payload["confidence"] == 0.0
    assert obs.observed_at.utcoffset() == timedelta(hours=8)


def test_heartbeat_is_not_an_observation(http_env: HttpEnv):
    """eventState inactive (XML only, no pictures): 200, nothing published, nothing quarantined."""
    xml = anpr_xml(state="inactive")
    r = http_env.post(ISAPI_PATH, xml, {"Content-Type": "application/xml", "Authorization": basic("cam-1")})
    assert r.status == 200 and r.json() == {"heartbeat": True}
    r = push(http_env, xml, images={})
    assert r.status == 200 and r.json() == {"heartbeat": True}
    assert http_env.published == [] and http_env.store.quarantined() == []


def test_site_gives_position_link_and_heading(tmp_path):
    """With an IsapiSite, a reverse read gets the opposite compass heading and the site's link."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    env = start_env(tmp_path, store, sites={"cam-1": IsapiSite(106.87, -6.215, "ab", heading_deg=90.0)})
    try:
        push(env, anpr_xml(uuid="a", direction="forward"))
        push(env, anpr_xml(uuid="b", direction="reverse"))
        headings = [o.payload["heading_deg"] for o in env.published]
        assert headings == [90.0, 270.0]
        assert env.published[0].location is not None and env.published[0].location.link_id == "ab"
    finally:
        env.server.stop()
        store.close()


def test_camera_not_registered_for_plate_reads_is_refused(http_env: HttpEnv):
    """avl-1 may only report unit positions: its ANPR push is refused by the gate (422)."""
    r = push(http_env, anpr_xml(), device="avl-1")
    assert r.status == 422 and "not registered for 'plate_read'" in r.json()["reason"]
    assert http_env.published == []


@pytest.mark.parametrize("device, secret, why", [
    ("cam-1", "wrong-secret-000000000000", "wrong secret for device 'cam-1'"),
    ("cam-9", "whatever-secret-000000000", "unknown device 'cam-9'"),
])
def test_bad_credentials_are_401_and_quarantined(http_env: HttpEnv, device, secret, why):
    """Wrong secret or unknown camera: 401 with a Basic challenge, quarantined with the reason."""
    r = push(http_env, anpr_xml(), device=device, secret=secret)
    assert r.status == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert why in http_env.quarantine_reasons()[-1]
    assert http_env.published == []


def test_no_credentials_is_401(http_env: HttpEnv):
    body, ctype = build_multipart(anpr_xml(), {"licensePlatePicture.jpg": JPEG})
    r = http_env.post(ISAPI_PATH, body, {"Content-Type": ctype})
    assert r.status == 401 and "no HTTP Basic credentials" in http_env.quarantine_reasons()[-1]
