"""The traffic simulation façade: one object that owns the state and calls the kernels.

:class:`Simulation` is the surface the rest of the twin programs against:
build it from a :class:`~twin.network.Network` and :class:`~twin.demand.Trips`,
advance it with :meth:`~Simulation.step` / :meth:`~Simulation.run`, read its
state through read-only array properties, place loop detectors, open and
clear incidents, and take snapshots.

The engine behind it is, for now, the link-based spatial-queue model of
:mod:`core_ext.link_model` (rules in :mod:`core_ext._link_model_nb`): the
density of the moving traffic sets each link's speed, vehicles queue at the
link end, capacity sets its outflow, storage makes queues spill back. It
ignores lanes, lane connections (turn restrictions) and signals; the
microscopic engine of the "Traffic core" issue will replace it behind this
same façade. Ids (trip, link, detector) are mapped to indices here and never
reach the kernels.

Routes: a trip with an explicit route drives it; any other trip gets the
shortest path on free-flow time, computed once at construction (one
Dijkstra tree per distinct origin). Trips without a path (destination
unreachable, or equal to the origin) are listed in
:attr:`Simulation.unroutable`, get state ``VEH_UNROUTABLE`` and are never
inserted.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core_ext import config as core_config
from core_ext import link_model
from core_ext.link_model import LinkModelParams, LinkModelState
from core_ext.reference import advance_reference
from core_ext.shortest_path import check_graph, paths_from_tree, shortest_path_tree
from twin.demand import VEHICLE_CLASSES, Trips
from twin.network import Network

FloatArray = NDArray[np.float64]

VEH_WAITING = core_config.VEH_WAITING
VEH_ACTIVE = core_config.VEH_ACTIVE
VEH_ARRIVED = core_config.VEH_ARRIVED
VEH_UNROUTABLE = core_config.VEH_UNROUTABLE

BACKENDS: dict[str, Callable[..., float]] = {
    "numba": link_model.advance,
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
    "DetectorCounts",
    "EngineConfig",
    "Simulation",
    "SimulationState",
]


@dataclass(frozen=True)
class EngineConfig:
    """Parameters of the traffic engine.

    Attributes
    ----------
    dt_s : float
        Default step in seconds for :meth:`Simulation.step` and
        :meth:`Simulation.run` (> 0).
    k_jam_vpm_per_lane : float
        Jam density in vehicles per metre per lane (> 0). Sets each link's
        storage and the Greenshields speed. Default 0.15, tighter than the
        car-only 1/7.5 m because Jakarta traffic is mostly motorcycles.
    min_speed_frac : float
        Speed floor of the moving traffic as a fraction of the speed limit, in
        (0, 1]; default 0.5, the critical speed (see ``core_ext.config``).
    outflow_burst_veh : float
        Outflow budget a link may carry between steps, vehicles (>= 1).
    vehicle_length_m : tuple of float
        Length per vehicle class, in the order of
        :data:`twin.demand.VEHICLE_CLASSES`, metres (> 0). Used for detector
        occupancy only: storage counts vehicles, not metres.
    detector_length_m : float
        Length of a loop in metres (>= 0); a vehicle occupies a loop for
        ``(vehicle length + loop length) / speed`` seconds.
    backend : {"numba", "reference"}
        The step implementation; ``"reference"`` is the pure-Python oracle,
        slow, for tests.
    """

    dt_s: float = 1.0
    k_jam_vpm_per_lane: float = core_config.DEFAULT_K_JAM_VPM_PER_LANE
    min_speed_frac: float = core_config.DEFAULT_MIN_SPEED_FRAC
    outflow_burst_veh: float = core_config.DEFAULT_OUTFLOW_BURST_VEH
    vehicle_length_m: tuple[float, ...] = (2.0, 4.5, 12.0, 10.0)
    detector_length_m: float = 2.0
    backend: str = "numba"

    def __post_init__(self) -> None:
        rules: dict[str, tuple[Callable[[float], bool], str]] = {
            "dt_s": (lambda v: v > 0, "> 0"),
            "k_jam_vpm_per_lane": (lambda v: v > 0, "> 0"),
            "min_speed_frac": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "outflow_burst_veh": (lambda v: v >= 1, ">= 1"),
            "detector_length_m": (lambda v: v >= 0, ">= 0"),
        }
        for name, (ok, rule) in rules.items():
            _check_number(f"EngineConfig.{name}", getattr(self, name), ok, rule)
        lengths = tuple(self.vehicle_length_m)
        if len(lengths) != len(VEHICLE_CLASSES):
            raise ValueError(
                f"EngineConfig.vehicle_length_m needs one length per vehicle class "
                f"{VEHICLE_CLASSES}, got {len(lengths)}"
            )
        for cls, length in zip(VEHICLE_CLASSES, lengths, strict=True):
            _check_number(f"EngineConfig.vehicle_length_m[{cls!r}]", length, lambda v: v > 0,
                          "> 0")
        object.__setattr__(self, "vehicle_length_m", tuple(float(x) for x in lengths))
        if self.backend not in BACKENDS:
            raise ValueError(f"EngineConfig.backend must be one of {sorted(BACKENDS)}, "
                             f"got {self.backend!r}")

    def link_model_params(self) -> LinkModelParams:
        """The kernel's scalar parameters."""
        return LinkModelParams(
            k_jam_vpm_per_lane=float(self.k_jam_vpm_per_lane),
            min_speed_frac=float(self.min_speed_frac),
            outflow_burst_veh=float(self.outflow_burst_veh),
        )


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
    lane : tuple of (int or None), as given when placed (metadata: this engine
        counts every lane of the link)
    count : int64 (n_detectors,), vehicles that passed
    speed_sum_mps : float64 (n_detectors,), sum of their speeds, m/s
    occupancy_s : float64 (n_detectors,), vehicle-seconds over the loop (all lanes)
    link_lanes : int32 (n_detectors,), lanes of each detector's link
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
        """Fraction of the interval the loop was occupied, averaged over the link's lanes."""
        if self.interval_s <= 0:
            return np.zeros_like(self.occupancy_s)
        return np.minimum(1.0, self.occupancy_s / (self.interval_s * self.link_lanes))

    def __len__(self) -> int:
        return len(self.detector_ids)


