"""Dispatch configuration: incident rates, call centre, stations, units and targets.

Validated with pydantic, so a scenario's ``[modules.dispatch]`` table gives errors that
name the offending key (``modules.dispatch.call_centre.shifts.0.count: ...``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

IncidentType = Literal["crash", "breakdown", "fire", "medical", "crime", "flood"]
Injury = Literal["none", "minor", "serious"]
UnitKind = Literal["police", "ambulance", "fire", "tow", "dishub"]
PolicyName = Literal["nearest_eta", "coverage"]

UNIT_KINDS: tuple[str, ...] = ("police", "ambulance", "fire", "tow", "dishub")


class DispatchConfigError(ValueError):
    """A ``[modules.dispatch]`` table that does not validate; the message names each key."""


class StrictModel(BaseModel):
    """Settings that refuse unknown keys and never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_keys(name: str, mapping: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in mapping:
        if key not in allowed:
            raise ValueError(f"{name}: unknown key {key!r} (expected one of {', '.join(allowed)})")


class RateSpec(StrictModel):
    """Incidents of one type arriving as a Poisson process during ``[from_hour, to_hour)``."""

    type: IncidentType
    per_hour: float = Field(ge=0.0)
    from_hour: float = Field(default=0.0, ge=0.0, le=24.0)
    to_hour: float = Field(default=24.0, ge=0.0, le=24.0)
    serious_share: float = Field(default=0.2, ge=0.0, le=1.0)
    """For crashes: share with serious injuries (the rest split none/minor evenly)."""

    @model_validator(mode="after")
    def _window(self) -> RateSpec:
        if self.to_hour <= self.from_hour:
            raise ValueError(f"to_hour ({self.to_hour}) must be after from_hour ({self.from_hour})")
        return self


class ScriptedIncident(StrictModel):
    """An incident at a given time and link."""

    id: str = Field(min_length=1)
    type: IncidentType
    link: str = Field(min_length=1)
    at_s: float = Field(ge=0.0)
    injury: Injury = "none"
    lanes_blocked: int = Field(default=1, ge=1)
    calls: int | None = Field(default=None, ge=0)
    """Number of calls it makes; default drawn from ``calls.per_incident_mean``."""


class CallsSpec(StrictModel):
    """How incidents turn into calls, and the nuisance calls."""

    per_incident_mean: float = Field(default=1.5, ge=0.0)
    """Mean of the Poisson number of calls an incident makes (0 means unreported)."""
    delay_mean_s: float = Field(default=60.0, gt=0.0)
    nuisance_per_hour: float = Field(default=0.0, ge=0.0)
    """Ghost, prank and information calls per hour, split by ``nuisance_shares``."""
    nuisance_shares: dict[str, float] = Field(
        default_factory=lambda: {"ghost": 0.5, "prank": 0.3, "info": 0.2})
    patience_mean_s: float = Field(default=45.0, gt=0.0)
    classify_mean_s: float = Field(default=30.0, gt=0.0)
    nuisance_talk_mean_s: float = Field(default=20.0, gt=0.0)
    unreported_self_clear_s: float = Field(default=1800.0, gt=0.0)
    """A road incident nobody reports is cleared by the drivers themselves after this."""

    @model_validator(mode="after")
    def _shares(self) -> CallsSpec:
        _check_keys("nuisance_shares", self.nuisance_shares, ("ghost", "prank", "info"))
        if any(v < 0 for v in self.nuisance_shares.values()) or \
                sum(self.nuisance_shares.values()) <= 0:
            raise ValueError("nuisance_shares must be >= 0 with a positive sum")
        return self


class ShiftSpec(StrictModel):
    """Call takers on duty during ``[from_hour, to_hour)`` every day."""

    from_hour: float = Field(ge=0.0, le=24.0)
    to_hour: float = Field(ge=0.0, le=24.0)
    count: int = Field(ge=0)

    @model_validator(mode="after")
    def _window(self) -> ShiftSpec:
        if self.to_hour <= self.from_hour:
            raise ValueError(f"to_hour ({self.to_hour}) must be after from_hour ({self.from_hour})")
        return self


class CallCentreSpec(StrictModel):
    """The 112 centre: call takers on shifts and the dispatcher's decision time."""

    shifts: list[ShiftSpec] = Field(default_factory=lambda: [ShiftSpec(
        from_hour=0, to_hour=24, count=2)], min_length=1)
    dispatch_decision_s: float = Field(default=15.0, ge=0.0)


class StationSpec(StrictModel):
    """A home station at a network node with its units per kind."""

    id: str = Field(min_length=1)
    node: str = Field(min_length=1)
    units: dict[UnitKind, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _counts(self) -> StationSpec:
        for kind, n in self.units.items():
            if n < 0:
                raise ValueError(f"units.{kind} must be >= 0, got {n}")
        return self


def _turnout() -> dict[str, float]:
    return {"police": 45.0, "ambulance": 60.0, "fire": 80.0, "tow": 120.0, "dishub": 90.0}


class TargetsSpec(StrictModel):
    """Response-time targets of DOMAIN.md section 2.3 (seconds)."""

    answer_s: tuple[float, ...] = (10.0, 15.0, 20.0)
    call_processing_s: float = Field(default=60.0, gt=0.0)
    turnout_s: dict[str, float] = Field(default_factory=_turnout)
    fire_travel_s: float = Field(default=240.0, gt=0.0)
    response_s: dict[str, float] = Field(
        default_factory=lambda: {"fire": 900.0, "ambulance": 539.0})
    """Total response target (ring to on scene): fire 15 min (Damkar SPM), EMS 8:59."""

    @model_validator(mode="after")
    def _kinds(self) -> TargetsSpec:
        _check_keys("turnout_s", self.turnout_s, UNIT_KINDS)
        _check_keys("response_s", self.response_s, UNIT_KINDS)
        return self


class DispatchConfig(StrictModel):
    """``[modules.dispatch]`` of a scenario."""

    seed: int = 0
    rates: list[RateSpec] = Field(default_factory=list)
    incidents: list[ScriptedIncident] = Field(default_factory=list)
    calls: CallsSpec = Field(default_factory=CallsSpec)
    call_centre: CallCentreSpec = Field(default_factory=CallCentreSpec)
    stations: list[StationSpec] = Field(min_length=1)
    layouts: dict[str, list[StationSpec]] = Field(default_factory=dict)
    """Alternative station layouts for the planner comparison (``kota dispatch --compare``):
    name -> stations replacing ``stations``; the same day (incidents, calls) is replayed."""
    hospitals: list[str] = Field(default_factory=list)
    """Nodes of hospitals; an ambulance transports there (none: no transport leg)."""
    policy: PolicyName = "nearest_eta"
    coverage_slack_s: float = Field(default=120.0, ge=0.0)
    overrides: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Operator override: incident id -> kind -> unit id to send."""
    max_snap_m: float = Field(default=150.0, ge=0.0)
    """A reported position farther than this from every road is refused, not guessed."""
    emergency_speedup: float = Field(default=1.0, gt=0.0)
    """Divides the path's current travel time (1: units drive at the traffic's speed)."""
    units_in_traffic: bool = True
    """Drive each dispatched unit to the incident as a vehicle in the traffic engine
    (a car on an emergency call on the fastest route on current times; see
    :mod:`twin.modules.dispatch.drive`); false: the path's current travel time, without
    adding vehicles (faster, and what a run without an engine must use). With the
    engine's emergency privileges (speed above the limit, red at a crawl, priority,
    vehicles moving aside, passing standing queues) the Jatinegara peak scenario's
    4-hour ambulance travel is P50 165 s, P90 386 s (484 s computed; 3,682 s before
    queue passing, when units stuck in the single-lane spill-back hit the one-hour
    drive cap)."""
    targets: TargetsSpec = Field(default_factory=TargetsSpec)
    board_every_s: float = Field(default=30.0, gt=0.0)
    """Inside a twin run (:mod:`twin.modules.dispatch.live`): save the board to the store
    and take the operators' recorded overrides every this many simulated seconds."""
    resume: bool = True
    """Inside a twin run: on start, resume the open incidents of the latest interrupted run
    of the same scenario in the store (one whose process died: status still ``running``
    and its run lock free); see :mod:`twin.modules.dispatch.resume`. A run of the same
    scenario still running on the store (another process) is not taken over. ``kota
    dispatch`` (a batch) never resumes."""

    @model_validator(mode="after")
    def _unique(self) -> DispatchConfig:
        for iid, chosen in self.overrides.items():
            _check_keys(f"overrides.{iid}", chosen, UNIT_KINDS)
        for name, layout in self.layouts.items():
            if not layout:
                raise ValueError(f"layouts.{name}: no stations")
            ids = [s.id for s in layout]
            if len(set(ids)) != len(ids):
                raise ValueError(f"layouts.{name}: duplicate station id")
        for what, ids in (("stations", [s.id for s in self.stations]),
                          ("incidents", [i.id for i in self.incidents])):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    raise ValueError(f"{what}: duplicate id {i!r}")
                seen.add(i)
        return self


def parse_config(raw: dict[str, Any], where: str = "modules.dispatch") -> DispatchConfig:
    """Validate a ``[modules.dispatch]`` table.

    Raises
    ------
    DispatchConfigError
        One line per problem, each naming the dotted key under ``where``.
    """
    try:
        return DispatchConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join([where, *(str(p) for p in err["loc"])])
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"  {loc}: {msg}")
        raise DispatchConfigError("invalid dispatch configuration\n" + "\n".join(lines)) from None
