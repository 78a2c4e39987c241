"""Red light: a vehicle crosses the stop line while its signal shows red (287(2)).

The signal state comes from the controller's ``signal_state`` observations (the state
string has one character per signal index: ``G``/``g`` green, ``y`` amber, ``r`` red),
tracked by :class:`SignalTracker`; a camera wired to the controller may instead send the
state in the read itself (``signal_state``, and ``red_elapsed_s`` since red began),
which then wins.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twin.observations import Observation

from ..codes import ViolationCode
from .base import PlateRead, Violation, rule_version, violation

RULE = "red_light"
VERSION = "1"
HISTORY = 16
"""Signal state changes kept per controller (enough to find when red began)."""


@dataclass
class SignalTracker:
    """The recent state strings of each signal controller, in time order."""

    _history: dict[str, deque[tuple[datetime, str]]] = field(default_factory=dict)

    def update(self, obs: Observation) -> None:
        """Record a ``signal_state`` observation."""
        hist = self._history.setdefault(obs.source_id, deque(maxlen=HISTORY))
        at = obs.observed_at
        if hist and at < hist[-1][0]:  # late arrival: insert in order
            items = sorted([*hist, (at, str(obs.payload["state"]))], key=lambda x: x[0])
            hist.clear()
            hist.extend(items[-HISTORY:])
        else:
            hist.append((at, str(obs.payload["state"])))

    def red_since(self, signal_id: str, index: int, at: datetime) -> datetime | None:
        """When the signal's ``index`` turned red, if it is red at ``at``; else None.

        None too when the state at ``at`` is unknown (no state at or before it), so an
        unknown state never raises a violation.
        """
        hist = self._history.get(signal_id)
        if not hist:
            return None
        items = list(hist)
        i = len(items) - 1
        while i >= 0 and items[i][0] > at:
            i -= 1
        if i < 0 or not _is_red(items[i][1], index):
            return None
        while i > 0 and _is_red(items[i - 1][1], index):
            i -= 1
        return items[i][0]

    def state(self) -> dict[str, Any]:
        """JSON-ready history."""
        return {sid: [[t.isoformat(), s] for t, s in h] for sid, h in self._history.items()}

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the history with ``state`` from :meth:`state`."""
        self._history = {sid: deque(((datetime.fromisoformat(t), s) for t, s in h), maxlen=HISTORY)
                         for sid, h in state.items()}


def _is_red(state: str, index: int) -> bool:
    return index < len(state) and state[index] in "rR"


@dataclass(frozen=True, slots=True)
class RedLightRule:
    """Raise RED_LIGHT for a crossing more than ``grace_s`` after the signal turned red."""

    signal_id: str
    signal_index: int
    grace_s: float

    @property
    def version(self) -> str:
        """Rule version and parameter hash."""
        return rule_version(RULE, VERSION, [self.signal_id, self.signal_index, self.grace_s])

    def check(self, read: PlateRead, signals: SignalTracker) -> Violation | None:
        """The violation ``read`` shows, or None."""
        p = read.obs.payload
        own_state = p.get("signal_state")
        if isinstance(own_state, str):
            if not _is_red(own_state, self.signal_index):
                return None
            elapsed = p.get("red_elapsed_s")
            red_s = float(elapsed) if isinstance(elapsed, (int, float)) else None
            source = "camera"
        else:
            since = signals.red_since(self.signal_id, self.signal_index, read.at)
            if since is None:
                return None
            red_s = (read.at - since).total_seconds()
            source = "controller"
        if red_s is None or red_s <= self.grace_s:
            return None
        return violation(RULE, self.version, ViolationCode.RED_LIGHT, read, {
            "red_elapsed_s": round(red_s, 3), "grace_s": self.grace_s,
            "signal_id": self.signal_id, "signal_index": self.signal_index,
            "signal_state_source": source,
        })
