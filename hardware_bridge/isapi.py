"""Hikvision ISAPI ANPR pushes: ``multipart/form-data`` (an ``EventNotificationAlert`` XML part
and JPEG parts) turned into a ``plate_read`` :class:`~twin.observations.Observation`.

Parsing uses the standard library only: :mod:`email` for the multipart body (the
``cgi`` module is gone in Python 3.13) and :mod:`xml.etree.ElementTree` for the XML,
which is refused outright if it contains a ``<!DOCTYPE`` or ``<!ENTITY`` (no entity
expansion, so no "billion laughs"). Every refusal is an :class:`IsapiError` whose
message says what is wrong; the HTTP adapter quarantines the push with it.

The fields read (ISAPI ``XML_EventNotificationAlert_ANPR``; namespaces ignored)::

    EventNotificationAlert/ channelID, dateTime (ISO 8601 with offset, e.g. +07:00),
        eventType (must be ANPR), eventState (active; inactive = heartbeat), UUID,
        DeviceGPSInfo (degree/minute/sec, when not zero)
    ANPR/ licensePlate (required; empty or "unknown" = plate not read),
        confidenceLevel (0-100), line (lane, 1 = first), direction (forward|reverse),
        vehicleType (e.g. car, SUVMPV, largeBus, truck, twoWheelVehicle),
        speedLimit (km/h, 0 = none), vehicleInfo/speed (km/h, 0 = not measured),
        vehicleInfo/color, pictureInfoList/pictureInfo (fileName, type)

and the payload built is the one ETLE's :class:`~twin.modules.enforcement.rules.base.PlateRead`
reads: ``plate``, ``confidence`` (0-1), ``vehicle_class`` (motorcycle, car, bus, truck),
``lane`` (0 = kerb side), ``speed_mps``, ``speed_limit_mps``, ``heading_deg`` (when the
camera's site gives the compass heading of its forward direction), ``image_sha256``
(first image; detection/overview picture first) and ``image_sha256s`` (all, when
more than one), ``event_xml_sha256`` (the XML part, kept as evidence too), plus
``camera_direction`` and ``vehicle_color`` as the camera said them.

The ``event_id`` is ``isapi:{device}:{channel}:{UUID}``, or, without a UUID,
``isapi:{device}:{channel}:{dateTime}:{hash of plate and lane}``: a retried push of the
same event (``activePostCount`` increments, nothing else changes) is a duplicate.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import (
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import Message
from email.parser import BytesParser
from xml.etree import ElementTree

from twin.observations import Location, Observation, ObservationError, ObservationKind

__all__ = [
    "IsapiError",
    "IsapiEvent",
    "IsapiSite",
    "build_multipart",
    "parse_anpr_xml",
    "parse_push",
    "plate_read",
]

MAX_XML_BYTES = 256 * 1024
MAX_IMAGES = 8
KMH_PER_MPS = 3.6
_FATAL_DEFECTS = (StartBoundaryNotFoundDefect, CloseBoundaryNotFoundDefect,
                  MultipartInvariantViolationDefect, NoBoundaryInMultipartDefect)
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_UNREAD = {"", "unknown", "无车牌", "nolicenseplate", "noplate"}
# ISAPI ANPR/vehicleType strings -> the registry's classes (motorcycle, car, bus, truck)
_VEHICLE_CLASS = {
    "twowheelvehicle": "motorcycle", "motorcycle": "motorcycle", "motorbike": "motorcycle",
    "car": "car", "smallcar": "car", "minicar": "car", "microcar": "car", "suvmpv": "car",
    "sedan": "car", "van": "car", "vehicle": "car",
    "bus": "bus", "largebus": "bus", "middlebus": "bus", "mediumbus": "bus", "minibus": "bus",
    "truck": "truck", "largetruck": "truck", "smalltruck": "truck", "lighttruck": "truck",
    "heavytruck": "truck", "pickuptruck": "truck", "pickup": "truck",
}
# overview pictures first: they are the evidence a verifier looks at
_PICTURE_ORDER = {"detectionpicture": 0, "vehiclepicture": 1, "licenseplatepicture": 2}


class IsapiError(ValueError):
    """A push that cannot be read; the message says why (it becomes the quarantine reason)."""


@dataclass(frozen=True, slots=True)
class IsapiSite:
    """What the bridge knows of a camera that its pushes do not say.

    Attributes
    ----------
    lon, lat : float, WGS84 degrees of the camera
    link_id : str or None, the network link it watches
    heading_deg : float or None, compass heading (degrees clockwise from north) of
        traffic moving in the camera's ``forward`` direction; a ``reverse`` read is
        the opposite heading
    """

    lon: float
    lat: float
    link_id: str | None = None
    heading_deg: float | None = None


@dataclass(frozen=True, slots=True)
class IsapiEvent:
    """The parts of one ``EventNotificationAlert`` the twin uses (see the module docstring).

    ``plate`` is None when the camera did not read it; ``confidence`` is 0-1;
    ``lane`` 0 = kerb side; speeds in km/h as the camera sends them.
    """

    event_type: str
    active: bool
    observed_at: datetime | None
    channel: str
    uuid: str | None
    plate: str | None = None
    confidence: float = 0.0
    lane: int | None = None
    direction: str | None = None
    vehicle_type: str | None = None
    vehicle_color: str | None = None
    speed_kmh: float | None = None
    speed_limit_kmh: float | None = None
    lonlat: tuple[float, float] | None = None
    picture_types: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IsapiPush:
    """A parsed push: the XML bytes, the event, and the JPEG parts by file name."""

    xml: bytes
    event: IsapiEvent
    images: list[tuple[str, bytes]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: ElementTree.Element | None, name: str) -> ElementTree.Element | None:
    if elem is None:
        return None
    for c in elem:
        if _local(c.tag) == name:
            return c
    return None


def _text(elem: ElementTree.Element | None, name: str) -> str | None:
    c = _child(elem, name)
    if c is None or c.text is None:
        return None
    return c.text.strip()


def _number(elem: ElementTree.Element | None, name: str) -> float | None:
    raw = _text(elem, name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise IsapiError(f"<{name}> must be a number, got {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise IsapiError(f"<{name}> is not finite: {raw[:40]!r}")
    return value


def _gps(root: ElementTree.Element) -> tuple[float, float] | None:
    info = _child(root, "DeviceGPSInfo")
    if info is None:
        return None

    def angle(name: str) -> float:
        node = _child(info, name)
        deg, minute, sec = (_number(node, k) or 0.0 for k in ("degree", "minute", "sec"))
        return deg + minute / 60.0 + sec / 3600.0

    lon, lat = angle("Longitude"), angle("Latitude")
    if lon == 0.0 and lat == 0.0:
        return None  # cameras without GPS send zeros
    if (_text(info, "longitudeType") or "E").upper() == "W":
        lon = -lon
    if (_text(info, "latitudeType") or "N").upper() == "S":
        lat = -lat
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise IsapiError(f"DeviceGPSInfo is not a position: lon {lon}, lat {lat}")
    return lon, lat


def parse_anpr_xml(xml: bytes) -> IsapiEvent:
    """Read an ``EventNotificationAlert`` (see the module docstring).

    Raises
    ------
    IsapiError
        On a DOCTYPE or entity declaration, malformed XML, a root that is not
        ``EventNotificationAlert``, or a missing or malformed field an ANPR event needs.
    """
    if len(xml) > MAX_XML_BYTES:
        raise IsapiError(f"XML part of {len(xml):,} bytes is over the limit of {MAX_XML_BYTES:,}")
    if _DOCTYPE.search(xml):
        raise IsapiError("XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise IsapiError(f"XML part is not well-formed: {exc}") from None
    if _local(root.tag) != "EventNotificationAlert":
        raise IsapiError(f"XML root is <{_local(root.tag)}>, not <EventNotificationAlert>")
    event_type = _text(root, "eventType") or ""
    state = (_text(root, "eventState") or "active").lower()
    if state not in ("active", "inactive"):
        raise IsapiError(f"eventState must be active or inactive, got {state[:40]!r}")
    channel = _text(root, "channelID") or _text(root, "dynChannelID") or "1"
    uuid = _text(root, "UUID") or _text(root, "uuid") or None
    if state == "inactive":  # a heartbeat: nothing else is needed
        return IsapiEvent(event_type, False, None, channel, uuid)
    if event_type.upper() != "ANPR":
        raise IsapiError(f"eventType {event_type[:40]!r} is not ANPR")
    raw_time = _text(root, "dateTime")
    if not raw_time:
        raise IsapiError("ANPR event has no <dateTime>")
    try:
        observed_at = datetime.fromisoformat(raw_time)
    except ValueError:
        raise IsapiError(f"<dateTime> {raw_time[:60]!r} is not ISO 8601") from None
    if observed_at.tzinfo is None:
        raise IsapiError(f"<dateTime> {raw_time[:60]!r} has no UTC offset (e.g. +07:00)")
    anpr = _child(root, "ANPR")
    if anpr is None:
        raise IsapiError("ANPR event has no <ANPR> element")
    plate_node = _child(anpr, "licensePlate")
    if plate_node is None:
        raise IsapiError("ANPR event has no <licensePlate>")
    plate_text = (plate_node.text or "").strip()
    plate = None if plate_text.lower() in _UNREAD else plate_text
    conf = _number(anpr, "confidenceLevel")
    if conf is None:
        conf = 0.0 if plate is None else None
    if conf is None:
        raise IsapiError("ANPR event has no <confidenceLevel>")
    line = _number(anpr, "line")
    if line is None:
        line = _number(anpr, "laneNo")
    if line is not None and (line != int(line) or not 0 <= line <= 64):
        raise IsapiError(f"<line> must be a lane number 1-64, got {line:g}")
    vinfo = _child(anpr, "vehicleInfo")
    speed = _number(vinfo, "speed")
    limit = _number(anpr, "speedLimit")
    pictures: dict[str, str] = {}
    plist = _child(anpr, "pictureInfoList")
    for pic in plist if plist is not None else ():
        name, kind = _text(pic, "fileName"), _text(pic, "type")
        if name and kind:
            pictures[name] = kind
    return IsapiEvent(
        event_type="ANPR", active=True, observed_at=observed_at, channel=channel, uuid=uuid,
        plate=plate, confidence=conf / 100.0,
        lane=int(line) - 1 if line else None,
        direction=(_text(anpr, "direction") or None),
        vehicle_type=_text(anpr, "vehicleType") or _text(vinfo, "vehicleType") or None,
        vehicle_color=(_text(vinfo, "color") or None),
        speed_kmh=speed if speed else None,
        speed_limit_kmh=limit if limit else None,
        lonlat=_gps(root), picture_types=pictures,
    )


def _is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff" and data.rstrip(b"\r\n\x00 ").endswith(b"\xff\xd9")


def _part_name(part: Message) -> str:
    return part.get_filename() or str(part.get_param("name", "", header="content-disposition") or "")


def parse_push(body: bytes, content_type: str) -> IsapiPush:
    """Split an ISAPI push into its XML part and JPEG parts and parse the XML.

    ``content_type`` is the request's header: ``multipart/form-data; boundary=...``
    (XML part plus pictures) or ``application/xml``/``text/xml`` (XML only, e.g. a
    heartbeat).

    Raises
    ------
    IsapiError
        On a truncated or malformed multipart body, no XML part, a picture that is
        not a JPEG, too many pictures, or any error of :func:`parse_anpr_xml`.
    """
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype in ("application/xml", "text/xml"):
        return IsapiPush(body, parse_anpr_xml(body), [])
    if ctype not in ("multipart/form-data", "multipart/mixed", "multipart/related"):
        raise IsapiError(f"Content-Type {content_type[:80]!r} is neither multipart nor XML")
    if "\r" in content_type or "\n" in content_type:
        raise IsapiError("Content-Type header contains a line break")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    # compat32: the modern header registry (policy.HTTP) parses 15x slower and adds nothing here
    msg = BytesParser(policy=policy.compat32).parsebytes(head + body)
    defects = [d for d in msg.defects if isinstance(d, _FATAL_DEFECTS)]
    if defects or not msg.is_multipart():
        what = type(defects[0]).__name__ if defects else "no parts"
        raise IsapiError(f"multipart body is truncated or malformed ({what})")
    xml: bytes | None = None
    images: list[tuple[str, bytes]] = []
    parts = msg.get_payload()
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Message):
            raise IsapiError("multipart body is truncated or malformed (a part is not a MIME part)")
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            raise IsapiError("a multipart part is itself multipart")
        name = _part_name(part)
        ptype = part.get_content_type()
        lname = name.lower()
        if ptype in ("application/xml", "text/xml") or lname.endswith(".xml"):
            if xml is not None:
                raise IsapiError("push has more than one XML part")
            xml = data
        elif ptype == "image/jpeg" or lname.endswith((".jpg", ".jpeg")):
            if not _is_jpeg(data):
                raise IsapiError(f"picture part {name[:60]!r} is not a JPEG (no SOI/EOI markers)")
            images.append((name, data))
            if len(images) > MAX_IMAGES:
                raise IsapiError(f"push has more than {MAX_IMAGES} pictures")
        else:
            raise IsapiError(f"unexpected part {name[:60]!r} of type {ptype[:60]!r}")
    if xml is None:
        raise IsapiError("push has no XML part (EventNotificationAlert)")
    return IsapiPush(xml, parse_anpr_xml(xml), images)


def vehicle_class(isapi_type: str | None) -> str | None:
    """The registry class (motorcycle, car, bus, truck) of an ISAPI ``vehicleType``, or None."""
    if not isapi_type:
        return None
    return _VEHICLE_CLASS.get(isapi_type.strip().lower())


def event_id(device_id: str, event: IsapiEvent) -> str:
    """The dedupe key of an ANPR event (see the module docstring)."""
    if event.uuid:
        return f"isapi:{device_id}:{event.channel}:{event.uuid}"[:200]
    assert event.observed_at is not None
    key = hashlib.sha256(f"{event.plate}|{event.lane}".encode()).hexdigest()[:12]
    return f"isapi:{device_id}:{event.channel}:{event.observed_at.isoformat()}:{key}"[:200]


def plate_read(device_id: str, push: IsapiPush, store_blob: Callable[[bytes], str],
               site: IsapiSite | None = None) -> Observation:
    """The ``plate_read`` observation of an active ANPR push.

    ``store_blob`` keeps bytes as evidence and returns their hex SHA-256
    (:meth:`hardware_bridge.evidence.EvidenceStore.put`); it is called for the XML
    part and each picture.

    Raises
    ------
    IsapiError
        If the event is a heartbeat or its fields do not make an observation.
    """
    ev = push.event
    if not ev.active or ev.observed_at is None:
        raise IsapiError("a heartbeat (eventState inactive) is not an observation")

    def order(item: tuple[str, bytes]) -> int:
        kind = ev.picture_types.get(item[0], item[0].rsplit(".", 1)[0])
        return _PICTURE_ORDER.get(kind.lower(), 9)

    digests = [store_blob(data) for _, data in sorted(push.images, key=order)]
    payload: dict[str, object] = {"plate": ev.plate, "confidence": round(ev.confidence, 6)}
    vclass = vehicle_class(ev.vehicle_type)
    if vclass is not None:
        payload["vehicle_class"] = vclass
    if ev.lane is not None:
        payload["lane"] = ev.lane
    if ev.speed_kmh is not None:
        payload["speed_mps"] = round(ev.speed_kmh / KMH_PER_MPS, 6)
    if ev.speed_limit_kmh is not None:
        payload["speed_limit_mps"] = round(ev.speed_limit_kmh / KMH_PER_MPS, 6)
    if ev.direction:
        payload["camera_direction"] = ev.direction[:32]
        way = ev.direction.lower()
        if site is not None and site.heading_deg is not None and way in ("forward", "reverse"):
            flip = 180.0 if way == "reverse" else 0.0
            payload["heading_deg"] = (site.heading_deg + flip) % 360.0
    if ev.vehicle_color:
        payload["vehicle_color"] = ev.vehicle_color[:32]
    if digests:
        payload["image_sha256"] = digests[0]
        if len(digests) > 1:
            payload["image_sha256s"] = digests
    payload["event_xml_sha256"] = store_blob(push.xml)
    location = None
    if site is not None:
        location = Location(site.lon, site.lat, site.link_id)
    elif ev.lonlat is not None:
        location = Location(*ev.lonlat)
    try:
        return Observation(ObservationKind.PLATE_READ, device_id, ev.observed_at, payload, location,
                           event_id=event_id(device_id, ev))
    except ObservationError as exc:
        raise IsapiError(str(exc)) from None


def build_multipart(xml: bytes, images: Mapping[str, bytes], boundary: str = "kota-isapi-boundary"
                    ) -> tuple[bytes, str]:
    """A push body as a camera sends it: ``(body, content_type)`` (for tests, emulators, benchmarks)."""
    crlf = b"\r\n"
    b = boundary.encode("ascii")
    out = [b"--" + b, b'Content-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"',
           b"Content-Type: application/xml", b"", xml]
    for name, data in images.items():
        out += [b"--" + b, f'Content-Disposition: form-data; name="{name}"; filename="{name}"'.encode(),
                b"Content-Type: image/jpeg", b"", data]
    out.append(b"--" + b + b"--")
    return crlf.join(out) + crlf, f"multipart/form-data; boundary={boundary}"
