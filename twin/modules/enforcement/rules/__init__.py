"""Detection rules: each a small unit that looks at a plate read and may raise a violation."""

from .base import PlateRead, Violation
from .bus_lane import BusLaneRule
from .direction import WrongWayRule, heading_deviation_deg
from .odd_even import OddEvenRule
from .plate import PlateRule
from .red_light import RedLightRule, SignalTracker
from .speeding import PointSpeedRule, SectionSpeedRule

__all__ = [
    "BusLaneRule",
    "OddEvenRule",
    "PlateRead",
    "PlateRule",
    "PointSpeedRule",
    "RedLightRule",
    "SectionSpeedRule",
    "SignalTracker",
    "Violation",
    "WrongWayRule",
    "heading_deviation_deg",
]
