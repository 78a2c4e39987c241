"""The running error of a live twin: how far its speeds are from the readings it is about to take.

:class:`SpeedScore` measures what :mod:`hardware_bridge.mirror_eval` measures
offline, while the twin runs: for each sensor it keeps the twin's time-mean
speed on the sensor's links since that sensor's previous reading (sampled after
every run chunk, like :meth:`SpeedMirror.sample
<hardware_bridge.mirror.SpeedMirror.sample>`), and when a reading arrives,
*before* the mirror assimilates it, adds ``|v_twin - v_obs|`` to the running
mean absolute error. It is a one-step-ahead error, so it is the same measure
with the mirror on and off, and the two can be compared.

Readings before ``warmup_s`` simulated seconds are not scored (the network
starts empty), nor are readings with no twin samples since the previous one,
without a measured speed, or of sensors that measure no link.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from twin.bus import Bus, Subscription
from twin.observations import Observation, ObservationKind
from twin.simulation import Simulation

from .replay_records import MPH_TO_MPS

__all__ = ["SpeedScore"]


class SpeedScore:
    """Running one-step-ahead speed error of a simulation at its sensors.

    Parameters
    ----------
    sim : Simulation
    sensor_links : mapping of observation ``source_id`` to the link ids (or indices) it measures
    warmup_s : float, readings before this simulated time are not scored
    """

    def __init__(self, sim: Simulation, sensor_links: Mapping[str, Sequence[str | int]], *,
                 warmup_s: float = 0.0) -> None:
        if not (math.isfinite(warmup_s) and warmup_s >= 0):
            raise ValueError(f"warmup_s must be a finite number >= 0, got {warmup_s!r}")
        self.sim = sim
        self.warmup_s = float(warmup_s)
        groups = [(s, np.array([sim.resolve_link(x) for x in links], dtype=np.int64))
                  for s, links in sensor_links.items() if links]
        self._slot = {s: i for i, (s, _) in enumerate(groups)}
        self._links = np.concatenate([g for _, g in groups]) if groups else np.zeros(0, np.int64)
        sizes = np.array([g.shape[0] for _, g in groups], dtype=np.int64)
        self._starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self._sizes = sizes
        self._speed_time = np.zeros(len(groups))
        self._time = np.zeros(len(groups))
        self._last_sample_s: float | None = None
        self._feed: Subscription | None = None
        self.abs_error_sum_mps = 0.0
        self.comparisons = 0

    def attach(self, bus: Bus, pattern: str = "detector_interval/#") -> Subscription:
        """Subscribe to the bus; :meth:`take` then scores what arrived."""
        self._feed = bus.subscribe(pattern, name="speed-score")
        return self._feed

    def sample(self) -> None:
        """Add the twin's current speeds to each sensor's time average (after every run chunk)."""
        now = self.sim.time_s
        last, self._last_sample_s = self._last_sample_s, now
        if last is None or now <= last or not self._links.size:
            return
        speed = self.sim.link_speed_mps[self._links]
        self._speed_time += np.add.reduceat(speed, self._starts) / self._sizes * (now - last)
        self._time += now - last

    def score(self, observations: Iterable[Observation]) -> None:
        """Compare each reading with the twin's average since the sensor's previous one."""
        for obs in observations:
            slot = self._slot.get(obs.source_id)
            speed = obs.payload.get("mean_speed_mps")
            if slot is None or obs.kind is not ObservationKind.DETECTOR_INTERVAL or speed is None:
                continue
            if self._time[slot] > 0 and self.sim.time_s >= self.warmup_s:
                twin = self._speed_time[slot] / self._time[slot]
                self.abs_error_sum_mps += abs(float(twin) - float(speed))
                self.comparisons += 1
            self._speed_time[slot] = self._time[slot] = 0.0

    def take(self) -> list[Observation]:
        """Sample, then score everything the bus delivered since the last call; return it."""
        self.sample()
        batch = self._feed.drain() if self._feed is not None else []
        self.score(batch)
        return batch

    @property
    def mae_mps(self) -> float | None:
        """Mean absolute error so far, m/s (None before the first comparison)."""
        return self.abs_error_sum_mps / self.comparisons if self.comparisons else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: comparisons, MAE in m/s and mph, the warm-up."""
        mae = self.mae_mps
        return {"comparisons": self.comparisons,
                "mae_mps": None if mae is None else round(mae, 3),
                "mae_mph": None if mae is None else round(mae / MPH_TO_MPS, 3),
                "warmup_s": self.warmup_s}
