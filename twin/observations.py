"""The one Observation record that sensors, devices and the simulator all produce.

An :class:`Observation` is small, immutable and versioned. Its ``payload`` is
checked against the table :data:`PAYLOAD_FIELDS` for its kind, so a module
can rely on the fields being there with the right types whether the record
came from a virtual sensor or from a device through the hardware bridge.

``event_id`` identifies the real-world event (a camera's event number, a
detector's interval start). Two observations with the same ``event_id`` are the
same event seen twice, and the store keeps one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

SCHEMA_VERSION = 1


class ObservationError(ValueError):
    """An observation (or its serialised form) is malformed; the message says which field."""


class ObservationKind(StrEnum):
    """What an observation reports."""

    DETECTOR_INTERVAL = "detector_interval"
    """Loop detector aggregate over an interval: count, occupancy, mean speed."""
    POINT_SPEED = "point_speed"
    """One vehicle's speed at a point (speed camera, radar)."""
    PLATE_READ = "plate_read"
    """One ANPR plate read."""
    SIGNAL_STATE = "signal_state"
    """A traffic signal's state string at a junction."""
    INCIDENT_REPORT = "incident_report"
    """An incident seen or reported (CCTV analytics, patrol, operator)."""
    EMERGENCY_CALL = "emergency_call"
    """A call to 112 or an agency number."""
    UNIT_POSITION = "unit_position"
    """A response unit's position and status."""


_NUM = (int, float)
_OPT_STR = (str, type(None))
_OPT_NUM = (int, float, type(None))
_OPT_INT = (int, type(None))

PAYLOAD_FIELDS: Mapping[ObservationKind, Mapping[str, tuple[type, ...]]] = MappingProxyType({
    ObservationKind.DETECTOR_INTERVAL: {
        "interval_s": _NUM, "count": _OPT_INT, "occupancy": _OPT_NUM, "mean_speed_mps": _OPT_NUM,
    },
    ObservationKind.POINT_SPEED: {"speed_mps": _NUM},
    ObservationKind.PLATE_READ: {"plate": _OPT_STR, "confidence": _NUM},
    ObservationKind.SIGNAL_STATE: {"program": (str,), "state": (str,)},
    ObservationKind.INCIDENT_REPORT: {"incident_type": (str,)},
    ObservationKind.EMERGENCY_CALL: {"call_type": (str,)},
    ObservationKind.UNIT_POSITION: {"unit_id": (str,), "status": (str,)},
})
"""Required payload fields per kind and their allowed types; extra fields are allowed.

A field whose types include None must be present but may be None: the sensor does
not measure it (a speed-only detector has no ``count`` or ``occupancy``; an empty
interval has no ``mean_speed_mps``). It is never filled with a made-up value."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where an observation was made.

    Attributes
    ----------
    lon, lat : float, WGS84 degrees
    link_id : str or None, the network link when known
    pos_m : float or None, metres from the start of ``link_id``
    lane : int or None, lane index (0 = kerb side)
    """

    lon: float
    lat: float
    link_id: str | None = None
    pos_m: float | None = None
    lane: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise ObservationError(f"location.lon must be within [-180, 180], got {self.lon!r}")
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise ObservationError(f"location.lat must be within [-90, 90], got {self.lat!r}")


