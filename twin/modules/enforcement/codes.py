"""The violation codes ETLE detects (DOMAIN.md section 1.2)."""

from __future__ import annotations

from enum import StrEnum


class ViolationCode(StrEnum):
    """A violation the detection rules can raise; the fine and points tables key on it."""

    SPEEDING = "SPEEDING"
    RED_LIGHT = "RED_LIGHT"
    ODD_EVEN = "ODD_EVEN"
    WRONG_WAY = "WRONG_WAY"
    BUSWAY_LANE = "BUSWAY_LANE"
    NO_PLATE_OR_INVALID_PLATE = "NO_PLATE_OR_INVALID_PLATE"
