"""Key performance indicators of a what-if fork, and the gain of one fork over another.

A fork runs from ``start_s`` to ``end_s`` (the *window*). :class:`KpiSampler` reads the
engine's arrays every ``sample_s`` simulated seconds of the window and at its end;
:class:`ForkKpis` holds the figures:

- ``trips_completed``: trips that arrived inside the window (throughput);
- ``mean_travel_time_s``: mean travel time (arrival - planned departure, so the wait
  to enter the network counts) of those trips; None when none arrived;
- ``total_delay_veh_h``: vehicle-hours lost against free flow inside the window: each
  vehicle on the network loses ``max(0, 1 - v / v_limit)`` seconds per second, ``v``
  its speed and ``v_limit`` its link's speed limit; a vehicle whose departure time has
  passed but that could not enter yet loses every second. Integrated over the samples
  (the state at the end of each sample period stands for the period);
- ``queued_veh_end``: vehicles standing (speed at most the engine's stop speed) on the
  network at the end of the window;
- ``waiting_veh_end``: vehicles due to have departed by the end that could not enter;
- ``mean_speed_mps``: mean speed of the vehicles on the network over the samples
  (each vehicle-sample counts once).

Sign convention of :class:`KpiGain`: every field is an *improvement*, positive when the
intervention is better than the reference (usually the do-nothing fork) and negative
when it is worse: less travel time, less delay, fewer vehicles queued or waiting, more
trips completed, a higher mean speed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from twin.simulation import VEH_ACTIVE, VEH_WAITING, Simulation

__all__ = ["ForkKpis", "KpiGain", "KpiSampler"]


@dataclass(frozen=True)
class ForkKpis:
    """Figures of one fork over its window (see the module docstring for each)."""

    start_s: float
    end_s: float
    trips_completed: int
    mean_travel_time_s: float | None
    total_delay_veh_h: float
    queued_veh_end: int
    waiting_veh_end: int
    mean_speed_mps: float | None

    @property
    def stuck_veh_end(self) -> int:
        """Vehicles queued on the network or waiting to enter at the end of the window."""
        return self.queued_veh_end + self.waiting_veh_end

    def gain_over(self, reference: ForkKpis) -> KpiGain:
        """The improvement of this fork over ``reference`` (positive = this one is better)."""
        def diff(mine: float | None, theirs: float | None, sign: float) -> float | None:
            if mine is None or theirs is None:
                return None
            return sign * (mine - theirs)

        return KpiGain(
            delay_saved_veh_h=reference.total_delay_veh_h - self.total_delay_veh_h,
            travel_time_saved_s=diff(self.mean_travel_time_s, reference.mean_travel_time_s, -1.0),
            extra_trips_completed=self.trips_completed - reference.trips_completed,
            fewer_stuck_veh=reference.stuck_veh_end - self.stuck_veh_end,
            speed_gain_mps=diff(self.mean_speed_mps, reference.mean_speed_mps, 1.0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (``stuck_veh_end`` included)."""
        out = asdict(self)
        out["stuck_veh_end"] = self.stuck_veh_end
        return out


@dataclass(frozen=True)
class KpiGain:
    """Improvement of a fork over a reference fork; positive = better (see the module docstring)."""

    delay_saved_veh_h: float
    travel_time_saved_s: float | None
    extra_trips_completed: int
    fewer_stuck_veh: int
    speed_gain_mps: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


class KpiSampler:
    """Accumulates the figures of :class:`ForkKpis` while a simulation runs a window.

    Call :meth:`sample` after each stretch of the run (with the simulation at the end
    of the stretch), then :meth:`result` at the end of the window.

    Parameters
    ----------
    sim : Simulation, standing at the start of the window
    """

    def __init__(self, sim: Simulation) -> None:
        self._sim = sim
        self.start_s = float(sim.time_s)
        self._last_s = self.start_s
        self._delay_veh_s = 0.0
        self._speed_sum_mps = 0.0
        self._speed_samples = 0
        self._limit_mps = np.asarray(sim.network.link_speed_limit_mps, dtype=np.float64)
        self._depart_s = np.asarray(sim.trips.depart_s, dtype=np.float64)

    def _due_waiting(self, state: np.ndarray, now_s: float) -> int:
        return int(np.count_nonzero((state == VEH_WAITING) & (self._depart_s <= now_s)))

    def sample(self) -> None:
        """Account for the stretch since the previous sample (the state now stands for it)."""
        sim = self._sim
        now = float(sim.time_s)
        span = now - self._last_s
        if span <= 0:
            return
        state = np.asarray(sim.vehicle_state)
        on = np.flatnonzero(state == VEH_ACTIVE)
        speed = np.asarray(sim.vehicle_speed_mps)[on]
        limit = self._limit_mps[np.asarray(sim.vehicle_link)[on]]
        lost = float(np.maximum(0.0, 1.0 - speed / limit).sum())
        self._delay_veh_s += span * (lost + self._due_waiting(state, now))
        self._speed_sum_mps += float(speed.sum())
        self._speed_samples += int(on.shape[0])
        self._last_s = now

    def result(self) -> ForkKpis:
        """The figures of the window from the start to the simulation's time now."""
        sim = self._sim
        end = float(sim.time_s)
        arrive = np.asarray(sim.arrive_s)
        done = np.isfinite(arrive) & (arrive > self.start_s) & (arrive <= end)
        tt = np.asarray(sim.travel_time_s)[done]
        state = np.asarray(sim.vehicle_state)
        return ForkKpis(
            start_s=self.start_s,
            end_s=end,
            trips_completed=int(done.sum()),
            mean_travel_time_s=float(tt.mean()) if tt.size else None,
            total_delay_veh_h=self._delay_veh_s / 3600.0,
            queued_veh_end=int(np.asarray(sim.link_queue_veh).sum()),
            waiting_veh_end=self._due_waiting(state, end),
            mean_speed_mps=(self._speed_sum_mps / self._speed_samples
                            if self._speed_samples else None),
        )
