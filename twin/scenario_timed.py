"""Timed sections of a scenario: link conditions, road closures, odd-even, large events.

Each is a small typed section of :class:`twin.scenario.Scenario`, checked on load with
errors that name the key; :class:`twin.timed.TimedActions` runs the first three as
processes on the run's clock, and :func:`twin.assemble.build_trips` adds the event trips
to the demand. ``scenarios/README.md`` documents every key.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from twin.weekdays import Weekdays

__all__ = ["ClosureSpec", "ConditionSpec", "EventSpec", "OddEvenSpec"]


VehicleClass = Literal["motorcycle", "car", "bus", "truck"]


def _cars() -> list[VehicleClass]:
    return ["car"]


class ScenarioSection(BaseModel):
    """A scenario section: unknown keys are refused, values are immutable (also the base of
    :mod:`twin.scenario`'s sections)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Window(ScenarioSection):
    id: str = Field(min_length=1)
    links: list[str] = Field(min_length=1, description="link ids")
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0, description="when it ends; past the run's end: never within it")

    @model_validator(mode="after")
    def _ordered(self) -> _Window:
        if self.end_s <= self.start_s:
            raise ValueError(f"{self.id!r}: end_s ({self.end_s}) must come after start_s "
                             f"({self.start_s})")
        if len(set(self.links)) != len(self.links):
            raise ValueError(f"{self.id!r}: a link is listed twice")
        return self


class ConditionSpec(_Window):
    """``[[conditions]]``: weather on chosen links for a time (rain, flooding).

    ``speed_factor`` scales the desired speed (heavy rain: 0.6-0.8); ``lanes_blocked``
    takes that many lanes from the kerb out of use (standing water); ``closed`` shuts the
    links (a flooded underpass), and drivers re-plan around them.
    """

    type: Literal["rain", "flood", "haze", "other"] = "rain"
    speed_factor: float = Field(default=1.0, gt=0, le=1)
    lanes_blocked: int | None = Field(default=None, ge=1)
    closed: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> ConditionSpec:
        if self.closed and self.lanes_blocked is not None:
            raise ValueError(f"condition {self.id!r}: give lanes_blocked or closed, not both "
                             f"(a closed link has every lane blocked)")
        if self.speed_factor == 1.0 and self.lanes_blocked is None and not self.closed:
            raise ValueError(f"condition {self.id!r}: changes nothing; give speed_factor < 1, "
                             f"lanes_blocked or closed = true")
        return self


class ClosureSpec(_Window):
    """``[[closures]]``: links closed from ``start_s`` and reopened at ``end_s``
    (roadworks, a street event); drivers re-plan around them while closed."""

    reason: Literal["roadworks", "event", "police", "other"] = "roadworks"


class OddEvenSpec(ScenarioSection):
    """``[[odd_even]]``: a ganjil-genap corridor (Pergub DKI 88/2019): within the windows,
    on odd dates only plates ending in an odd digit may use ``links``, on even dates only
    even ones. Defaults as the enforcement module's corridors: Monday-Friday, 06:00-10:00
    and 16:00-20:00 local time, private cars only."""

    id: str = Field(min_length=1)
    links: list[str] = Field(min_length=1, description="link ids of the corridor")
    enabled: bool = Field(default=True, description="false: the policy is off (for sweeps)")
    windows: list[tuple[time, time]] = Field(
        default_factory=lambda: [(time(6), time(10)), (time(16), time(20))],
        description="local [start, end) times")
    weekdays: Weekdays = Field(default_factory=lambda: [0, 1, 2, 3, 4],
                                description="0 = Monday")
    holidays: list[date] = Field(default_factory=list)
    applies_to: list[VehicleClass] = Field(default_factory=_cars, min_length=1)

    @field_validator("windows")
    @classmethod
    def _windows(cls, v: list[tuple[time, time]]) -> list[tuple[time, time]]:
        for a, b in v:
            if b <= a:
                raise ValueError(f"window {a}-{b}: the end must come after the start "
                                 f"(no window across midnight)")
        return v



class EventSpec(ScenarioSection):
    """``[[events]]``: a large event letting out: ``trips`` extra trips leave ``origin``
    (a node: the venue's car park) between ``start_s`` and ``end_s``, to destinations
    spread over the network (``destinations``, default every node reachable)."""

    id: str = Field(min_length=1)
    origin: str = Field(min_length=1, description="node id")
    trips: int = Field(ge=1, le=1_000_000)
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    destinations: list[str] | None = Field(default=None, min_length=1,
                                           description="node ids; default: spread over all")
    vehicle_mix: dict[str, float] | None = Field(
        default=None, description="class -> share; default the demand's mix")

    @model_validator(mode="after")
    def _ordered(self) -> EventSpec:
        if self.end_s <= self.start_s:
            raise ValueError(f"event {self.id!r}: end_s ({self.end_s}) must come after start_s "
                             f"({self.start_s})")
        if self.destinations is not None and self.origin in self.destinations:
            raise ValueError(f"event {self.id!r}: the origin is among the destinations")
        if self.vehicle_mix is not None and (any(v < 0 for v in self.vehicle_mix.values())
                                             or sum(self.vehicle_mix.values()) <= 0):
            raise ValueError(f"event {self.id!r}: vehicle_mix shares must be >= 0 and not "
                             f"all zero")
        return self
