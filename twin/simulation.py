"""The traffic simulation façade: one object that owns the state and calls the kernels.

:class:`Simulation` is the surface the rest of the twin programs against:
build it from a :class:`~twin.network.Network` and :class:`~twin.demand.Trips`,
advance it with :meth:`~Simulation.step` / :meth:`~Simulation.run`, read its
state through array properties, place loop detectors and read their crossing
events, open and clear incidents, trace vehicles, and take snapshots.

The engine behind it is the microscopic, lane-level model of
:mod:`core_ext.micro` (semantics in :mod:`core_ext._micro_nb`): the
Intelligent Driver Model per vehicle class, MOBIL lane changes, fixed-time
signals and priority rules at junctions, spill-back across junctions. Ids
(trip, link, detector) are mapped to indices here and never reach the kernels.

Routes: a trip with an explicit route drives it (checked, lane connection by
lane connection, when the simulation is built); any other trip gets the
fastest route on free-flow time through the movement graph
(:mod:`twin.routing`), so banned turns are never planned. Trips without a
route (destination unreachable, or equal to the origin) are listed in
:attr:`Simulation.unroutable`, get state ``VEH_UNROUTABLE`` and are never
inserted. With ``EngineConfig.reroute_share > 0`` a seeded share of the
drivers on the road re-plan the rest of their route every
``reroute_period_s`` on the current link travel times.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core_ext import _micro_nb, micro
from core_ext import config as core_config
from core_ext.micro import DEFAULT_CLASS_PARAMS, ClassParams, MicroParams, MicroState
from core_ext.micro_reference import advance_reference
from twin.added_vehicles import append_vehicles, check_routes
from twin.demand import CLASS_CODE, VEHICLE_CLASSES, Trips
from twin.junctions import Movements, build_movements
from twin.network import Network, SignalPrograms
from twin.routing import LineGraph, build_line_graph

FloatArray = NDArray[np.float64]

VEH_WAITING = core_config.VEH_WAITING
VEH_ACTIVE = core_config.VEH_ACTIVE
VEH_ARRIVED = core_config.VEH_ARRIVED
VEH_UNROUTABLE = core_config.VEH_UNROUTABLE

SIGNAL_NAMES: dict[int, str] = {-1: "none", _micro_nb.SIG_RED: "red",
                                _micro_nb.SIG_AMBER: "amber", _micro_nb.SIG_YIELD: "green_yield",
                                _micro_nb.SIG_GREEN: "green", _micro_nb.SIG_NONE: "none"}
"""Name of each signal code in :class:`Crossings`."""


BACKENDS: dict[str, Callable[..., float]] = {
    "numba": micro.advance,
    "reference": advance_reference,
}
"""Step functions by name; ``reference`` is the slow pure-Python oracle (tests only)."""

_TIME_EPS_S = 1e-9

__all__ = [
    "BACKENDS",
    "VEH_ACTIVE",
    "VEH_ARRIVED",
    "VEH_UNROUTABLE",
    "VEH_WAITING",
    "Crossings",
    "DetectorCounts",
    "EngineConfig",
    "Simulation",
    "SimulationState",
    "Trajectories",
]


def _default_classes() -> tuple[ClassParams, ...]:
    return tuple(DEFAULT_CLASS_PARAMS[c] for c in VEHICLE_CLASSES)


@dataclass(frozen=True)
class EngineConfig:
    """Parameters of the traffic engine.

    Attributes
    ----------
    dt_s : float
        Default step in seconds for :meth:`Simulation.step` and
        :meth:`Simulation.run` (> 0).
    class_params : tuple of ClassParams
        IDM parameters per vehicle class, in the order of
        :data:`twin.demand.VEHICLE_CLASSES` (motorcycle, car, bus, truck).
    micro : MicroParams
        Junction, lane-change and detector rules (see :mod:`core_ext._micro_nb`).
    left_hand_traffic : bool
        Traffic keeps left (Indonesia, the default); decides which turns
        cross the opposing flow (:mod:`twin.junctions`).
    reroute_period_s : float
        Seconds between re-routing rounds (> 0).
    reroute_share : float
        Share of the drivers on the road who re-plan in each round, in [0, 1];
        0 (the default) turns re-routing off.
    gridlock_after_s : float
        A network where nothing moved for this long while vehicles are on it
        is reported as gridlocked (> 0).
    backend : {"numba", "reference"}
        The step implementation; ``"reference"`` is the pure-Python oracle,
        slow, for tests.
    """

    dt_s: float = 1.0
    class_params: tuple[ClassParams, ...] = field(default_factory=_default_classes)
    micro: MicroParams = field(default_factory=MicroParams)
    left_hand_traffic: bool = True
    reroute_period_s: float = 300.0
    reroute_share: float = 0.0
    gridlock_after_s: float = 300.0
    backend: str = "numba"

    def __post_init__(self) -> None:
        _check_number("EngineConfig.dt_s", self.dt_s, lambda v: v > 0, "> 0")
        _check_number("EngineConfig.reroute_period_s", self.reroute_period_s, lambda v: v > 0,
                      "> 0")
        _check_number("EngineConfig.reroute_share", self.reroute_share, lambda v: 0 <= v <= 1,
                      "in [0, 1]")
        _check_number("EngineConfig.gridlock_after_s", self.gridlock_after_s, lambda v: v > 0,
                      "> 0")
        classes = tuple(self.class_params)
        if len(classes) != len(VEHICLE_CLASSES) or not all(
                isinstance(c, ClassParams) for c in classes):
            raise ValueError(f"EngineConfig.class_params needs one ClassParams per vehicle class "
                             f"{VEHICLE_CLASSES}, got {len(classes)}")
        object.__setattr__(self, "class_params", classes)
        if not isinstance(self.micro, MicroParams):
            raise ValueError("EngineConfig.micro must be a MicroParams")
        if self.backend not in BACKENDS:
            raise ValueError(f"EngineConfig.backend must be one of {sorted(BACKENDS)}, "
                             f"got {self.backend!r}")


def _check_number(name: str, value: object, ok: Callable[[float], bool], rule: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number {rule}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not ok(v):
        raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")


@dataclass(frozen=True, eq=False)
class DetectorCounts:
    """Loop-detector aggregates over one interval (from :meth:`Simulation.take_detector_counts`).

    Attributes
    ----------
    detector_ids : tuple of str (n_detectors,)
    link : int32 (n_detectors,), link indices
    pos_m : float64 (n_detectors,), metres from the link start
    lane : tuple of (int or None), the lane watched, None for every lane
    count : int64 (n_detectors,), vehicles that passed
    speed_sum_mps : float64 (n_detectors,), sum of their speeds at the loop, m/s
    occupancy_s : float64 (n_detectors,), vehicle-seconds over the loops (summed over lanes)
    link_lanes : int32 (n_detectors,), lanes each detector watches
    interval_start_s, interval_end_s : float, simulation seconds
    """

    detector_ids: tuple[str, ...]
    link: NDArray[np.int32]
    pos_m: FloatArray
    lane: tuple[int | None, ...]
    count: NDArray[np.int64]
    speed_sum_mps: FloatArray
    occupancy_s: FloatArray
    link_lanes: NDArray[np.int32]
    interval_start_s: float
    interval_end_s: float

    @property
    def interval_s(self) -> float:
        """Length of the interval in seconds."""
        return self.interval_end_s - self.interval_start_s

    @property
    def mean_speed_mps(self) -> FloatArray:
        """Mean speed of the vehicles that passed, m/s; NaN where none did."""
        return np.where(self.count > 0, self.speed_sum_mps / np.maximum(self.count, 1), np.nan)

    @property
    def occupancy(self) -> FloatArray:
        """Fraction of the interval the loops were occupied, averaged over the lanes watched."""
        if self.interval_s <= 0:
            return np.zeros_like(self.occupancy_s)
        return np.minimum(1.0, self.occupancy_s / (self.interval_s * self.link_lanes))

    def __len__(self) -> int:
        return len(self.detector_ids)


@dataclass(frozen=True, eq=False)
class Crossings:
    """Vehicles crossing detectors, one row each, in the order they were recorded.

    Attributes
    ----------
    detector : int64 (n,), detector index (as returned by :meth:`Simulation.add_loop_detector`)
    vehicle : int32 (n,), vehicle (= trip) index
    time_s : float64 (n,), when the front bumper crossed, simulation seconds
    speed_mps : float64 (n,), speed at the crossing
    lane : int32 (n,), lane index on the detector's link
    signal : int8 (n,), the signal code of the connection the vehicle was
        heading for (see :data:`SIGNAL_NAMES`; -1 when it had none chosen)
    """

    detector: NDArray[np.int64]
    vehicle: NDArray[np.int32]
    time_s: FloatArray
    speed_mps: FloatArray
    lane: NDArray[np.int32]
    signal: NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])


@dataclass(frozen=True, eq=False)
class Trajectories:
    """Samples of traced vehicles at the end of every step.

    Attributes: ``vehicle`` (int32), ``time_s``, ``link`` (int32), ``lane``
    (int32, index on the link), ``pos_m``, ``speed_mps``; one row per sample.
    """

    vehicle: NDArray[np.int32]
    time_s: FloatArray
    link: NDArray[np.int32]
    lane: NDArray[np.int32]
    pos_m: FloatArray
    speed_mps: FloatArray

    def __len__(self) -> int:
        return int(self.vehicle.shape[0])


@dataclass(frozen=True, eq=False)
class SimulationState:
    """A deep copy of everything :meth:`Simulation.restore` needs to resume a run.

    ``rng_state`` is the bit-generator state of :attr:`Simulation.rng`, so
    draws made after a restore repeat those made after the snapshot.
    """

    time_s: float
    model: MicroState
    detector_ids: tuple[str, ...]
    detector_lane: tuple[int | None, ...]
    detector_parts: tuple[tuple[int, ...], ...]
    interval_start_s: float
    incidents: dict[int, tuple[int, tuple[int, ...], float, float]] = field(default_factory=dict)
    next_incident_id: int = 0
    next_reroute_s: float = 0.0
    rng_state: Mapping[str, Any] = field(default_factory=dict)
    link_speed_factor_set: FloatArray | None = None
    """The factors of :meth:`Simulation.set_link_speed_factor` (None: all 1)."""
    closed_links: tuple[int, ...] = ()
    """Indices of the links closed by :meth:`Simulation.close_link`."""


def _read_only(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


class Simulation:
    """A microscopic traffic simulation of ``trips`` on ``network``.

    Parameters
    ----------
    network : Network
    trips : Trips
        Vehicle ``i`` of the simulation is trip ``i``.
    seed : int
        Seeds :attr:`rng`, which picks the re-routing drivers. The state of
        :attr:`rng` is part of :meth:`snapshot`.
    config : EngineConfig, optional

    Raises
    ------
    ValueError
        When an explicit route is not drivable along the network's lane
        connections, an index is out of range, or a signal program does not
        match its junction's connections.

    Examples
    --------
    >>> import numpy as np
    >>> from twin.importers.grid import grid_network
    >>> from twin.demand import random_trips
    >>> net = grid_network(3, 3)
    >>> trips = random_trips(net, n_trips=20, duration_s=60, rng=np.random.default_rng(1))
    >>> sim = Simulation(net, trips, seed=1)
    >>> sim.run(900.0)
    >>> sim.n_arrived
    20
    """

    def __init__(
        self,
        network: Network,
        trips: Trips,
        *,
        seed: int,
        config: EngineConfig | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.network = network
        self.trips = trips
        self.seed = int(seed)
        self.config = config if config is not None else EngineConfig()
        self.rng = np.random.default_rng(self.seed)
        self._params = self.config.micro
        self._advance = BACKENDS[self.config.backend]
        self.movements: Movements = build_movements(
            network, left_hand_traffic=self.config.left_hand_traffic)
        self.line_graph: LineGraph = build_line_graph(network, self.movements)
        offsets, links, unroutable = _build_routes(network, trips, self.line_graph)
        self.unroutable: tuple[str, ...] = tuple(trips.trip_ids[i] for i in unroutable)
        """Ids of the trips without a route; they are never inserted."""
        self._dest_node = np.where(
            np.diff(offsets) > 0,
            network.link_to[links[np.maximum(offsets[1:] - 1, 0)]] if links.size else -1,
            -1).astype(np.int64)
        sig = network.signals
        _check_signals(network)
        insertable = np.diff(offsets) > 0
        self._state = micro.new_state(
            link_length_m=network.link_length_m,
            link_lanes=network.link_lanes,
            link_speed_limit_mps=network.link_speed_limit_mps,
            conn_from_link=network.conn_from_link,
            conn_from_lane=network.conn_from_lane,
            conn_to_link=network.conn_to_link,
            conn_to_lane=network.conn_to_lane,
            conn_program=network.conn_program,
            conn_sig_index=network.conn_signal_index,
            conn_mov=self.movements.conn_mov,
            mov_from_link=self.movements.from_link,
            mov_to_link=self.movements.to_link,
            mov_rank=self.movements.rank,
            mov_conf_off=self.movements.conf_offsets,
            mov_conf=self.movements.conflicts,
            prog_offset_s=sig.offset_s,
            prog_phase_off=sig.phase_offsets,
            phase_dur_s=sig.phase_duration_s,
            phase_codes=micro.phase_code_table(sig.phase_state),
            route_offsets=offsets,
            route_links=links,
            depart_s=np.asarray(trips.depart_s, dtype=np.float64),
            vehicle_class=np.asarray(trips.vehicle_class, dtype=np.int8),
            class_params=self.config.class_params,
            insertable=insertable,
        )
        self._time_s = 0.0
        self._detector_ids: list[str] = []
        self._detector_lane: list[int | None] = []
        self._detector_parts: list[tuple[int, ...]] = []
        self._detector_index: dict[str, int] = {}
        self._detector_cache: tuple[tuple[int, int], NDArray[np.int64], NDArray[np.int32]] \
            | None = None
        self._interval_start_s = 0.0
        self._incidents: dict[int, tuple[int, tuple[int, ...], float, float]] = {}
        self._next_incident_id = 0
        self._next_reroute_s = self.config.reroute_period_s
        self._link_factor_set = np.ones(network.n_links)
        self._closed = np.zeros(network.n_links, dtype=bool)
        self._restrictions: dict[int, tuple[NDArray[np.int64], NDArray[np.int64]]] = {}
        self._next_restriction_id = 0

    # ------------------------------------------------------------------ time
    @property
    def time_s(self) -> float:
        """Simulation time in seconds since the start."""
        return self._time_s

    def _advance_to(self, n: int, dt: float) -> None:
        self._time_s = self._advance(self._state, self._params, self._time_s, dt, n, check=False)

    def load_kernels(self) -> None:
        """Compile the engine's kernels, or load them from numba's disk cache, now
        rather than in the first step (about half a second with a warm cache), so
        timed runs time the simulation only. Changes no state."""
        if self.config.backend == "numba":
            micro.load_kernels(self._state, self._params)

    def step(self, dt_s: float | None = None) -> None:
        """Advance one step of ``dt_s`` seconds (default ``config.dt_s``)."""
        dt = self.config.dt_s if dt_s is None else float(dt_s)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt_s must be a finite number > 0, got {dt_s!r}")
        self._advance_to(1, dt)
        self._maybe_reroute()

    def run(self, until_s: float) -> None:
        """Advance in steps of ``config.dt_s`` to ``until_s`` seconds.

        The last step is shortened to land on ``until_s`` exactly. Re-routing
        rounds (when on) happen at the first step end at or after each period.

        Raises
        ------
        ValueError
            When ``until_s`` lies before the current time.
        """
        until = float(until_s)
        if not math.isfinite(until) or until < self._time_s - _TIME_EPS_S:
            raise ValueError(f"until_s={until_s!r} is before the current time {self._time_s} s")
        dt = self.config.dt_s
        while (n := int(math.floor((until - self._time_s) / dt + _TIME_EPS_S))) > 0:
            if self.config.reroute_share > 0:  # stop at the step end that reaches the round
                to_round = int(math.ceil((self._next_reroute_s - self._time_s) / dt - _TIME_EPS_S))
                n = min(n, max(1, to_round))
            self._advance_to(n, dt)
            self._maybe_reroute()
        rest = until - self._time_s
        if rest > _TIME_EPS_S:
            self._advance_to(1, rest)
            self._maybe_reroute()
        if abs(self._time_s - until) <= 1e-6:
            self._time_s = until

    # ------------------------------------------------------------- rerouting
    def link_travel_time_s(self) -> FloatArray:
        """Current travel time estimate per link, seconds: length over the mean speed of
        its vehicles (at least ``0.5`` m/s), or over the free speed when empty."""
        s = self._state
        speed = np.maximum(self.link_speed_mps, 0.5)
        return s.link_length_m / speed

    def _maybe_reroute(self) -> None:
        if self.config.reroute_share <= 0 or self._time_s + _TIME_EPS_S < self._next_reroute_s:
            return
        while self._next_reroute_s <= self._time_s + _TIME_EPS_S:
            self._next_reroute_s += self.config.reroute_period_s
        self.reroute(self.config.reroute_share)

    def set_rerouting(self, share: float, period_s: float | None = None) -> None:
        """Change the re-routing settings (``EngineConfig.reroute_share`` and
        ``reroute_period_s``); with ``share > 0`` the first round comes at the end of
        the next step, then one every period. The settings are part of :attr:`config`,
        not of :meth:`snapshot`.
        """
        period = self.config.reroute_period_s if period_s is None else period_s
        self.config = dataclasses.replace(self.config, reroute_share=share,
                                          reroute_period_s=period)
        self._next_reroute_s = self._time_s

    def reroute(self, share: float = 1.0) -> int:
        """Let a seeded ``share`` of the drivers on the road re-plan on current travel times.

        A driver keeps the links already driven and its current link, and
        takes the fastest way on from there through the movement graph. Returns
        how many routes changed.
        """
        _check_number("share", share, lambda v: 0 <= v <= 1, "in [0, 1]")
        s = self._state
        active = np.flatnonzero(s.veh_state == VEH_ACTIVE)
        pos = s.route_offsets[active] + s.veh_route_pos[active]
        has_more = pos + 1 < s.route_offsets[active + 1]
        cand = active[has_more]
        pick = cand[self.rng.random(cand.shape[0]) < share]
        return self._replan(pick)

    def route_cost_s(self, travel_time_s: FloatArray | None = None) -> FloatArray:
        """Per-link cost of planning a route now: current travel times, ``inf`` on closed links.

        ``travel_time_s`` : the :meth:`link_travel_time_s` of this instant when the caller
        has it already (it is not changed); computed when not given.
        """
        cost = self.link_travel_time_s() if travel_time_s is None else travel_time_s.copy()
        cost[self._closed] = np.inf
        return cost

    def _replan(self, pick: NDArray[np.int64], *, from_origin: bool = False) -> int:
        """Re-plan the routes of vehicles ``pick`` on the current travel times; returns how
        many routes changed. A vehicle whose destination cannot be reached keeps its route.

        By default the rest of the route after the current link (each vehicle in ``pick``
        on the road or waiting, with links left after its current one). With
        ``from_origin`` (waiting vehicles only) the whole route, from the node where it
        starts; the insertion queues are then rebuilt for the new first links.
        """
        if pick.size == 0:
            return 0
        new_tail: dict[int, NDArray[np.int32]] = {}
        for group, link_cost in self._cost_groups(pick):
            self._plan_tails(group, self.line_graph.edge_cost(link_cost), from_origin, new_tail)
        if not new_tail:
            return 0
        s = self._state
        keep = 0 if from_origin else 1  # links kept before the new part, after the route position
        # splice: the unchanged routes between two changed ones are copied in one slice
        parts: list[NDArray[np.int32]] = []
        lengths = np.diff(s.route_offsets)
        copied_to = 0
        for v in sorted(new_tail):
            a = int(s.route_offsets[v])
            kept = int(s.veh_route_pos[v]) + keep
            parts.append(s.route_links[copied_to:a + kept])
            parts.append(new_tail[v])
            copied_to = int(s.route_offsets[v + 1])
            lengths[v] = kept + new_tail[v].shape[0]
        parts.append(s.route_links[copied_to:])
        off = np.zeros(s.n_vehicles + 1, np.int64)
        np.cumsum(lengths, out=off[1:])
        s.route_offsets = off
        s.route_links = np.ascontiguousarray(np.concatenate(parts).astype(np.int32))
        if from_origin:
            self._rebuild_insertion_queues()
        return len(new_tail)

    def _plan_tails(self, pick: NDArray[np.int64], cost: FloatArray, from_origin: bool,
                    new_tail: dict[int, NDArray[np.int32]]) -> None:
        """Fastest routes on for ``pick`` over movement-graph ``cost``, into ``new_tail``
        (vehicle -> the new part of its route) where they differ from the old."""
        s = self._state
        net = self.network
        current = s.route_links[s.route_offsets[pick] + s.veh_route_pos[pick]]
        sources = (self.line_graph.n_links + net.link_from[current]).astype(np.int64) \
            if from_origin else current.astype(np.int64)
        keep = 0 if from_origin else 1  # links kept before the new part, after the route position
        order = np.argsort(sources, kind="stable")
        for a, b in _groups(sources[order]):
            group = pick[order[a:b]]
            src = int(sources[order[a]])
            dist, pred = self.line_graph.tree(src, cost)
            routes = self.line_graph.routes_to(dist, pred, src, self._dest_node[group])
            for v, r in zip(group.tolist(), routes, strict=True):
                if r is None or r.size == 0:
                    continue
                p = int(s.route_offsets[v] + s.veh_route_pos[v])
                old = s.route_links[p + keep:s.route_offsets[v + 1]]
                if not np.array_equal(old, r):
                    new_tail[v] = r

    def _cost_groups(self, pick: NDArray[np.int64]) -> list[tuple[NDArray[np.int64], FloatArray]]:
        """``pick`` split by the link restrictions that apply to each vehicle, with the
        per-link planning cost of each part (``inf`` on closed and forbidden links)."""
        base = self.route_cost_s()
        if not self._restrictions:
            return [(pick, base)]
        key = np.zeros(pick.shape[0], dtype=np.int64)
        ids = sorted(self._restrictions)
        for bit, rid in enumerate(ids):
            key |= np.isin(pick, self._restrictions[rid][1]).astype(np.int64) << bit
        out = []
        for k in np.unique(key).tolist():
            cost = base
            if k:
                cost = base.copy()
                for bit, rid in enumerate(ids):
                    if k >> bit & 1:
                        cost[self._restrictions[rid][0]] = np.inf
            out.append((pick[key == k], cost))
        return out

    # ------------------------------------------------------ link restrictions
    def route_ahead_uses(self, links: Sequence[str | int]) -> NDArray[np.bool_]:
        """Boolean (n_vehicles,): which vehicles still to drive one of ``links``: on the
        road, after their current link; waiting to depart, anywhere on their route."""
        index = np.array([self.resolve_link(link) for link in links], dtype=np.int64)
        s = self._state
        out = np.zeros(s.n_vehicles, dtype=bool)
        where = np.flatnonzero(np.isin(s.route_links, index))
        if where.size:
            owner = np.searchsorted(s.route_offsets, where, side="right") - 1
            state = s.veh_state[owner]
            pos = s.route_offsets[owner] + s.veh_route_pos[owner]
            ahead = ((state == VEH_ACTIVE) & (where > pos)) | (state == VEH_WAITING)
            out[owner[ahead]] = True
        return out

    def restrict_links(self, links: Sequence[str | int],
                       vehicles: Sequence[int] | NDArray[np.integer[Any]]) -> tuple[int, int]:
        """Forbid ``links`` to ``vehicles`` (a traffic restriction such as odd-even).

        Each of the vehicles still to drive one of the links re-plans around them on
        current travel times: one on the road the rest of its route, one waiting to
        depart the whole route from its first node. Later re-plans (re-routing rounds,
        closures) keep the vehicles off the links too. A vehicle with no way around
        keeps its route (:meth:`route_ahead_uses` finds it). The restriction holds
        until :meth:`lift_restriction`; it is not part of :meth:`snapshot`.

        Returns
        -------
        (restriction id, how many routes changed)
        """
        index = np.array([self.resolve_link(link) for link in links], dtype=np.int64)
        veh = np.unique(np.asarray(vehicles, dtype=np.int64))
        if veh.size and (veh[0] < 0 or veh[-1] >= self.n_vehicles):
            raise ValueError(f"vehicle index out of range 0..{self.n_vehicles - 1}")
        rid = self._next_restriction_id
        self._next_restriction_id += 1
        self._restrictions[rid] = (index, veh)
        uses = self.route_ahead_uses(index.tolist())
        s = self._state
        mine = np.zeros(s.n_vehicles, dtype=bool)
        mine[veh] = True
        waiting = np.flatnonzero(uses & mine & (s.veh_state == VEH_WAITING))
        active = np.flatnonzero(uses & mine & (s.veh_state == VEH_ACTIVE))
        changed = self._replan(waiting, from_origin=True)
        return rid, changed + self._replan(active)

    def replan_departures(self, vehicles: Sequence[int] | NDArray[np.integer[Any]]) -> int:
        """Re-plan the whole routes of those ``vehicles`` still waiting to depart, from
        their first node, on current travel times (closed and forbidden links avoided),
        e.g. to bring the drivers a closure diverted back once it is lifted; returns how
        many routes changed."""
        s = self._state
        veh = np.unique(np.asarray(vehicles, dtype=np.int64))
        veh = veh[(veh >= 0) & (veh < s.n_vehicles)]
        return self._replan(veh[s.veh_state[veh] == VEH_WAITING], from_origin=True)

    def lift_restriction(self, restriction_id: int) -> None:
        """End a restriction of :meth:`restrict_links` (routes already changed stay).

        Raises
        ------
        KeyError
            When no restriction with that id holds.
        """
        try:
            del self._restrictions[restriction_id]
        except KeyError:
            raise KeyError(f"no link restriction with id {restriction_id!r}") from None

    def postpone(self, vehicles: Sequence[int] | NDArray[np.integer[Any]], depart_s: float) -> int:
        """Move the departure of those ``vehicles`` still waiting to ``depart_s`` at the
        earliest (a trip put off, e.g. until a restriction ends); returns how many moved.
        Their :attr:`travel_time_s` then counts from the new departure."""
        _check_number("depart_s", depart_s, math.isfinite, "finite")
        s = self._state
        veh = np.unique(np.asarray(vehicles, dtype=np.int64))
        veh = veh[(s.veh_state[veh] == VEH_WAITING) & (s.veh_depart_s[veh] < depart_s)]
        if veh.size:
            s.veh_depart_s[veh] = float(depart_s)
            self._rebuild_insertion_queues()
        return int(veh.size)

    def _rebuild_insertion_queues(self) -> None:
        """Queue every waiting vehicle on its route's first link again (by departure time,
        then index), after the vehicles each link has let in already."""
        s = self._state
        n_links = s.n_links
        done = s.ins_ptr - s.ins_off[:-1]
        waiting = np.flatnonzero(s.veh_state == VEH_WAITING)
        first = s.route_links[s.route_offsets[waiting]].astype(np.int64)
        waiting = waiting[np.lexsort((waiting, s.veh_depart_s[waiting], first))]
        first = s.route_links[s.route_offsets[waiting]].astype(np.int64)
        pending_off = np.zeros(n_links + 1, np.int64)
        np.cumsum(np.bincount(first, minlength=n_links), out=pending_off[1:])
        parts: list[NDArray[np.int32]] = []
        for link in range(n_links):
            a = int(s.ins_off[link])
            parts.append(s.ins_veh[a:a + int(done[link])])
            parts.append(waiting[pending_off[link]:pending_off[link + 1]].astype(np.int32))
        off = np.zeros(n_links + 1, np.int64)
        np.cumsum(done + np.diff(pending_off), out=off[1:])
        s.ins_veh = np.ascontiguousarray(np.concatenate(parts).astype(np.int32))
        s.ins_off = off
        s.ins_ptr = np.ascontiguousarray(off[:-1] + done)

    # ------------------------------------------------------- added vehicles
    def add_vehicle(self, route_links: Sequence[int] | NDArray[np.integer[Any]],
                    depart_s: float, vehicle_class: str | int = "car", *,
                    emergency: bool = False) -> int:
        """Add one vehicle during the run; see :meth:`add_vehicles`. Returns its index."""
        return int(self.add_vehicles([route_links], [depart_s], [vehicle_class],
                                     emergency=[emergency])[0])

    def set_emergency(self, vehicles: Sequence[int] | NDArray[np.integer[Any]],
                      on: bool) -> None:
        """Put ``vehicles`` on an emergency call (``on``) or back in ordinary service.

        An emergency vehicle drives with the privileges of UU 22/2009 art. 134-135
        as the engine models them (see :mod:`core_ext._micro_nb`): a desired speed above
        the limit (``MicroParams.emergency_speed_factor``), passing red at a crawl when
        the junction is clear, priority at junctions, vehicles ahead moving aside, and
        passing a standing queue nobody can move aside from
        (``MicroParams.emergency_pass_mps``). Part of :meth:`snapshot`.

        Raises
        ------
        ValueError
            On a vehicle index out of range.
        """
        idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
        n = self._state.n_vehicles
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"vehicle index out of range 0..{n - 1}")
        self._state.veh_emergency[idx] = 1 if on else 0
        self._state.veh_pass_m[idx] = 0.0  # no queue passing under way either way

    @property
    def emergency(self) -> NDArray[np.bool_]:
        """Whether each vehicle is on an emergency call ((n_vehicles,), a new array)."""
        return self._state.veh_emergency != 0

    def add_vehicles(self, routes: Sequence[Sequence[int] | NDArray[np.integer[Any]]],
                     depart_s: Sequence[float], vehicle_class: Sequence[str | int],
                     emergency: Sequence[bool] | None = None) -> NDArray[np.int64]:
        """Add vehicles during the run, each queued to enter the first link of its route.

        A vehicle waits until ``depart_s`` and until its first link has room, then
        drives its route like every other vehicle (the same kernels, car-following
        and junction rules); :attr:`arrive_s` and :attr:`travel_time_s` of its index
        tell when it arrived (NaN until then). The per-vehicle columns are
        reallocated once per call, so adding many at once costs one copy.

        Parameters
        ----------
        routes : sequence of link-index sequences, each drivable along lane connections
        depart_s : sequence of float, departure times, not before :attr:`time_s`
        vehicle_class : sequence of class names (``"car"``) or class indices
        emergency : sequence of bool, optional; True puts that vehicle on an emergency
            call (:meth:`set_emergency`); default none

        Returns
        -------
        ndarray of int64, the new vehicle indices (after every existing vehicle)

        Raises
        ------
        ValueError
            On an empty or undrivable route, a departure in the past or not finite,
            an unknown class, or arguments of different lengths. Nothing is added then.
        """
        n = len(routes)
        if len(depart_s) != n or len(vehicle_class) != n:
            raise ValueError(f"{n} routes but {len(depart_s)} departures and "
                             f"{len(vehicle_class)} classes")
        if emergency is not None and len(emergency) != n:
            raise ValueError(f"{n} routes but {len(emergency)} emergency flags")
        rs = [np.asarray(r, dtype=np.int64) for r in routes]
        check_routes(self._state, rs, self.network.conn_from_link, self.network.conn_to_link)
        dep = np.asarray(depart_s, dtype=np.float64).reshape(n)
        bad = np.flatnonzero(~np.isfinite(dep) | (dep < self._time_s - _TIME_EPS_S))
        if bad.size:
            raise ValueError(f"depart_s {dep[bad[0]]!r} is not finite or before the current "
                             f"time {self._time_s} s")
        n_classes = len(self.config.class_params)
        codes = np.empty(n, np.int8)
        for j, c in enumerate(vehicle_class):
            code = CLASS_CODE.get(c) if isinstance(c, str) else int(c)
            if code is None or not 0 <= code < n_classes:
                raise ValueError(f"unknown vehicle class {c!r} (expected one of "
                                 f"{', '.join(VEHICLE_CLASSES)} or 0..{n_classes - 1})")
            codes[j] = code
        first = append_vehicles(self._state, rs, dep, codes)
        if emergency is not None:
            self._state.veh_emergency[first:] = np.asarray(emergency, dtype=bool)
        dest = np.array([self.network.link_to[int(r[-1])] for r in rs], np.int64)
        self._dest_node = np.concatenate([self._dest_node, dest])
        self._rebuild_insertion_queues()
        return np.arange(first, first + n, dtype=np.int64)

    @property
    def n_added(self) -> int:
        """Vehicles added by :meth:`add_vehicles` (indices ``len(trips)`` onwards)."""
        return self._state.n_vehicles - len(self.trips)

    # ----------------------------------------------------------- state views
    def _on_link(self) -> NDArray[np.int64]:
        s = self._state
        return np.flatnonzero(s.veh_state == VEH_ACTIVE)

    @property
    def link_vehicle_count(self) -> NDArray[np.int32]:
        """Vehicles on each link ((n_links,), a new array)."""
        s = self._state
        return np.bincount(s.veh_link[self._on_link()], minlength=s.n_links).astype(np.int32)

    @property
    def link_speed_mps(self) -> FloatArray:
        """Mean speed of the vehicles on each link, m/s ((n_links,), a new array).

        An empty link reports the speed an entering car would aim for (the
        limit times any incident factor).
        """
        s = self._state
        on = self._on_link()
        n = np.bincount(s.veh_link[on], minlength=s.n_links)
        total = np.bincount(s.veh_link[on], weights=s.veh_speed_mps[on], minlength=s.n_links)
        free = s.link_speed_limit_mps * s.link_speed_factor
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), free)

    @property
    def link_queue_veh(self) -> NDArray[np.int32]:
        """Stopped vehicles (speed at most ``micro.stop_speed_mps``) on each link."""
        s = self._state
        on = self._on_link()
        stopped = on[s.veh_speed_mps[on] <= self._params.stop_speed_mps]
        return np.bincount(s.veh_link[stopped], minlength=s.n_links).astype(np.int32)

    @property
    def link_density_vpm(self) -> FloatArray:
        """Density on each link in vehicles per metre per lane ((n_links,), a new array)."""
        s = self._state
        return self.link_vehicle_count / (s.link_length_m * s.link_lanes)

    @property
    def link_entered(self) -> NDArray[np.int64]:
        """Cumulative vehicles that entered each link (read-only, (n_links,))."""
        return _read_only(self._state.link_entered)

    @property
    def link_exited(self) -> NDArray[np.int64]:
        """Cumulative vehicles that left each link, arrivals included (read-only)."""
        return _read_only(self._state.link_exited)

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles (= trips)."""
        return self._state.n_vehicles

    @property
    def n_waiting(self) -> int:
        """Vehicles not yet inserted (routable ones only)."""
        return int(np.count_nonzero(self._state.veh_state == VEH_WAITING))

    @property
    def n_active(self) -> int:
        """Vehicles on the network."""
        return int(np.count_nonzero(self._state.veh_state == VEH_ACTIVE))

    @property
    def n_arrived(self) -> int:
        """Vehicles that reached their destination."""
        return int(np.count_nonzero(self._state.veh_state == VEH_ARRIVED))

    @property
    def vehicle_state(self) -> NDArray[np.int8]:
        """State per vehicle, ``VEH_*`` (waiting, active, arrived, unroutable); read-only."""
        return _read_only(self._state.veh_state)

    @property
    def vehicle_link(self) -> NDArray[np.int32]:
        """Link index per vehicle, -1 when not on the network (read-only)."""
        return _read_only(self._state.veh_link)

    @property
    def vehicle_lane(self) -> NDArray[np.int32]:
        """Lane index on its link per vehicle (0 = kerb side), -1 when not on the network."""
        s = self._state
        on = s.veh_link >= 0
        out = np.full(s.n_vehicles, -1, np.int32)
        out[on] = s.veh_lane[on] - s.link_lane_off[s.veh_link[on]]
        return out

    @property
    def vehicle_pos_m(self) -> FloatArray:
        """Front bumper, metres from the start of the vehicle's link (read-only)."""
        return _read_only(self._state.veh_pos_m)

    @property
    def vehicle_speed_mps(self) -> FloatArray:
        """Speed at the end of the last step, m/s (read-only)."""
        return _read_only(self._state.veh_speed_mps)

    def vehicles_on(self, link: str | int) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """The vehicles on ``link`` and their lanes (0 = kerb side), front first per lane.

        Read from the lanes' queues, so the cost grows with the vehicles on the link,
        not with the fleet (for sensors that look at a few links often).

        Returns
        -------
        vehicles : int64 (k,), vehicle indices
        lane : int32 (k,), lane index on the link of each
        """
        s = self._state
        index = self.resolve_link(link)
        first = int(s.link_lane_off[index])
        vehicles, lanes = [], []
        for k in range(int(s.link_lanes[index])):
            lane = first + k
            n = int(s.lane_count[lane])
            off = int(s.lane_slot_off[lane])
            cap = int(s.lane_slot_off[lane + 1]) - off
            j = (int(s.lane_head[lane]) + np.arange(n)) % cap
            vehicles.append(s.slots[off + j].astype(np.int64))
            lanes.append(np.full(n, k, np.int32))
        return np.concatenate(vehicles), np.concatenate(lanes)

    @property
    def vehicle_stopped_since_s(self) -> FloatArray:
        """When each vehicle came to a stop (speed at most ``micro.stop_speed_mps``),
        seconds; ``inf`` while it moves or is off the network (read-only)."""
        return _read_only(self._state.veh_stopped_since_s)

    @property
    def vehicle_class(self) -> NDArray[np.int8]:
        """Vehicle class index per vehicle (read-only)."""
        return _read_only(self._state.veh_class)

    @property
    def arrive_s(self) -> FloatArray:
        """Arrival time per vehicle in seconds, NaN until arrived (read-only)."""
        return _read_only(self._state.veh_arrive_s)

    @property
    def insert_s(self) -> FloatArray:
        """When each vehicle entered the network, seconds; NaN while waiting (read-only)."""
        return _read_only(self._state.veh_insert_s)

    def route_of(self, vehicle: int) -> NDArray[np.int32]:
        """The route of ``vehicle`` (= trip index) as link indices (empty when unroutable)."""
        s = self._state
        if not 0 <= int(vehicle) < s.n_vehicles:
            raise ValueError(f"vehicle {vehicle!r} is not a vehicle index (0..{s.n_vehicles - 1})")
        v = int(vehicle)
        return _read_only(s.route_links[s.route_offsets[v]:s.route_offsets[v + 1]])

    @property
    def travel_time_s(self) -> FloatArray:
        """Travel time per trip in seconds (arrival - planned departure); NaN unless arrived.

        It includes any wait to enter the network (see :attr:`insert_s`).
        """
        return self._state.veh_arrive_s - self._state.veh_depart_s

    @property
    def route_free_flow_s(self) -> FloatArray:
        """Free-flow travel time of each vehicle's current route, seconds (link lengths at
        their speed limits; 0 for an unroutable trip). ``travel_time_s - route_free_flow_s``
        is a trip's delay."""
        s = self._state
        per_link = np.concatenate([self.network.free_flow_time_s[s.route_links], [0.0]])
        starts = s.route_offsets[:-1]
        sums = np.add.reduceat(per_link, np.minimum(starts, per_link.shape[0] - 1))
        return np.where(np.diff(s.route_offsets) > 0, sums, 0.0)

    @property
    def gridlocked(self) -> bool:
        """Whether nothing has moved for ``config.gridlock_after_s`` with vehicles on the road."""
        stall = int(self._state.counters[_micro_nb.C_STALL_STEPS]) * self.config.dt_s
        return stall >= self.config.gridlock_after_s and self.n_active > 0

    @property
    def engine_state_bytes_per_vehicle(self) -> float:
        """Bytes of the per-vehicle engine columns and routes, per vehicle."""
        return micro.state_bytes_per_vehicle(self._state)

    # ------------------------------------------------------------- detectors
    def resolve_link(self, link: str | int) -> int:
        """The index of ``link`` given as a link id (str) or an index (int).

        Raises
        ------
        ValueError
            When there is no such link.
        """
        if isinstance(link, str):
            try:
                return self.network.link_index[link]
            except KeyError:
                raise ValueError(f"unknown link id {link!r}") from None
        if isinstance(link, bool) or not isinstance(link, int | np.integer) \
                or not 0 <= int(link) < self.network.n_links:
            raise ValueError(f"link {link!r} is neither a link id nor a link index "
                             f"(0..{self.network.n_links - 1})")
        return int(link)

    def _check_lane(self, what: str, link: int, lane: object) -> int:
        n_lanes = int(self.network.link_lanes[link])
        if isinstance(lane, bool) or not isinstance(lane, int | np.integer) \
                or not 0 <= int(lane) < n_lanes:
            raise ValueError(f"{what}: lane {lane!r} does not exist on link "
                             f"{self.network.link_ids[link]!r} ({n_lanes} lanes)")
        return int(lane)

    def add_loop_detector(
        self, detector_id: str, link_id: str | int, pos_m: float, lane: int | None = None
    ) -> int:
        """Place a loop detector; return its index in :class:`DetectorCounts`.

        Parameters
        ----------
        detector_id : str, unique
        link_id : str or int, a link id or link index
        pos_m : float, metres from the link start, in ``(0, length]``
        lane : int or None, the lane watched (0 = kerb side); None watches
            every lane of the link (one loop per lane, summed).

        Raises
        ------
        ValueError
            On a duplicate id, unknown link, or position or lane out of range.
        """
        if not isinstance(detector_id, str) or not detector_id:
            raise ValueError(f"detector_id must be a non-empty string, got {detector_id!r}")
        if detector_id in self._detector_index:
            raise ValueError(f"a detector with id {detector_id!r} exists already")
        link = self.resolve_link(link_id)
        if lane is not None:
            lane = self._check_lane(f"detector {detector_id!r}", link, lane)
        lanes = [lane] if lane is not None else list(range(int(self.network.link_lanes[link])))
        first = int(self._state.link_lane_off[link])
        try:
            _check_number("pos_m", pos_m, lambda v: v > 0, "> 0")
            parts = micro.add_detectors(self._state, [first + ln for ln in lanes],
                                        [float(pos_m)] * len(lanes))
        except ValueError as exc:
            raise ValueError(f"detector {detector_id!r}: {exc}") from None
        index = len(self._detector_ids)
        self._detector_ids.append(detector_id)
        self._detector_lane.append(lane)
        self._detector_parts.append(tuple(int(p) for p in parts))
        self._detector_index[detector_id] = index
        return index

    @property
    def detector_ids(self) -> tuple[str, ...]:
        """Ids of the loop detectors, in index order."""
        return tuple(self._detector_ids)

    @property
    def detector_interval_start_s(self) -> float:
        """Simulation time at which the current detector counts started."""
        return self._interval_start_s

    def _part_owner(self) -> NDArray[np.int64]:
        return self._detector_maps()[0]

    def _detector_maps(self) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """Per lane detector: its owning detector and its global lane (cached until a
        detector is added or a snapshot restored)."""
        key = (len(self._detector_parts), int(self._state.det_pos_m.shape[0]))
        if self._detector_cache is None or self._detector_cache[0] != key:
            owner = np.full(self._state.det_pos_m.shape[0], -1, np.int64)
            for d, parts in enumerate(self._detector_parts):
                owner[list(parts)] = d
            self._detector_cache = (key, owner, micro.detector_lanes(self._state))
        return self._detector_cache[1], self._detector_cache[2]

    def take_detector_counts(self) -> DetectorCounts:
        """The detector aggregates since the last call (or the start); then reset them."""
        s = self._state
        n = len(self._detector_ids)
        owner = self._part_owner()
        count = np.bincount(owner, weights=s.det_count, minlength=n).astype(np.int64)
        speed = np.bincount(owner, weights=s.det_speed_sum, minlength=n)
        occ = np.bincount(owner, weights=s.det_occ_s, minlength=n)
        first = [parts[0] for parts in self._detector_parts]
        det_lane_of = micro.detector_lanes(s)
        links = s.lane_link[det_lane_of[first]] if n else np.zeros(0, np.int32)
        counts = DetectorCounts(
            detector_ids=tuple(self._detector_ids),
            link=np.asarray(links, np.int32),
            pos_m=s.det_pos_m[first].copy() if n else np.zeros(0),
            lane=tuple(self._detector_lane),
            count=count,
            speed_sum_mps=speed,
            occupancy_s=occ,
            link_lanes=np.array([len(p) for p in self._detector_parts], np.int32),
            interval_start_s=self._interval_start_s,
            interval_end_s=self._time_s,
        )
        s.det_count[:] = 0
        s.det_speed_sum[:] = 0.0
        s.det_occ_s[:] = 0.0
        self._interval_start_s = self._time_s
        return counts

    def take_crossings(self) -> Crossings:
        """Every detector crossing since the last call (the buffer is then emptied)."""
        s = self._state
        ev = micro.take_events(s)
        owner, lane_of = self._detector_maps()
        lanes = lane_of[ev["detector"]]
        return Crossings(
            detector=owner[ev["detector"]],
            vehicle=ev["vehicle"],
            time_s=ev["time_s"],
            speed_mps=ev["speed_mps"],
            lane=(lanes - s.link_lane_off[s.lane_link[lanes]]).astype(np.int32),
            signal=ev["signal"],
        )

    # ------------------------------------------------------------ trajectories
    def trace(self, vehicles: Sequence[int]) -> None:
        """Record the trajectories of ``vehicles`` (indices) at every step from now on;
        an empty sequence stops tracing. Read them with :meth:`take_trajectories`."""
        micro.set_trace(self._state, list(vehicles))

    def take_trajectories(self) -> Trajectories:
        """The trajectory samples since the last call (the buffer is then emptied)."""
        s = self._state
        tr = micro.take_trace(s)
        lane = tr["lane"] - s.link_lane_off[tr["link"]]
        return Trajectories(vehicle=tr["vehicle"], time_s=tr["time_s"], link=tr["link"],
                            lane=lane.astype(np.int32), pos_m=tr["pos_m"],
                            speed_mps=tr["speed_mps"])

    # ------------------------------------------------------------- incidents
    def open_incident(
        self,
        link: str | int,
        lanes_blocked: int,
        *,
        speed_factor: float = 1.0,
        pos_m: float | None = None,
        lanes: Sequence[int] | None = None,
    ) -> int:
        """Block lanes of ``link`` from ``pos_m`` on; return the incident's id.

        Vehicles behind the block in a blocked lane stop before it and merge
        into an open lane; when every lane is blocked nothing passes. The
        link's desired speed is scaled by ``speed_factor`` in (0, 1]
        (rubbernecking). The block stays until :meth:`clear_incident`.

        Parameters
        ----------
        link : link id or index
        lanes_blocked : int, 1..lanes; the lanes blocked are ``lanes`` when
            given, else the ``lanes_blocked`` lanes from the kerb (lane 0) out.
        speed_factor : float in (0, 1]
        pos_m : float, metres from the link start in ``[0, length]``; default
            the middle of the link.
        lanes : sequence of int, optional, explicit lane indices.

        Raises
        ------
        ValueError
            When the link or a lane is unknown, ``lanes_blocked`` is not in
            ``1..lanes``, or a number is out of range.
        """
        index = self.resolve_link(link)
        n_lanes = int(self.network.link_lanes[index])
        if isinstance(lanes_blocked, bool) or not isinstance(lanes_blocked, int | np.integer) \
                or not 1 <= int(lanes_blocked) <= n_lanes:
            raise ValueError(f"lanes_blocked must be an integer in 1..{n_lanes} for link "
                             f"{self.network.link_ids[index]!r}, got {lanes_blocked!r}")
        _check_number("speed_factor", speed_factor, lambda v: 0 < v <= 1, "in (0, 1]")
        length = float(self.network.link_length_m[index])
        pos = length / 2 if pos_m is None else pos_m
        _check_number("pos_m", pos, lambda v: 0 <= v <= length, f"in [0, {length}]")
        if lanes is None:
            chosen = tuple(range(int(lanes_blocked)))
        else:
            chosen = tuple(sorted({self._check_lane("incident", index, ln) for ln in lanes}))
            if len(chosen) != int(lanes_blocked):
                raise ValueError(f"lanes {list(lanes)} name {len(chosen)} distinct lanes but "
                                 f"lanes_blocked is {lanes_blocked}")
        incident_id = self._next_incident_id
        self._next_incident_id += 1
        self._incidents[incident_id] = (index, chosen, float(pos), float(speed_factor))
        self._apply_incidents(index)
        return incident_id

    def clear_incident(self, incident_id: int) -> None:
        """Reopen the lanes of an incident from :meth:`open_incident`.

        Raises
        ------
        KeyError
            When no incident with that id is open.
        """
        try:
            index = self._incidents.pop(incident_id)[0]
        except KeyError:
            raise KeyError(f"no open incident with id {incident_id!r}") from None
        self._apply_incidents(index)

    @property
    def open_incidents(self) -> dict[int, tuple[int, tuple[int, ...], float, float]]:
        """Open incidents: id -> (link index, lanes blocked, position m, speed factor)."""
        return dict(self._incidents)

    def _apply_incidents(self, link: int) -> None:
        s = self._state
        first = int(s.link_lane_off[link])
        n_lanes = int(s.link_lanes[link])
        s.lane_block_pos_m[first:first + n_lanes] = np.inf
        factor = 1.0
        for lk, lanes, pos, f in self._incidents.values():
            if lk != link:
                continue
            factor = min(factor, f)
            for ln in lanes:
                s.lane_block_pos_m[first + ln] = min(s.lane_block_pos_m[first + ln], pos)
        if self._closed[link]:
            s.lane_block_pos_m[first:first + n_lanes] = 0.0
        s.link_speed_factor[link] = self._link_factor_set[link] * factor

    # ---------------------------------------------------------- signal timing
    def resolve_program(self, program: str | int) -> int:
        """The index of signal ``program`` given as a program id (str) or an index (int).

        Raises
        ------
        ValueError
            When there is no such program.
        """
        ids = self.network.signals.program_ids
        if isinstance(program, str):
            if program not in ids:
                raise ValueError(f"unknown signal program {program!r}")
            return ids.index(program)
        if isinstance(program, bool) or not isinstance(program, int | np.integer) \
                or not 0 <= int(program) < len(ids):
            raise ValueError(f"program {program!r} is neither a program id nor a program index "
                             f"(0..{len(ids) - 1})")
        return int(program)

    def signal_timing(self, program: str | int) -> tuple[FloatArray, float]:
        """The phase durations (seconds, a new array) and cycle offset (s) in effect."""
        p = self.resolve_program(program)
        s = self._state
        a, b = int(s.prog_phase_off[p]), int(s.prog_phase_off[p + 1])
        return s.phase_dur_s[a:b].copy(), float(s.prog_offset_s[p])

    def signal_programs(self) -> SignalPrograms:
        """The signal programs with the timing in effect (after :meth:`set_signal_timing`).

        ``network.signals`` keeps the timing the network was built with; this is a copy
        with the current phase durations and offsets.
        """
        s = self._state
        return dataclasses.replace(self.network.signals, offset_s=s.prog_offset_s.copy(),
                                   phase_duration_s=s.phase_dur_s.copy())

    def set_signal_timing(
        self, program: str | int, phase_duration_s: Sequence[float] | FloatArray,
        offset_s: float | None = None,
    ) -> None:
        """Give signal ``program`` new phase durations (and offset), from the next step on.

        The phases and their states stay; the cycle becomes the sum of the new
        durations. The program is at ``(t + offset_s) mod cycle`` of its cycle
        at time ``t``, so a new timing may jump to another phase at once (a plan
        switch without transition). Part of :meth:`snapshot`.

        Parameters
        ----------
        program : program id or index
        phase_duration_s : one duration per phase, seconds, each finite and > 0
        offset_s : float, seconds; default keeps the current offset.

        Raises
        ------
        ValueError
            On an unknown program, a wrong number of durations or a bad number;
            nothing is changed then.
        """
        p = self.resolve_program(program)
        s = self._state
        a, b = int(s.prog_phase_off[p]), int(s.prog_phase_off[p + 1])
        durations = np.asarray(phase_duration_s, dtype=np.float64)
        if durations.shape != (b - a,):
            raise ValueError(f"signal program {self.network.signals.program_ids[p]!r} has "
                             f"{b - a} phases, got {durations.shape} durations")
        if not np.all(np.isfinite(durations) & (durations > 0)):
            raise ValueError(f"phase durations must be finite numbers > 0 s, got "
                             f"{durations.tolist()}")
        if offset_s is not None:
            _check_number("offset_s", offset_s, lambda v: True, "")
            s.prog_offset_s[p] = float(offset_s)
        s.phase_dur_s[a:b] = durations
        s.prog_cycle_s[p] = float(durations.sum())

    # ---------------------------------------------------------- road closures
    def close_link(self, link: str | int) -> int:
        """Close ``link`` to traffic (a road closure with a signed diversion).

        Nobody enters the link any more: its lanes are blocked at the start;
        vehicles already on it drive off. Every driver, on the road or still to
        depart, whose route goes on through the link re-plans the rest of it
        around the closure, on current travel times (one still to depart re-plans
        the whole route from its first node); re-routing rounds avoid closed
        links too. A driver who cannot reach the destination without
        it keeps the route and waits at the closure. Part of :meth:`snapshot`.
        Returns how many routes changed.
        """
        index = self.resolve_link(link)
        self._closed[index] = True
        self._apply_incidents(index)
        s = self._state
        waiting = s.veh_state == VEH_WAITING
        moving = np.flatnonzero((s.veh_state == VEH_ACTIVE) | waiting)
        uses = np.zeros(s.n_vehicles, dtype=bool)
        departing = np.zeros(s.n_vehicles, dtype=bool)
        where = np.flatnonzero(s.route_links == index)
        if where.size:
            owner = np.searchsorted(s.route_offsets, where, side="right") - 1
            ahead = where > s.route_offsets[owner] + s.veh_route_pos[owner]
            uses[owner[ahead]] = True
            departing[owner[waiting[owner]]] = True
        changed = self._replan(np.flatnonzero(departing), from_origin=True)
        return changed + self._replan(moving[uses[moving] & ~departing[moving]])

    def reopen_link(self, link: str | int) -> None:
        """Lift a closure of :meth:`close_link` (routes already diverted stay as they are)."""
        index = self.resolve_link(link)
        self._closed[index] = False
        self._apply_incidents(index)

    @property
    def closed_links(self) -> tuple[str, ...]:
        """Ids of the links closed by :meth:`close_link`."""
        return tuple(self.network.link_ids[i] for i in np.flatnonzero(self._closed).tolist())

    # ----------------------------------------------------- link speed factors
    @property
    def link_speed_factor(self) -> FloatArray:
        """Desired-speed factor in effect on each link (read-only, (n_links,)): the
        factor of :meth:`set_link_speed_factor` times the lowest speed factor of the
        incidents open on the link."""
        return _read_only(self._state.link_speed_factor)

    def set_link_speed_factor(
        self, links: Sequence[str | int], factors: float | Sequence[float] | FloatArray
    ) -> None:
        """Scale the desired speed on ``links``, e.g. to follow live speed readings.

        A driver of class ``c`` on the link aims for ``min(max_speed[c],
        speed_limit * speed_factor[c] * factor)`` (see :mod:`core_ext._micro_nb`),
        so a factor of 0.5 halves the free speed and one above 1 lets drivers go
        faster than the posted limit (observed speeds often do). An open incident's
        ``speed_factor`` multiplies it until the incident is cleared. The factor
        stays until set again; 1 restores the limit. It takes effect from the next
        step, and is part of :meth:`snapshot`.

        Parameters
        ----------
        links : sequence of link ids or indices
        factors : float, or one float per link; finite and > 0

        Raises
        ------
        ValueError
            On an unknown link, a length mismatch or a factor that is not > 0;
            nothing is changed then.
        """
        index = [self.resolve_link(link) for link in links]
        values = np.broadcast_to(np.asarray(factors, dtype=np.float64), (len(index),)) \
            if np.ndim(factors) == 0 else np.asarray(factors, dtype=np.float64)
        if values.shape != (len(index),):
            raise ValueError(f"{len(index)} links but {values.shape[0]} factors")
        bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
        if bad.size:
            raise ValueError(f"link speed factor must be a finite number > 0, got "
                             f"{values[bad[0]]!r} for link {links[int(bad[0])]!r}")
        for link, value in zip(index, values.tolist(), strict=True):
            self._link_factor_set[link] = value
            self._apply_incidents(link)

    # -------------------------------------------------------------- snapshot
    def snapshot(self) -> SimulationState:
        """A deep copy of the whole dynamic state and the time."""
        return SimulationState(
            time_s=self._time_s,
            model=self._state.copy(),
            detector_ids=tuple(self._detector_ids),
            detector_lane=tuple(self._detector_lane),
            detector_parts=tuple(self._detector_parts),
            interval_start_s=self._interval_start_s,
            incidents=dict(self._incidents),
            next_incident_id=self._next_incident_id,
            next_reroute_s=self._next_reroute_s,
            link_speed_factor_set=self._link_factor_set.copy(),
            closed_links=tuple(np.flatnonzero(self._closed).tolist()),
            rng_state=copy.deepcopy(self.rng.bit_generator.state),
        )

    def restore(self, state: SimulationState) -> None:
        """Return to a :meth:`snapshot` (of this simulation or one built the same way).

        The snapshot itself is not modified and can be restored again.

        Raises
        ------
        ValueError
            When the snapshot has a different number of links or fewer vehicles than
            this simulation's trips, or its columns are malformed. Vehicles added by
            :meth:`add_vehicles` are part of the snapshot: restoring brings back exactly
            those added before it was taken.
        """
        m = state.model
        base = len(self.trips)
        if m.n_links != self._state.n_links or m.n_vehicles < base:
            raise ValueError(
                f"snapshot has {m.n_links} links and {m.n_vehicles} vehicles; this simulation "
                f"has {self._state.n_links} links and {base} trips"
            )
        micro.check_state(m)
        if len(state.detector_parts) != len(state.detector_ids):
            raise ValueError(f"snapshot names {len(state.detector_ids)} detectors but has "
                             f"{len(state.detector_parts)} detector part lists")
        self._state.load(m)
        if m.n_vehicles != self._dest_node.shape[0]:  # vehicles added before or after it
            r_off, r_links = self._state.route_offsets, self._state.route_links
            added = np.arange(base, m.n_vehicles)
            self._dest_node = np.concatenate([
                self._dest_node[:base],
                self.network.link_to[r_links[r_off[added + 1] - 1]].astype(np.int64)])
        self._time_s = state.time_s
        self._detector_ids = list(state.detector_ids)
        self._detector_lane = list(state.detector_lane)
        self._detector_parts = list(state.detector_parts)
        self._detector_cache = None
        self._detector_index = {d: i for i, d in enumerate(self._detector_ids)}
        self._interval_start_s = state.interval_start_s
        self._incidents = dict(state.incidents)
        self._next_incident_id = state.next_incident_id
        self._next_reroute_s = state.next_reroute_s
        if state.link_speed_factor_set is not None:
            if state.link_speed_factor_set.shape != self._link_factor_set.shape:
                raise ValueError(f"snapshot has {state.link_speed_factor_set.shape[0]} link speed "
                                 f"factors; this simulation has {self._link_factor_set.shape[0]} links")
            self._link_factor_set = state.link_speed_factor_set.copy()
        else:
            self._link_factor_set = np.ones(self._state.n_links)
        self._closed = np.zeros(self._state.n_links, dtype=bool)
        self._closed[list(state.closed_links)] = True
        if state.rng_state:
            self.rng.bit_generator.state = copy.deepcopy(state.rng_state)

    # --------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """Figures of the run so far (JSON-ready).

        Keys: ``time_s``, ``vehicle_steps`` (vehicle updates: vehicles on the
        road summed over steps), ``trips_total``, ``trips_completed``,
        ``trips_waiting``, ``trips_active``, ``trips_unroutable``,
        ``mean_travel_time_s`` (None before the first arrival),
        ``refused_entries`` (junction entries refused for lack of room or a
        conflict), ``red_light_runs``, ``gridlocked``.
        """
        tt = self.travel_time_s
        done = np.isfinite(tt)
        c = self._state.counters
        return {
            "time_s": float(self._time_s),
            "vehicle_steps": self._state.vehicle_steps,
            "trips_total": self.n_vehicles,
            "trips_completed": int(done.sum()),
            "trips_waiting": self.n_waiting,
            "trips_active": self.n_active,
            "trips_unroutable": len(self.unroutable),
            "mean_travel_time_s": float(tt[done].mean()) if done.any() else None,
            "refused_entries": int(c[_micro_nb.C_REFUSED]),
            "red_light_runs": int(c[_micro_nb.C_RED_RUNS]),
            "gridlocked": self.gridlocked,
        }

    def __repr__(self) -> str:
        return (f"<Simulation t={self._time_s:.1f}s {self.n_vehicles} vehicles: "
                f"{self.n_waiting} waiting, {self.n_active} active, {self.n_arrived} arrived>")


def _groups(sorted_keys: NDArray[Any]) -> list[tuple[int, int]]:
    """(start, end) of the runs of equal values in a sorted array."""
    if sorted_keys.shape[0] == 0:
        return []
    starts = np.flatnonzero(np.diff(sorted_keys, prepend=sorted_keys[0] - 1))
    ends = np.append(starts[1:], sorted_keys.shape[0])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _check_signals(network: Network) -> None:
    """Every signal program's state strings must cover the signal indices of its connections."""
    sig = network.signals
    for p in range(sig.n_programs):
        a, b = int(sig.phase_offsets[p]), int(sig.phase_offsets[p + 1])
        width = {len(sig.phase_state[i]) for i in range(a, b)}
        used = network.conn_signal_index[network.conn_program == p]
        if len(width) > 1:
            raise ValueError(f"signal program {sig.program_ids[p]!r}: phases have state strings "
                             f"of different lengths {sorted(width)}")
        if used.size and int(used.max()) >= min(width, default=0):
            raise ValueError(f"signal program {sig.program_ids[p]!r} does not match its "
                             f"junction: a connection uses signal index {int(used.max())} but "
                             f"the states have {min(width, default=0)} characters")