@dataclass(frozen=True, slots=True)
class Observation:
    """One observation of the city, from the simulator or a device.

    Attributes
    ----------
    kind : ObservationKind
    source_id : str, the sensor, camera or device that made it
    observed_at : datetime, timezone-aware (naive datetimes are rejected)
    payload : mapping, kind-specific fields (see :data:`PAYLOAD_FIELDS`);
        quantities carry their unit in the key (``speed_mps``)
    location : Location or None
    event_id : str, identifies the event for deduplication; derived from
        source, kind, time and payload when not given
    schema_version : int
    """

    kind: ObservationKind
    source_id: str
    observed_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    location: Location | None = None
    event_id: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        try:
            kind = self.kind if type(self.kind) is ObservationKind else ObservationKind(self.kind)
        except ValueError:
            raise ObservationError(
                f"unknown observation kind {self.kind!r}; expected one of "
                f"{', '.join(k.value for k in ObservationKind)}"
            ) from None
        object.__setattr__(self, "kind", kind)
        if not isinstance(self.source_id, str) or not self.source_id:
            raise ObservationError("source_id must be a non-empty string")
        if not isinstance(self.observed_at, datetime) or self.observed_at.tzinfo is None:
            raise ObservationError(
                f"observed_at must be a timezone-aware datetime, got {self.observed_at!r}"
            )
        if self.schema_version != SCHEMA_VERSION:
            raise ObservationError(
                f"schema_version {self.schema_version} is not supported (this build reads "
                f"{SCHEMA_VERSION})"
            )
        if type(self.payload) is not dict and not isinstance(self.payload, Mapping):
            raise ObservationError("payload must be a mapping")
        for key, types in PAYLOAD_FIELDS[kind].items():
            if key not in self.payload:
                raise ObservationError(f"{kind.value} payload is missing {key!r}")
            value = self.payload[key]
            if isinstance(value, bool) or not isinstance(value, types):
                names = "/".join("null" if t is type(None) else t.__name__ for t in types)
                raise ObservationError(
                    f"{kind.value} payload field {key!r} must be {names}, got {value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ObservationError(f"{kind.value} payload field {key!r} is not finite")
        object.__setattr__(self, "payload", MappingProxyType(dict(self.payload)))
        if not self.event_id:
            object.__setattr__(self, "event_id", self._derived_event_id())

    @property
    def topic(self) -> str:
        """The bus topic: ``{kind}/{source_id}``."""
        return f"{self.kind.value}/{self.source_id}"

    def _derived_event_id(self) -> str:
        body = json.dumps(
            [self.kind.value, self.source_id, self.observed_at.isoformat(), dict(self.payload)],
            sort_keys=True, default=str,
        )
        return hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        loc = self.location
        return {
            "schema_version": self.schema_version,
            "kind": self.kind.value,
            "source_id": self.source_id,
            "observed_at": self.observed_at.isoformat(),
            "event_id": self.event_id,
            "location": None if loc is None else {
                "lon": loc.lon, "lat": loc.lat, "link_id": loc.link_id,
                "pos_m": loc.pos_m, "lane": loc.lane,
            },
            "payload": dict(self.payload),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observation:
        """Build an observation from its dict form, checking every field.

        Raises
        ------
        ObservationError
            Naming the missing or malformed field.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise ObservationError(f"an observation must be an object, got {type(data).__name__}")
        for key in ("kind", "source_id", "observed_at"):
            if key not in data:
                raise ObservationError(f"observation is missing {key!r}")
        observed_at = data["observed_at"]
        if isinstance(observed_at, str):
            try:
                observed_at = datetime.fromisoformat(observed_at)
            except ValueError:
                raise ObservationError(
                    f"observed_at {observed_at!r} is not an ISO 8601 timestamp"
                ) from None
        loc = data.get("location")
        location = None
        if loc is not None:
            if type(loc) is not dict and not isinstance(loc, Mapping):
                raise ObservationError("location must be an object")
            try:
                location = Location(
                    lon=float(loc["lon"]), lat=float(loc["lat"]), link_id=loc.get("link_id"),
                    pos_m=None if loc.get("pos_m") is None else float(loc["pos_m"]),
                    lane=None if loc.get("lane") is None else int(loc["lane"]),
                )
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                raise ObservationError(f"location is malformed: {exc!r}") from None
        return cls(
            kind=data["kind"],
            source_id=data["source_id"],
            observed_at=observed_at,
            payload=data.get("payload", {}),
            location=location,
            event_id=data.get("event_id", "") or "",
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )


def utc(dt: datetime) -> datetime:
    """``dt`` converted to UTC (it must be timezone-aware)."""
    if dt.tzinfo is None:
        raise ObservationError(f"{dt!r} is a naive datetime; give it a timezone")
    return dt.astimezone(UTC)
