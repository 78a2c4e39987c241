"""The microscopic, lane-level traffic engine: parameters, state arrays and checked wrappers.

Every vehicle has a position, speed, lane and link; lanes keep their vehicles
in order; the Intelligent Driver Model moves them, MOBIL changes their lanes,
fixed-time signals and priority rules govern the junctions. The step semantics
are documented once, in :mod:`core_ext._micro_nb`; :mod:`core_ext.micro_reference`
restates them plainly as the test oracle.

Everything here is arrays and scalars: :class:`MicroState` holds the columns,
:func:`new_state` builds and checks them, :func:`advance` runs the compiled
kernel. Ids, networks and trips belong to :mod:`twin.simulation`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from core_ext import _micro_nb as _nb
from core_ext import config

FloatArray = NDArray[np.float64]

__all__ = [
    "ClassParams",
    "MicroParams",
    "MicroState",
    "SIGNAL_CODES",
    "add_detectors",
    "advance",
    "detector_lanes",
    "grow_buffers",
    "check_state",
    "new_state",
    "phase_code_table",
    "state_bytes_per_vehicle",
    "unconnected_route_steps",
]

SIGNAL_CODES: dict[str, int] = {
    "r": _nb.SIG_RED, "R": _nb.SIG_RED, "u": _nb.SIG_RED,
    "y": _nb.SIG_AMBER, "Y": _nb.SIG_AMBER,
    "g": _nb.SIG_YIELD,
    "G": _nb.SIG_GREEN,
    "o": _nb.SIG_NONE, "O": _nb.SIG_NONE, "s": _nb.SIG_NONE,
}
"""Kernel code of each SUMO signal state character."""


def _check_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class ClassParams:
    """IDM parameters of one vehicle class (SI units).

    Attributes
    ----------
    length_m : vehicle length (> 0)
    min_gap_m : IDM ``s0``, the standstill gap (> 0)
    headway_s : IDM ``T``, the safe time headway (> 0)
    accel_mps2 : IDM ``a``, maximum acceleration (> 0)
    decel_mps2 : IDM ``b``, comfortable deceleration (> 0)
    max_speed_mps : the class's top speed (> 0)
    speed_factor : desired speed as a multiple of the speed limit (> 0)
    """

    length_m: float
    min_gap_m: float
    headway_s: float
    accel_mps2: float
    decel_mps2: float
    max_speed_mps: float
    speed_factor: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_positive(f"ClassParams.{f.name}", getattr(self, f.name))


DEFAULT_CLASS_PARAMS: dict[str, ClassParams] = {
    # Two-wheelers: short, quick, small gaps (Jakarta's majority).
    "motorcycle": ClassParams(length_m=2.0, min_gap_m=1.0, headway_s=0.8, accel_mps2=2.0,
                              decel_mps2=3.0, max_speed_mps=22.2, speed_factor=1.0),
    # Passenger cars: the textbook IDM city values (Treiber & Kesting, Traffic Flow
    # Dynamics, table 11.2: T 1.0-1.5 s, s0 2 m, a 1.0-1.5, b 1.5-2.0), with T at
    # the short end (also SUMO's default tau): queues then discharge at ~1,830
    # veh/h/lane (tests/verification), near HCM's base 1,900, where T = 1.2 s gave
    # 1,697. Indonesia's capacity manual (MKJI 1997) puts base saturation flow
    # at 600 pcu/h per metre of approach width, ~2,100 for a 3.5 m lane.
    "car": ClassParams(length_m=4.5, min_gap_m=2.0, headway_s=1.0, accel_mps2=1.5,
                       decel_mps2=2.0, max_speed_mps=33.3, speed_factor=1.0),
    "bus": ClassParams(length_m=12.0, min_gap_m=2.5, headway_s=1.5, accel_mps2=1.0,
                       decel_mps2=1.5, max_speed_mps=22.2, speed_factor=0.9),
    "truck": ClassParams(length_m=10.0, min_gap_m=2.5, headway_s=1.5, accel_mps2=0.8,
                         decel_mps2=1.5, max_speed_mps=22.2, speed_factor=0.9),
}
"""IDM parameters per class, in the order of ``twin.demand.VEHICLE_CLASSES``."""


@dataclass(frozen=True)
class MicroParams:
    """Scalar parameters of the junction, lane-change and detector rules (see the kernel docstring)."""

    lookahead_m: float = 200.0
    b_emergency_mps2: float = 8.0
    approach_m: float = 15.0
    yield_gap_s: float = 3.5
    clear_s: float = 1.0
    queue_front_m: float = 5.0
    stop_speed_mps: float = 0.1
    min_entry_gap_m: float = 0.5
    lc_cooldown_s: float = 3.0
    politeness: float = 0.2
    a_threshold_mps2: float = 0.2
    b_safe_mps2: float = 4.0
    b_safe_mandatory_mps2: float = 6.0
    block_lookahead_m: float = 150.0
    loop_length_m: float = 2.0
    keep_clear_m: float = 20.0
    """Keep clear: a link shorter than this (or than a vehicle's length plus its
    standstill gap) is entered only when the route link after it has room (>= 0)."""
    merge_zone_m: float = 0.0
    """Zipper merge: where lanes of a link join into one lane of the next link, within
    ``max(merge_zone_m, v^2 / (2 b) + approach_m)`` of the line each vehicle also follows
    the vehicle ahead in the other joining lanes (see the kernel docstring); 0 turns it
    off (>= 0). Off by default: 50 m passes a 2 -> 1 lane drop at ~94 % of a lane's
    capacity, but raises the Jatinegara demo's mean travel time (the steadier priority
    stream starves a minor approach, see tests/verification/test_micro_theory.py)."""
    emergency_speed_factor: float = 1.25
    """An emergency vehicle's desired speed is the limit times this (and its class's
    desired-speed factor), capped by the class's top speed (> 0)."""
    emergency_crawl_mps: float = 3.0
    """An emergency vehicle facing red or amber passes the line once it is within
    ``approach_m`` of it at no more than this speed and the conflicting movements are
    clear, and crawls through at this speed (> 0)."""
    emergency_clear_m: float = 100.0
    """A vehicle with an emergency vehicle behind it in its lane, fronts at most this
    far apart, changes to an adjacent lane when it safely can (> 0)."""
    emergency_pass_mps: float = 3.0
    """Queue passing: an emergency vehicle closed up behind a queue it cannot leave
    (its leader in the lane, or the last vehicle of its target lane beyond the line,
    moving at no more than this speed) gets past it at this speed, as cars pull to the
    kerb and it squeezes by or takes the opposite carriageway (see the kernel
    docstring); 0 turns it off (>= 0). The default is ``emergency_crawl_mps``'s."""
    parallel_min_vehicles: int = 20_000
    """Run the parallel kernels (numba threads) when at least this many vehicles
    are on the road at the start of an :func:`advance` call; serial below.
    Results do not depend on it."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "parallel_min_vehicles":
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"MicroParams.{f.name} must be an integer >= 0, got {v!r}")
            elif f.name in ("politeness", "loop_length_m", "a_threshold_mps2", "keep_clear_m",
                            "merge_zone_m", "emergency_pass_mps"):
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                        or v < 0:
                    raise ValueError(f"MicroParams.{f.name} must be a finite number >= 0, "
                                     f"got {v!r}")
            else:
                _check_positive(f"MicroParams.{f.name}", v)

    def vector(self) -> FloatArray:
        """The parameters in the kernel's ``P_*`` order."""
        order = ("lookahead_m", "b_emergency_mps2", "approach_m", "yield_gap_s", "clear_s",
                 "queue_front_m", "stop_speed_mps", "min_entry_gap_m", "lc_cooldown_s",
                 "politeness", "a_threshold_mps2", "b_safe_mps2", "b_safe_mandatory_mps2",
                 "block_lookahead_m", "loop_length_m", "keep_clear_m", "merge_zone_m",
                 "emergency_speed_factor", "emergency_crawl_mps", "emergency_clear_m",
                 "emergency_pass_mps")
        assert len(order) == _nb.N_PARAMS
        return np.array([float(getattr(self, n)) for n in order], dtype=np.float64)


