"""Virtual sensors: loop detectors in the simulation that publish Observations.

:class:`LoopDetectorSensors` places loop detectors in a
:class:`~twin.simulation.Simulation` and, at the end of every interval,
publishes one ``DETECTOR_INTERVAL`` :class:`~twin.observations.Observation` per
detector on the bus, the same record a real detector produces through the
hardware bridge. Modules cannot tell them apart.

Each record's ``event_id`` is ``f"{detector_id}@{interval_start_iso}"``, so
publishing the same interval twice (a replay, a restored snapshot) is
deduplicated downstream. A simulated run passes its run id as ``event_scope``
(``f"{scope}/{detector_id}@{interval_start_iso}"``): two runs of one scenario
are two different worlds, and a store holding both keeps both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from twin.bus import Bus
from twin.network import Network, unproject_xy
from twin.observations import Location, Observation, ObservationKind

if TYPE_CHECKING:
    from twin.simulation import Simulation

Site = tuple[str, str, float] | tuple[str, str, float, int | None]
"""A detector site: ``(detector_id, link_id, pos_m)`` or with a lane index last."""

_EPS_S = 1e-9

__all__ = ["LoopDetectorSensors", "Site", "auto_detector_sites", "point_along_link"]


def auto_detector_sites(
    network: Network,
    road_classes: Sequence[str] = ("primary", "secondary", "trunk"),
    max_count: int = 50,
    *,
    pos_frac: float = 0.5,
    fill: bool = True,
) -> list[tuple[str, str, float]]:
    """Pick detector sites on the main roads of ``network``.

    Links whose road class is in ``road_classes`` are ranked by the class's
    position in ``road_classes``, then longest first (ties by link index), and
    the first ``max_count`` get a detector ``pos_frac`` of the way along. With
    ``fill``, when those classes have fewer than ``max_count`` links the rest
    are taken from the other links, highest capacity first, then longest (a
    synthetic grid has no "primary" roads but still gets its detectors).

    Parameters
    ----------
    network : Network
    road_classes : sequence of str, most important first
    max_count : int, >= 0
    pos_frac : float in (0, 1]
    fill : bool, top up from the other road classes

    Returns
    -------
    list of ``(detector_id, link_id, pos_m)``, ``detector_id`` = ``"loop-{link_id}"``.
    """
    if isinstance(max_count, bool) or not isinstance(max_count, int) or max_count < 0:
        raise ValueError(f"max_count must be an integer >= 0, got {max_count!r}")
    if not (math.isfinite(pos_frac) and 0 < pos_frac <= 1):
        raise ValueError(f"pos_frac must lie in (0, 1], got {pos_frac!r}")
    rank = {c: i for i, c in reversed(list(enumerate(road_classes)))}
    candidates = [
        (rank[c], 0.0, -float(network.link_length_m[i]), i)
        for i, c in enumerate(network.link_road_class) if c in rank
    ]
    if fill and len(candidates) < max_count:
        candidates += [
            (len(rank), -float(network.link_capacity_vph[i]), -float(network.link_length_m[i]), i)
            for i, c in enumerate(network.link_road_class) if c not in rank
        ]
    candidates.sort()
    return [
        (f"loop-{network.link_ids[i]}", network.link_ids[i],
         float(network.link_length_m[i]) * pos_frac)
        for *_, i in candidates[:max_count]
    ]


def point_along_link(network: Network, link: int, pos_m: float) -> tuple[float, float]:
    """Lon/lat in degrees of the point ``pos_m`` metres along ``link``'s polyline.

    The polyline is walked in the network's local metres and its length scaled
    to ``link_length_m`` (a link's stated length and its drawn length differ
    slightly in real data).
    """
    a, b = int(network.geom_offsets[link]), int(network.geom_offsets[link + 1])
    xs, ys = network.geom_x_m[a:b], network.geom_y_m[a:b]
    seg = np.hypot(np.diff(xs), np.diff(ys))
    total = float(seg.sum())
    if total <= 0.0 or xs.shape[0] < 2:
        return float(network.geom_lon[a]), float(network.geom_lat[a])
    frac = min(max(pos_m / float(network.link_length_m[link]), 0.0), 1.0)
    target = frac * total
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    i = int(min(np.searchsorted(cum, target, side="right") - 1, seg.shape[0] - 1))
    t = 0.0 if seg[i] <= 0 else (target - cum[i]) / seg[i]
    x = xs[i] + t * (xs[i + 1] - xs[i])
    y = ys[i] + t * (ys[i + 1] - ys[i])
    lon, lat = unproject_xy(np.array([x]), np.array([y]), network.origin_lon, network.origin_lat)
    return float(lon[0]), float(lat[0])


class LoopDetectorSensors:
    """Loop detectors in a simulation, publishing one record per detector per interval.

    Parameters
    ----------
    sim : Simulation
        Detectors are added to it. This object then owns the simulation's
        detector counts: it resets them at construction and at every sample.
    network : Network
        The simulation's network (for the detectors' coordinates).
    bus : Bus
    clock_start : datetime
        Timezone-aware wall time of simulation time 0.
    interval_s : float
        Aggregation interval in seconds (> 0). Intervals end at the first
        sample at or after each whole multiple of ``interval_s`` of simulation
        time: exactly on it when the steps land there (:meth:`run_until`, or a
        step that divides ``interval_s``), a little after it otherwise, and
        each record states the span its counts cover.
    sites : sequence of Site, optional
        ``(detector_id, link_id, pos_m[, lane])``; default
        :func:`auto_detector_sites` (up to ``max_auto`` detectors).
    max_auto : int
        Cap for the automatic placement.
    event_scope : str
        Prefix of every ``event_id`` (a run id); empty for none.

    Examples
    --------
    >>> from datetime import datetime, timezone, timedelta
    >>> import numpy as np
    >>> from twin.bus import Bus
    >>> from twin.demand import random_trips
    >>> from twin.importers.grid import grid_network
    >>> from twin.simulation import Simulation
    >>> net = grid_network(2, 3)
    >>> trips = random_trips(net, n_trips=30, duration_s=120, rng=np.random.default_rng(3))
    >>> sim, bus = Simulation(net, trips, seed=3), Bus()
    >>> feed = bus.subscribe("detector_interval/#")
    >>> wib = timezone(timedelta(hours=7))
    >>> sensors = LoopDetectorSensors(sim, net, bus, datetime(2024, 5, 1, 7, tzinfo=wib),
    ...                               sites=[("d1", net.link_ids[0], 100.0)])
    >>> _ = sensors.run_until(180.0)
    >>> [o.event_id for o in feed.drain()]
    ['d1@2024-05-01T07:00:00+07:00', 'd1@2024-05-01T07:01:00+07:00', 'd1@2024-05-01T07:02:00+07:00']
    """

    def __init__(
        self,
        sim: Simulation,
        network: Network,
        bus: Bus,
        clock_start: datetime,
        interval_s: float = 60.0,
        *,
        sites: Sequence[Site] | None = None,
        max_auto: int = 50,
        event_scope: str = "",
    ) -> None:
        if not isinstance(clock_start, datetime) or clock_start.tzinfo is None:
            raise ValueError(f"clock_start must be a timezone-aware datetime, got {clock_start!r}")
        if isinstance(interval_s, bool) or not isinstance(interval_s, int | float) \
                or not math.isfinite(interval_s) or interval_s <= 0:
            raise ValueError(f"interval_s must be a number > 0, got {interval_s!r}")
        self.sim = sim
        self.network = network
        self.bus = bus
        self.clock_start = clock_start
        self.interval_s = float(interval_s)
        self.event_scope = event_scope
        if sites is None:
            sites = auto_detector_sites(network, max_count=max_auto)
        ids: list[str] = []
        locations: list[Location] = []
        indices: list[int] = []
        for site in sites:
            if len(site) not in (3, 4):
                raise ValueError(f"a detector site is (id, link_id, pos_m[, lane]), got {site!r}")
            det_id, link_id, pos_m = site[0], site[1], float(site[2])
            lane = site[3] if len(site) == 4 else None
            index = sim.add_loop_detector(det_id, link_id, pos_m, lane)
            lane = None if lane is None else int(lane)
            link = sim.resolve_link(link_id)
            lon, lat = point_along_link(network, link, pos_m)
            ids.append(det_id)
            indices.append(index)
            locations.append(Location(lon=lon, lat=lat, link_id=network.link_ids[link],
                                      pos_m=pos_m, lane=lane))
        self.detector_ids: tuple[str, ...] = tuple(ids)
        self.locations: tuple[Location, ...] = tuple(locations)
        self._sim_index = np.array(indices, dtype=np.int64)
        sim.take_detector_counts()  # start every detector from zero, now
        self.published = 0

    def _grid_after(self, t: float) -> float:
        """The first interval boundary strictly after ``t``."""
        return (math.floor(t / self.interval_s + _EPS_S) + 1) * self.interval_s

    def _snap(self, t: float) -> float:
        """``t`` moved onto the interval grid when it is within rounding of a boundary."""
        k = round(t / self.interval_s)
        return k * self.interval_s if abs(t - k * self.interval_s) <= 1e-6 else t

    @property
    def next_sample_s(self) -> float:
        """Simulation time of the next interval end.

        Derived from the simulation's detector-count start, so it follows
        :meth:`Simulation.restore` without any bookkeeping here.
        """
        return self._grid_after(self._snap(self.sim.detector_interval_start_s))

    def sample(self, time_s: float | None = None) -> list[Observation]:
        """Publish the detectors' counts once an interval end is reached.

        Call it after each step (it returns ``[]`` until :attr:`next_sample_s`
        is reached) or at each interval end. A record covers exactly what the
        simulation counted: from the previous record to the simulation's
        current time. When called late (a step that overshoots the interval
        end, or a missed call) it therefore ends at the current time, not at
        the boundary, and its ``interval_s`` and ``observed_at`` say so; the
        next interval starts there.

        Parameters
        ----------
        time_s : float, optional
            The current simulation time in seconds (default ``sim.time_s``);
            decides whether an interval end has been reached.

        Returns
        -------
        list of Observation
            The records published (one per detector), empty between interval ends.

        Raises
        ------
        RuntimeError
            When the simulation's detectors are no longer the ones placed here
            (it was restored to a snapshot taken before they were added).
        """
        t = self.sim.time_s if time_s is None else float(time_s)
        if t + _EPS_S < self.next_sample_s:
            return []
        sim_ids = self.sim.detector_ids
        if any(i >= len(sim_ids) or sim_ids[i] != d
               for i, d in zip(self._sim_index, self.detector_ids, strict=True)):
            raise RuntimeError(f"the simulation no longer has the loop detectors "
                               f"{self.detector_ids} placed here, it has {sim_ids} (restored to "
                               f"a snapshot taken before they were placed?)")
        counts = self.sim.take_detector_counts()
        start_s = self._snap(counts.interval_start_s)
        end_s = self._snap(counts.interval_end_s)
        start_dt = self.clock_start + timedelta(seconds=start_s)
        end_dt = self.clock_start + timedelta(seconds=end_s)
        interval = end_s - start_s
        start_iso = start_dt.isoformat()
        mean_speed = counts.mean_speed_mps
        occupancy = counts.occupancy
        records = []
        for det_id, loc, i in zip(self.detector_ids, self.locations, self._sim_index,
                                  strict=True):
            n = int(counts.count[i])
            records.append(Observation(
                kind=ObservationKind.DETECTOR_INTERVAL,
                source_id=det_id,
                observed_at=end_dt,
                payload={
                    "interval_s": interval,
                    "count": n,
                    "occupancy": float(occupancy[i]),
                    "mean_speed_mps": float(mean_speed[i]) if n > 0 else None,
                },
                location=loc,
                event_id=f"{self.event_scope}/{det_id}@{start_iso}" if self.event_scope
                else f"{det_id}@{start_iso}",
            ))
        self.bus.publish_many(records)
        self.published += len(records)
        return records

    def run_until(self, until_s: float) -> list[Observation]:
        """Run the simulation to ``until_s``, stopping at each interval end to sample.

        Returns
        -------
        list of Observation, everything published on the way.
        """
        out = self.sample()  # an interval that ended before now, if not yet published
        while self.sim.time_s < until_s - _EPS_S:
            self.sim.run(min(until_s, self.next_sample_s))
            out.extend(self.sample())
        return out
