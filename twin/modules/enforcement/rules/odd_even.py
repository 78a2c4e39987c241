"""Ganjil-genap: on odd dates only odd plates, on even dates only even plates (287(1)).

Applies in the corridor's local time on its weekdays and within its windows, never on
its holidays, and only to the vehicle classes it names (private cars by default). A
read without a vehicle class or without a readable plate raises nothing here (the plate
rule covers unreadable plates): no sanction on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..codes import ViolationCode
from ..config import CorridorConfig
from ..plates import try_parse_plate
from .base import PlateRead, Violation, rule_version, violation

RULE = "odd_even"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class OddEvenRule:
    """The odd-even restriction of one corridor."""

    corridor: CorridorConfig
    min_confidence: float

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(RULE, VERSION, [self.corridor.model_dump(mode="json"), self.min_confidence])

    def _local(self, read: PlateRead) -> datetime:
        return read.at.astimezone(timezone(timedelta(hours=self.corridor.utc_offset_h)))

    def in_force(self, local: datetime) -> bool:
        """Whether the restriction applies at the corridor-local time ``local``."""
        c = self.corridor
        if local.weekday() not in c.weekdays or local.date() in c.holidays:
            return False
        t = local.time().replace(tzinfo=None)
        return any(start <= t < end for start, end in c.windows)

    def check(self, read: PlateRead) -> Violation | None:
        """The violation ``read`` shows, or None."""
        if read.vehicle_class not in self.corridor.applies_to:
            return None
        plate = try_parse_plate(read.plate)
        local = self._local(read)
        if plate is None or read.confidence < self.min_confidence or not self.in_force(local):
            return None
        date_odd = local.day % 2 == 1
        if plate.is_odd == date_odd:
            return None
        return violation(RULE, self.version, ViolationCode.ODD_EVEN, read, {
            "corridor_id": self.corridor.id, "local_date": local.date().isoformat(),
            "date_parity": "odd" if date_odd else "even",
            "plate_parity": "odd" if plate.is_odd else "even",
        })
