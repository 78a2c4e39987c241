"""Speeding: point speed at a camera, and average speed over a section (UU 22/2009 287(5))."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from twin.observations import Observation

from ..codes import ViolationCode
from .base import PlateRead, Violation, rule_version, violation

POINT_RULE = "speeding.point"
SECTION_RULE = "speeding.section"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class PointSpeedRule:
    """Raise SPEEDING when a camera measures more than ``limit_kmh + tolerance_kmh``."""

    limit_kmh: float
    tolerance_kmh: float

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(POINT_RULE, VERSION, [self.limit_kmh, self.tolerance_kmh])

    def check(self, read: PlateRead) -> Violation | None:
        """The violation ``read`` shows, or None (also when it carries no speed)."""
        if read.speed_kmh is None or read.speed_kmh <= self.limit_kmh + self.tolerance_kmh:
            return None
        return violation(POINT_RULE, self.version, ViolationCode.SPEEDING, read, {
            "speed_kmh": round(read.speed_kmh, 2), "limit_kmh": self.limit_kmh,
            "tolerance_kmh": self.tolerance_kmh,
        })


@dataclass(slots=True)
class _Entry:
    at: datetime
    obs: dict[str, Any]
    images: list[str]


@dataclass
class SectionSpeedRule:
    """Raise SPEEDING when the average speed between two cameras exceeds the limit.

    Entries are keyed by plate *token* and kept until the exit camera sees the same
    token or ``max_travel_s`` passes; the entry read itself (evidence for the case,
    with its plate) is kept only that long. Reads with an unreadable plate are not
    matched. The state is JSON-ready (:meth:`state` / :meth:`restore`), so a
    restarted process continues matching.
    """

    section_id: str
    entry_camera: str
    exit_camera: str
    length_m: float
    limit_kmh: float
    tolerance_kmh: float
    max_travel_s: float
    _entries: dict[str, _Entry] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        params = [self.section_id, self.length_m, self.limit_kmh, self.tolerance_kmh]
        return rule_version(SECTION_RULE, VERSION, params)

    def enter(self, read: PlateRead, token: str) -> None:
        """Remember that the vehicle with ``token`` passed the entry camera."""
        self._entries[token] = _Entry(read.at, read.obs.to_dict(), list(read.image_sha256))

    def exit(self, read: PlateRead, tokens: tuple[str, ...]) -> Violation | None:
        """Match ``read`` at the exit camera (``tokens``: its token in this and the
        previous pseudonym period); the violation, or None."""
        entry = None
        for token in tokens:
            entry = self._entries.pop(token, None)
            if entry is not None:
                break
        if entry is None:
            return None
        travel_s = (read.at - entry.at).total_seconds()
        if travel_s <= 0 or travel_s > self.max_travel_s:
            return None
        avg_kmh = self.length_m / travel_s * 3.6
        if avg_kmh <= self.limit_kmh + self.tolerance_kmh:
            return None
        entry_obs = Observation.from_dict(entry.obs)
        return violation(SECTION_RULE, self.version, ViolationCode.SPEEDING, read, {
            "section_id": self.section_id, "avg_speed_kmh": round(avg_kmh, 2),
            "limit_kmh": self.limit_kmh, "tolerance_kmh": self.tolerance_kmh,
            "length_m": self.length_m, "travel_s": round(travel_s, 3),
        }, extra=(entry_obs,), extra_images=tuple(entry.images))

    def expire(self, now: datetime) -> int:
        """Forget entries older than ``max_travel_s`` before ``now``; how many."""
        cutoff = now - timedelta(seconds=self.max_travel_s)
        old = [t for t, e in self._entries.items() if e.at < cutoff]
        for t in old:
            del self._entries[t]
        return len(old)

    def state(self) -> dict[str, Any]:
        """The open entries as JSON-ready data."""
        return {t: {"at": e.at.isoformat(), "obs": e.obs, "images": e.images}
                for t, e in self._entries.items()}

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the open entries with ``state`` from :meth:`state`."""
        self._entries = {t: _Entry(datetime.fromisoformat(e["at"]), e["obs"], list(e["images"]))
                         for t, e in state.items()}
