"""The live mirror: the twin's traffic state follows live detector readings.

In live mode the simulation runs on the wall clock while devices (or a
:mod:`replay <hardware_bridge.replay>`) publish ``DETECTOR_INTERVAL``
observations. :class:`SpeedMirror` assimilates their mean speeds into the
simulation by *nudging* (Newtonian relaxation, Hoke & Anthes 1976): each
observation moves a per-link desired-speed factor
(:meth:`twin.simulation.Simulation.set_link_speed_factor`) so that the twin's
speed on the sensor's links approaches the observed one.

The method
----------
For a sensor ``s`` measuring the links ``L_s`` (e.g. from
:func:`hardware_bridge.sensor_network.sensor_graph_network`), with speed limit
``v_lim`` on them:

- between observations the mirror averages the twin's speed at ``s`` over time:
  ``v_twin`` = the time-weighted mean of ``Simulation.link_speed_mps`` over
  ``L_s`` (the space-mean speed of the vehicles on each link, or the free speed
  ``v_lim * f`` of an empty one) at each :meth:`SpeedMirror.sample`;
- when an observation with mean speed ``v_obs`` arrives, the factor moves by
  the innovation, scaled by the gain ``g``::

      f <- clip(f + g * (v_obs - v_twin) / v_lim,  f_min, f_max)

  and is set on every link of ``L_s``. The first observation of a sensor sets
  ``f = v_obs / v_lim`` directly (there is nothing to nudge from); an
  observation with no twin samples since the previous one relaxes towards it,
  ``f <- f + g * (v_obs / v_lim - f)``.

With ``g = 1`` on an empty link this is direct insertion; on a busy link the
integral action makes up for drivers who have not yet reached their desired
speed (IDM approaches ``v0`` slowly, vehicles arrive from slower links), so
the factor settles above ``v_obs / v_lim`` where that is what it takes. The
default gain 0.8 damps the noise of single 5-minute readings; ``f`` stays in
``[0.05, 1.3]`` (drivers may exceed the limit, as observed speeds do).

What it does not do: flows. A detector's ``count`` could set the inflow of a
link, but the engine's demand is fixed trips inserted in departure order, and
none of the recordings shipped here has both counts and a network (METR-LA
records speeds only; I-94 is one station). Observations without a measured mean
speed (``mean_speed_mps`` None) are
counted and left alone; so are those of sensors that measure no link.

Threads: :meth:`attach` subscribes a queue to the bus; the thread that steps
the simulation calls :meth:`update` between steps, so the factors never change
under a running kernel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.bus import Bus, Subscription
from twin.observations import Observation, ObservationKind
from twin.simulation import Simulation

__all__ = ["MirrorStats", "SpeedMirror"]


@dataclass
class MirrorStats:
    """What the mirror did with the observations it was given."""

    observations: int = 0
    assimilated: int = 0
    no_speed: int = 0
    """Observations without a measured mean speed (left alone)."""
    unknown_source: int = 0
    """Observations of sensors that measure no link of this network."""
    abs_innovation_sum_mps: float = 0.0
    """Sum of ``|v_obs - v_twin|`` over assimilated observations with twin samples."""
    innovations: int = 0

    @property
    def mean_abs_innovation_mps(self) -> float | None:
        """Mean ``|v_obs - v_twin|`` before each update, m/s: how far the twin had drifted."""
        return self.abs_innovation_sum_mps / self.innovations if self.innovations else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"observations": self.observations, "assimilated": self.assimilated,
                "no_speed": self.no_speed, "unknown_source": self.unknown_source,
                "mean_abs_innovation_mps": self.mean_abs_innovation_mps}


@dataclass
class _Sensor:
    links: NDArray[np.int64]
    limit_mps: float
    factor: float | None = None


class SpeedMirror:
    """Nudges a simulation's per-link desired speeds towards observed detector speeds.

    Parameters
    ----------
    sim : Simulation
    sensor_links : mapping of observation ``source_id`` to the link ids (or
        indices) that sensor measures
    gain : float in (0, 1]
    min_factor, max_factor : float, bounds of the desired-speed factor

    Raises
    ------
    ValueError
        On an unknown link, a sensor without links, or a bad gain or bound.
    """

    def __init__(self, sim: Simulation, sensor_links: Mapping[str, Sequence[str | int]], *,
                 gain: float = 0.8, min_factor: float = 0.05, max_factor: float = 1.3) -> None:
        if not (isinstance(gain, int | float) and 0 < gain <= 1):
            raise ValueError(f"gain must lie in (0, 1], got {gain!r}")
        if not (0 < min_factor <= max_factor and math.isfinite(max_factor)):
            raise ValueError(f"need 0 < min_factor <= max_factor, got {min_factor!r}, {max_factor!r}")
        self.sim = sim
        self.gain = float(gain)
        self.min_factor = float(min_factor)
        self.max_factor = float(max_factor)
        limits = sim.network.link_speed_limit_mps
        self._sensors: dict[str, _Sensor] = {}
        for source, links in sensor_links.items():
            if not links:
                continue
            index = np.array([sim.resolve_link(link) for link in links], dtype=np.int64)
            self._sensors[source] = _Sensor(index, float(np.mean(limits[index])))
        sensors = list(self._sensors.values())
        self._all_links = np.concatenate([x.links for x in sensors]) if sensors else np.zeros(0, np.int64)
        sizes = np.array([x.links.shape[0] for x in sensors], dtype=np.int64)
        self._starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if sensors else sizes
        self._sizes = sizes
        self._speed_time = np.zeros(len(sensors))
        self._time = np.zeros(len(sensors))
        self._slot = {source: i for i, source in enumerate(self._sensors)}
        self._last_sample_s: float | None = None
        self._feed: Subscription | None = None
        self.stats = MirrorStats()

    # ---------------------------------------------------------------- the twin's side
    def sample(self) -> None:
        """Add the twin's current link speeds to each sensor's running average, weighted by
        the simulated time since the previous sample. Call it after every run chunk."""
        now = self.sim.time_s
        last = self._last_sample_s
        self._last_sample_s = now
        if last is None or now <= last:
            return
        dt = now - last
        if self._all_links.size:
            speed = self.sim.link_speed_mps[self._all_links]
            self._speed_time += np.add.reduceat(speed, self._starts) / self._sizes * dt
            self._time += dt

    def twin_speed_mps(self, source_id: str) -> float | None:
        """The twin's time-mean speed at a sensor since its last observation (None: no samples)."""
        slot = self._slot.get(source_id)
        if slot is None or self._time[slot] <= 0:
            return None
        return float(self._speed_time[slot] / self._time[slot])

    def factor(self, source_id: str) -> float | None:
        """The desired-speed factor the mirror set for a sensor's links (None: not yet)."""
        sensor = self._sensors.get(source_id)
        return None if sensor is None else sensor.factor

    @property
    def source_ids(self) -> tuple[str, ...]:
        """The sensors this mirror can follow."""
        return tuple(self._sensors)

    # ---------------------------------------------------------------- observations
    def observe(self, obs: Observation) -> float | None:
        """Assimilate one observation; return its innovation ``v_obs - v_twin`` in m/s
        (None when it was not used, or the twin had no samples to compare)."""
        self.stats.observations += 1
        sensor = self._sensors.get(obs.source_id)
        if sensor is None:
            self.stats.unknown_source += 1
            return None
        speed = _measured_speed(obs)
        if speed is None:
            self.stats.no_speed += 1
            return None
        twin = self.twin_speed_mps(obs.source_id)
        slot = self._slot[obs.source_id]
        self._speed_time[slot] = self._time[slot] = 0.0
        innovation = None
        if sensor.factor is None:
            factor = speed / sensor.limit_mps
        elif twin is None:
            factor = sensor.factor + self.gain * (speed / sensor.limit_mps - sensor.factor)
        else:
            innovation = speed - twin
            factor = sensor.factor + self.gain * innovation / sensor.limit_mps
            self.stats.abs_innovation_sum_mps += abs(innovation)
            self.stats.innovations += 1
        sensor.factor = min(self.max_factor, max(self.min_factor, factor))
        self.sim.set_link_speed_factor(sensor.links.tolist(), sensor.factor)
        self.stats.assimilated += 1
        return innovation

    def observe_many(self, observations: Sequence[Observation]) -> None:
        """:meth:`observe` each in turn."""
        for obs in observations:
            self.observe(obs)

    def attach(self, bus: Bus, pattern: str = "detector_interval/#") -> Subscription:
        """Subscribe to the bus; :meth:`update` then assimilates what arrived."""
        self._feed = bus.subscribe(pattern, name="mirror")
        return self._feed

    def update(self) -> int:
        """Sample the twin, then assimilate everything the bus delivered since the last
        call (from the simulation's thread, between steps); return how many arrived."""
        self.sample()
        if self._feed is None:
            return 0
        batch = self._feed.drain()
        self.observe_many(batch)
        return len(batch)


def _measured_speed(obs: Observation) -> float | None:
    if obs.kind is not ObservationKind.DETECTOR_INTERVAL:
        return None
    speed = obs.payload.get("mean_speed_mps")
    if speed is None:
        return None
    value = float(speed)
    return value if math.isfinite(value) and value >= 0 else None

