"""What a live map shows besides link speeds: incidents, units and sensor sites.

Small frozen records that a :class:`~twin.live.TwinView` carries (tuples of them), built
on the simulation thread by :class:`~twin.runner.TwinRun` and by the live modules that know
more (the dispatch module's units and incidents: :class:`MarkSource`). Positions are
longitude / latitude in degrees; a unit's route is the polyline of the links it drives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from twin.network import Network
from twin.sensors import point_along_link

__all__ = ["IncidentMark", "MapMarks", "MarkSource", "SiteMark", "UnitMark", "link_midpoint",
           "route_lonlat"]


@dataclass(frozen=True, slots=True)
class IncidentMark:
    """An open incident on the map.

    ``source`` is ``scenario`` (the run's own lane block) or the module that keeps it
    (``dispatch``); ``status`` its latest stage (``open``, ``dispatched``, ``on scene`` ...).
    """

    incident_id: str
    type: str
    link_id: str
    lanes_blocked: int
    lon: float
    lat: float
    source: str
    status: str = "open"


@dataclass(frozen=True, slots=True)
class UnitMark:
    """An emergency unit: where it is, its status, and its route while it drives there.

    ``route_lon`` / ``route_lat`` (degrees, equal length) are empty unless the unit is
    dispatched or en route and the dispatch module knows its route.
    """

    unit_id: str
    kind: str
    station: str
    status: str
    lon: float
    lat: float
    incident_id: str | None = None
    route_lon: tuple[float, ...] = ()
    route_lat: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class SiteMark:
    """A sensor site: a camera (``kind`` ``camera``, ``detail`` its type) or a loop
    detector (``kind`` ``detector``)."""

    site_id: str
    kind: str
    detail: str
    link_id: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class MapMarks:
    """What one live module adds to the map."""

    incidents: tuple[IncidentMark, ...] = ()
    units: tuple[UnitMark, ...] = ()


@runtime_checkable
class MarkSource(Protocol):
    """A live module that shows things on the map (optional, besides
    :class:`~twin.module_host.LiveModule`); called on the run's thread with each view."""

    def map_marks(self) -> MapMarks:
        """The module's incidents and units now."""


def link_midpoint(network: Network, link: int) -> tuple[float, float]:
    """Lon/lat (degrees) of the middle of ``link``."""
    return point_along_link(network, link, float(network.link_length_m[link]) / 2)


def route_lonlat(network: Network, links: Sequence[int] | np.ndarray
                 ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The polyline of ``links`` driven in order, lon and lat in degrees (rounded to 1e-6)."""
    lon: list[float] = []
    lat: list[float] = []
    off = network.geom_offsets
    for link in links:
        a, b = int(off[int(link)]), int(off[int(link) + 1])
        start = 1 if lon else 0  # a link starts where the previous one ended
        lon += np.round(network.geom_lon[a + start:b], 6).tolist()
        lat += np.round(network.geom_lat[a + start:b], 6).tolist()
    return tuple(lon), tuple(lat)
