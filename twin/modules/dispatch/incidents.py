"""Incidents: their types, the units they need, their priority and their timestamps.

The canonical timestamps follow DOMAIN.md section 2.2; each is seconds since the
scenario start, ``None`` until reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import Injury

ROAD_TYPES = frozenset({"crash", "breakdown", "flood"})
"""Incident types that block lanes in the traffic core until cleared."""


def needs(incident_type: str, injury: str) -> tuple[str, ...]:
    """Unit kinds an incident needs, one unit of each.

    A crash needs police and a tow truck to clear the lanes, and an ambulance
    when someone is hurt; a flood needs Dishub officers; a fire, a fire unit.
    """
    if incident_type == "crash":
        return ("police", "ambulance", "tow") if injury != "none" else ("police", "tow")
    return {
        "breakdown": ("tow",),
        "fire": ("fire",),
        "medical": ("ambulance",),
        "crime": ("police",),
        "flood": ("dishub",),
    }[incident_type]


def clearing_kind(incident_type: str) -> str | None:
    """The unit kind whose work on scene reopens the road (None: not a road incident)."""
    return {"crash": "tow", "breakdown": "tow", "flood": "dishub"}.get(incident_type)


def priority(incident_type: str, injury: str, medical_p1: bool) -> int:
    """P1 (life at risk) to P3."""
    if incident_type == "crash":
        return {"serious": 1, "minor": 2, "none": 3}[injury]
    if incident_type == "medical":
        return 1 if medical_p1 else 2
    return {"fire": 1, "crime": 2, "flood": 2, "breakdown": 3}[incident_type]


ON_SCENE_S: dict[str, float] = {
    "crash": 1200.0, "breakdown": 900.0, "fire": 2400.0,
    "medical": 900.0, "crime": 1500.0, "flood": 3600.0,
}
"""Mean work time on scene per incident type (seconds)."""


@dataclass
class Incident:
    """One incident and its lifecycle."""

    id: str
    type: str
    link: int
    t_occurred: float
    injury: Injury = "none"
    priority: int = 3
    lanes_blocked: int = 1
    needs: tuple[str, ...] = ()
    area: str = ""
    """The station nearest by travel time when it occurred (KPIs per area)."""
    engine_incident: int | None = None
    """Id of the lane block in :class:`twin.simulation.Simulation`, while open."""
    t_ring: float | None = None
    t_answer: float | None = None
    t_classified: float | None = None
    t_dispatch: float | None = None
    t_enroute: float | None = None
    t_onscene: float | None = None
    t_patient_contact: float | None = None
    t_transport: float | None = None
    t_at_facility: float | None = None
    t_road_reopened: float | None = None
    t_clear: float | None = None
    t_closed: float | None = None
    units: dict[str, str] = field(default_factory=dict)
    """Kind -> id of the unit sent."""
    arrivals: dict[str, float] = field(default_factory=dict)
    """Kind -> on-scene time of that unit."""
    kind_times: dict[str, dict[str, float]] = field(default_factory=dict)
    """Kind -> ``t_dispatch``/``t_enroute``/``t_onscene`` of that kind's unit."""
    n_calls: int = 0
    calls_open: int = 0
    units_done: int = 0

    @property
    def is_road(self) -> bool:
        """Whether the incident blocks lanes."""
        return self.type in ROAD_TYPES

    @property
    def service(self) -> str:
        """The first unit kind it needs, used to group KPIs by service."""
        return self.needs[0] if self.needs else "none"

    def timestamps(self) -> list[tuple[str, float | None]]:
        """The canonical timestamps in lifecycle order."""
        names = ("t_ring", "t_answer", "t_classified", "t_dispatch", "t_enroute", "t_onscene",
                 "t_clear", "t_closed")
        return [(n, getattr(self, n)) for n in names]


@dataclass
class Call:
    """One call to the centre."""

    id: int
    kind: str
    """``normal`` (about an incident), ``ghost``, ``prank`` or ``info``."""
    t_ring: float
    incident_id: str | None = None
    priority: int = 3
    patience_s: float = 0.0
    t_answer: float | None = None
    t_classified: float | None = None
    t_abandon: float | None = None
    duplicate: bool = False

    @property
    def answered(self) -> bool:
        """Whether a call taker answered it."""
        return self.t_answer is not None

    @property
    def answer_time_s(self) -> float | None:
        """``t_answer - t_ring`` (None when abandoned)."""
        return None if self.t_answer is None else self.t_answer - self.t_ring
