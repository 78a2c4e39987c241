"""What every detection rule shares: the read it looks at and the violation it raises."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twin.observations import Location, Observation, ObservationKind

from ..codes import ViolationCode
from ..plates import try_parse_plate

MPS_TO_KMH = 3.6


@dataclass(frozen=True, slots=True)
class PlateRead:
    """A typed view of one ``plate_read`` observation from an ETLE camera.

    Optional payload fields a camera may send beside ``plate`` and ``confidence``:
    ``speed_mps``, ``vehicle_class``, ``heading_deg``, ``lane``, ``image_sha256`` (or
    ``image_sha256s``, a list), ``signal_state``, ``red_elapsed_s`` and ``emergency``
    (True: an emergency vehicle on duty, lights and siren on, as the twin's cameras
    report from the engine, :mod:`twin.cameras.virtual`).

    Attributes
    ----------
    obs : Observation, the read itself
    plate : str or None, normal form when the text parses as a plate, else as read
    plate_valid : bool, whether the text parses as an Indonesian plate
    confidence : float, OCR confidence in [0, 1]
    speed_kmh : float or None
    vehicle_class : str or None
    heading_deg : float or None, compass heading of travel
    lane : int or None, 0 = kerb side
    image_sha256 : tuple of str, hashes of the evidence images
    emergency : bool, an emergency vehicle on duty (the payload's ``emergency`` is True)
    """

    obs: Observation
    plate: str | None
    plate_valid: bool
    confidence: float
    speed_kmh: float | None
    vehicle_class: str | None
    heading_deg: float | None
    lane: int | None
    image_sha256: tuple[str, ...]
    emergency: bool = False

    @property
    def at(self) -> datetime:
        """When the vehicle was seen."""
        return self.obs.observed_at

    @classmethod
    def of(cls, obs: Observation) -> PlateRead:
        """The view of a ``plate_read`` observation."""
        if obs.kind is not ObservationKind.PLATE_READ:
            raise ValueError(f"expected a plate_read observation, got {obs.kind.value}")
        p = obs.payload
        raw = p["plate"]
        parsed = try_parse_plate(raw)
        speed = p.get("speed_mps")
        heading = p.get("heading_deg")
        lane = p.get("lane")
        if lane is None and obs.location is not None:
            lane = obs.location.lane
        images = p.get("image_sha256s") or ([p["image_sha256"]] if p.get("image_sha256") else [])
        return cls(
            obs=obs,
            plate=parsed.text if parsed is not None else raw,
            plate_valid=parsed is not None,
            confidence=float(p["confidence"]),
            speed_kmh=_finite(speed, MPS_TO_KMH),
            vehicle_class=p.get("vehicle_class") if isinstance(p.get("vehicle_class"), str) else None,
            heading_deg=_finite(heading, 1.0),
            lane=lane if isinstance(lane, int) and not isinstance(lane, bool) else None,
            image_sha256=tuple(str(h) for h in images),
            emergency=p.get("emergency") is True,
        )


def _finite(value: Any, scale: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value) * scale


@dataclass(frozen=True, slots=True)
class Violation:
    """A violation raised by a rule, with its evidence.

    Attributes
    ----------
    violation_id : str, ``"{rule}:{source_event_id}"``; the same camera event always
        gives the same id, so it is stored once however often it arrives
    code : ViolationCode
    rule : str, e.g. ``"speeding.point"``
    rule_version : str, rule version plus a hash of its parameters
    camera_id : str
    observed_at : datetime, when the violation happened
    plate : str or None, as read (normal form when valid)
    plate_confidence : float
    vehicle_class : str or None
    location : Location or None
    measured : mapping, the measured values and limits (``speed_kmh``, ``limit_kmh``,...)
    observations : tuple of Observation, every observation the decision used
    image_sha256 : tuple of str, evidence image hashes
    source_event_id : str, the event that completed the violation
    """

    violation_id: str
    code: ViolationCode
    rule: str
    rule_version: str
    camera_id: str
    observed_at: datetime
    plate: str | None
    plate_confidence: float
    vehicle_class: str | None
    location: Location | None
    measured: Mapping[str, Any]
    observations: tuple[Observation, ...]
    image_sha256: tuple[str, ...]
    source_event_id: str

    @property
    def plate_readable(self) -> bool:
        """Whether the plate was read as a valid plate (before any confidence check)."""
        return try_parse_plate(self.plate) is not None

    def evidence(self) -> dict[str, Any]:
        """The evidence package as JSON-ready data (stored with the case)."""
        return {
            "observations": [o.to_dict() for o in self.observations],
            "image_sha256": list(self.image_sha256),
            "measured": dict(self.measured),
            "rule": self.rule,
            "rule_version": self.rule_version,
        }


def violation(rule: str, version: str, code: ViolationCode, read: PlateRead,
              measured: Mapping[str, Any], *, extra: tuple[Observation, ...] = (),
              extra_images: tuple[str, ...] = ()) -> Violation:
    """Build the violation of ``rule`` completed by ``read``."""
    obs = read.obs
    return Violation(
        violation_id=f"{rule}:{obs.event_id}",
        code=code, rule=rule, rule_version=version, camera_id=obs.source_id,
        observed_at=obs.observed_at, plate=read.plate, plate_confidence=read.confidence,
        vehicle_class=read.vehicle_class, location=obs.location, measured=dict(measured),
        observations=(*extra, obs), image_sha256=(*extra_images, *read.image_sha256),
        source_event_id=obs.event_id,
    )


def rule_version(rule: str, version: str, params: Any) -> str:
    """A rule's version string: its name, version and a short stable hash of its parameters."""
    body = json.dumps(params, sort_keys=True, default=str)
    return f"{rule}/{version}+{hashlib.sha256(body.encode()).hexdigest()[:8]}"