# Column name -> dtype. The names are the kernel's argument names.
_COLUMNS: dict[str, type] = {
    "veh_state": np.int8, "veh_class": np.int8, "veh_link": np.int32, "veh_lane": np.int32,
    "veh_pos_m": np.float64, "veh_prev_pos_m": np.float64, "veh_speed_mps": np.float64,
    "veh_route_pos": np.int32, "veh_depart_s": np.float64, "veh_insert_s": np.float64,
    "veh_arrive_s": np.float64, "veh_stopped_since_s": np.float64, "veh_lc_s": np.float64,
    "veh_next_pos_m": np.float64, "veh_next_speed_mps": np.float64,
    "veh_target_lane": np.int32, "veh_conn": np.int32, "veh_emergency": np.int8,
    "veh_pass_m": np.float64,
    "route_offsets": np.int64, "route_links": np.int32,
    "link_length_m": np.float64, "link_lanes": np.int32, "link_speed_limit_mps": np.float64,
    "link_speed_factor": np.float64, "link_lane_off": np.int64, "link_entered": np.int64,
    "link_exited": np.int64, "link_changes": np.int64,
    "lane_link": np.int32, "lane_slot_off": np.int64, "lane_head": np.int64,
    "lane_count": np.int64, "lane_block_pos_m": np.float64, "lane_conn_off": np.int64,
    "lane_moved": np.int64, "lane_merge_veh": np.int32, "slots": np.int32,
    "conn_to_link": np.int32, "conn_to_lane": np.int32, "conn_mov": np.int32,
    "conn_program": np.int32, "conn_sig_index": np.int32, "conn_sig": np.int8,
    "mov_from_link": np.int32, "mov_to_link": np.int32, "mov_rank": np.int32,
    "mov_conn": np.int32, "mov_conf_off": np.int64, "mov_conf": np.int32,
    "mov_last_cross_s": np.float64,
    "prog_offset_s": np.float64, "prog_cycle_s": np.float64, "prog_phase_off": np.int64,
    "phase_dur_s": np.float64, "phase_codes": np.int8,
    "ins_off": np.int64, "ins_veh": np.int32, "ins_ptr": np.int64,
    "cls_length_m": np.float64, "cls_min_gap_m": np.float64, "cls_headway_s": np.float64,
    "cls_accel_mps2": np.float64, "cls_decel_mps2": np.float64,
    "cls_max_speed_mps": np.float64, "cls_speed_factor": np.float64,
    "det_lanes": np.int32, "det_lane_off": np.int64, "det_by_lane": np.int32,
    "det_pos_m": np.float64, "det_count": np.int64, "det_speed_sum": np.float64,
    "det_occ_s": np.float64, "ev_det": np.int32, "ev_veh": np.int32, "ev_time": np.float64,
    "ev_speed": np.float64, "ev_sig": np.int8,
    "trace_veh": np.int32, "tr_veh": np.int32, "tr_time": np.float64, "tr_link": np.int32,
    "tr_lane": np.int32, "tr_pos": np.float64, "tr_speed": np.float64,
    "counters": np.int64,
}

