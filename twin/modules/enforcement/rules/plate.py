"""Missing, invalid or unreadable plate (280): the officer decides from the image.

``missing``: the camera saw a vehicle but no plate. ``invalid``: the text was read with
confidence but is not an Indonesian plate (fake or non-standard plate).
``unreadable``: the read's confidence is below the threshold (covered, dirty or bent
plate). All go to officer verification like every other case.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codes import ViolationCode
from .base import PlateRead, Violation, rule_version, violation

RULE = "plate"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class PlateRule:
    """Raise NO_PLATE_OR_INVALID_PLATE for a missing, invalid or unreadable plate."""

    min_confidence: float

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(RULE, VERSION, [self.min_confidence])

    def check(self, read: PlateRead) -> Violation | None:
        """The violation ``read`` shows, or None."""
        if read.plate is None:
            problem = "missing"
        elif read.confidence < self.min_confidence:
            problem = "unreadable"
        elif not read.plate_valid:
            problem = "invalid"
        else:
            return None
        return violation(RULE, self.version, ViolationCode.NO_PLATE_OR_INVALID_PLATE, read, {
            "problem": problem, "confidence": read.confidence,
            "min_confidence": self.min_confidence,
        })
