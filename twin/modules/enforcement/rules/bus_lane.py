"""Busway lane: a vehicle not allowed in the bus lane is seen in it (287(1))."""

from __future__ import annotations

from dataclasses import dataclass

from ..codes import ViolationCode
from .base import PlateRead, Violation, rule_version, violation

RULE = "bus_lane"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class BusLaneRule:
    """Raise BUSWAY_LANE for a vehicle of a non-exempt class in one of ``lanes``.

    A read without a lane or a vehicle class raises nothing (no sanction on a guess).
    """

    lanes: frozenset[int]
    exempt: frozenset[str]

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(RULE, VERSION, [sorted(self.lanes), sorted(self.exempt)])

    def check(self, read: PlateRead) -> Violation | None:
        """The violation ``read`` shows, or None."""
        if read.lane is None or read.lane not in self.lanes or read.vehicle_class is None:
            return None
        if read.vehicle_class in self.exempt:
            return None
        return violation(RULE, self.version, ViolationCode.BUSWAY_LANE, read, {
            "lane": read.lane, "bus_lanes": sorted(self.lanes),
            "vehicle_class": read.vehicle_class,
        })
