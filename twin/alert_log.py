"""The recent alerts of a running twin, as small immutable records for its live view.

Whoever publishes a twin's :class:`~twin.live.TwinView` (``TwinRun``, the live mode)
keeps a :class:`RecentAlerts` on its bus: every ``incident_report`` observation it
accepts becomes an :class:`AlertRecord`, and the view carries the last ``max_alerts``
of them (oldest first) for the dashboard's alert feed.

An early warning of the prediction module (:mod:`twin.modules.prediction.alerts`) has a
FIWARE ``severity``, a ``status`` (``raised``/``cleared``) and a ``description``; a CCTV
report (:mod:`twin.cameras.cctv`) has an ``incident_type`` and sometimes a ``status``
but no severity: its severity is :data:`UNRATED` and its description is made from the
type and the status.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from twin.bus import Bus
from twin.observations import Observation, ObservationKind

__all__ = ["DEFAULT_MAX_ALERTS", "UNRATED", "AlertRecord", "RecentAlerts"]

DEFAULT_MAX_ALERTS = 20
UNRATED = "unrated"
"""Severity of an incident report that carries none (a CCTV report)."""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert as the dashboard shows it.

    Attributes
    ----------
    time : datetime, tz-aware, when it was raised or cleared (the report's ``observed_at``)
    source : str, the reporting source id (a camera, the congestion-warning feed)
    severity : str, a FIWARE Alert severity or :data:`UNRATED`
    description : str
    status : str, ``raised`` or ``cleared``
    """

    time: datetime
    source: str
    severity: str
    description: str
    status: str

    @classmethod
    def from_observation(cls, obs: Observation,
                         place: Callable[[str], str] | None = None) -> AlertRecord:
        """The record of an ``incident_report`` observation; ``place(link_id)`` names the link
        in a description made from the report's type (default: the link id)."""
        p = obs.payload
        status = "cleared" if p.get("status") == "cleared" else "raised"
        severity = p.get("severity")
        description = p.get("description")
        if not isinstance(description, str) or not description:
            kind = str(p.get("incident_type", "incident")).replace("_", " ")
            link = obs.location.link_id if obs.location is not None else None
            where = f" on {place(link) if place is not None else link}" if link else ""
            description = f"{kind}{where}" + (" cleared" if status == "cleared" else "")
        return cls(obs.observed_at, obs.source_id,
                   severity if isinstance(severity, str) and severity else UNRATED,
                   description, status)


class RecentAlerts:
    """The last ``max_alerts`` incident reports published on a bus, as :class:`AlertRecord`.

    Parameters
    ----------
    bus : Bus
    max_alerts : int, how many to keep
    accept : callable or None, ``accept(obs)``: keep this report (default: all)
    place : callable or None, ``place(link_id)``: the link's name in descriptions
    """

    def __init__(self, bus: Bus, *, max_alerts: int = DEFAULT_MAX_ALERTS,
                 accept: Callable[[Observation], bool] | None = None,
                 place: Callable[[str], str] | None = None) -> None:
        if max_alerts < 1:
            raise ValueError(f"max_alerts must be >= 1, got {max_alerts}")
        self._sub = bus.subscribe(f"{ObservationKind.INCIDENT_REPORT.value}/#",
                                  name="recent-alerts")
        self._accept = accept
        self._place = place
        self._recent: deque[AlertRecord] = deque(maxlen=max_alerts)
        self.raised = 0
        self.cleared = 0

    def recent(self) -> tuple[AlertRecord, ...]:
        """Take what was published since the last call; the last alerts, oldest first."""
        for obs in self._sub.drain():
            if self._accept is not None and not self._accept(obs):
                continue
            record = AlertRecord.from_observation(obs, self._place)
            self._recent.append(record)
            if record.status == "cleared":
                self.cleared += 1
            else:
                self.raised += 1
        return tuple(self._recent)