@dataclass(frozen=True, eq=False)
class SimulationState:
    """A deep copy of everything :meth:`Simulation.restore` needs to resume a run.

    ``rng_state`` is the bit-generator state of :attr:`Simulation.rng`, so
    draws made after a restore repeat those made after the snapshot.
    """

    time_s: float
    model: LinkModelState
    detector_ids: tuple[str, ...]
    detector_lane: tuple[int | None, ...]
    interval_start_s: float
    incidents: dict[int, tuple[int, int, float]] = field(default_factory=dict)
    next_incident_id: int = 0
    rng_state: Mapping[str, Any] = field(default_factory=dict)


def _read_only(arr: np.ndarray) -> np.ndarray:
    view = arr.view()
    view.flags.writeable = False
    return view


class Simulation:
    """A traffic simulation of ``trips`` on ``network``.

    Parameters
    ----------
    network : Network
    trips : Trips
        Vehicle ``i`` of the simulation is trip ``i``.
    seed : int
        Seeds :attr:`rng`. The link model is deterministic and draws nothing;
        the seed is kept for the engines and processes that will. The state
        of :attr:`rng` is part of :meth:`snapshot`.
    config : EngineConfig, optional

    Raises
    ------
    ValueError
        When an explicit route is not a connected sequence of links of the
        network, or an index is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from twin.importers.grid import grid_network
    >>> from twin.demand import random_trips
    >>> net = grid_network(3, 3)
    >>> trips = random_trips(net, n_trips=20, duration_s=60, rng=np.random.default_rng(1))
    >>> sim = Simulation(net, trips, seed=1)
    >>> sim.run(600.0)
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
        self._params = self.config.link_model_params()
        self._advance = BACKENDS[self.config.backend]
        offsets, links, unroutable = _build_routes(network, trips)
        self.unroutable: tuple[str, ...] = tuple(trips.trip_ids[i] for i in unroutable)
        """Ids of the trips without a route; they are never inserted."""
        lengths = np.asarray(self.config.vehicle_length_m, dtype=np.float64)
        eff = lengths[np.asarray(trips.vehicle_class, dtype=np.int64)] \
            + self.config.detector_length_m
        self._state = link_model.new_state(
            link_length_m=network.link_length_m,
            link_lanes=network.link_lanes,
            link_speed_limit_mps=network.link_speed_limit_mps,
            link_capacity_vph=network.link_capacity_vph,
            route_offsets=offsets,
            route_links=links,
            depart_s=trips.depart_s,
            eff_length_m=eff,
            params=self._params,
        )
        self._time_s = 0.0
        self._detector_ids: list[str] = []
        self._detector_lane: list[int | None] = []
        self._detector_index: dict[str, int] = {}
        self._interval_start_s = 0.0
        self._incidents: dict[int, tuple[int, int, float]] = {}
        self._next_incident_id = 0

    # ------------------------------------------------------------------ time
    # The state is checked once, when it is built or restored; add_detector and
    # the incidents keep its columns' dtypes and lengths, so the steps skip the
    # per-call check_state (tens of microseconds, as long as a
    # whole step of a thousand vehicles).
    @property
    def time_s(self) -> float:
        """Simulation time in seconds since the start."""
        return self._time_s

    def step(self, dt_s: float | None = None) -> None:
        """Advance one step of ``dt_s`` seconds (default ``config.dt_s``)."""
        dt = self.config.dt_s if dt_s is None else float(dt_s)
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt_s must be a finite number > 0, got {dt_s!r}")
        self._time_s = self._advance(self._state, self._params, self._time_s, dt, 1, check=False)

    def run(self, until_s: float) -> None:
        """Advance in steps of ``config.dt_s`` to ``until_s`` seconds.

        The last step is shortened to land on ``until_s`` exactly.

        Raises
        ------
        ValueError
            When ``until_s`` lies before the current time.
        """
        until = float(until_s)
        if not math.isfinite(until) or until < self._time_s - _TIME_EPS_S:
            raise ValueError(f"until_s={until_s!r} is before the current time {self._time_s} s")
        dt = self.config.dt_s
        n = int(math.floor((until - self._time_s) / dt + _TIME_EPS_S))
        if n > 0:
            self._time_s = self._advance(self._state, self._params, self._time_s, dt, n,
                                         check=False)
        rest = until - self._time_s
        if rest > _TIME_EPS_S:
            self._time_s = self._advance(self._state, self._params, self._time_s, rest, 1,
                                         check=False)
        if abs(self._time_s - until) <= 1e-6:
            self._time_s = until

    # ----------------------------------------------------------- state views
    @property
    def link_speed_mps(self) -> FloatArray:
        """Mean speed of the vehicles on each link, m/s ((n_links,), a new array).

        Vehicles queued at the link end count with speed 0, the moving ones
        with the link's moving speed; an empty link reports the speed an
        entering vehicle would drive (the limit times any incident factor).
        """
        s = self._state
        moving = (s.link_count - s.link_queue).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = moving * s.link_speed_mps / s.link_count
        return np.where(s.link_count > 0, mean, s.link_speed_mps)

    @property
    def link_moving_speed_mps(self) -> FloatArray:
        """Speed of the vehicles moving on each link (upstream of its queue), m/s (read-only)."""
        return _read_only(self._state.link_speed_mps)

    @property
    def link_queue_veh(self) -> NDArray[np.int32]:
        """Vehicles waiting at each link's end to leave it (read-only, (n_links,))."""
        return _read_only(self._state.link_queue)

    @property
    def link_vehicle_count(self) -> NDArray[np.int32]:
        """Vehicles on each link (read-only, (n_links,))."""
        return _read_only(self._state.link_count)

    @property
    def link_density_vpm(self) -> FloatArray:
        """Density on each link in vehicles per metre per lane ((n_links,), a new array)."""
        s = self._state
        return s.link_count / (s.link_length_m * s.link_lanes)

    @property
    def link_storage_veh(self) -> NDArray[np.int32]:
        """Vehicles each link can hold (read-only, (n_links,))."""
        return _read_only(self._state.link_storage)

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
    def vehicle_pos_m(self) -> FloatArray:
        """Metres from the start of the vehicle's link (meaningful while active; read-only)."""
        return _read_only(self._state.veh_pos_m)

    @property
    def vehicle_speed_mps(self) -> FloatArray:
        """Speed in the last step, m/s; 0 while waiting at a link end (read-only)."""
        return _read_only(self._state.veh_speed_mps)

    @property
    def arrive_s(self) -> FloatArray:
        """Arrival time per vehicle in seconds, NaN until arrived (read-only)."""
        return _read_only(self._state.veh_arrive_s)

    def route_of(self, vehicle: int) -> NDArray[np.int32]:
        """The route of ``vehicle`` (= trip index) as link indices (empty when unroutable)."""
        s = self._state
        if not 0 <= int(vehicle) < s.n_vehicles:
            raise ValueError(f"vehicle {vehicle!r} is not a vehicle index (0..{s.n_vehicles - 1})")
        v = int(vehicle)
        return _read_only(s.route_links[s.route_offsets[v]:s.route_offsets[v + 1]])

    @property
    def travel_time_s(self) -> FloatArray:
        """Travel time per trip in seconds (arrival - departure); NaN unless arrived."""
        return self._state.veh_arrive_s - self._state.veh_depart_s

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

    def add_loop_detector(
        self, detector_id: str, link_id: str | int, pos_m: float, lane: int | None = None
    ) -> int:
        """Place a loop detector; return its index in :class:`DetectorCounts`.

        Parameters
        ----------
        detector_id : str, unique
        link_id : str or int, a link id or link index
        pos_m : float, metres from the link start, in ``(0, length]``
        lane : int or None
            Kept as metadata: this engine has no lanes, so the detector counts
            the whole cross-section whatever ``lane`` says.

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
            n_lanes = int(self.network.link_lanes[link])
            if isinstance(lane, bool) or not isinstance(lane, int | np.integer) \
                    or not 0 <= int(lane) < n_lanes:
                raise ValueError(f"detector {detector_id!r}: lane {lane!r} does not exist on "
                                 f"link {self.network.link_ids[link]!r} ({n_lanes} lanes)")
            lane = int(lane)
        try:
            index = link_model.add_detector(self._state, link, pos_m)
        except ValueError as exc:
            raise ValueError(f"detector {detector_id!r}: {exc}") from None
        self._detector_ids.append(detector_id)
        self._detector_lane.append(lane)
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

    def take_detector_counts(self) -> DetectorCounts:
        """The detector aggregates since the last call (or the start); then reset them."""
        s = self._state
        counts = DetectorCounts(
            detector_ids=tuple(self._detector_ids),
            link=s.det_link.copy(),
            pos_m=s.det_pos_m.copy(),
            lane=tuple(self._detector_lane),
            count=s.det_count.copy(),
            speed_sum_mps=s.det_speed_sum.copy(),
            occupancy_s=s.det_occ_s.copy(),
            link_lanes=s.link_lanes[s.det_link].astype(np.int32),
            interval_start_s=self._interval_start_s,
            interval_end_s=self._time_s,
        )
        link_model.reset_detector_counts(s)
        self._interval_start_s = self._time_s
        return counts

    # ------------------------------------------------------------- incidents
    def open_incident(
        self, link: str | int, lanes_blocked: int, *, speed_factor: float = 1.0
    ) -> int:
        """Block ``lanes_blocked`` lanes of ``link``; return the incident's id.

        The link's capacity is scaled by ``remaining lanes / lanes`` (0 when
        every lane is blocked: nothing leaves the link) and its speed by
        ``speed_factor`` in (0, 1]. Several incidents on one link add their
        blocked lanes and take the lowest speed factor.

        Raises
        ------
        ValueError
            When the link is unknown, ``lanes_blocked`` is not in
            ``1..lanes``, or ``speed_factor`` is out of range.
        """
        index = self.resolve_link(link)
        lanes = int(self.network.link_lanes[index])
        if isinstance(lanes_blocked, bool) or not isinstance(lanes_blocked, int | np.integer) \
                or not 1 <= int(lanes_blocked) <= lanes:
            raise ValueError(f"lanes_blocked must be an integer in 1..{lanes} for link "
                             f"{self.network.link_ids[index]!r}, got {lanes_blocked!r}")
        _check_number("speed_factor", speed_factor, lambda v: 0 < v <= 1, "in (0, 1]")
        incident_id = self._next_incident_id
        self._next_incident_id += 1
        self._incidents[incident_id] = (index, int(lanes_blocked), float(speed_factor))
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
            index, _, _ = self._incidents.pop(incident_id)
        except KeyError:
            raise KeyError(f"no open incident with id {incident_id!r}") from None
        self._apply_incidents(index)

    @property
    def open_incidents(self) -> dict[int, tuple[int, int, float]]:
        """Open incidents: id -> (link index, lanes blocked, speed factor)."""
        return dict(self._incidents)

    def _apply_incidents(self, link: int) -> None:
        lanes = int(self.network.link_lanes[link])
        on_link = [(b, f) for (lk, b, f) in self._incidents.values() if lk == link]
        blocked = min(lanes, sum(b for b, _ in on_link))
        self._state.link_cap_factor[link] = (lanes - blocked) / lanes
        self._state.link_speed_factor[link] = min((f for _, f in on_link), default=1.0)
        link_model.refresh_link_speeds(self._state, self._params)

    # -------------------------------------------------------------- snapshot
    def snapshot(self) -> SimulationState:
        """A deep copy of the whole dynamic state and the time."""
        return SimulationState(
            time_s=self._time_s,
            model=self._state.copy(),
            detector_ids=tuple(self._detector_ids),
            detector_lane=tuple(self._detector_lane),
            interval_start_s=self._interval_start_s,
            incidents=dict(self._incidents),
            next_incident_id=self._next_incident_id,
            rng_state=copy.deepcopy(self.rng.bit_generator.state),
        )

    def restore(self, state: SimulationState) -> None:
        """Return to a :meth:`snapshot` (of this simulation or one built the same way).

        The snapshot itself is not modified and can be restored again.

        Raises
        ------
        ValueError
            When the snapshot has a different number of links or vehicles, or
            its columns are malformed.
        """
        m = state.model
        if m.n_links != self._state.n_links or m.n_vehicles != self._state.n_vehicles:
            raise ValueError(
                f"snapshot has {m.n_links} links and {m.n_vehicles} vehicles; this simulation "
                f"has {self._state.n_links} and {self._state.n_vehicles}"
            )
        link_model.check_state(m)
        if len(state.detector_ids) != m.n_detectors:
            raise ValueError(f"snapshot names {len(state.detector_ids)} detectors but holds "
                             f"{m.n_detectors}")
        self._state.load(m)
        self._time_s = state.time_s
        self._detector_ids = list(state.detector_ids)
        self._detector_lane = list(state.detector_lane)
        self._detector_index = {d: i for i, d in enumerate(self._detector_ids)}
        self._interval_start_s = state.interval_start_s
        self._incidents = dict(state.incidents)
        self._next_incident_id = state.next_incident_id
        if state.rng_state:
            self.rng.bit_generator.state = copy.deepcopy(state.rng_state)

    # --------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """Figures of the run so far (JSON-ready).

        Keys: ``time_s``, ``vehicle_steps`` (vehicle updates), ``trips_total``,
        ``trips_completed``, ``trips_waiting``, ``trips_active``,
        ``trips_unroutable``, ``mean_travel_time_s`` (None before the first
        arrival).
        """
        tt = self.travel_time_s
        done = np.isfinite(tt)
        return {
            "time_s": float(self._time_s),
            "vehicle_steps": self._state.vehicle_steps,
            "trips_total": self.n_vehicles,
            "trips_completed": int(done.sum()),
            "trips_waiting": self.n_waiting,
            "trips_active": self.n_active,
            "trips_unroutable": len(self.unroutable),
            "mean_travel_time_s": float(tt[done].mean()) if done.any() else None,
        }

    def __repr__(self) -> str:
        return (f"<Simulation t={self._time_s:.1f}s {self.n_vehicles} vehicles: "
                f"{self.n_waiting} waiting, {self.n_active} active, {self.n_arrived} arrived>")


def _build_routes(
    network: Network, trips: Trips
) -> tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int64]]:
    """Every trip's route as CSR arrays, plus the indices of unroutable trips.

    Explicit routes are checked for connectivity; the others get the shortest
    path on free-flow time from one Dijkstra tree per distinct origin.
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
        # consecutive links of one route must meet at a node
        trip_of = np.repeat(np.arange(n), np.diff(t_off))
        same_trip = trip_of[:-1] == trip_of[1:]
        joined = network.link_to[t_links[:-1]] == network.link_from[t_links[1:]]
        bad = np.flatnonzero(same_trip & ~joined)
        if bad.size:
            trip = int(np.searchsorted(t_off, bad[0], side="right") - 1)
            a, b = t_links[bad[0]], t_links[bad[0] + 1]
            raise ValueError(f"trip {trips.trip_ids[trip]!r}: route link "
                             f"{network.link_ids[a]!r} does not lead to "
                             f"{network.link_ids[b]!r}")
    origin = np.asarray(trips.origin_node, dtype=np.int64)
    dest = np.asarray(trips.destination_node, dtype=np.int64)
    need = np.flatnonzero(~has_route)
    for name, col in (("origin_node", origin), ("destination_node", dest)):
        bad = need[(col[need] < 0) | (col[need] >= network.n_nodes)]
        if bad.size:
            raise ValueError(f"trip {trips.trip_ids[bad[0]]!r}: {name} {col[bad[0]]} is not "
                             f"a node (0..{network.n_nodes - 1})")

    routes: list[NDArray[np.int32]] = [t_links[t_off[i]:t_off[i + 1]] for i in range(n)]
    unroutable: list[int] = []
    if need.size:
        cost = np.ascontiguousarray(network.free_flow_time_s, dtype=np.float64)
        out_offsets = np.ascontiguousarray(network.out_offsets, dtype=np.int64)
        out_links = np.ascontiguousarray(network.out_links, dtype=np.int32)
        link_to = np.ascontiguousarray(network.link_to, dtype=np.int32)
        link_from = np.ascontiguousarray(network.link_from, dtype=np.int32)
        check_graph(out_offsets, out_links, link_to, cost)
        order = need[np.argsort(origin[need], kind="stable")]
        starts = np.flatnonzero(np.diff(origin[order], prepend=-1))
        ends = np.append(starts[1:], order.shape[0])
        for a, b in zip(starts, ends, strict=True):
            group = order[a:b]
            src = int(origin[group[0]])
            _dist, pred = shortest_path_tree(out_offsets, out_links, link_to, cost, src,
                                             check=False)
            p_off, p_links, reachable = paths_from_tree(
                pred, link_from, dest[group].astype(np.int32), src)
            for j, trip in enumerate(group):
                path = p_links[p_off[j]:p_off[j + 1]]
                routes[trip] = path
                if not reachable[j] or path.size == 0:
                    unroutable.append(int(trip))
    lengths = np.fromiter((r.shape[0] for r in routes), dtype=np.int64, count=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    links = np.concatenate(routes).astype(np.int32) if n else np.zeros(0, np.int32)
    return offsets, links, np.array(sorted(unroutable), dtype=np.int64)
