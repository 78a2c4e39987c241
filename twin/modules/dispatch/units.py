"""Emergency units as Mesa agents with a home station and a status."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from .model import DispatchModel

STATUSES = ("available", "dispatched", "en_route", "on_scene", "transporting", "returning",
            "out_of_service", "broken")
"""Statuses of a unit; the last two come only from live reports (the bridge maps the
Smart Data Model's ``outOfService``/``broken``) and, like every status but ``available``,
keep a unit from being dispatched."""


class Unit(mesa.Agent):
    """A police car, ambulance, fire engine, tow truck or Dishub patrol.

    Attributes
    ----------
    name : str, e.g. ``"st1-ambulance-0"``
    kind : str, one of :data:`twin.modules.dispatch.config.UNIT_KINDS`
    station : str, home station id
    home_node : int, node index of the station
    status : str, one of :data:`STATUSES`
    incident_id : str or None, the incident it serves
    busy_s : float, seconds spent away from ``available`` so far
    link : int or None, link of the last live position report (None: at its station)
    position_t_s : float or None, clock time of that report
    vehicle : int or None, the engine vehicle of its current drive (units in traffic)
    """

    model: DispatchModel

    def __init__(self, model: DispatchModel, name: str, kind: str, station: str,
                 home_node: int) -> None:
        super().__init__(model)
        self.name = name
        self.kind = kind
        self.station = station
        self.home_node = home_node
        self.status = "available"
        self.incident_id: str | None = None
        self.busy_s = 0.0
        self.link: int | None = None
        self.position_t_s: float | None = None
        self.vehicle: int | None = None
        self._busy_since: float | None = None

    def set_status(self, status: str, now_s: float) -> None:
        """Change status, accounting busy time (anything but ``available``)."""
        if status not in STATUSES:
            raise ValueError(f"unknown unit status {status!r}")
        if status == "available" and self._busy_since is not None:
            self.busy_s += now_s - self._busy_since
            self._busy_since = None
            self.incident_id = None
        elif status != "available" and self._busy_since is None:
            self._busy_since = now_s
        self.status = status

    def busy_until_now_s(self, now_s: float) -> float:
        """Busy seconds including the current trip."""
        extra = 0.0 if self._busy_since is None else now_s - self._busy_since
        return self.busy_s + extra
