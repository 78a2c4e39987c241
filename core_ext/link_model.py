"""The link-based spatial-queue traffic model: state arrays and checked wrappers.

A first, simple engine: vehicles move along links at a speed that falls with
the density of the moving traffic (Greenshields), join a standing queue at the
link end, and leave through an outflow budget set by the link's capacity into
the next link of their route when it has room, so queues spill back. The
per-step semantics are documented once, in :mod:`core_ext._link_model_nb`;
:mod:`core_ext.reference` restates them plainly as the test oracle.

Everything here is arrays and scalars: :class:`LinkModelState` holds the
columns, :func:`new_state` builds and checks them, :func:`advance` runs the
compiled kernel. Ids, networks and trips belong to :mod:`twin.simulation`.

Examples
--------
>>> import numpy as np
>>> from core_ext import link_model
>>> params = link_model.LinkModelParams()
>>> state = link_model.new_state(
...     link_length_m=np.array([100.0, 100.0]), link_lanes=np.array([1, 1], np.int32),
...     link_speed_limit_mps=np.array([10.0, 10.0]),
...     link_capacity_vph=np.array([1800.0, 1800.0]),
...     route_offsets=np.array([0, 2], np.int64), route_links=np.array([0, 1], np.int32),
...     depart_s=np.array([0.0]), eff_length_m=np.array([5.0]), params=params)
>>> t = link_model.advance(state, params, 0.0, 1.0, n_steps=30)
>>> int(state.veh_state[0]), round(float(state.veh_arrive_s[0]), 3)
(2, 21.429)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from core_ext import _link_model_nb as _nb
from core_ext import config

__all__ = [
    "LinkModelParams",
    "LinkModelState",
    "add_detector",
    "advance",
    "check_state",
    "new_state",
    "refresh_link_speeds",
    "reset_detector_counts",
    "storage_veh",
]

# (dtype, length) of every column; the length names a dimension of the state
_COLUMNS: dict[str, tuple[type, str]] = {
    # links, static
    "link_length_m": (np.float64, "links"),
    "link_lanes": (np.int32, "links"),
    "link_speed_limit_mps": (np.float64, "links"),
    "link_capacity_vph": (np.float64, "links"),
    "link_storage": (np.int32, "links"),
    # links, set between steps (incidents)
    "link_cap_factor": (np.float64, "links"),
    "link_speed_factor": (np.float64, "links"),
    # links, dynamic
    "link_count": (np.int32, "links"),
    "link_queue": (np.int32, "links"),
    "link_budget": (np.float64, "links"),
    "link_speed_mps": (np.float64, "links"),
    "link_entered": (np.int64, "links"),
    "link_exited": (np.int64, "links"),
    # vehicles, dynamic
    "veh_state": (np.int8, "vehicles"),
    "veh_link": (np.int32, "vehicles"),
    "veh_route_pos": (np.int64, "vehicles"),
    "veh_pos_m": (np.float64, "vehicles"),
    "veh_pos_time_s": (np.float64, "vehicles"),
    "veh_speed_mps": (np.float64, "vehicles"),
    "veh_arrive_s": (np.float64, "vehicles"),
    # vehicles, static
    "veh_depart_s": (np.float64, "vehicles"),
    "veh_eff_length_m": (np.float64, "vehicles"),
    "route_offsets": (np.int64, "vehicles+1"),
    "route_links": (np.int32, "route"),
    "insert_order": (np.int64, "vehicles"),
    # detectors
    "det_link": (np.int32, "detectors"),
    "det_pos_m": (np.float64, "detectors"),
    "det_link_offsets": (np.int64, "links+1"),
    "det_by_link": (np.int32, "detectors"),
    "det_count": (np.int64, "detectors"),
    "det_speed_sum": (np.float64, "detectors"),
    "det_occ_s": (np.float64, "detectors"),
    # scalars kept as an array so kernels can update them: [insert_cursor, vehicle_steps]
    "counters": (np.int64, "2"),
}


@dataclass(frozen=True)
class LinkModelParams:
    """Scalar parameters of the link model.

    Attributes
    ----------
    k_jam_vpm_per_lane : float
        Jam density, vehicles per metre per lane (> 0); sets storage and the
        Greenshields speed. See :data:`core_ext.config.DEFAULT_K_JAM_VPM_PER_LANE`.
    min_speed_frac : float
        Speed floor as a fraction of the speed limit, in (0, 1].
    outflow_burst_veh : float
        Outflow budget a link may carry between steps, vehicles (>= 1).
    """

    k_jam_vpm_per_lane: float = config.DEFAULT_K_JAM_VPM_PER_LANE
    min_speed_frac: float = config.DEFAULT_MIN_SPEED_FRAC
    outflow_burst_veh: float = config.DEFAULT_OUTFLOW_BURST_VEH

    def __post_init__(self) -> None:
        for name, ok, rule in (
            ("k_jam_vpm_per_lane", lambda v: v > 0, "> 0"),
            ("min_speed_frac", lambda v: 0 < v <= 1, "in (0, 1]"),
            ("outflow_burst_veh", lambda v: v >= 1, ">= 1"),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not ok(value):
                raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")


@dataclass(eq=False)
class LinkModelState:
    """Every column of the link model, as numpy arrays (struct of arrays).

    Links (n_links,): ``link_length_m`` (m), ``link_lanes``,
    ``link_speed_limit_mps``, ``link_capacity_vph`` (vehicles/hour, all lanes),
    ``link_storage`` (vehicles), ``link_cap_factor`` and ``link_speed_factor``
    (incidents; 1 = normal), ``link_count`` (vehicles on the link),
    ``link_queue`` (of which waiting at the link end), ``link_budget``
    (outflow budget, vehicles), ``link_speed_mps`` (speed of the moving
    vehicles in the last step), ``link_entered``/``link_exited`` (cumulative vehicles).

    Vehicles (n_vehicles,): ``veh_state`` (int8, see ``config.VEH_*``),
    ``veh_link`` (-1 when not on a link), ``veh_route_pos`` (index into
    ``route_links`` of the current link), ``veh_pos_m`` (m from the link
    start), ``veh_pos_time_s`` (when the vehicle was at ``veh_pos_m``; for a
    vehicle waiting at its link end, when it got there: the FIFO key),
    ``veh_speed_mps`` (speed in the last step, 0 while waiting at the end),
    ``veh_arrive_s`` (NaN until arrived), ``veh_depart_s``,
    ``veh_eff_length_m`` (vehicle plus loop length, for occupancy).
    Routes: ``route_offsets`` (n_vehicles + 1) CSR into ``route_links``.
    ``insert_order``: vehicle indices by departure time (stable).

    Detectors (n_detectors,): ``det_link``, ``det_pos_m``, accumulators
    ``det_count``, ``det_speed_sum`` (m/s summed over crossings),
    ``det_occ_s`` (occupied seconds); ``det_link_offsets`` (n_links + 1) and
    ``det_by_link`` group detector indices by link.

    ``counters``: int64 ``[insert_cursor, vehicle_steps]``.
    """

    link_length_m: NDArray[np.float64]
    link_lanes: NDArray[np.int32]
    link_speed_limit_mps: NDArray[np.float64]
    link_capacity_vph: NDArray[np.float64]
    link_storage: NDArray[np.int32]
    link_cap_factor: NDArray[np.float64]
    link_speed_factor: NDArray[np.float64]
    link_count: NDArray[np.int32]
    link_queue: NDArray[np.int32]
    link_budget: NDArray[np.float64]
    link_speed_mps: NDArray[np.float64]
    link_entered: NDArray[np.int64]
    link_exited: NDArray[np.int64]
    veh_state: NDArray[np.int8]
    veh_link: NDArray[np.int32]
    veh_route_pos: NDArray[np.int64]
    veh_pos_m: NDArray[np.float64]
    veh_pos_time_s: NDArray[np.float64]
    veh_speed_mps: NDArray[np.float64]
    veh_arrive_s: NDArray[np.float64]
    veh_depart_s: NDArray[np.float64]
    veh_eff_length_m: NDArray[np.float64]
    route_offsets: NDArray[np.int64]
    route_links: NDArray[np.int32]
    insert_order: NDArray[np.int64]
    det_link: NDArray[np.int32]
    det_pos_m: NDArray[np.float64]
    det_link_offsets: NDArray[np.int64]
    det_by_link: NDArray[np.int32]
    det_count: NDArray[np.int64]
    det_speed_sum: NDArray[np.float64]
    det_occ_s: NDArray[np.float64]
    counters: NDArray[np.int64]

    @property
    def n_links(self) -> int:
        """Number of links."""
        return int(self.link_length_m.shape[0])

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles (trips)."""
        return int(self.veh_state.shape[0])

    @property
    def n_detectors(self) -> int:
        """Number of loop detectors."""
        return int(self.det_link.shape[0])

    @property
    def vehicle_steps(self) -> int:
        """Sum over steps of the number of active vehicles (vehicle updates)."""
        return int(self.counters[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The columns by name (the arrays themselves, not copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def copy(self) -> LinkModelState:
        """A deep copy (every array copied)."""
        return LinkModelState(**{k: v.copy() for k, v in self.arrays().items()})

    def load(self, other: LinkModelState) -> None:
        """Make this state equal to ``other``, sharing no array with it.

        Columns of the same shape and dtype are overwritten in place, so views
        handed out earlier stay live (as they do across steps); the others
        (detector columns, when ``other`` has another set of detectors) are
        replaced by copies.
        """
        for name, arr in other.arrays().items():
            mine = getattr(self, name)
            if mine.shape == arr.shape and mine.dtype == arr.dtype and mine.flags.writeable:
                np.copyto(mine, arr)
            else:
                setattr(self, name, arr.copy())


def storage_veh(
    link_length_m: NDArray[np.float64], link_lanes: NDArray[np.int32], k_jam_vpm_per_lane: float
) -> NDArray[np.int32]:
    """Vehicles a link can hold: ``max(1, floor(length_m * lanes * k_jam + eps))``."""
    raw = np.floor(link_length_m * link_lanes * k_jam_vpm_per_lane + config.STORAGE_EPS)
    return np.maximum(1, raw).astype(np.int32)


def _as[S: np.generic](name: str, arr: object, dtype: type[S],
                       shape: tuple[int, ...] | None = None) -> NDArray[S]:
    """A C-contiguous copy of ``arr``: the state owns its columns, never the caller's arrays."""
    a = np.array(arr, dtype=dtype, order="C", copy=True)
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def new_state(
    *,
    link_length_m: NDArray[np.float64],
    link_lanes: NDArray[np.int32],
    link_speed_limit_mps: NDArray[np.float64],
    link_capacity_vph: NDArray[np.float64],
    route_offsets: NDArray[np.int64],
    route_links: NDArray[np.int32],
    depart_s: NDArray[np.float64],
    eff_length_m: NDArray[np.float64],
    params: LinkModelParams,
) -> LinkModelState:
    """Check the inputs and build the initial state (all vehicles waiting).

    Parameters
    ----------
    link_length_m : float64 (n_links,), metres, > 0
    link_lanes : int32 (n_links,), >= 1
    link_speed_limit_mps : float64 (n_links,), m/s, > 0
    link_capacity_vph : float64 (n_links,), vehicles per hour (all lanes), >= 0
    route_offsets : int64 (n_vehicles + 1,), CSR into ``route_links``
    route_links : int32, link indices; a vehicle with an empty route is marked
        ``VEH_UNROUTABLE`` and never inserted
    depart_s : float64 (n_vehicles,), seconds, finite
    eff_length_m : float64 (n_vehicles,), metres, > 0 (vehicle + loop length)
    params : LinkModelParams

    Returns
    -------
    LinkModelState
        Owning copies of the inputs: changing the caller's arrays later does
        not change the state.

    Raises
    ------
    ValueError
        Naming the column and the first bad entry.
    """
    length = _as("link_length_m", link_length_m, np.float64)
    n_links = length.shape[0]
    lanes = _as("link_lanes", link_lanes, np.int32, (n_links,))
    vlim = _as("link_speed_limit_mps", link_speed_limit_mps, np.float64, (n_links,))
    cap = _as("link_capacity_vph", link_capacity_vph, np.float64, (n_links,))
    for name, col, ok in (
        ("link_length_m", length, lambda c: np.isfinite(c) & (c > 0)),
        ("link_lanes", lanes, lambda c: c >= 1),
        ("link_speed_limit_mps", vlim, lambda c: np.isfinite(c) & (c > 0)),
        ("link_capacity_vph", cap, lambda c: np.isfinite(c) & (c >= 0)),
    ):
        bad = np.flatnonzero(~ok(col))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] = {col[bad[0]]} is out of range")
    depart = _as("depart_s", depart_s, np.float64)
    n_veh = depart.shape[0]
    eff = _as("eff_length_m", eff_length_m, np.float64, (n_veh,))
    offsets = _as("route_offsets", route_offsets, np.int64, (n_veh + 1,))
    links = _as("route_links", route_links, np.int32)
    bad = np.flatnonzero(~np.isfinite(depart))
    if bad.size:
        raise ValueError(f"depart_s[{bad[0]}] is not finite")
    bad = np.flatnonzero(~(np.isfinite(eff) & (eff > 0)))
    if bad.size:
        raise ValueError(f"eff_length_m[{bad[0]}] = {eff[bad[0]]} must be > 0")
    if offsets[0] != 0 or offsets[-1] != links.shape[0] or np.any(np.diff(offsets) < 0):
        raise ValueError("route_offsets must be non-decreasing, start at 0 and end at "
                         "len(route_links)")
    bad = np.flatnonzero((links < 0) | (links >= n_links))
    if bad.size:
        raise ValueError(f"route_links[{bad[0]}] = {links[bad[0]]} is not a link index "
                         f"(0..{n_links - 1})")
    routable = np.diff(offsets) > 0
    state = LinkModelState(
        link_length_m=length,
        link_lanes=lanes,
        link_speed_limit_mps=vlim,
        link_capacity_vph=cap,
        link_storage=storage_veh(length, lanes, params.k_jam_vpm_per_lane),
        link_cap_factor=np.ones(n_links),
        link_speed_factor=np.ones(n_links),
        link_count=np.zeros(n_links, np.int32),
        link_queue=np.zeros(n_links, np.int32),
        link_budget=np.full(n_links, params.outflow_burst_veh),
        link_speed_mps=np.zeros(n_links),
        link_entered=np.zeros(n_links, np.int64),
        link_exited=np.zeros(n_links, np.int64),
        veh_state=np.where(routable, config.VEH_WAITING, config.VEH_UNROUTABLE).astype(np.int8),
        veh_link=np.full(n_veh, -1, np.int32),
        veh_route_pos=offsets[:-1].copy(),
        veh_pos_m=np.zeros(n_veh),
        veh_pos_time_s=np.zeros(n_veh),
        veh_speed_mps=np.zeros(n_veh),
        veh_arrive_s=np.full(n_veh, np.nan),
        veh_depart_s=depart,
        veh_eff_length_m=eff,
        route_offsets=offsets,
        route_links=links,
        insert_order=np.argsort(depart, kind="stable").astype(np.int64),
        det_link=np.zeros(0, np.int32),
        det_pos_m=np.zeros(0),
        det_link_offsets=np.zeros(n_links + 1, np.int64),
        det_by_link=np.zeros(0, np.int32),
        det_count=np.zeros(0, np.int64),
        det_speed_sum=np.zeros(0),
        det_occ_s=np.zeros(0),
        counters=np.zeros(2, np.int64),
    )
    refresh_link_speeds(state, params)
    return state


def check_state(state: LinkModelState) -> None:
    """Check every column's dtype, length and layout (O(1) per column).

    Raises
    ------
    ValueError
        Naming the first column that does not fit.
    """
    dims = {
        "links": state.link_length_m.shape[0],
        "links+1": state.link_length_m.shape[0] + 1,
        "vehicles": state.veh_state.shape[0],
        "vehicles+1": state.veh_state.shape[0] + 1,
        "route": state.route_links.shape[0],
        "detectors": state.det_link.shape[0],
        "2": 2,
    }
    for name, (dtype, dim) in _COLUMNS.items():
        arr = getattr(state, name)
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
            got = arr.dtype if isinstance(arr, np.ndarray) else type(arr).__name__
            raise ValueError(f"state.{name} must be a {np.dtype(dtype).name} array, got {got}")
        if arr.shape != (dims[dim],):
            raise ValueError(f"state.{name} has shape {arr.shape}, expected ({dims[dim]},) "
                             f"({dim})")
        if not arr.flags.c_contiguous or not arr.flags.writeable:
            raise ValueError(f"state.{name} must be C-contiguous and writeable")


def refresh_link_speeds(state: LinkModelState, params: LinkModelParams) -> None:
    """Recompute ``state.link_speed_mps`` from the current counts, queues and speed factors."""
    _nb._link_speeds(state.link_length_m, state.link_lanes, state.link_speed_limit_mps,
                     state.link_speed_factor, state.link_count, state.link_queue,
                     params.k_jam_vpm_per_lane, params.min_speed_frac, state.link_speed_mps,
                     np.empty(state.n_links))


def add_detector(state: LinkModelState, link: int, pos_m: float) -> int:
    """Add a loop detector at ``pos_m`` metres along ``link``; return its index.

    ``pos_m`` must lie in ``(0, link_length_m[link]]``: vehicles enter a link at
    0 and a detector there would never see one pass.
    """
    if isinstance(link, bool) or not isinstance(link, int | np.integer) \
            or not 0 <= int(link) < state.n_links:
        raise ValueError(f"link {link!r} is not a link index (0..{state.n_links - 1})")
    length = float(state.link_length_m[int(link)])
    pos = float(pos_m)
    if not (math.isfinite(pos) and 0.0 < pos <= length):
        raise ValueError(f"detector position {pos_m!r} m must lie in (0, {length}] "
                         f"(the length of link {link})")
    state.det_link = np.append(state.det_link, np.int32(link))
    state.det_pos_m = np.append(state.det_pos_m, pos)
    state.det_count = np.append(state.det_count, np.int64(0))
    state.det_speed_sum = np.append(state.det_speed_sum, 0.0)
    state.det_occ_s = np.append(state.det_occ_s, 0.0)
    order = np.argsort(state.det_link, kind="stable").astype(np.int32)
    counts = np.bincount(state.det_link, minlength=state.n_links)
    offsets = np.zeros(state.n_links + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    state.det_by_link = order
    state.det_link_offsets = offsets
    return state.n_detectors - 1


def reset_detector_counts(state: LinkModelState) -> None:
    """Zero the detector accumulators."""
    state.det_count[:] = 0
    state.det_speed_sum[:] = 0.0
    state.det_occ_s[:] = 0.0


def _check_step_args(time_s: float, dt_s: float, n_steps: int) -> None:
    if not math.isfinite(time_s):
        raise ValueError(f"time_s must be finite, got {time_s!r}")
    if not (math.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"dt_s must be a finite number > 0, got {dt_s!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")


def advance(
    state: LinkModelState,
    params: LinkModelParams,
    time_s: float,
    dt_s: float,
    n_steps: int = 1,
    *,
    check: bool = True,
) -> float:
    """Run ``n_steps`` steps of ``dt_s`` seconds from ``time_s`` (compiled kernel).

    Step ``i`` covers ``[time_s + i * dt_s, time_s + (i + 1) * dt_s)``; the
    semantics are in :mod:`core_ext._link_model_nb`. Updates ``state`` in place.

    Parameters
    ----------
    state : LinkModelState
    params : LinkModelParams
    time_s : float, seconds, start of the first step
    dt_s : float, seconds, > 0
    n_steps : int, >= 0
    check : bool
        Check every column of ``state`` first (:func:`check_state`). Skip it
        only for a state built by :func:`new_state` and checked since it was
        last changed from outside this module (an owner stepping its own state).

    Returns
    -------
    float
        The time after the last step, ``time_s + n_steps * dt_s``.

    Raises
    ------
    ValueError
        When ``dt_s <= 0``, ``n_steps < 0`` or (with ``check``) a column of
        ``state`` has the wrong dtype or length.
    """
    time_s = float(time_s)
    dt_s = float(dt_s)
    _check_step_args(time_s, dt_s, n_steps)
    if check:
        check_state(state)
    if n_steps == 0:
        return time_s
    s = state
    _nb._run_steps(
        s.link_length_m, s.link_lanes, s.link_speed_limit_mps, s.link_capacity_vph,
        s.link_cap_factor, s.link_speed_factor, s.link_storage,
        s.link_count, s.link_queue, s.link_budget, s.link_speed_mps, s.link_entered, s.link_exited,
        s.veh_state, s.veh_link, s.veh_route_pos, s.veh_pos_m, s.veh_pos_time_s,
        s.veh_speed_mps, s.veh_arrive_s, s.veh_depart_s, s.veh_eff_length_m,
        s.route_offsets, s.route_links, s.insert_order,
        s.det_link, s.det_pos_m, s.det_link_offsets, s.det_by_link, s.det_count, s.det_speed_sum,
        s.det_occ_s, s.counters,
        float(params.k_jam_vpm_per_lane), float(params.min_speed_frac),
        float(params.outflow_burst_veh), time_s, dt_s, int(n_steps),
    )
    return time_s + int(n_steps) * dt_s
