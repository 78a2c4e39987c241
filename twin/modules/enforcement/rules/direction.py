"""Wrong way: travelling against the permitted direction of the road (287(1))."""

from __future__ import annotations

from dataclasses import dataclass

from ..codes import ViolationCode
from .base import PlateRead, Violation, rule_version, violation

RULE = "wrong_way"
VERSION = "1"


def heading_deviation_deg(heading_deg: float, permitted_deg: float) -> float:
    """The smallest angle between two compass headings, in [0, 180] degrees."""
    return abs((heading_deg - permitted_deg + 180.0) % 360.0 - 180.0)


@dataclass(frozen=True, slots=True)
class WrongWayRule:
    """Raise WRONG_WAY when the heading deviates ``min_deviation_deg`` or more."""

    permitted_heading_deg: float
    min_deviation_deg: float

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(RULE, VERSION, [self.permitted_heading_deg, self.min_deviation_deg])

    def check(self, read: PlateRead) -> Violation | None:
        """The violation ``read`` shows, or None (also without a heading)."""
        if read.heading_deg is None:
            return None
        dev = heading_deviation_deg(read.heading_deg, self.permitted_heading_deg)
        if dev < self.min_deviation_deg:
            return None
        return violation(RULE, self.version, ViolationCode.WRONG_WAY, read, {
            "heading_deg": read.heading_deg, "permitted_heading_deg": self.permitted_heading_deg,
            "deviation_deg": round(dev, 2),
        })
