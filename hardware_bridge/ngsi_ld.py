"""FIWARE NGSI-LD: Observations to and from Smart Data Model entities (normalized form).

Four models map one-to-one to observation kinds, with the models' exact attribute names
(DOMAIN §4.1-4.2; smart-data-models ``dataModel.Transportation`` and ``dataModel.Alert``):

=====================  ===================  ===============================================
entity type            observation kind     attributes (payload field, unit conversion)
=====================  ===================  ===============================================
TrafficFlowObserved    detector_interval    intensity (count), occupancy (0-1),
                                            averageVehicleSpeed (km/h <- mean_speed_mps),
                                            dateObserved ``start/end`` with dateObservedFrom
                                            and dateObservedTo (interval_s), laneId (lane+1)
AnprFlowObserved       plate_read           observedVehicle.licensePlate {identifier,
                                            confidence 0-1}, observedVehicle.speed (km/h),
                                            observedVehicle.color.name, vehiclePlateNotRead,
                                            laneId (text, lane+1), refImages (evidence),
                                            observedBy
Alert                  incident_report      category, subCategory (incident_type), severity,
                                            description, alertSource, dateIssued, data
                                            (the other payload fields)
Vehicle                unit_position        vehicleSpecialUsage (ambulance, police,
                                            fireBrigade <- unit_type), serviceStatus
                                            (status), speed (km/h), heading (degrees),
                                            vehiclePlateIdentifier, observationDateTime
=====================  ===================  ===============================================

Common to all: ``location`` is a GeoProperty Point (lon, lat), ``refRoadSegment`` a
Relationship to ``urn:ngsi-ld:RoadSegment:{link_id}``, and the reporting device a
Relationship to ``urn:ngsi-ld:Device:{source_id}`` (``observedBy`` for ANPR, ``alertSource``
for alerts, ``refDevice`` otherwise). Measured properties carry ``observedAt`` (UTC).
AnprFlowObserved has no vehicle class or compass heading, so ``vehicleType`` (the
Vehicle/TrafficFlowObserved enum: car, motorcycle, bus, lorry) and ``heading`` (the
Vehicle model's attribute) are added to it. Evidence images are RFC 6920 named-information
URIs, ``ni:///sha-256;<base64url digest>``, so ``refImages`` carries the same SHA-256 the
payload's ``image_sha256`` does. Speeds read back are rounded to 1e-6 m/s. A unit at
speed 0 is written with ``heading`` -1, as the Vehicle model requires, and read back
without ``heading_deg``. Incident types map to (category, subCategory) by a fixed table
(crash -> traffic/carAccident, breakdown -> traffic/carStopped, flood ->
naturalDisaster/flood, fire -> security/buildingFire, medical -> health/fallenPatient, ...);
the incident type itself also travels in ``data``, so none is lost.

Identity: an ANPR read and an alert are events, so their entity id carries the
observation's ``event_id`` (``urn:ngsi-ld:AnprFlowObserved:{event_id}``). A traffic-flow
entity is the detector (``urn:ngsi-ld:TrafficFlowObserved:{source_id}``) and a Vehicle the
unit (``urn:ngsi-ld:Vehicle:{unit_id}``), updated in place as brokers do; their event ids
are rebuilt from the entity as ``{source_id}@{interval start}`` (the virtual loop
detectors' own form) and ``{unit_id}@{observed time}``. What the models cannot hold is not
exported: payload fields outside the table above (except into an Alert's ``data``), a
position along the link (``pos_m``), and a non-canonical detector or unit event id.

Incoming entities may use the NGSI-LD short names of the Smart Data Models context, or
expanded IRIs (the part after the last ``/`` or ``#`` is used); attribute values may be
normalized (``{"type": "Property", "value": ...}``) or plain (concise). Anything that
cannot be mapped raises :class:`NgsiLdError` naming the attribute.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

from twin.observations import Location, Observation, ObservationError, ObservationKind

__all__ = [
    "CONTEXT",
    "ENTITY_TYPES",
    "NgsiLdError",
    "entity_id",
    "from_entity",
    "geo_point",
    "local_id",
    "ni_uri",
    "prop",
    "rel",
    "to_entity",
]

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
SDM_CONTEXT = "https://smartdatamodels.org/context.jsonld"
CONTEXT = [SDM_CONTEXT, CORE_CONTEXT]
"""The ``@context`` of every entity written: the Smart Data Models terms, then the core."""

KMH_PER_MPS = 3.6
ENTITY_TYPES: Mapping[str, ObservationKind] = {
    "TrafficFlowObserved": ObservationKind.DETECTOR_INTERVAL,
    "AnprFlowObserved": ObservationKind.PLATE_READ,
    "Alert": ObservationKind.INCIDENT_REPORT,
    "Vehicle": ObservationKind.UNIT_POSITION,
}
"""Entity type -> observation kind, both ways."""

_SAFE = "-._~!$&'()*+,;=:@/"
# registry vehicle classes <-> SDM vehicleType
_TO_SDM_VEHICLE = {"car": "car", "motorcycle": "motorcycle", "bus": "bus", "truck": "lorry"}
_FROM_SDM_VEHICLE = {
    "car": "car", "carOrLightVehicle": "car", "van": "car", "fourWheelDrive": "car",
    "motorcycle": "motorcycle", "moped": "motorcycle", "motorscooter": "motorcycle",
    "twoWheeledVehicle": "motorcycle", "e-motorcycle": "motorcycle", "e-moped": "motorcycle",
    "bus": "bus", "minibus": "bus", "BRT bus": "bus",
    "lorry": "truck", "tanker": "truck", "articulatedVehicle": "truck",
}
# scenario / CCTV incident types <-> Alert (category, subCategory)
_ALERT_OF = {
    "crash": ("traffic", "carAccident"), "breakdown": ("traffic", "carStopped"),
    "stopped_vehicle": ("traffic", "carStopped"), "wrong_way": ("traffic", "carWrongDirection"),
    "congestion": ("traffic", "trafficJam"), "roadworks": ("traffic", "roadWorks"),
    "road_closed": ("traffic", "roadClosed"), "hazard": ("traffic", "hazardOnRoad"),
    "pedestrian": ("traffic", "pedestrianOnRoad"), "flood": ("naturalDisaster", "flood"),
    "fire": ("security", "buildingFire"), "crime": ("security", "robbery"),
    "assault": ("security", "assault"), "riot": ("security", "civilDisorder"),
    "medical": ("health", "fallenPatient"), "heart_attack": ("health", "heartAttack"),
}
_INCIDENT_OF = {sub: inc for inc, (_, sub) in reversed(list(_ALERT_OF.items()))}
_SEVERITIES = ("informational", "low", "medium", "high", "critical")
_SPECIAL_USAGE = {"ambulance": "ambulance", "police": "police", "fire": "fireBrigade",
                  "military": "military", "taxi": "taxi"}
_UNIT_TYPE_OF = {v: k for k, v in _SPECIAL_USAGE.items()}
_DEFAULT_VEHICLE_TYPE = {"ambulance": "ambulance", "fire": "fireTender", "police": "policeVan"}
_STATUS_TO_SDM = {"available": "parked", "out_of_service": "outOfService", "broken": "broken"}
_STATUS_FROM_SDM = {"parked": "available", "outOfService": "out_of_service", "broken": "broken",
                    "onRoute": "en_route"}


class NgsiLdError(ValueError):
    """An entity cannot be mapped to an observation (or back); the message says why."""


# -- writing helpers ----------------------------------------------------------------------

def entity_id(entity_type: str, local: str) -> str:
    """``urn:ngsi-ld:{entity_type}:{local}``, with characters a URN cannot hold percent-encoded."""
    return f"urn:ngsi-ld:{entity_type}:{quote(local, safe=_SAFE)}"


def local_id(urn: str, entity_type: str | None = None) -> str:
    """The ``local`` part of :func:`entity_id` (decoded); any other id is returned as given."""
    prefix = "urn:ngsi-ld:"
    if not urn.startswith(prefix):
        return urn
    rest = urn[len(prefix):]
    kind, sep, local = rest.partition(":")
    if not sep or (entity_type is not None and kind != entity_type):
        return urn
    return unquote(local)


def _utc(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt(text: str | datetime) -> dict[str, str]:
    return {"@type": "DateTime", "@value": text.isoformat() if isinstance(text, datetime) else text}


def prop(value: Any, observed_at: datetime | None = None) -> dict[str, Any]:
    """A normalized NGSI-LD Property (``observedAt`` in UTC when given)."""
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at is not None:
        out["observedAt"] = _utc(observed_at)
    return out


def rel(entity_type: str, local: str) -> dict[str, Any]:
    """A Relationship to ``urn:ngsi-ld:{entity_type}:{local}``."""
    return {"type": "Relationship", "object": entity_id(entity_type, local)}


def geo_point(lon: float, lat: float, observed_at: datetime | None = None) -> dict[str, Any]:
    """A GeoProperty holding a GeoJSON Point (lon, lat in degrees)."""
    out: dict[str, Any] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
    if observed_at is not None:
        out["observedAt"] = _utc(observed_at)
    return out


def ni_uri(sha256_hex: str) -> str:
    """The RFC 6920 URI ``ni:///sha-256;...`` of a hex SHA-256 digest."""
    raw = bytes.fromhex(sha256_hex)
    return "ni:///sha-256;" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _hex_of_ni(uri: object) -> str | None:
    prefix = "ni:///sha-256;"
    if not isinstance(uri, str) or not uri.startswith(prefix):
        return None
    b64 = uri[len(prefix):].split("?", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
    except (ValueError, TypeError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _kmh(mps: float) -> float:
    return round(mps * KMH_PER_MPS, 9)


def _mps(kmh: float) -> float:
    return round(kmh / KMH_PER_MPS, 6)


def _common(ent: dict[str, Any], obs: Observation, device_attr: str | None) -> None:
    loc = obs.location
    if loc is not None:
        ent["location"] = geo_point(loc.lon, loc.lat)
        if loc.link_id is not None:
            ent["refRoadSegment"] = rel("RoadSegment", loc.link_id)
    if device_attr is not None:
        ent[device_attr] = rel("Device", obs.source_id)
    ent["@context"] = CONTEXT


# -- Observation -> entity ------------------------------------------------------------------

def to_entity(obs: Observation) -> dict[str, Any]:
    """The Smart Data Model entity of ``obs`` (see the module docstring).

    Raises
    ------
    NgsiLdError
        If the kind has no model (point_speed, signal_state, emergency_call) or a
        field cannot be expressed in it.
    """
    writer = _WRITERS.get(obs.kind)
    if writer is None:
        raise NgsiLdError(f"no Smart Data Model mapping for {obs.kind.value} observations")
    return writer(obs)


def _traffic_flow(obs: Observation) -> dict[str, Any]:
    p = obs.payload
    end = obs.observed_at
    start = end - timedelta(seconds=float(p["interval_s"]))
    ent: dict[str, Any] = {
        "id": entity_id("TrafficFlowObserved", obs.source_id), "type": "TrafficFlowObserved",
        "dateObserved": prop(_dt(f"{start.isoformat()}/{end.isoformat()}")),
        "dateObservedFrom": prop(_dt(start)), "dateObservedTo": prop(_dt(end)),
    }
    if p.get("count") is not None:
        ent["intensity"] = prop(p["count"], end)
    if p.get("occupancy") is not None:
        ent["occupancy"] = prop(p["occupancy"], end)
    if p.get("mean_speed_mps") is not None:
        ent["averageVehicleSpeed"] = prop(_kmh(p["mean_speed_mps"]), end)
    if obs.location is not None and obs.location.lane is not None:
        ent["laneId"] = prop(obs.location.lane + 1)
    _common(ent, obs, "refDevice")
    return ent


def _images(p: Mapping[str, Any]) -> list[str]:
    many = p.get("image_sha256s")
    if isinstance(many, list | tuple) and many:
        return [str(h) for h in many]
    one = p.get("image_sha256")
    return [str(one)] if one else []


def _anpr(obs: Observation) -> dict[str, Any]:
    p = obs.payload
    at = obs.observed_at
    plate: dict[str, Any] = {"confidence": p["confidence"]}
    if p["plate"] is not None:
        plate = {"identifier": p["plate"], **plate}
    vehicle: dict[str, Any] = {"licensePlate": plate}
    if p.get("speed_mps") is not None:
        vehicle["speed"] = _kmh(p["speed_mps"])
    if isinstance(p.get("vehicle_color"), str):
        vehicle["color"] = {"name": p["vehicle_color"]}
    ent: dict[str, Any] = {
        "id": entity_id("AnprFlowObserved", obs.event_id), "type": "AnprFlowObserved",
        "dateObserved": prop(_dt(at)),
        "vehiclePlateNotRead": prop(p["plate"] is None),
        "observedVehicle": prop(vehicle, at),
    }
    if isinstance(p.get("lane"), int):
        ent["laneId"] = prop(str(p["lane"] + 1))
    vclass = p.get("vehicle_class")
    if vclass is not None:
        if vclass not in _TO_SDM_VEHICLE:
            raise NgsiLdError(f"vehicle_class {vclass!r} has no SDM vehicleType")
        ent["vehicleType"] = prop(_TO_SDM_VEHICLE[vclass])
    if p.get("heading_deg") is not None:
        ent["heading"] = prop(p["heading_deg"], at)
    images = _images(p)
    if images:
        try:
            refs = [{"url": ni_uri(h), "contentType": "image/jpeg", "imageType": "anpr"} for h in images]
        except ValueError:
            raise NgsiLdError(f"image hashes {images!r} are not hex SHA-256 digests") from None
        ent["refImages"] = prop(refs)
    _common(ent, obs, "observedBy")
    return ent


def _alert(obs: Observation) -> dict[str, Any]:
    p = dict(obs.payload)
    incident = p["incident_type"]
    category, sub = _ALERT_OF.get(incident, ("traffic", None))
    ent: dict[str, Any] = {
        "id": entity_id("Alert", obs.event_id), "type": "Alert",
        "category": prop(category), "dateIssued": prop(_dt(obs.observed_at)),
    }
    if sub is not None:
        ent["subCategory"] = prop(sub)
    if p.get("severity") in _SEVERITIES:
        ent["severity"] = prop(p.pop("severity"))
    if isinstance(p.get("description"), str):
        ent["description"] = prop(p.pop("description"))
    ent["data"] = prop(p)
    _common(ent, obs, "alertSource")
    return ent


def _vehicle(obs: Observation) -> dict[str, Any]:
    p = obs.payload
    at = obs.observed_at
    unit_type = p.get("unit_type")
    usage = _SPECIAL_USAGE.get(unit_type) if isinstance(unit_type, str) else None
    if unit_type is not None and usage is None:
        raise NgsiLdError(f"unit_type {unit_type!r} has no vehicleSpecialUsage "
                          f"(one of {sorted(_SPECIAL_USAGE)})")
    vclass = p.get("vehicle_class")
    if vclass is not None and vclass not in _TO_SDM_VEHICLE:
        raise NgsiLdError(f"vehicle_class {vclass!r} has no SDM vehicleType")
    vtype = _TO_SDM_VEHICLE[vclass] if vclass else _DEFAULT_VEHICLE_TYPE.get(unit_type or "", "other")
    status = p["status"]
    ent: dict[str, Any] = {
        "id": entity_id("Vehicle", p["unit_id"]), "type": "Vehicle",
        "category": prop(["specialUsage"] if usage else ["tracked"]),
        "vehicleType": prop(vtype),
        "serviceStatus": prop(_STATUS_TO_SDM.get(status, f"onRoute,{status}"), at),
        "observationDateTime": prop(_dt(at)),
    }
    if usage:
        ent["vehicleSpecialUsage"] = prop(usage)
    speed = p.get("speed_mps")
    if speed is not None:
        ent["speed"] = prop(_kmh(speed), at)
    if p.get("heading_deg") is not None:
        ent["heading"] = prop(-1 if speed == 0 else p["heading_deg"], at)
    if isinstance(p.get("plate"), str):
        ent["vehiclePlateIdentifier"] = prop(p["plate"])
    _common(ent, obs, "refDevice")
    if "location" in ent:
        ent["location"]["observedAt"] = _utc(at)
    return ent


_WRITERS = {
    ObservationKind.DETECTOR_INTERVAL: _traffic_flow,
    ObservationKind.PLATE_READ: _anpr,
    ObservationKind.INCIDENT_REPORT: _alert,
    ObservationKind.UNIT_POSITION: _vehicle,
}


# -- entity -> Observation ------------------------------------------------------------------

def _short(key: str) -> str:
    if key.startswith(("http://", "https://", "urn:")):
        return key.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]
    return key


class _Entity:
    """An entity with its attribute names shortened, and typed accessors that explain failures."""

    def __init__(self, raw: Any) -> None:
        if not isinstance(raw, Mapping):
            raise NgsiLdError(f"an entity must be a JSON object, got {type(raw).__name__}")
        self.attrs = {_short(str(k)): v for k, v in raw.items()}
        eid, etype = self.attrs.get("id"), self.attrs.get("type")
        if not isinstance(eid, str) or not eid:
            raise NgsiLdError("entity has no 'id'")
        if not isinstance(etype, str) or not etype:
            raise NgsiLdError(f"entity {eid[:80]!r} has no 'type'")
        self.id = eid
        self.type = _short(etype)

    def raw(self, name: str) -> Any:
        return self.attrs.get(name)

    def value(self, name: str) -> Any:
        attr = self.attrs.get(name)
        if isinstance(attr, Mapping) and attr.get("type") in ("Property", "GeoProperty"):
            attr = attr.get("value")
        if isinstance(attr, Mapping) and "@value" in attr:
            attr = attr["@value"]
        return attr

    def object(self, name: str) -> str | None:
        attr = self.attrs.get(name)
        if isinstance(attr, Mapping):
            attr = attr.get("object", attr.get("value"))
        return attr if isinstance(attr, str) and attr else None

    def number(self, name: str, *, required: bool = False) -> float | None:
        v = self.value(name)
        if v is None:
            if required:
                raise NgsiLdError(f"{self.type} {self.id[:80]!r} has no {name!r}")
            return None
        if not _finite(v):
            raise NgsiLdError(f"{name!r} must be a finite number, got {v!r}"[:200])
        return v

    def time(self, name: str) -> datetime | None:
        v = self.value(name)
        if v is None:
            return None
        return _parse_time(v, name)


def _finite(v: Any) -> bool:
    """Whether ``v`` is a JSON number that fits a float (huge integers do not)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


def _parse_time(v: Any, name: str) -> datetime:
    if not isinstance(v, str):
        raise NgsiLdError(f"{name!r} must be an ISO 8601 date-time, got {v!r}"[:200])
    try:
        when = datetime.fromisoformat(v)
    except ValueError:
        raise NgsiLdError(f"{name!r} {v[:60]!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise NgsiLdError(f"{name!r} {v[:60]!r} has no UTC offset")
    return when


def _location(e: _Entity, lane: int | None = None) -> Location | None:
    geo = e.value("location")
    link = e.object("refRoadSegment")
    link_id = local_id(link, "RoadSegment") if link else None
    if geo is None:
        return None
    if not isinstance(geo, Mapping):
        raise NgsiLdError("'location' must be a GeoJSON geometry")
    coords = geo.get("coordinates")
    if geo.get("type") == "LineString" and isinstance(coords, list) and coords:
        coords = coords[len(coords) // 2]
    elif geo.get("type") != "Point":
        raise NgsiLdError(f"'location' must be a Point or LineString, got {str(geo.get('type'))[:40]!r}")
    if (not isinstance(coords, list) or len(coords) < 2
            or not all(_finite(c) for c in coords[:2])):
        raise NgsiLdError(f"'location' coordinates are not [lon, lat]: {coords!r}"[:200])
    try:
        return Location(float(coords[0]), float(coords[1]), link_id=link_id, lane=lane)
    except ObservationError as exc:
        raise NgsiLdError(f"'location': {exc}") from None


def _source(e: _Entity, attr: str) -> str | None:
    obj = e.object(attr)
    return local_id(obj, "Device") if obj else None


def _lane_number(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if isinstance(raw, int) and 1 <= raw <= 33:
        return raw - 1
    return None


def from_entity(raw: Any) -> Observation:
    """The observation an entity of one of the four models describes.

    Raises
    ------
    NgsiLdError
        If the type has no mapping, or an attribute the observation needs is
        missing or malformed (the message names it).
    """
    e = _Entity(raw)
    reader = _READERS.get(e.type)
    if reader is None:
        raise NgsiLdError(f"entity type {e.type[:60]!r} has no observation mapping "
                          f"(one of {', '.join(ENTITY_TYPES)})")
    try:
        return reader(e)
    except ObservationError as exc:
        raise NgsiLdError(f"{e.type} {e.id[:80]!r}: {exc}") from None


def _read_traffic_flow(e: _Entity) -> Observation:
    source = _source(e, "refDevice") or local_id(e.id, "TrafficFlowObserved")
    start, end = e.time("dateObservedFrom"), e.time("dateObservedTo")
    observed = e.value("dateObserved")
    if (start is None or end is None) and isinstance(observed, str) and "/" in observed:
        a, b = observed.split("/", 1)
        start, end = _parse_time(a, "dateObserved"), _parse_time(b, "dateObserved")
    if start is None or end is None:
        raise NgsiLdError("TrafficFlowObserved needs an interval: dateObserved 'start/end' "
                          "or dateObservedFrom and dateObservedTo")
    interval_s = (end - start).total_seconds()
    if interval_s <= 0:
        raise NgsiLdError(f"dateObserved interval ends before it starts ({interval_s:g} s)")
    count = e.number("intensity")
    if count is not None and count != int(count):
        raise NgsiLdError(f"'intensity' must be a whole number of vehicles, got {count!r}")
    occupancy = e.number("occupancy")
    speed = e.number("averageVehicleSpeed")
    if count is None and occupancy is None and speed is None:
        raise NgsiLdError("TrafficFlowObserved carries none of intensity, occupancy, averageVehicleSpeed")
    payload = {"interval_s": interval_s, "count": None if count is None else int(count),
               "occupancy": occupancy,
               "mean_speed_mps": None if speed is None else _mps(speed)}
    lane = _lane_number(e.value("laneId"))
    return Observation(ObservationKind.DETECTOR_INTERVAL, source, end, payload,
                       _location(e, lane), event_id=f"{source}@{start.isoformat()}")


def _read_anpr(e: _Entity) -> Observation:
    source = _source(e, "observedBy")
    if source is None:
        raise NgsiLdError("AnprFlowObserved has no 'observedBy' (the camera)")
    at = e.time("dateObserved")
    if at is None:
        raise NgsiLdError("AnprFlowObserved has no 'dateObserved'")
    vehicle = e.value("observedVehicle") or {}
    if not isinstance(vehicle, Mapping):
        raise NgsiLdError("'observedVehicle' must be an object")
    lp = vehicle.get("licensePlate")
    plate = lp.get("identifier") if isinstance(lp, Mapping) else lp
    conf = lp.get("confidence", 0.0) if isinstance(lp, Mapping) else 0.0
    if plate is not None and not isinstance(plate, str):
        raise NgsiLdError(f"licensePlate identifier must be text, got {plate!r}"[:200])
    if e.value("vehiclePlateNotRead") is True:
        plate = None
    payload: dict[str, Any] = {"plate": plate or None, "confidence": conf}
    vtype = e.value("vehicleType")
    if isinstance(vtype, str) and vtype in _FROM_SDM_VEHICLE:
        payload["vehicle_class"] = _FROM_SDM_VEHICLE[vtype]
    lane = _lane_number(e.value("laneId"))
    if lane is not None:
        payload["lane"] = lane
    speed = vehicle.get("speed")
    if speed is not None:
        if not _finite(speed):
            raise NgsiLdError(f"observedVehicle.speed must be a number (km/h), got {speed!r}"[:200])
        payload["speed_mps"] = _mps(speed)
    color = vehicle.get("color")
    if isinstance(color, Mapping) and isinstance(color.get("name"), str):
        payload["vehicle_color"] = color["name"]
    heading = e.number("heading")
    if heading is not None and heading != -1:
        payload["heading_deg"] = heading
    images = e.value("refImages")
    hashes = [h for h in (_hex_of_ni(i.get("url")) for i in images if isinstance(i, Mapping))
              if h] if isinstance(images, list) else []
    if hashes:
        payload["image_sha256"] = hashes[0]
        if len(hashes) > 1:
            payload["image_sha256s"] = hashes
    return Observation(ObservationKind.PLATE_READ, source, at, payload, _location(e),
                       event_id=local_id(e.id, "AnprFlowObserved"))


def _read_alert(e: _Entity) -> Observation:
    source_ref = e.object("alertSource")
    if source_ref is None:
        raise NgsiLdError("Alert has no 'alertSource'")
    source = local_id(source_ref, "Device")
    at = e.time("dateIssued")
    if at is None:
        raise NgsiLdError("Alert has no 'dateIssued'")
    data = e.value("data") or {}
    if not isinstance(data, Mapping):
        raise NgsiLdError("Alert 'data' must be an object")
    payload = dict(data)
    sub, category = e.value("subCategory"), e.value("category")
    incident = payload.get("incident_type")
    if not isinstance(incident, str) or not incident:
        incident = _INCIDENT_OF.get(sub) if isinstance(sub, str) else None
        incident = incident or (sub if isinstance(sub, str) and sub else None)
        incident = incident or (category if isinstance(category, str) and category else None)
    if not incident:
        raise NgsiLdError("Alert has no category or subCategory")
    payload["incident_type"] = incident
    for name in ("severity", "description"):
        v = e.value(name)
        if isinstance(v, str):
            payload[name] = v
    return Observation(ObservationKind.INCIDENT_REPORT, source, at, payload, _location(e),
                       event_id=local_id(e.id, "Alert"))


def _read_vehicle(e: _Entity) -> Observation:
    unit = local_id(e.id, "Vehicle")
    source = _source(e, "refDevice") or unit
    at = e.time("observationDateTime")
    if at is None:
        loc = e.raw("location")
        stamp = loc.get("observedAt") if isinstance(loc, Mapping) else None
        at = _parse_time(stamp, "location.observedAt") if stamp is not None else None
    if at is None:
        raise NgsiLdError("Vehicle has no observationDateTime or location observedAt")
    status_raw = e.value("serviceStatus")
    if not isinstance(status_raw, str) or not status_raw:
        raise NgsiLdError("Vehicle has no 'serviceStatus'")
    head, _, modifier = status_raw.partition(",")
    status = modifier.strip() if head == "onRoute" and modifier.strip() else \
        _STATUS_FROM_SDM.get(head, status_raw)
    payload: dict[str, Any] = {"unit_id": unit, "status": status}
    usage = e.value("vehicleSpecialUsage")
    if isinstance(usage, str) and usage in _UNIT_TYPE_OF:
        payload["unit_type"] = _UNIT_TYPE_OF[usage]
    vtype = e.value("vehicleType")
    if isinstance(vtype, str) and vtype in _FROM_SDM_VEHICLE:
        payload["vehicle_class"] = _FROM_SDM_VEHICLE[vtype]
    speed = e.number("speed")
    if speed is not None and speed != -1:
        payload["speed_mps"] = _mps(speed)
    heading = e.number("heading")
    if heading is not None and heading != -1:
        payload["heading_deg"] = heading
    plate = e.value("vehiclePlateIdentifier")
    if isinstance(plate, str):
        payload["plate"] = plate
    return Observation(ObservationKind.UNIT_POSITION, source, at, payload, _location(e),
                       event_id=f"{unit}@{at.isoformat()}")


_READERS = {
    "TrafficFlowObserved": _read_traffic_flow,
    "AnprFlowObserved": _read_anpr,
    "Alert": _read_alert,
    "Vehicle": _read_vehicle,
}
