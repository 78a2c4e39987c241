"""NGSI-LD mapping: Observation -> Smart Data Model entity -> Observation, units, and refusals."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_bridge.ngsi_ld import CONTEXT, NgsiLdError, entity_id, from_entity, local_id, ni_uri, to_entity
from twin.observations import Location, Observation, ObservationKind

WIB = timezone(timedelta(hours=7))
T = datetime(2026, 11, 28, 7, 5, tzinfo=WIB)
H1 = hashlib.sha256(b"plate picture").hexdigest()
H2 = hashlib.sha256(b"overview picture").hexdigest()


def detector(**payload_over) -> Observation:
    start = T - timedelta(seconds=60)
    payload = {"interval_s": 60.0, "count": 17, "occupancy": 0.23, "mean_speed_mps": 11.25}
    payload.update(payload_over)
    return Observation(ObservationKind.DETECTOR_INTERVAL, "det-mtr-1", T, payload,
                       Location(106.8705, -6.2151, link_id="ab", lane=1),
                       event_id=f"det-mtr-1@{start.isoformat()}")


def plate(**payload_over) -> Observation:
    payload = {"plate": "B 1234 XYZ", "confidence": 0.93, "vehicle_class": "truck", "lane": 0,
               "speed_mps": 16.667, "heading_deg": 92.5, "vehicle_color": "white",
               "image_sha256": H1, "image_sha256s": [H1, H2]}
    payload.update(payload_over)
    return Observation(ObservationKind.PLATE_READ, "cam-jtn-01", T, payload,
                       Location(106.87, -6.215, link_id="ab"), event_id="isapi:cam-jtn-01:1:uuid-42")


def incident(**payload_over) -> Observation:
    payload = {"incident_type": "crash", "lanes_blocked": 2, "duration_s": 900.0, "severity": "high",
               "description": "two cars, one lane open"}
    payload.update(payload_over)
    return Observation(ObservationKind.INCIDENT_REPORT, "scenario/inc-1", T, payload,
                       Location(106.871, -6.2149, link_id="ba"), event_id="run-7/inc-1")


def unit(**payload_over) -> Observation:
    payload = {"unit_id": "amb-114", "status": "en_route", "unit_type": "ambulance",
               "speed_mps": 12.5, "heading_deg": 270.0, "plate": "B 9114 PSC"}
    payload.update(payload_over)
    return Observation(ObservationKind.UNIT_POSITION, "avl-amb-114", T, payload,
                       Location(106.872, -6.216), event_id=f"amb-114@{T.isoformat()}")


@pytest.mark.parametrize("obs", [
    detector(), detector(count=0, mean_speed_mps=None, occupancy=0.0),
    plate(), plate(plate=None, confidence=0.0, image_sha256s=None, heading_deg=None),
    plate(vehicle_class="motorcycle", image_sha256s=None, lane=3),
    incident(), incident(incident_type="flood"), incident(incident_type="tawuran"),
    unit(), unit(status="available"), unit(status="out_of_service", unit_type="fire"),
    unit(unit_type="police", status="on_scene", vehicle_class="motorcycle"),
], ids=lambda o: f"{o.kind.value}")
def test_round_trip_is_equal(obs):
    """Observation -> entity -> Observation gives back an equal observation (same event id too)."""
    payload = {k: v for k, v in obs.payload.items() if v is not None or k == "plate"}
    if obs.kind is ObservationKind.DETECTOR_INTERVAL:
        payload = dict(obs.payload)
    obs = Observation(obs.kind, obs.source_id, obs.observed_at, payload, obs.location, obs.event_id)
    entity = to_entity(obs)
    back = from_entity(json.loads(json.dumps(entity)))
    assert back == obs
    assert back.event_id == obs.event_id
    assert back.observed_at.utcoffset() == obs.observed_at.utcoffset()


def test_traffic_flow_uses_the_model_names_and_units():
    """TrafficFlowObserved: intensity, occupancy 0-1, averageVehicleSpeed km/h, interval, laneId >= 1."""
    e = to_entity(detector())
    assert e["id"] == "urn:ngsi-ld:TrafficFlowObserved:det-mtr-1"
    assert e["type"] == "TrafficFlowObserved"
    assert e["intensity"] == {"type": "Property", "value": 17, "observedAt": "2026-11-28T00:05:00Z"}
    assert e["occupancy"]["value"] == 0.23
    assert e["averageVehicleSpeed"]["value"] == pytest.approx(40.5)  # 11.25 m/s
    assert e["dateObserved"]["value"]["@value"] == "2026-11-28T07:04:00+07:00/2026-11-28T07:05:00+07:00"
    assert e["dateObservedFrom"]["value"] == {"@type": "DateTime", "@value": "2026-11-28T07:04:00+07:00"}
    assert e["laneId"]["value"] == 2  # lane index 1 -> OSM lane number 2
    assert e["refRoadSegment"] == {"type": "Relationship", "object": "urn:ngsi-ld:RoadSegment:ab"}
    assert e["location"] == {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [106.8705, -6.2151]}}
    assert e["@context"] == CONTEXT


def test_anpr_flow_uses_the_model_names_and_units():
    """AnprFlowObserved: licensePlate {identifier, confidence}, speed km/h, laneId text, refImages."""
    e = to_entity(plate())
    assert e["id"] == "urn:ngsi-ld:AnprFlowObserved:isapi:cam-jtn-01:1:uuid-42"
    vehicle = e["observedVehicle"]["value"]
    assert vehicle["licensePlate"] == {"identifier": "B 1234 XYZ", "confidence": 0.93}
    assert vehicle["speed"] == pytest.approx(60.0, abs=0.01)  # 16.667 m/s
    assert e["laneId"]["value"] == "1"
    assert e["vehicleType"]["value"] == "lorry"
    assert e["vehiclePlateNotRead"]["value"] is False
    assert e["observedBy"]["object"] == "urn:ngsi-ld:Device:cam-jtn-01"
    urls = [r["url"] for r in e["refImages"]["value"]]
    assert urls == [ni_uri(H1), ni_uri(H2)] and urls[0].startswith("ni:///sha-256;")


def test_alert_and_vehicle_use_the_model_names_and_units():
    """Alert: category/subCategory/severity/alertSource; Vehicle: special usage, status, km/h."""
    a = to_entity(incident())
    assert (a["category"]["value"], a["subCategory"]["value"]) == ("traffic", "carAccident")
    assert a["severity"]["value"] == "high"
    assert a["alertSource"]["object"] == "urn:ngsi-ld:Device:scenario/inc-1"
    assert a["data"]["value"] == {"incident_type": "crash", "lanes_blocked": 2, "duration_s": 900.0}
    v = to_entity(unit())
    assert v["id"] == "urn:ngsi-ld:Vehicle:amb-114"
    assert v["vehicleSpecialUsage"]["value"] == "ambulance"
    assert v["category"]["value"] == ["specialUsage"]
    assert v["serviceStatus"]["value"] == "onRoute,en_route"
    assert v["speed"]["value"] == pytest.approx(45.0)
    assert v["heading"]["value"] == 270.0
    assert v["location"]["observedAt"] == "2026-11-28T00:05:00Z"
    assert to_entity(unit(unit_type="fire"))["vehicleSpecialUsage"]["value"] == "fireBrigade"
    assert to_entity(unit(status="available"))["serviceStatus"]["value"] == "parked"


def test_stationary_vehicle_has_heading_minus_one():
    """The Vehicle model: a vehicle at speed 0 has heading -1, read back as no heading."""
    e = to_entity(unit(speed_mps=0.0))
    assert e["heading"]["value"] == -1
    assert "heading_deg" not in from_entity(e).payload


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 100, allow_nan=False).map(lambda x: round(x, 3)))
def test_speed_conversion_round_trips_at_millimetre_per_second(speed_mps):
    """m/s -> km/h -> m/s is exact for speeds given to 1 mm/s (and km/h = m/s x 3.6)."""
    e = to_entity(detector(mean_speed_mps=speed_mps))
    assert e["averageVehicleSpeed"]["value"] == pytest.approx(speed_mps * 3.6, abs=1e-6)
    assert from_entity(e).payload["mean_speed_mps"] == speed_mps


def test_sdm_examples_are_read():
    """The Smart Data Models' own example entities map (incl. concise values and a plain plate)."""
    tfo = {
        "id": "urn:ngsi-ld:TrafficFlowObserved:TrafficFlowObserved-Valladolid-osm-60821110",
        "type": "TrafficFlowObserved",
        "averageVehicleSpeed": {"type": "Property", "value": 52.6},
        "dateObserved": {"type": "Property", "value": {
            "@type": "DateTime", "@value": "2016-12-07T11:10:00Z/2016-12-07T11:15:00Z"}},
        "intensity": {"type": "Property", "value": 197},
        "laneId": {"type": "Property", "value": 1},
        "occupancy": {"type": "Property", "value": 0.76},
        "location": {"type": "GeoProperty", "value": {"type": "LineString", "coordinates": [
            [-4.7373, 41.6538], [-4.7341, 41.6600], [-4.7344, 41.6595]]}},
    }
    o = from_entity(tfo)
    assert o.kind is ObservationKind.DETECTOR_INTERVAL
    assert o.source_id == "TrafficFlowObserved-Valladolid-osm-60821110"
    assert o.payload == {"interval_s": 300.0, "count": 197, "occupancy": 0.76,
                         "mean_speed_mps": pytest.approx(14.611111)}
    assert o.observed_at == datetime(2016, 12, 7, 11, 15, tzinfo=UTC)
    assert o.location is not None and (o.location.lon, o.location.lat, o.location.lane) == (-4.7341, 41.66, 0)
    anpr = {
        "id": "urn:ngsi-ld:AnprFlowObserved:LEZ-Noorderlaan", "type": "AnprFlowObserved",
        "dateObserved": {"type": "Property", "value": {"@type": "DateTime",
                                                       "@value": "2022-09-01T16:30:00Z"}},
        "laneId": {"type": "Property", "value": "ABC123"},
        "observedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Device:cam-9"},
        "vehiclePlateNotRead": {"type": "Property", "value": False},
        "observedVehicle": {"type": "Property", "value": {"direction": "towards", "speed": 50,
                                                          "licensePlate": "1-ABC-123"}},
    }
    r = from_entity(anpr)
    assert (r.source_id, r.payload["plate"], r.payload["confidence"]) == ("cam-9", "1-ABC-123", 0.0)
    assert r.payload["speed_mps"] == pytest.approx(13.888889) and "lane" not in r.payload
    alert = {"id": "urn:ngsi-ld:Alert:Alert:1", "type": "Alert", "category": "traffic",
             "subCategory": "trafficJam", "alertSource": "https://account.lab.fiware.org/users/8",
             "dateIssued": {"@type": "DateTime", "@value": "2017-01-02T09:25:55.00Z"},
             "location": {"type": "Point", "coordinates": [-3.7122, 40.4238]}, "severity": "high"}
    al = from_entity(alert)
    assert al.payload == {"incident_type": "congestion", "severity": "high"}
    assert al.source_id == "https://account.lab.fiware.org/users/8" and al.event_id == "Alert:1"


