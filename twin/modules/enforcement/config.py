"""Detection configuration: cameras, sections, odd-even corridors and tolerances.

Validated with pydantic, so a scenario's ``[modules.enforcement.detection]`` table and a
live deployment's file give the same errors, naming the key.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.weekdays import Weekdays


class StrictModel(BaseModel):
    """Settings that refuse unknown keys and never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Tolerances(StrictModel):
    """How sure a rule must be before it raises a violation.

    Attributes
    ----------
    min_plate_confidence : OCR confidence at or above which a plate read counts as read
        (the auto-check threshold theta of DOMAIN.md section 1.1)
    speed_tolerance_kmh : km/h above the limit that are not enforced (meter error margin)
    red_light_grace_s : seconds after the signal turns red during which a crossing is
        not enforced
    wrong_way_min_deviation_deg : degrees between the vehicle's heading and the permitted
        direction from which travel counts as against traffic
    """

    min_plate_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    speed_tolerance_kmh: float = Field(default=5.0, ge=0.0)
    red_light_grace_s: float = Field(default=0.3, ge=0.0)
    wrong_way_min_deviation_deg: float = Field(default=135.0, gt=0.0, le=180.0)


class CameraConfig(StrictModel):
    """One ETLE camera and the rules it feeds.

    ``speed_limit_kmh`` enables point speeding; ``kind = "red_light"`` with ``signal_id``
    enables red light (the signal state comes from ``signal_state`` observations of that
    controller, or from the read's own ``signal_state``/``red_elapsed_s`` payload);
    ``heading_deg`` enables wrong way; ``bus_lanes`` enables the busway rule;
    ``check_plate`` the missing/unreadable plate rule.
    """

    id: str = Field(min_length=1)
    kind: Literal["anpr", "speed", "red_light"] = "anpr"
    speed_limit_kmh: float | None = Field(default=None, gt=0)
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    signal_id: str | None = None
    signal_index: int = Field(default=0, ge=0)
    bus_lanes: list[int] = Field(default_factory=list)
    bus_lane_exempt: list[str] = Field(default_factory=lambda: ["bus"])
    check_plate: bool = True

    @model_validator(mode="after")
    def _red_light_needs_signal(self) -> CameraConfig:
        if self.kind == "red_light" and self.signal_id is None:
            raise ValueError(f"camera {self.id!r}: kind = 'red_light' needs signal_id")
        return self


class SectionConfig(StrictModel):
    """Average-speed section between two cameras.

    Attributes
    ----------
    length_m : road distance between the cameras in metres
    speed_limit_kmh : limit of the section
    max_travel_s : an entry older than this is forgotten (no exit matched)
    """

    id: str = Field(min_length=1)
    entry_camera: str = Field(min_length=1)
    exit_camera: str = Field(min_length=1)
    length_m: float = Field(gt=0)
    speed_limit_kmh: float = Field(gt=0)
    max_travel_s: float = Field(default=1800.0, gt=0)


class CorridorConfig(StrictModel):
    """A ganjil-genap (odd-even) corridor: on odd dates only odd plates may enter.

    Attributes
    ----------
    weekdays : days it applies, 0 = Monday (default Monday-Friday)
    windows : local ``[start, end)`` times, default 06:00-10:00 and 16:00-20:00
    holidays : dates it does not apply (national holidays, cuti bersama)
    applies_to : vehicle classes it applies to (default private cars)
    utc_offset_h : local time zone (WIB = +7)
    """

    id: str = Field(min_length=1)
    cameras: list[str] = Field(min_length=1)
    weekdays: Weekdays = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    windows: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(6), time(10)), (time(16), time(20))])
    holidays: list[date] = Field(default_factory=list)
    applies_to: list[str] = Field(default_factory=lambda: ["car"])
    utc_offset_h: float = Field(default=7.0, ge=-12, le=14)



class DetectionConfig(StrictModel):
    """Everything the :class:`~twin.modules.enforcement.detector.Detector` needs."""

    tolerances: Tolerances = Field(default_factory=Tolerances)
    cameras: list[CameraConfig] = Field(default_factory=list)
    sections: list[SectionConfig] = Field(default_factory=list)
    corridors: list[CorridorConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> DetectionConfig:
        ids = [c.id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("cameras: duplicate camera id")
        known = set(ids)
        for s in self.sections:
            for cam in (s.entry_camera, s.exit_camera):
                if cam not in known:
                    raise ValueError(f"sections.{s.id}: unknown camera {cam!r}")
        for c in self.corridors:
            for cam in c.cameras:
                if cam not in known:
                    raise ValueError(f"corridors.{c.id}: unknown camera {cam!r}")
        return self
