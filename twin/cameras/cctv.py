"""CCTV video analytics on a link: stopped vehicles and congestion, from the engine's arrays.

A CCTV camera watches the whole of its link and looks every ``cctv_period_s``
(:class:`~twin.scenario.SensorsSpec`). What it reports, as ``incident_report``
observations:

- **stopped vehicle** (``incident_type = "stopped_vehicle"``): a vehicle at a standstill
  (speed at most the engine's ``stop_speed_mps``) for more than ``stopped_after_s``
  that is neither queueing (another vehicle less than :data:`QUEUE_GAP_M` ahead of it
  in its lane) nor waiting at the stop line (within :data:`STOP_LINE_ZONE_M` of the
  link's end). In the engine that is the first vehicle held by an incident's lane
  block; drivers do not break down on their own. One report per vehicle and stop.
- **congestion** (``incident_type = "congestion"``, ``status = "raised"``): the mean
  speed of the vehicles on the link stays below ``congestion_speed_share`` of the
  link's speed limit for ``congestion_after_s``; ``status = "cleared"`` once it has
  stayed at or above that share (or the link empty) as long.
- **wrong way**: never. The engine has no wrong-way driving (every vehicle follows its
  links' direction), so there is nothing honest to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["QUEUE_GAP_M", "STOP_LINE_ZONE_M", "CctvAlert", "CctvState", "look"]

QUEUE_GAP_M = 15.0
"""A stopped vehicle with another vehicle less than this far ahead in its lane is queueing."""
STOP_LINE_ZONE_M = 15.0
"""A stopped vehicle this close to its link's end waits at the stop line."""


@dataclass(frozen=True, slots=True)
class CctvAlert:
    """What a look found: the incident type, the payload and where (lane, pos_m)."""

    incident_type: str
    payload: dict[str, Any]
    pos_m: float | None = None
    lane: int | None = None


@dataclass
class CctvState:
    """One CCTV camera's memory between looks."""

    link: int
    stopped_after_s: float
    speed_share: float
    after_s: float
    free_speed_mps: float
    link_length_m: float
    below_since_s: float | None = None
    above_since_s: float | None = None
    raised: bool = False
    reported: dict[int, float] = field(default_factory=dict)  # vehicle -> stopped since


def look(state: CctvState, now_s: float, on_link: NDArray[np.int64], lane: NDArray[np.int32],
         pos_m: NDArray[np.float64], speed_mps: NDArray[np.float64],
         stopped_since_s: NDArray[np.float64], length_m: NDArray[np.float64],
         vehicle_class: NDArray[np.int8], class_names: tuple[str, ...]) -> list[CctvAlert]:
    """One look of the camera at its link.

    Parameters
    ----------
    state : CctvState, updated in place
    now_s : float, simulation seconds
    on_link : int64 (k,), the vehicles on the camera's link
    lane, pos_m, speed_mps, stopped_since_s, length_m, vehicle_class : (k,), theirs
        (lane index on the link, front bumper in metres, m/s, when each stopped or
        ``inf``, vehicle length in metres, class code)
    class_names : the class names by code

    Returns
    -------
    list of CctvAlert, in the order found.
    """
    alerts: list[CctvAlert] = []
    k = on_link.shape[0]
    mean = float(speed_mps.mean()) if k else state.free_speed_mps
    below = k > 0 and mean < state.speed_share * state.free_speed_mps
    if below:
        state.above_since_s = None
        if state.below_since_s is None:
            state.below_since_s = now_s
        if not state.raised and now_s - state.below_since_s >= state.after_s:
            state.raised = True
            alerts.append(CctvAlert("congestion", _congestion(state, "raised", mean, k, now_s)))
    else:
        state.below_since_s = None
        if state.raised:
            if state.above_since_s is None:
                state.above_since_s = now_s
            if now_s - state.above_since_s >= state.after_s:
                state.raised = False
                alerts.append(CctvAlert("congestion",
                                        _congestion(state, "cleared", mean, k, now_s)))
    long_stopped = np.flatnonzero(stopped_since_s <= now_s - state.stopped_after_s)
    still = {int(on_link[j]): float(stopped_since_s[j]) for j in long_stopped.tolist()}
    state.reported = {v: s for v, s in state.reported.items() if still.get(v) == s}
    for j in long_stopped.tolist():
        v = int(on_link[j])
        if v in state.reported or state.link_length_m - pos_m[j] < STOP_LINE_ZONE_M:
            continue
        ahead = (lane == lane[j]) & (pos_m > pos_m[j])
        if ahead.any():
            front = int(np.flatnonzero(ahead)[np.argmin(pos_m[ahead])])
            if pos_m[front] - length_m[front] - pos_m[j] < QUEUE_GAP_M:
                continue
        state.reported[v] = float(stopped_since_s[j])
        alerts.append(CctvAlert("stopped_vehicle", {
            "incident_type": "stopped_vehicle", "status": "raised",
            "stopped_s": round(now_s - float(stopped_since_s[j]), 3),
            "vehicle_class": class_names[int(vehicle_class[j])], "lane": int(lane[j]),
        }, pos_m=float(pos_m[j]), lane=int(lane[j])))
    return alerts


def _congestion(state: CctvState, status: str, mean_mps: float, k: int, now_s: float
                ) -> dict[str, Any]:
    since = state.below_since_s if status == "raised" else state.above_since_s
    return {
        "incident_type": "congestion", "status": status,
        "mean_speed_mps": round(mean_mps, 3), "free_speed_mps": round(state.free_speed_mps, 3),
        "speed_share": state.speed_share, "vehicles": k,
        "for_s": round(now_s - (since if since is not None else now_s), 3),
    }