def test_expanded_iris_are_understood():
    """Attribute names and types given as full IRIs are read by their last segment."""
    e = to_entity(plate())
    expanded = {("https://smartdatamodels.org/dataModel.Transportation/" + k
                 if k not in ("id", "type", "@context") else k): v for k, v in e.items()}
    expanded["type"] = "https://smartdatamodels.org/dataModel.Transportation/AnprFlowObserved"
    assert from_entity(expanded) == plate()


@pytest.mark.parametrize("mutate, match", [
    (lambda e: e.update(type="WeatherObserved"), "no observation mapping"),
    (lambda e: e.pop("id"), "no 'id'"),
    (lambda e: [e.pop(k) for k in ("intensity", "occupancy", "averageVehicleSpeed")],
     "none of intensity, occupancy, averageVehicleSpeed"),
    (lambda e: e["intensity"].update(value="lots"), "finite number"),
    (lambda e: e["intensity"].update(value=12.5), "whole number"),
    (lambda e: e["occupancy"].update(value=float("nan")), "finite number"),
    (lambda e: [e.pop(k) for k in ("dateObserved", "dateObservedFrom")], "needs an interval"),
    (lambda e: e["dateObservedTo"].update(value={"@value": "yesterday"}), "ISO 8601"),
    (lambda e: e["dateObservedFrom"].update(value={"@value": "2026-11-28T07:04:00"}), "no UTC offset"),
    (lambda e: e["location"].update(value={"type": "Polygon", "coordinates": []}), "Point or LineString"),
    (lambda e: e["location"].update(value={"type": "Point", "coordinates": [200, 0]}), "lon"),
    (lambda e: e["dateObservedTo"].update(value={"@value": "2026-11-28T06:00:00+07:00"}), "ends before"),
], ids=["type", "id", "missing", "text", "fraction", "nan", "interval", "time", "naive", "geometry",
        "lon", "backwards"])
