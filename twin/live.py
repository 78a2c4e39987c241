"""The read-only view of a running twin that the dashboard and other readers poll.

The simulation thread publishes an immutable :class:`TwinView` after each step
(or every few steps); readers in other threads call :meth:`LiveTwin.latest`
and never touch the engine's arrays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from twin.alert_log import AlertRecord
from twin.map_marks import IncidentMark, SiteMark, UnitMark
from twin.network import Network


@dataclass(frozen=True)
class TwinView:
    """A consistent picture of the twin at one moment.

    Attributes
    ----------
    scenario_name : str
    time_s : float, simulated seconds since the scenario start
    clock_time : datetime, timezone-aware
    duration_s : float, the scenario's length in seconds
    n_waiting, n_active, n_arrived, n_total : int, trip counts
    link_speed_mps : float64 array (n_links,), a copy
    link_vehicle_count : int array (n_links,), a copy
    finished : bool, the run has ended
    alerts : tuple of AlertRecord, the recent alerts, oldest first (see :mod:`twin.alert_log`)
    incidents : tuple of IncidentMark, the open incidents (the run's and the modules')
    units : tuple of UnitMark, emergency units (when the dispatch module runs)
    sites : tuple of SiteMark, cameras and loop detectors (the same every view)
    """

    scenario_name: str
    time_s: float
    clock_time: datetime
    duration_s: float
    n_waiting: int
    n_active: int
    n_arrived: int
    n_total: int
    link_speed_mps: NDArray[np.float64]
    link_vehicle_count: NDArray[np.int64]
    finished: bool = False
    alerts: tuple[AlertRecord, ...] = ()
    incidents: tuple[IncidentMark, ...] = ()
    units: tuple[UnitMark, ...] = ()
    sites: tuple[SiteMark, ...] = ()


class LiveTwin:
    """Holds the latest :class:`TwinView` of a twin for readers in other threads."""

    def __init__(self, network: Network, first_view: TwinView) -> None:
        self.network = network
        self._view = first_view
        self._lock = threading.Lock()

    def latest(self) -> TwinView:
        """The most recent view (thread-safe)."""
        with self._lock:
            return self._view

    def publish_view(self, view: TwinView) -> None:
        """Replace the current view; called by the simulation thread."""
        with self._lock:
            self._view = view