_RUN_ARGS: tuple[str, ...] = tuple(
    inspect.signature(getattr(_nb.run_steps, "py_func", _nb.run_steps)).parameters)[6:]
assert set(_RUN_ARGS) == set(_COLUMNS), set(_RUN_ARGS) ^ set(_COLUMNS)

_VEHICLE_COLUMNS = tuple(n for n in _COLUMNS if n.startswith("veh_"))


@dataclass(eq=False)
class MicroState:
    """All arrays of the engine; field names are the kernel's argument names.

    ``veh_*`` columns have one row per vehicle, ``link_*`` per link, ``lane_*``
    per lane (global lane ``link_lane_off[link] + lane``), ``conn_*`` per lane
    connection (sorted by from-lane, CSR ``lane_conn_off``), ``mov_*`` per
    movement (a from-link/to-link pair at a junction), ``prog_*``/``phase_*``
    per signal program and phase, ``det_*`` per lane detector, ``ev_*`` the
    crossing-event buffer, ``tr_*`` the trajectory buffer of the vehicles in
    ``trace_veh``. ``counters`` are indexed by ``_micro_nb.C_*``.
    """

    veh_state: NDArray[np.int8]
    veh_class: NDArray[np.int8]
    veh_link: NDArray[np.int32]
    veh_lane: NDArray[np.int32]
    veh_pos_m: FloatArray
    veh_prev_pos_m: FloatArray
    veh_speed_mps: FloatArray
    veh_route_pos: NDArray[np.int32]
    veh_depart_s: FloatArray
    veh_insert_s: FloatArray
    veh_arrive_s: FloatArray
    veh_stopped_since_s: FloatArray
    veh_lc_s: FloatArray
    veh_next_pos_m: FloatArray
    veh_next_speed_mps: FloatArray
    veh_target_lane: NDArray[np.int32]
    veh_conn: NDArray[np.int32]
    veh_emergency: NDArray[np.int8]
    veh_pass_m: FloatArray
    route_offsets: NDArray[np.int64]
    route_links: NDArray[np.int32]
    link_length_m: FloatArray
    link_lanes: NDArray[np.int32]
    link_speed_limit_mps: FloatArray
    link_speed_factor: FloatArray
    link_lane_off: NDArray[np.int64]
    link_entered: NDArray[np.int64]
    link_exited: NDArray[np.int64]
    link_changes: NDArray[np.int64]
    lane_link: NDArray[np.int32]
    lane_slot_off: NDArray[np.int64]
    lane_head: NDArray[np.int64]
    lane_count: NDArray[np.int64]
    lane_block_pos_m: FloatArray
    lane_conn_off: NDArray[np.int64]
    lane_moved: NDArray[np.int64]
    lane_merge_veh: NDArray[np.int32]
    slots: NDArray[np.int32]
    conn_to_link: NDArray[np.int32]
    conn_to_lane: NDArray[np.int32]
    conn_mov: NDArray[np.int32]
    conn_program: NDArray[np.int32]
    conn_sig_index: NDArray[np.int32]
    conn_sig: NDArray[np.int8]
    mov_from_link: NDArray[np.int32]
    mov_to_link: NDArray[np.int32]
    mov_rank: NDArray[np.int32]
    mov_conn: NDArray[np.int32]
    mov_conf_off: NDArray[np.int64]
    mov_conf: NDArray[np.int32]
    mov_last_cross_s: FloatArray
    prog_offset_s: FloatArray
    prog_cycle_s: FloatArray
    prog_phase_off: NDArray[np.int64]
    phase_dur_s: FloatArray
    phase_codes: NDArray[np.int8]
    ins_off: NDArray[np.int64]
    ins_veh: NDArray[np.int32]
    ins_ptr: NDArray[np.int64]
    cls_length_m: FloatArray
    cls_min_gap_m: FloatArray
    cls_headway_s: FloatArray
    cls_accel_mps2: FloatArray
    cls_decel_mps2: FloatArray
    cls_max_speed_mps: FloatArray
    cls_speed_factor: FloatArray
    det_lanes: NDArray[np.int32]
    det_lane_off: NDArray[np.int64]
    det_by_lane: NDArray[np.int32]
    det_pos_m: FloatArray
    det_count: NDArray[np.int64]
    det_speed_sum: FloatArray
    det_occ_s: FloatArray
    ev_det: NDArray[np.int32]
    ev_veh: NDArray[np.int32]
    ev_time: FloatArray
    ev_speed: FloatArray
    ev_sig: NDArray[np.int8]
    trace_veh: NDArray[np.int32]
    tr_veh: NDArray[np.int32]
    tr_time: FloatArray
    tr_link: NDArray[np.int32]
    tr_lane: NDArray[np.int32]
    tr_pos: FloatArray
    tr_speed: FloatArray
    counters: NDArray[np.int64]
    ev_margin: int = 0

    @property
    def n_vehicles(self) -> int:
        return int(self.veh_state.shape[0])

    @property
    def n_links(self) -> int:
        return int(self.link_length_m.shape[0])

    @property
    def n_lanes(self) -> int:
        return int(self.lane_link.shape[0])

    @property
    def vehicle_steps(self) -> int:
        return int(self.counters[_nb.C_VEHICLE_STEPS])

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns by name."""
        return {name: getattr(self, name) for name in _COLUMNS}

    def copy(self) -> MicroState:
        """A deep copy."""
        return MicroState(**{n: a.copy() for n, a in self.arrays().items()},
                          ev_margin=self.ev_margin)

    def load(self, other: MicroState) -> None:
        """Make every column equal to ``other``'s: copied in place where shape and dtype
        agree (so read-only views of the columns stay live), replaced by a copy where
        they do not (routes after re-routing, grown buffers)."""
        for name, arr in other.arrays().items():
            mine = getattr(self, name)
            if mine.shape == arr.shape and mine.dtype == arr.dtype:
                mine[...] = arr
            else:
                setattr(self, name, arr.copy())
        self.ev_margin = other.ev_margin


def phase_code_table(phase_state: Sequence[str]) -> NDArray[np.int8]:
    """The phase state strings as a (n_phases, max_len) table of kernel signal codes.

    Raises
    ------
    ValueError
        On a character that is not a SUMO signal state.
    """
    width = max((len(s) for s in phase_state), default=0)
    table = np.full((len(phase_state), max(width, 1)), _nb.SIG_RED, dtype=np.int8)
    for i, s in enumerate(phase_state):
        for j, ch in enumerate(s):
            try:
                table[i, j] = SIGNAL_CODES[ch]
            except KeyError:
                raise ValueError(f"phase {i}: {ch!r} is not a signal state "
                                 f"(one of {''.join(SIGNAL_CODES)})") from None
    return table


def _col(name: str, arr: object) -> np.ndarray:
    dtype = _COLUMNS[name]
    out: np.ndarray = np.array(arr, dtype=dtype, copy=True)
    return np.ascontiguousarray(out)


def new_state(
    *,
    link_length_m: FloatArray,
    link_lanes: NDArray[np.int32],
    link_speed_limit_mps: FloatArray,
    conn_from_link: NDArray[np.int32],
    conn_from_lane: NDArray[np.int32],
    conn_to_link: NDArray[np.int32],
    conn_to_lane: NDArray[np.int32],
    conn_program: NDArray[np.int32],
    conn_sig_index: NDArray[np.int32],
    conn_mov: NDArray[np.int32],
    mov_from_link: NDArray[np.int32],
    mov_to_link: NDArray[np.int32],
    mov_rank: NDArray[np.int32],
    mov_conf_off: NDArray[np.int64],
    mov_conf: NDArray[np.int32],
    prog_offset_s: FloatArray,
    prog_phase_off: NDArray[np.int64],
    phase_dur_s: FloatArray,
    phase_codes: NDArray[np.int8],
    route_offsets: NDArray[np.int64],
    route_links: NDArray[np.int32],
    depart_s: FloatArray,
    vehicle_class: NDArray[np.int8],
    class_params: Sequence[ClassParams],
    insertable: NDArray[np.bool_] | None = None,
) -> MicroState:
    """Build and check the engine state.

    Connections may come in any order; they are sorted by (from link, from
    lane). Vehicles with ``insertable`` False (default: those with an empty
    route) are never inserted.

    Raises
    ------
    ValueError
        When a column has the wrong length, an index is out of range, a number
        is not finite or not positive where it must be, a connection does not
        join the end of its from-link's lane to its to-link, or a route is not
        drivable along connections.
    """
    n_links = int(np.asarray(link_length_m).shape[0])
    lanes = _col("link_lanes", link_lanes)
    length = _col("link_length_m", link_length_m)
    limit = _col("link_speed_limit_mps", link_speed_limit_mps)
    for name, col in (("link_length_m", length), ("link_speed_limit_mps", limit)):
        if col.shape != (n_links,):
            raise ValueError(f"{name} must have one value per link ({n_links})")
        bad = np.flatnonzero(~np.isfinite(col) | (col <= 0))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {col[bad[0]]} must be finite and > 0")
    if lanes.shape != (n_links,) or (lanes.size and lanes.min() < 1):
        raise ValueError("link_lanes must have one value >= 1 per link")
    lane_off = np.zeros(n_links + 1, np.int64)
    np.cumsum(lanes, out=lane_off[1:])
    n_lanes = int(lane_off[-1])
    lane_link = np.repeat(np.arange(n_links, dtype=np.int32), lanes)

    classes = list(class_params)
    if not classes:
        raise ValueError("class_params must name at least one vehicle class")
    cls = {
        "cls_length_m": [c.length_m for c in classes],
        "cls_min_gap_m": [c.min_gap_m for c in classes],
        "cls_headway_s": [c.headway_s for c in classes],
        "cls_accel_mps2": [c.accel_mps2 for c in classes],
        "cls_decel_mps2": [c.decel_mps2 for c in classes],
        "cls_max_speed_mps": [c.max_speed_mps for c in classes],
        "cls_speed_factor": [c.speed_factor for c in classes],
    }
    min_len = min(c.length_m for c in classes)
    cap = np.floor(length / min_len).astype(np.int64)[lane_link] + 2
    slot_off = np.zeros(n_lanes + 1, np.int64)
    np.cumsum(cap, out=slot_off[1:])

    # connections, sorted by global from-lane
    cf = _col("conn_to_link", conn_from_link)
    cfl = _col("conn_to_lane", conn_from_lane)
    ct = _col("conn_to_link", conn_to_link)
    ctl = _col("conn_to_lane", conn_to_lane)
    n_conn = cf.shape[0]
    for name, col in (("conn_from_lane", cfl), ("conn_to_link", ct), ("conn_to_lane", ctl),
                      ("conn_program", conn_program), ("conn_sig_index", conn_sig_index),
                      ("conn_mov", conn_mov)):
        if np.asarray(col).shape != (n_conn,):
            raise ValueError(f"{name} must have one value per connection ({n_conn})")
    for name, col, hi in (("conn_from_link", cf, n_links), ("conn_to_link", ct, n_links)):
        if n_conn and (col.min() < 0 or col.max() >= hi):
            raise ValueError(f"{name} holds a link index out of range 0..{hi - 1}")
    if n_conn and ((cfl < 0) | (cfl >= lanes[cf])).any():
        raise ValueError("conn_from_lane holds a lane its link does not have")
    if n_conn and ((ctl < 0) | (ctl >= lanes[ct])).any():
        raise ValueError("conn_to_lane holds a lane its link does not have")
    g_from = lane_off[cf] + cfl
    order = np.lexsort((lane_off[ct] + ctl, g_from))
    g_from = g_from[order]
    lane_conn_off = np.zeros(n_lanes + 1, np.int64)
    np.cumsum(np.bincount(g_from, minlength=n_lanes), out=lane_conn_off[1:])
    n_mov = int(np.asarray(mov_from_link).shape[0])
    c_mov = _col("conn_mov", conn_mov)[order]
    if n_conn and (c_mov.min() < 0 or c_mov.max() >= n_mov):
        raise ValueError("conn_mov holds a movement index out of range")
    mov_conn = np.full(n_mov, -1, np.int32)
    used, first_conn = np.unique(c_mov, return_index=True)
    mov_conn[used] = first_conn
    if (mov_conn < 0).any():
        raise ValueError(f"movement {int(np.flatnonzero(mov_conn < 0)[0])} has no connection")

    n_prog = int(np.asarray(prog_offset_s).shape[0])
    p_off = _col("prog_phase_off", prog_phase_off)
    durs = _col("phase_dur_s", phase_dur_s)
    codes = np.ascontiguousarray(np.asarray(phase_codes, dtype=np.int8))
    if p_off.shape != (n_prog + 1,):
        raise ValueError(f"prog_phase_off must have n_programs + 1 = {n_prog + 1} entries")
    if (~np.isfinite(durs) | (durs < 0)).any():
        raise ValueError("phase durations must be finite and >= 0")
    cycle = np.array([durs[p_off[p]:p_off[p + 1]].sum() for p in range(n_prog)], np.float64)
    if (cycle <= 0).any():
        raise ValueError(f"signal program {int(np.flatnonzero(cycle <= 0)[0])} has a cycle "
                         "of 0 s or no phases")
    c_prog = _col("conn_program", conn_program)[order]
    c_sig = _col("conn_sig_index", conn_sig_index)[order]
    sig_on = c_prog >= 0
    if sig_on.any():
        if c_prog.max() >= n_prog:
            raise ValueError("conn_program holds a program index out of range")
        if (c_sig[sig_on] < 0).any() or (c_sig[sig_on] >= codes.shape[1]).any():
            raise ValueError("conn_sig_index is out of range of its program's state strings")

    # routes: drivable along connections
    r_off = _col("route_offsets", route_offsets)
    r_links = _col("route_links", route_links)
    n_veh = int(r_off.shape[0]) - 1
    dep = _col("veh_depart_s", depart_s)
    vcls = _col("veh_class", vehicle_class)
    if dep.shape != (n_veh,) or vcls.shape != (n_veh,):
        raise ValueError("depart_s and vehicle_class need one value per vehicle")
    if (~np.isfinite(dep)).any():
        raise ValueError(f"vehicle {int(np.flatnonzero(~np.isfinite(dep))[0])}: depart_s "
                         "is not finite")
    if n_veh and (vcls.min() < 0 or vcls.max() >= len(classes)):
        bad_v = int(np.flatnonzero((vcls < 0) | (vcls >= len(classes)))[0])
        raise ValueError(f"vehicle {bad_v}: class {vcls[bad_v]} has no parameters "
                         f"({len(classes)} classes)")
    if r_links.size and (r_links.min() < 0 or r_links.max() >= n_links):
        raise ValueError("route_links holds a link index out of range")
    bad_step = unconnected_route_steps(r_off, r_links, cf, ct, n_links)
    if bad_step.size:
        j = int(bad_step[0])
        vehicle = int(np.searchsorted(r_off, j, side="right") - 1)
        raise ValueError(f"vehicle {vehicle}: no lane of link {int(r_links[j])} "
                         f"connects to link {int(r_links[j + 1])}")
    ok = np.diff(r_off) > 0 if insertable is None else np.asarray(insertable, bool)
    first = np.full(n_veh, -1, np.int64)
    has = np.diff(r_off) > 0
    first[has] = r_links[r_off[:-1][has]]
    cand = np.flatnonzero(ok & (first >= 0))
    ins_order = cand[np.lexsort((cand, dep[cand], first[cand]))]
    ins_off = np.zeros(n_links + 1, np.int64)
    np.cumsum(np.bincount(first[ins_order], minlength=n_links), out=ins_off[1:])

    st = MicroState(
        veh_state=np.where(ok, config.VEH_WAITING, config.VEH_UNROUTABLE).astype(np.int8),
        veh_class=vcls,
        veh_link=np.full(n_veh, -1, np.int32),
        veh_lane=np.full(n_veh, -1, np.int32),
        veh_pos_m=np.zeros(n_veh),
        veh_prev_pos_m=np.zeros(n_veh),
        veh_speed_mps=np.zeros(n_veh),
        veh_route_pos=np.zeros(n_veh, np.int32),
        veh_depart_s=dep,
        veh_insert_s=np.full(n_veh, np.nan),
        veh_arrive_s=np.full(n_veh, np.nan),
        veh_stopped_since_s=np.full(n_veh, np.inf),
        veh_lc_s=np.full(n_veh, -np.inf),
        veh_next_pos_m=np.zeros(n_veh),
        veh_next_speed_mps=np.zeros(n_veh),
        veh_target_lane=np.full(n_veh, -1, np.int32),
        veh_conn=np.full(n_veh, -1, np.int32),
        veh_emergency=np.zeros(n_veh, np.int8),
        veh_pass_m=np.zeros(n_veh),
        route_offsets=r_off,
        route_links=r_links,
        link_length_m=length,
        link_lanes=lanes,
        link_speed_limit_mps=limit,
        link_speed_factor=np.ones(n_links),
        link_lane_off=lane_off,
        link_entered=np.zeros(n_links, np.int64),
        link_exited=np.zeros(n_links, np.int64),
        link_changes=np.zeros(n_links, np.int64),
        lane_link=lane_link,
        lane_slot_off=slot_off,
        lane_head=np.zeros(n_lanes, np.int64),
        lane_count=np.zeros(n_lanes, np.int64),
        lane_block_pos_m=np.full(n_lanes, np.inf),
        lane_conn_off=lane_conn_off,
        lane_moved=np.zeros(n_lanes, np.int64),
        lane_merge_veh=np.full(n_lanes, -1, np.int32),
        slots=np.full(int(slot_off[-1]), -1, np.int32),
        conn_to_link=ct[order],
        conn_to_lane=(lane_off[ct] + ctl)[order].astype(np.int32),
        conn_mov=c_mov,
        conn_program=c_prog,
        conn_sig_index=c_sig,
        conn_sig=np.full(n_conn, _nb.SIG_NONE, np.int8),
        mov_from_link=_col("mov_from_link", mov_from_link),
        mov_to_link=_col("mov_to_link", mov_to_link),
        mov_rank=_col("mov_rank", mov_rank),
        mov_conn=mov_conn,
        mov_conf_off=_col("mov_conf_off", mov_conf_off),
        mov_conf=_col("mov_conf", mov_conf),
        mov_last_cross_s=np.full(n_mov, -np.inf),
        prog_offset_s=_col("prog_offset_s", prog_offset_s),
        prog_cycle_s=cycle,
        prog_phase_off=p_off,
        phase_dur_s=durs,
        phase_codes=codes,
        ins_off=ins_off,
        ins_veh=ins_order.astype(np.int32),
        ins_ptr=ins_off[:-1].copy(),
        cls_length_m=np.array(cls["cls_length_m"], np.float64),
        cls_min_gap_m=np.array(cls["cls_min_gap_m"], np.float64),
        cls_headway_s=np.array(cls["cls_headway_s"], np.float64),
        cls_accel_mps2=np.array(cls["cls_accel_mps2"], np.float64),
        cls_decel_mps2=np.array(cls["cls_decel_mps2"], np.float64),
        cls_max_speed_mps=np.array(cls["cls_max_speed_mps"], np.float64),
        cls_speed_factor=np.array(cls["cls_speed_factor"], np.float64),
        det_lanes=np.zeros(0, np.int32),
        det_lane_off=np.zeros(n_lanes + 1, np.int64),
        det_by_lane=np.zeros(0, np.int32),
        det_pos_m=np.zeros(0),
        det_count=np.zeros(0, np.int64),
        det_speed_sum=np.zeros(0),
        det_occ_s=np.zeros(0),
        ev_det=np.zeros(0, np.int32),
        ev_veh=np.zeros(0, np.int32),
        ev_time=np.zeros(0),
        ev_speed=np.zeros(0),
        ev_sig=np.zeros(0, np.int8),
        trace_veh=np.zeros(0, np.int32),
        tr_veh=np.zeros(0, np.int32),
        tr_time=np.zeros(0),
        tr_link=np.zeros(0, np.int32),
        tr_lane=np.zeros(0, np.int32),
        tr_pos=np.zeros(0),
        tr_speed=np.zeros(0),
        counters=np.zeros(_nb.N_COUNTERS, np.int64),
    )
    if st.mov_conf_off.shape != (n_mov + 1,):
        raise ValueError("mov_conf_off must have n_movements + 1 entries")
    if st.mov_conf.size and (st.mov_conf.min() < 0 or st.mov_conf.max() >= n_mov):
        raise ValueError("mov_conf holds a movement index out of range")
    check_state(st)
    return st


def unconnected_route_steps(
    route_offsets: NDArray[np.int64],
    route_links: NDArray[np.int32],
    conn_from_link: NDArray[np.int32],
    conn_to_link: NDArray[np.int32],
    n_links: int,
) -> NDArray[np.int64]:
    """Positions ``j`` in ``route_links`` where a route steps from ``route_links[j]`` to
    ``route_links[j + 1]`` although no lane connection joins the two links (vectorised)."""
    links = np.asarray(route_links, dtype=np.int64)
    if links.size < 2:
        return np.zeros(0, np.int64)
    starts = np.zeros(links.size, bool)
    starts[np.asarray(route_offsets[:-1])[np.diff(route_offsets) > 0]] = True
    step = np.flatnonzero(~starts[1:])  # j -> j + 1 within one route
    key = links[step] * n_links + links[step + 1]
    allowed = np.unique(np.asarray(conn_from_link, np.int64) * n_links
                        + np.asarray(conn_to_link, np.int64))
    return step[~np.isin(key, allowed)]


def check_state(state: MicroState) -> None:
    """Check dtypes and contiguity of every column (cheap; lengths are checked at build).

    Raises
    ------
    ValueError
        Naming the first column with a wrong dtype.
    """
    for name, dtype in _COLUMNS.items():
        arr = getattr(state, name)
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype \
                or not arr.flags.c_contiguous:
            raise ValueError(f"state column {name} must be a C-contiguous "
                             f"{np.dtype(dtype).name} array")


def add_detectors(state: MicroState, lanes: Sequence[int], pos_m: Sequence[float]) -> NDArray[
        np.int64]:
    """Add lane detectors (global lane, metres from the link start); return their indices.

    Raises
    ------
    ValueError
        When a lane does not exist or a position is outside ``(0, length]``.
    """
    lanes_a = np.asarray(lanes, dtype=np.int64)
    pos_a = np.asarray(pos_m, dtype=np.float64)
    for lane, p in zip(lanes_a.tolist(), pos_a.tolist(), strict=True):
        if not 0 <= lane < state.n_lanes:
            raise ValueError(f"lane {lane} does not exist (0..{state.n_lanes - 1})")
        length = float(state.link_length_m[state.lane_link[lane]])
        if not (math.isfinite(p) and 0 < p <= length):
            raise ValueError(f"position {p!r} m is outside the link (0, {length}]")
    first = state.det_pos_m.shape[0]
    all_lane = np.concatenate([detector_lanes(state), lanes_a]).astype(np.int32)
    state.det_pos_m = np.concatenate([state.det_pos_m, pos_a])
    state.det_count = np.concatenate([state.det_count, np.zeros(len(pos_a), np.int64)])
    state.det_speed_sum = np.concatenate([state.det_speed_sum, np.zeros(len(pos_a))])
    state.det_occ_s = np.concatenate([state.det_occ_s, np.zeros(len(pos_a))])
    order = np.argsort(all_lane, kind="stable").astype(np.int32)
    state.det_by_lane = order
    off = np.zeros(state.n_lanes + 1, np.int64)
    np.cumsum(np.bincount(all_lane, minlength=state.n_lanes), out=off[1:])
    state.det_lane_off = off
    state.det_lanes = np.unique(all_lane).astype(np.int32)
    cap = state.lane_slot_off[1:] - state.lane_slot_off[:-1]
    per_lane = np.diff(off)
    state.ev_margin = 2 * int((cap * per_lane).sum())  # phase 3 and phase 5 entries
    _ensure_event_room(state)
    return np.arange(first, first + len(pos_a), dtype=np.int64)


def detector_lanes(state: MicroState) -> NDArray[np.int32]:
    """The global lane of every detector (from the per-lane CSR ``det_lane_off``)."""
    lane = np.empty(state.det_pos_m.shape[0], np.int32)
    lane[state.det_by_lane] = np.repeat(np.arange(state.n_lanes, dtype=np.int32),
                                        np.diff(state.det_lane_off))
    return lane


_EVENT_COLUMNS = ("ev_det", "ev_veh", "ev_time", "ev_speed", "ev_sig")
_TRACE_COLUMNS = ("tr_veh", "tr_time", "tr_link", "tr_lane", "tr_pos", "tr_speed")


def _resize(state: MicroState, columns: Sequence[str], rows: int) -> None:
    """Give ``columns`` ``rows`` rows, keeping their first rows (zeros are added)."""
    for name in columns:
        old = getattr(state, name)
        new = np.zeros(rows, dtype=old.dtype)
        keep = min(rows, old.shape[0])
        new[:keep] = old[:keep]
        setattr(state, name, new)


def _ensure_event_room(state: MicroState) -> None:
    need = max(4 * state.ev_margin, 4096) if state.ev_margin else 0
    if state.ev_det.shape[0] < need:
        _resize(state, _EVENT_COLUMNS, need)


def set_trace(state: MicroState, vehicles: Sequence[int]) -> None:
    """Record the trajectories of ``vehicles`` (vehicle indices) from now on."""
    veh = np.unique(np.asarray(vehicles, dtype=np.int64))
    if veh.size and (veh.min() < 0 or veh.max() >= state.n_vehicles):
        raise ValueError(f"trace: vehicle index out of range 0..{state.n_vehicles - 1}")
    state.trace_veh = veh.astype(np.int32)
    need = max(64 * veh.size, 1024) if veh.size else 0
    if state.tr_veh.shape[0] < need:
        _resize(state, _TRACE_COLUMNS, need)


def take_events(state: MicroState) -> dict[str, np.ndarray]:
    """The crossing events since the last call (copies); empties the buffer."""
    n = int(state.counters[_nb.C_EVENTS])
    out: dict[str, np.ndarray] = {"detector": state.ev_det[:n].copy(), "vehicle": state.ev_veh[:n].copy(),
           "time_s": state.ev_time[:n].copy(), "speed_mps": state.ev_speed[:n].copy(),
           "signal": state.ev_sig[:n].copy()}
    state.counters[_nb.C_EVENTS] = 0
    return out


def take_trace(state: MicroState) -> dict[str, np.ndarray]:
    """The trajectory samples since the last call (copies); empties the buffer."""
    n = int(state.counters[_nb.C_TRACE])
    out: dict[str, np.ndarray] = {"vehicle": state.tr_veh[:n].copy(), "time_s": state.tr_time[:n].copy(),
           "link": state.tr_link[:n].copy(), "lane": state.tr_lane[:n].copy(),
           "pos_m": state.tr_pos[:n].copy(), "speed_mps": state.tr_speed[:n].copy()}
    state.counters[_nb.C_TRACE] = 0
    return out


def advance(
    state: MicroState,
    params: MicroParams,
    time_s: float,
    dt_s: float,
    n_steps: int,
    *,
    check: bool = True,
) -> float:
    """Run ``n_steps`` steps of ``dt_s`` seconds from ``time_s``; return the new time.

    When the event or trace buffer fills up mid-run, the run pauses, the
    buffers are grown (events and samples are kept) and it goes on, so the
    number of steps run is always ``n_steps``.

    Raises
    ------
    ValueError
        On a non-finite time, a step that is not > 0, or a malformed state.
    """
    if not (math.isfinite(time_s) and math.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"time_s must be finite and dt_s finite and > 0, got {time_s!r}, "
                         f"{dt_s!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    if check:
        check_state(state)
    fp = params.vector()
    t = float(time_s)
    left = int(n_steps)
    while left > 0:
        before = int(state.counters[_nb.C_STEPS])
        parallel = int(state.lane_count.sum()) >= params.parallel_min_vehicles
        t = _nb.run_steps(t, float(dt_s), left, state.ev_margin, fp, parallel,
                          *[getattr(state, n) for n in _RUN_ARGS])
        left -= int(state.counters[_nb.C_STEPS]) - before
        if left > 0:
            grow_buffers(state)
    return t


def load_kernels(state: MicroState, params: MicroParams) -> None:
    """Compile the step kernels for ``state``'s array types, or load them from
    numba's disk cache, without running a step (the first :func:`advance` then
    simulates at full speed). Changes nothing in ``state``."""
    _nb.run_steps(0.0, 1.0, 0, state.ev_margin, params.vector(), False,
                  *[getattr(state, n) for n in _RUN_ARGS])


def grow_buffers(state: MicroState) -> None:
    """Double the event or trace buffer when the next step could overflow it
    (what :func:`advance` does when the kernel pauses)."""
    n = state.ev_det.shape[0]
    if int(state.counters[_nb.C_EVENTS]) + state.ev_margin > n:
        _resize(state, _EVENT_COLUMNS, n + max(n, 4096))
    m = state.tr_veh.shape[0]
    if int(state.counters[_nb.C_TRACE]) + state.trace_veh.shape[0] > m:
        _resize(state, _TRACE_COLUMNS, m + max(m, 1024))


def state_bytes_per_vehicle(state: MicroState) -> float:
    """Bytes of the per-vehicle columns and routes, divided by the number of vehicles."""
    n = max(state.n_vehicles, 1)
    total = sum(getattr(state, c).nbytes for c in _VEHICLE_COLUMNS)
    total += state.route_offsets.nbytes + state.route_links.nbytes + state.ins_veh.nbytes
    return total / n
