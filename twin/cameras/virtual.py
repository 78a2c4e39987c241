"""Virtual cameras driven by the traffic engine, publishing the Observations real ones send.

:class:`VirtualCameras` places a scenario's ``[[cameras]]`` in a
:class:`~twin.simulation.Simulation` and turns what the engine does into
Observations on the bus, with the payload fields ETLE's rules read
(:mod:`twin.modules.enforcement.rules`), so a module cannot tell them from devices:

``anpr``
    A ``plate_read`` for every vehicle whose front passes ``pos_m`` in a watched
    lane: ``plate`` (as read, see :mod:`.plate_reading`), ``confidence``,
    ``vehicle_class``, ``image_sha256``, ``lane``, ``speed_mps`` (the engine's speed at
    the crossing, interpolated within the step, cut to whole mm/s in the driver's
    favour, as meters round), ``heading_deg`` (the link's bearing).
``speed``
    The same, plus ``speed_limit_mps`` (the posted limit: ``speed_limit_kmh``, else
    the link's). A speed camera with ``section_exit`` is the entry gantry of an
    average-speed section: the exit camera's read of the same plate *as read*
    (unreadable plates never pair; a misread may pair with someone else, as in the
    field) carries ``section_id``, ``section_entry_event_id``, ``section_length_m``,
    ``section_travel_s`` and ``section_avg_speed_mps`` (length over travel time).
``red_light``
    A ``plate_read`` for every vehicle that crosses the stop line at the end of
    ``link``, that is, moves onto the next link (the engine's junctions have no
    extent). It carries ``signal_id`` (the program), ``signal_index`` (its
    connection's), ``signal_state`` (the program's state string the engine showed in
    that step), ``signal_aspect`` (the engine's code for the vehicle's connection:
    ``red``, ``amber``, ``green``, ``green_yield``) and ``red_elapsed_s`` (seconds since
    that signal turned red; None unless red). The camera also publishes the
    program's ``signal_state`` observations at each phase change, as its
    controller would. The crossing is found by loops a micrometre into each link the stop
    line leads to, keeping the vehicles whose route came from ``link``; the engine
    records the signal of the connection crossed, the same code its red-light-run
    count uses.
``cctv``
    ``incident_report`` alerts from :mod:`.cctv` (stopped vehicle, congestion; no
    wrong way, which the engine never produces).

Emergency vehicles: the read of a vehicle on an emergency call
(:meth:`~twin.simulation.Simulation.set_emergency`: lights and siren on, as the
camera's image shows them) carries ``emergency`` True, a key absent from every other
read. The camera still reads it as any vehicle, at the speed and on the signal it passed
(it may cross red at a crawl, or above the limit); whether that is a violation is the
enforcement rules' matter (UU 22/2009 art. 134-135 exempt it). The flag is the
engine's at the sample that publishes the read, which follows the crossing within the
stretch of steps; the dispatch module clears it only when a drive is cut off. A vehicle
added to the simulation after the fleet (a dispatch unit) has a plate of its own,
outside the fleet's registry (:meth:`~twin.vehicles.Fleet.service_plates`).

Event ids are ``{event_scope}/{camera_id}:{n}`` (``n`` counts the camera's
observations; ``{event_scope}/{program_id}:{n}`` for signal states), so two runs are
two worlds. Reads are published when :meth:`VirtualCameras.sample` is called (after
each stretch of steps), in time order. This object owns the simulation's crossing
buffer: it empties it at every sample.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.bus import Bus
from twin.demand import VEHICLE_CLASSES
from twin.network import Network
from twin.observations import Location, Observation, ObservationKind
from twin.scenario import CameraSpec, PlateReadSpec
from twin.sensors import point_along_link
from twin.vehicles.fleet import Fleet

from .cctv import CctvState, look
from .placement import bearing_deg, camera_pos_m, camera_problems, section_length_m
from .plate_reading import read_plate
from .signal_watch import SignalWatch

if TYPE_CHECKING:
    from twin.simulation import Crossings, Simulation

__all__ = ["RED_LIGHT_LOOP_M", "VirtualCameras"]

RED_LIGHT_LOOP_M = 1e-6
"""How far into each next link a red-light camera's loops lie, metres (a micrometre: a vehicle
that crosses the stop line is counted in the step it crosses)."""

_EPS_S = 1e-9
_SIGNAL_ASPECT = {0: "red", 1: "amber", 2: "green_yield", 3: "green", 4: "none", -1: "none"}


@dataclass
class _Camera:
    spec: CameraSpec
    link: int
    pos_m: float
    location: Location
    heading_deg: float
    limit_mps: float
    rng: np.random.Generator
    seq: int = 0
    # red light: program, and (next link, lane) -> (approach lanes, signal index)
    program: int = -1
    downstream: dict[tuple[int, int], tuple[tuple[int, ...], int]] = field(default_factory=dict)
    section: _Section | None = None
    exit_of: _Section | None = None
    cctv: CctvState | None = None


@dataclass
class _Section:
    section_id: str
    length_m: float
    entries: dict[str, tuple[float, str]] = field(default_factory=dict)  # plate -> (t, event)


class VirtualCameras:
    """A scenario's cameras in a simulation, publishing Observations on the bus.

    Parameters
    ----------
    sim : Simulation
        Loops are added to it for the cameras that see vehicles pass.
    network : Network
        The simulation's network.
    bus : Bus
    clock_start : datetime
        Timezone-aware wall time of simulation time 0.
    cameras : sequence of CameraSpec
        As in a scenario's ``[[cameras]]``.
    fleet : Fleet
        Plates of the simulation's vehicles (one per vehicle index).
    plate_reads : PlateReadSpec, optional
        Shares of misread, unreadable and low-confidence reads.
    seed : int
        Seeds each camera's reading errors (with its id).
    event_scope : str
        Prefix of every ``event_id`` (a run id); empty for none.
    cctv_period_s : float
        How often the CCTV cameras look, seconds (> 0).
    max_section_travel_s : float
        An entry read older than this is forgotten unmatched.

    Raises
    ------
    ValueError
        When a camera does not fit the network (each problem named, as
        :func:`~twin.cameras.placement.camera_problems` words it), or the fleet is not
        the simulation's.
    """

    def __init__(
        self,
        sim: Simulation,
        network: Network,
        bus: Bus,
        clock_start: datetime,
        cameras: Sequence[CameraSpec],
        *,
        fleet: Fleet,
        plate_reads: PlateReadSpec | None = None,
        seed: int = 0,
        event_scope: str = "",
        cctv_period_s: float = 5.0,
        max_section_travel_s: float = 3600.0,
    ) -> None:
        if not isinstance(clock_start, datetime) or clock_start.tzinfo is None:
            raise ValueError(f"clock_start must be a timezone-aware datetime, got {clock_start!r}")
        if not (math.isfinite(cctv_period_s) and cctv_period_s > 0):
            raise ValueError(f"cctv_period_s must be a number > 0, got {cctv_period_s!r}")
        problems = camera_problems(cameras, network)
        ids = [c.id for c in cameras]
        if len(set(ids)) != len(ids):
            problems.append(f"cameras: duplicate camera id among {ids}")
        if problems:
            raise ValueError("the cameras do not fit the network:\n" +
                             "\n".join(f"  {p}" for p in problems))
        if fleet.n_vehicles != sim.n_vehicles:
            raise ValueError(f"the fleet has {fleet.n_vehicles} vehicles, the simulation "
                             f"{sim.n_vehicles}")
        self.sim = sim
        self.network = network
        self.bus = bus
        self.clock_start = clock_start
        self.fleet = fleet
        self.plate_reads = plate_reads if plate_reads is not None else PlateReadSpec()
        self.event_scope = event_scope
        self.cctv_period_s = float(cctv_period_s)
        self.max_section_travel_s = float(max_section_travel_s)
        self.cameras: list[_Camera] = [self._place(spec, seed) for spec in cameras]
        self._by_id = {c.spec.id: c for c in self.cameras}
        self._loop_cameras: dict[int, list[_Camera]] = {}
        self._red_loops: dict[tuple[int, int], int] = {}
        for cam in self.cameras:
            self._add_loops(cam)
        self._loops = np.array(sorted(self._loop_cameras), dtype=np.int64)
        self._loop_names = {d: sim.detector_ids[d] for d in self._loop_cameras}
        self._is_loop = np.zeros(int(self._loops.max()) + 1 if self._loops.size else 1, bool)
        self._is_loop[self._loops] = True
        self._red_key = {d: key for key, d in self._red_loops.items()}
        for cam in self.cameras:
            if cam.spec.section_exit is not None:
                other = self._by_id[cam.spec.section_exit]
                length = cam.spec.section_length_m or section_length_m(
                    network, (cam.link, cam.pos_m), (other.link, other.pos_m))
                assert length is not None  # checked by camera_problems
                cam.section = other.exit_of = _Section(f"{cam.spec.id}>{other.spec.id}", length)
        self.signals = SignalWatch(sim.signal_programs,
                                   [c.program for c in self.cameras if c.program >= 0])
        self._signal_seq = {p: 0 for p in self.signals.programs}
        self._cctv = [c for c in self.cameras if c.cctv is not None]
        self._class_length_m = np.array([p.length_m for p in sim.config.class_params])
        self._next_look_s = self.cctv_period_s if self._cctv else math.inf
        sim.take_crossings()  # what happened before the cameras stood there is not theirs
        self.published = 0
        self.read_outcomes: dict[str, int] = {}

    # ------------------------------------------------------------ placing
    def _place(self, spec: CameraSpec, seed: int) -> _Camera:
        net = self.network
        link = net.link_index[spec.link]
        pos = camera_pos_m(spec, net)
        lon, lat = point_along_link(net, link, pos)
        lane = spec.lanes[0] if spec.lanes is not None and len(spec.lanes) == 1 else None
        limit = spec.speed_limit_kmh / 3.6 if spec.speed_limit_kmh is not None \
            else float(net.link_speed_limit_mps[link])
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(spec.id.encode())])
        cam = _Camera(spec, link, pos, Location(lon, lat, spec.link, pos, lane),
                      bearing_deg(net, link, pos), limit, rng)
        if spec.type == "cctv":
            cam.cctv = CctvState(link, spec.stopped_after_s, spec.congestion_speed_share,
                                 spec.congestion_after_s, float(net.link_speed_limit_mps[link]),
                                 float(net.link_length_m[link]))
        return cam

    def _add_loops(self, cam: _Camera) -> None:
        sim, net, spec = self.sim, self.network, cam.spec
        if spec.type in ("anpr", "speed"):
            lanes: list[int | None] = list(spec.lanes) if spec.lanes is not None else [None]
            for k in lanes:
                name = f"camera:{spec.id}" + ("" if k is None else f":{k}")
                d = sim.add_loop_detector(name, cam.link, cam.pos_m, k)
                self._loop_cameras.setdefault(d, []).append(cam)
        elif spec.type == "red_light":
            conns = np.flatnonzero(net.conn_from_link == cam.link)
            cam.program = int(net.conn_program[conns[0]])
            wanted = set(spec.lanes) if spec.lanes is not None else None
            for c in conns.tolist():
                from_lane = int(net.conn_from_lane[c])
                if wanted is not None and from_lane not in wanted:
                    continue
                key = (int(net.conn_to_link[c]), int(net.conn_to_lane[c]))
                lanes_in, index = cam.downstream.get(key, ((), int(net.conn_signal_index[c])))
                cam.downstream[key] = (lanes_in + (from_lane,), index)
                if key not in self._red_loops:
                    to_link, to_lane = key
                    pos = min(RED_LIGHT_LOOP_M, float(net.link_length_m[to_link]))
                    self._red_loops[key] = sim.add_loop_detector(
                        f"camera-stopline:{net.link_ids[to_link]}:{to_lane}", to_link, pos,
                        to_lane)
                d = self._red_loops[key]
                if cam not in self._loop_cameras.setdefault(d, []):
                    self._loop_cameras[d].append(cam)

    # ----------------------------------------------------------- sampling
    @property
    def next_sample_s(self) -> float:
        """Simulation time of the next CCTV look (``inf`` without CCTV cameras); plate
        reads and signal states are published at every :meth:`sample` whenever it comes."""
        return self._next_look_s

    def sample(self, time_s: float | None = None) -> list[Observation]:
        """Publish what the cameras saw since the last sample, in time order.

        Parameters
        ----------
        time_s : float, optional
            The current simulation time (default ``sim.time_s``).

        Returns
        -------
        list of Observation, the ones published.

        Raises
        ------
        RuntimeError
            When the simulation was restored to a snapshot taken before the cameras'
            loops were placed.
        """
        t = self.sim.time_s if time_s is None else float(time_s)
        ids = self.sim.detector_ids
        if any(d >= len(ids) or ids[d] != name for d, name in self._loop_names.items()):
            raise RuntimeError("the simulation no longer has the cameras' loops (restored to "
                               "a snapshot taken before the cameras were placed?)")
        out: list[tuple[float, Observation]] = []
        self.signals.refresh()  # a new signal timing counts from this sample's window on
        for start_s, program, state in self.signals.changes_until(t):
            out.append((start_s, self._signal_state(start_s, program, state)))
        crossings = self.sim.take_crossings()
        if len(crossings) and self._loops.size:
            out.extend(self._reads(crossings))
        if t + _EPS_S >= self._next_look_s:
            out.extend((t, o) for o in self._look(t))
            self._next_look_s = (math.floor(t / self.cctv_period_s + _EPS_S) + 1) \
                * self.cctv_period_s
        for sec in {id(c.section): c.section for c in self.cameras if c.section}.values():
            old = [p for p, (t0, _) in sec.entries.items() if t - t0 > self.max_section_travel_s]
            for p in old:
                del sec.entries[p]
        out.sort(key=lambda x: x[0])
        records = [o for _, o in out]
        if records:
            self.bus.publish_many(records)
            self.published += len(records)
        return records

    def _at(self, time_s: float) -> datetime:
        return self.clock_start + timedelta(seconds=time_s)

    def _event_id(self, name: str, n: int) -> str:
        return f"{self.event_scope}/{name}:{n}" if self.event_scope else f"{name}:{n}"

    def _signal_state(self, start_s: float, program: int, state: str) -> Observation:
        self._signal_seq[program] += 1
        pid = self.network.signals.program_ids[program]
        node = int(self.network.signals.program_node[program])
        return Observation(ObservationKind.SIGNAL_STATE, pid, self._at(start_s),
                           {"program": "fixed", "state": state},
                           Location(float(self.network.node_lon[node]),
                                    float(self.network.node_lat[node])),
                           event_id=self._event_id(pid, self._signal_seq[program]))

    def _reads(self, cr: Crossings) -> list[tuple[float, Observation]]:
        det = cr.detector
        keep = np.flatnonzero(self._is_loop[np.minimum(det, self._is_loop.shape[0] - 1)]
                              & (det < self._is_loop.shape[0]))
        if keep.size == 0:
            return []
        keep = keep[np.argsort(cr.time_s[keep], kind="stable")]
        vehicles = np.unique(cr.vehicle[keep])
        plates = dict(zip(vehicles.tolist(), self._plates(vehicles), strict=True))
        on_call = set(vehicles[self.sim.emergency[vehicles]].tolist())
        classes = self.sim.vehicle_class
        dt = self.sim.config.dt_s
        out = []
        for j in keep.tolist():
            v = int(cr.vehicle[j])
            t = float(cr.time_s[j])
            for cam in self._loop_cameras[int(cr.detector[j])]:
                extra: dict[str, Any] = {}
                lane: int | None = int(cr.lane[j])
                if cam.spec.type == "red_light":
                    key = self._red_key[int(cr.detector[j])]
                    found = self._red_light(cam, key, v, t, int(cr.signal[j]), dt)
                    if found is None:
                        continue
                    lane, extra = found
                if v in on_call:
                    extra = {**extra, "emergency": True}
                obs = self._read(cam, t, v, plates[v], VEHICLE_CLASSES[int(classes[v])],
                                 float(cr.speed_mps[j]), lane, extra)
                out.append((t, obs))
        return out

    def _plates(self, vehicles: np.ndarray) -> list[str]:
        """Plates of ``vehicles`` (sorted): the fleet's, then added vehicles' service plates."""
        k = int(np.searchsorted(vehicles, self.fleet.n_vehicles))
        return self.fleet.plates(vehicles[:k]) + self.fleet.service_plates(vehicles[k:])

    def _red_light(self, cam: _Camera, key: tuple[int, int], v: int, t: float, code: int,
                   dt: float) -> tuple[int | None, dict[str, Any]] | None:
        """The approach lane and signal fields of a stop-line crossing onto lane ``key``
        (next link, lane), or None when the vehicle did not come from the camera's link."""
        if key not in cam.downstream:
            return None
        route = self.sim.route_of(v)
        at = np.flatnonzero(route[1:] == key[0]) + 1
        if not (at.size and bool((route[at - 1] == cam.link).any())):
            return None
        lanes_in, index = cam.downstream[key]
        step_start = (math.ceil(t / dt - 1e-9) - 1) * dt
        state = self.signals.state_at(cam.program, max(step_start, 0.0))
        aspect = _SIGNAL_ASPECT.get(code, "none")
        red_since = self.signals.red_since(cam.program, index, max(step_start, 0.0))
        return (lanes_in[0] if len(lanes_in) == 1 else None), {
            "signal_id": self.network.signals.program_ids[cam.program],
            "signal_index": index, "signal_state": state, "signal_aspect": aspect,
            "red_elapsed_s": round(t - red_since, 3) if aspect == "red" and red_since is not None
            else None,
        }

    def _read(self, cam: _Camera, t: float, vehicle: int, plate: str, vehicle_class: str,
              speed_mps: float, lane: int | None, extra: dict[str, Any]) -> Observation:
        cam.seq += 1
        event_id = self._event_id(cam.spec.id, cam.seq)
        read = read_plate(plate, self.plate_reads, cam.rng)
        self.read_outcomes[read.outcome] = self.read_outcomes.get(read.outcome, 0) + 1
        payload: dict[str, Any] = {
            "plate": read.plate, "confidence": read.confidence, "vehicle_class": vehicle_class,
            "image_sha256": hashlib.sha256(f"{event_id}|{plate}".encode()).hexdigest(),
            "lane": lane, "speed_mps": math.floor(max(speed_mps, 0.0) * 1000.0) / 1000.0,
            "heading_deg": round(cam.heading_deg, 1),
        }
        if cam.spec.type == "speed":
            payload["speed_limit_mps"] = round(cam.limit_mps, 3)
        payload.update(extra)
        if read.plate is not None:
            sec = cam.exit_of
            entry = sec.entries.pop(read.plate, None) if sec is not None else None
            if sec is not None and entry is not None and t - entry[0] > 0:
                travel = t - entry[0]
                payload.update({
                    "section_id": sec.section_id, "section_entry_event_id": entry[1],
                    "section_length_m": round(sec.length_m, 3),
                    "section_travel_s": round(travel, 3),
                    "section_avg_speed_mps": round(sec.length_m / travel, 3),
                })
            if cam.section is not None:
                cam.section.entries[read.plate] = (t, event_id)
        loc = cam.location
        if lane != loc.lane:
            loc = Location(loc.lon, loc.lat, loc.link_id, loc.pos_m, lane)
        return Observation(ObservationKind.PLATE_READ, cam.spec.id, self._at(t), payload, loc,
                           event_id=event_id)

    def _look(self, t: float) -> list[Observation]:
        sim = self.sim
        pos_all, speed_all = sim.vehicle_pos_m, sim.vehicle_speed_mps
        since_all, cls_all = sim.vehicle_stopped_since_s, sim.vehicle_class
        out = []
        for cam in self._cctv:
            assert cam.cctv is not None
            on, lanes = sim.vehicles_on(cam.link)
            cls = cls_all[on]
            for alert in look(cam.cctv, t, on, lanes, pos_all[on], speed_all[on], since_all[on],
                              self._class_length_m[cls], cls, VEHICLE_CLASSES):
                cam.seq += 1
                loc = cam.location
                if alert.pos_m is not None:
                    lon, lat = point_along_link(self.network, cam.link, alert.pos_m)
                    loc = Location(lon, lat, cam.spec.link, round(alert.pos_m, 2), alert.lane)
                out.append(Observation(ObservationKind.INCIDENT_REPORT, cam.spec.id,
                                       self._at(t), alert.payload, loc,
                                       event_id=self._event_id(cam.spec.id, cam.seq)))
        return out