def test_unmappable_entities_are_refused_with_a_reason(mutate, match):
    """Each defect raises NgsiLdError naming what is wrong."""
    e = copy.deepcopy(to_entity(detector()))
    mutate(e)
    with pytest.raises(NgsiLdError, match=match):
        from_entity(e)


def test_kinds_without_a_model_are_refused():
    """point_speed has no Smart Data Model here: to_entity says so."""
    obs = Observation(ObservationKind.POINT_SPEED, "spd-1", T, {"speed_mps": 20.0})
    with pytest.raises(NgsiLdError, match="no Smart Data Model"):
        to_entity(obs)


def test_ids_with_odd_characters_round_trip():
    """Source and event ids with spaces, % and / survive the URN encoding."""
    assert local_id(entity_id("Alert", "run 7/inc%1")) == "run 7/inc%1"
    assert " " not in entity_id("Alert", "run 7/inc%1")
    obs = incident()
    odd = Observation(obs.kind, "scen ario/%x", T, obs.payload, obs.location, event_id="ev 1/%2F")
    assert from_entity(to_entity(odd)) == odd


def test_a_speed_only_detector_round_trips_without_counts():
    """Fields a sensor does not measure stay absent from the entity and None in the payload."""
    obs = detector(count=None, occupancy=None, mean_speed_mps=25.0)
    ent = to_entity(obs)
    assert "intensity" not in ent and "occupancy" not in ent
    back = from_entity(ent)
    assert back.payload["count"] is None and back.payload["occupancy"] is None
    assert back.payload["mean_speed_mps"] == pytest.approx(25.0)
