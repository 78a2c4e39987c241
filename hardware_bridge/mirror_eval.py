"""How closely the mirrored twin follows METR-LA: one-step-ahead speed error, with and without mirroring.

:func:`score_metr_la` runs the METR-LA stand-in network
(:func:`~hardware_bridge.sensor_network.metr_la_network`) with light synthetic
demand (:func:`~hardware_bridge.sensor_network.freeway_trips`) through a window
of the recording, 5-minute interval by interval:

1. the simulation runs through interval ``k``; every ``sample_s`` the twin's
   speed at each sensor (the mean of ``link_speed_mps`` over its links) is
   added to a time average;
2. that average is compared with the recorded speed of interval ``k``,
   which the twin has *not* seen yet: the error is a one-step-ahead error, not
   the residual after fitting;
3. with mirroring, the observations of interval ``k`` are then assimilated
   (:class:`~hardware_bridge.mirror.SpeedMirror`); without, nothing happens
   and the twin's drivers keep the speed limit.

The first ``warmup_intervals`` fill the empty network and are not scored. The
score also gives the persistence error (the previous interval's reading used as
the forecast) over the same readings, the floor any one-step nowcast of a noisy
5-minute series is up against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.simulation import Simulation

from .mirror import SpeedMirror
from .replay_sources import MPH_TO_MPS, MetrLa
from .sensor_network import SensorNetwork, freeway_trips, metr_la_network

__all__ = ["MirrorScore", "score_metr_la"]


@dataclass(frozen=True)
class MirrorScore:
    """One-step-ahead speed error of the twin at the METR-LA sensors.

    Attributes
    ----------
    mirrored : bool
    first_interval : str, start of the first scored interval (Los Angeles time)
    intervals : int, scored 5-minute intervals
    comparisons : int, sensor-intervals compared
    mae_mps, rmse_mps : float, twin speed minus recorded speed
    persistence_mae_mps : float, recorded speed minus the previous interval's
    trips, sim_time_s, wall_s : the run's size and cost
    """

    mirrored: bool
    first_interval: str
    intervals: int
    comparisons: int
    mae_mps: float
    rmse_mps: float
    persistence_mae_mps: float
    trips: int
    sim_time_s: float
    wall_s: float

    @property
    def mae_mph(self) -> float:
        """:attr:`mae_mps` in miles per hour."""
        return self.mae_mps / MPH_TO_MPS

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the MAE in both units."""
        return {"mirrored": self.mirrored, "first_interval": self.first_interval,
                "intervals": self.intervals, "comparisons": self.comparisons,
                "mae_mps": round(self.mae_mps, 3), "mae_mph": round(self.mae_mph, 3),
                "rmse_mps": round(self.rmse_mps, 3),
                "persistence_mae_mps": round(self.persistence_mae_mps, 3),
                "persistence_mae_mph": round(self.persistence_mae_mps / MPH_TO_MPS, 3),
                "trips": self.trips, "sim_time_s": self.sim_time_s, "wall_s": round(self.wall_s, 2)}


def score_metr_la(
    *,
    mirror: bool,
    first_row: int = 72,
    intervals: int = 36,
    warmup_intervals: int = 3,
    trips_per_hour: float = 12_000.0,
    gain: float = 0.8,
    sample_s: float = 30.0,
    seed: int = 1,
    recording: MetrLa | None = None,
    sensor_network: SensorNetwork | None = None,
) -> MirrorScore:
    """Score the twin against METR-LA over ``intervals`` rows from ``first_row`` (see the module).

    Parameters
    ----------
    mirror : bool, assimilate the readings (True) or not (the baseline)
    first_row : int, the first scored row (72 = 06:00 on 1 March 2012)
    intervals : int, rows scored
    warmup_intervals : int, rows run before ``first_row`` and not scored (>= 1)
    trips_per_hour : float, demand over the whole network
    gain : float, the mirror's nudging gain
    sample_s : float, seconds between the twin's speed samples (divides 300)
    seed : int, demand and engine seed
    """
    rec = recording if recording is not None else MetrLa()
    sn = sensor_network if sensor_network is not None else metr_la_network()
    if warmup_intervals < 1 or first_row - warmup_intervals < 0 \
            or first_row + intervals > rec.n_intervals:
        raise ValueError(f"rows {first_row - warmup_intervals}..{first_row + intervals - 1} are "
                         f"not all in the recording (0..{rec.n_intervals - 1}), or no warm-up")
    interval_s = rec.INTERVAL_S
    rows = range(first_row - warmup_intervals, first_row + intervals)
    net = sn.network
    trips = freeway_trips(net, trips_per_hour, len(rows) * interval_s, np.random.default_rng(seed))
    sim = Simulation(net, trips, seed=seed)
    sim.load_kernels()
    mirror_ = SpeedMirror(sim, sn.sensor_links, gain=gain) if mirror else None
    columns = [rec.source_ids.index(s) for s in sn.sensor_links if sn.sensor_links[s]]
    link_sets = [np.array([net.link_index[li] for li in sn.sensor_links[rec.source_ids[c]]])
                 for c in columns]
    observed_mps = rec.speed_mph[:, columns] * MPH_TO_MPS
    errors: list[np.ndarray] = []
    persistence: list[np.ndarray] = []
    wall0 = time.perf_counter()
    for k, row in enumerate(rows):
        acc = np.zeros(len(columns))
        end = (k + 1) * interval_s
        while sim.time_s < end - 1e-9:
            before = sim.time_s
            sim.run(min(end, before + sample_s))
            speed = sim.link_speed_mps
            acc += np.array([speed[ls].mean() for ls in link_sets]) * (sim.time_s - before)
            if mirror_ is not None:
                mirror_.sample()
        twin = acc / interval_s
        if k >= warmup_intervals:
            ok = np.isfinite(observed_mps[row]) & np.isfinite(observed_mps[row - 1])
            errors.append((twin - observed_mps[row])[ok])
            persistence.append((observed_mps[row] - observed_mps[row - 1])[ok])
        if mirror_ is not None:
            mirror_.observe_many([rec.observation(row, c) for c in columns
                                  if np.isfinite(rec.speed_mph[row, c])])
    wall = time.perf_counter() - wall0
    err = np.concatenate(errors)
    return MirrorScore(
        mirrored=mirror, first_interval=rec.interval_start(first_row).isoformat(),
        intervals=intervals, comparisons=int(err.size),
        mae_mps=float(np.abs(err).mean()), rmse_mps=float(np.sqrt((err ** 2).mean())),
        persistence_mae_mps=float(np.abs(np.concatenate(persistence)).mean()),
        trips=len(trips), sim_time_s=float(sim.time_s), wall_s=wall)
