"""Append vehicles to an engine state while a run is under way.

The kernel sees vehicles only as the rows of the ``veh_*`` columns, the CSR routes
(``route_offsets``/``route_links``) and the per-link insertion queues
(``ins_off``/``ins_veh``/``ins_ptr``), so a vehicle added between two steps is new
rows in each of them: the columns are reallocated with the new rows appended (one
copy per call, so adding many vehicles at once costs one copy, not one per vehicle),
and the insertion queues are rebuilt for the waiting vehicles. Nothing in the
kernels changes; between calls to :func:`core_ext.micro.advance` the state is
always consistent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from core_ext import config as core_config
from core_ext import micro
from core_ext.micro import MicroState

# Initial value of each per-vehicle column for a vehicle not yet on the road
# (the values of :func:`core_ext.micro.new_state`); depart and class are given.
_INITIAL: dict[str, float] = {
    "veh_state": core_config.VEH_WAITING, "veh_link": -1, "veh_lane": -1, "veh_pos_m": 0.0,
    "veh_prev_pos_m": 0.0, "veh_speed_mps": 0.0, "veh_route_pos": 0, "veh_insert_s": np.nan,
    "veh_arrive_s": np.nan, "veh_stopped_since_s": np.inf, "veh_lc_s": -np.inf,
    "veh_next_pos_m": 0.0, "veh_next_speed_mps": 0.0, "veh_target_lane": -1, "veh_conn": -1,
    "veh_emergency": 0, "veh_pass_m": 0.0,
}


def check_routes(state: MicroState, routes: Sequence[NDArray[np.int64]],
                 conn_from_link: NDArray[np.int32], conn_to_link: NDArray[np.int32]) -> None:
    """Refuse an empty route, a link index out of range or a turn with no lane connection.

    Raises
    ------
    ValueError
        Naming the route (position in ``routes``) and the offending link(s).
    """
    n_links = state.n_links
    for j, r in enumerate(routes):
        if r.ndim != 1 or r.size == 0:
            raise ValueError(f"route {j}: needs at least one link")
        if r.min() < 0 or r.max() >= n_links:
            raise ValueError(f"route {j}: link index out of range 0..{n_links - 1}")
        bad = micro.unconnected_route_steps(np.array([0, r.size], np.int64), r.astype(np.int32),
                                            conn_from_link, conn_to_link, n_links)
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"route {j}: no lane of link {int(r[k])} connects to link "
                             f"{int(r[k + 1])}")


def append_vehicles(state: MicroState, routes: Sequence[NDArray[np.int64]],
                    depart_s: NDArray[np.float64], vehicle_class: NDArray[np.int8]) -> int:
    """Append waiting vehicles (already checked) to ``state``; return the first new index.

    Every ``veh_*`` column gets the new rows, the routes are appended to the CSR
    arrays; the caller rebuilds the insertion queues.

    Raises
    ------
    RuntimeError
        When the state has a per-vehicle column this module does not know (a kernel
        change that must be reflected here).
    """
    cols = {n for n in state.arrays() if n.startswith("veh_")}
    unknown = cols - set(_INITIAL) - {"veh_depart_s", "veh_class"}
    if unknown:
        raise RuntimeError(f"per-vehicle columns without an initial value: {sorted(unknown)}")
    first = state.n_vehicles
    k = len(routes)
    for name in sorted(cols):
        old = getattr(state, name)
        if name == "veh_depart_s":
            new_rows = np.asarray(depart_s, dtype=old.dtype)
        elif name == "veh_class":
            new_rows = np.asarray(vehicle_class, dtype=old.dtype)
        else:
            new_rows = np.full(k, _INITIAL[name], dtype=old.dtype)
        setattr(state, name, np.ascontiguousarray(np.concatenate([old, new_rows])))
    lengths = np.array([r.size for r in routes], np.int64)
    tail = state.route_offsets[-1] + np.cumsum(lengths)
    state.route_offsets = np.ascontiguousarray(
        np.concatenate([state.route_offsets, tail]).astype(np.int64))
    state.route_links = np.ascontiguousarray(
        np.concatenate([state.route_links, *[r.astype(np.int32) for r in routes]]))
    return first