def _build_routes(
    network: Network, trips: Trips, graph: LineGraph
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
    """Every trip's route as CSR arrays, plus the indices of unroutable trips.

    Explicit routes are checked (the engine checks each turn against the lane
    connections); the others get the fastest route on free-flow time through
    the movement graph, one Dijkstra tree per distinct origin.
    """
    n = len(trips)
    n_links = network.n_links
    t_off = np.asarray(trips.route_offsets, dtype=np.int64)
    t_links = np.asarray(trips.route_links, dtype=np.int32)
    if t_off.shape != (n + 1,):
        raise ValueError(f"trips.route_offsets has shape {t_off.shape}, expected ({n + 1},)")
    has_route = np.diff(t_off) > 0
    if t_links.size:
        bad = np.flatnonzero((t_links < 0) | (t_links >= n_links))
        if bad.size:
            trip = int(np.searchsorted(t_off, bad[0], side="right") - 1)
            raise ValueError(f"trip {trips.trip_ids[trip]!r}: route link index "
                             f"{t_links[bad[0]]} is not a link (0..{n_links - 1})")
        bad = micro.unconnected_route_steps(t_off, t_links, network.conn_from_link,
                                            network.conn_to_link, n_links)
        if bad.size:
            j = int(bad[0])
            trip = int(np.searchsorted(t_off, j, side="right") - 1)
            a, b = int(t_links[j]), int(t_links[j + 1])
            why = ("does not lead to" if network.link_to[a] != network.link_from[b]
                   else "has no lane connection to")
            raise ValueError(f"trip {trips.trip_ids[trip]!r}: route link "
                             f"{network.link_ids[a]!r} {why} {network.link_ids[b]!r}")
    origin = np.asarray(trips.origin_node, dtype=np.int64)
    dest = np.asarray(trips.destination_node, dtype=np.int64)
    need = np.flatnonzero(~has_route)
    same_place = need[origin[need] == dest[need]]
    need = need[origin[need] != dest[need]]
    for name, col in (("origin_node", origin), ("destination_node", dest)):
        bad = need[(col[need] < 0) | (col[need] >= network.n_nodes)]
        if bad.size:
            raise ValueError(f"trip {trips.trip_ids[bad[0]]!r}: {name} {col[bad[0]]} is not "
                             f"a node (0..{network.n_nodes - 1})")

    routes: list[NDArray[np.int32]] = [t_links[t_off[i]:t_off[i + 1]] for i in range(n)]
    unroutable: list[int] = same_place.tolist()  # a trip to its own origin goes nowhere
    if need.size:
        cost = graph.edge_cost(network.free_flow_time_s)
        order = need[np.argsort(origin[need], kind="stable")]
        for a, b in _groups(origin[order]):
            group = order[a:b]
            src = graph.n_links + int(origin[group[0]])
            dist, pred = graph.tree(src, cost)
            found = graph.routes_to(dist, pred, src, dest[group])
            for trip, path in zip(group.tolist(), found, strict=True):
                if path is None or path.size == 0:
                    unroutable.append(int(trip))
                    routes[trip] = np.zeros(0, np.int32)
                else:
                    routes[trip] = path
    lengths = np.fromiter((r.shape[0] for r in routes), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    links = np.concatenate(routes).astype(np.int32) if n else np.zeros(0, np.int32)
    return offsets, links, np.array(sorted(unroutable), dtype=np.int64)
