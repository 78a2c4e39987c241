"""The 112 centre and its units on one SimPy clock, next to the traffic engine.

Incidents arrive (from rates per type and hour, or scripted); a road incident
blocks lanes in :class:`twin.simulation.Simulation` at once. Its calls ring after a
delay and queue for a call taker (a SimPy ``PriorityResource`` whose size follows
the shifts); a caller hangs up after a patience time. The first genuine call
classified hands the incident to dispatch, which picks a unit of each kind needed
with the configured policy on the current travel times. The tow truck (or Dishub
for a flood) reopens the lanes after its work, once every unit has arrived.

With ``units_in_traffic`` (on by default) a unit drives to the incident as a vehicle
in the engine (:mod:`.drive`) and is on scene at the engine's arrival; the
ambulance's transport leg and every return to the station stay computed: the
path's current travel time when the leg starts. Live ``unit_position`` reports
move a unit and set its status (:meth:`DispatchModel.receive`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from typing import Any

import mesa
import numpy as np
import simpy

from twin.observations import Observation, ObservationKind
from twin.simulation import Simulation

from . import incidents as inc_rules
from .config import DispatchConfig
from .drive import UnitDrives
from .incidents import Call, Incident
from .kpi import call_kpis, incident_kpis, incident_row
from .locate import place
from .policies import CoverageAware, DispatchPolicy, NearestEta, OperatorOverride
from .travel import TravelTimes
from .units import STATUSES, Unit

Proc = Generator[simpy.Event, Any, None]

PATIENT_CONTACT_S = 60.0
HANDOVER_S = 600.0
REPORT_S = 300.0
SHIFT_CHECK_S = 60.0
TRIP_STAGES = ("dispatched", "en_route", "on_scene", "transporting", "at_facility", "returning")
"""The stages of a unit's trip in order (``at_facility``: an ambulance handing over its
patient, still ``transporting``); :meth:`DispatchModel._trip` can start at any of them."""


def build_policy(config: DispatchConfig) -> DispatchPolicy:
    """The configured policy, wrapped in the operator's overrides when any are set."""
    base: DispatchPolicy = NearestEta() if config.policy == "nearest_eta" \
        else CoverageAware(config.coverage_slack_s)
    return OperatorOverride(base, config.overrides) if config.overrides else base


class DispatchModel(mesa.Model):
    """Incidents, calls, call takers and units for one run.

    Parameters
    ----------
    sim : Simulation, the traffic engine; it is advanced to the clock before every
        read or change (the caller's traffic process keeps it moving in between)
    env : simpy.Environment, ``env.now`` in seconds since the scenario start
    config : DispatchConfig
    start_hour : float, hour of day at ``env.now == 0``
    policy : DispatchPolicy, optional, overrides the configured one

    Raises
    ------
    ValueError
        When a station, hospital or scripted incident names an unknown node or link,
        or no call taker is ever on duty.
    """

    def __init__(self, sim: Simulation, env: simpy.Environment, config: DispatchConfig, *,
                 start_hour: float = 0.0, policy: DispatchPolicy | None = None) -> None:
        super().__init__(rng=config.seed)
        self.sim = sim
        self.env = env
        self.config = config
        self.start_hour = float(start_hour)
        self.draw = np.random.default_rng([config.seed, 0])
        """Incidents and calls: a stream of their own, so two fleets face the same day."""
        self.draw_units = np.random.default_rng([config.seed, 1])
        """Turnout and work times of units."""
        self.travel = TravelTimes(sim, emergency_speedup=config.emergency_speedup)
        self.policy = policy if policy is not None else build_policy(config)
        self.drives = UnitDrives(env, sim, self.travel)
        """The units' drives to incidents as engine vehicles (``units_in_traffic``)."""
        net = sim.network
        self.units: dict[str, Unit] = {}
        for st in config.stations:
            node = self._node(st.node, f"stations.{st.id}.node")
            for kind, n in st.units.items():
                for k in range(n):
                    name = f"{st.id}-{kind}-{k}"
                    self.units[name] = Unit(self, name, kind, st.id, node)
        self.station_nodes = {st.id: self._node(st.node, f"stations.{st.id}.node")
                              for st in config.stations}
        self.hospitals = [self._node(h, "hospitals") for h in config.hospitals]
        for s in config.incidents:
            if s.link not in net.link_index:
                raise ValueError(f"incidents.{s.id}.link: unknown link {s.link!r}")
        staffing = [self._staff(h / 4) for h in range(96)]
        self.capacity = max(staffing)
        if self.capacity < 1:
            raise ValueError("call_centre.shifts: no call taker is ever on duty")
        self.takers = simpy.PriorityResource(env, capacity=self.capacity)
        self._off_duty: list[simpy.resources.resource.PriorityRequest] = []
        self.incidents: dict[str, Incident] = {}
        self.calls: list[Call] = []
        self.waiting: list[Incident] = []
        """Incidents handed to dispatch with a unit kind still unassigned, in queue order."""
        self._pending: dict[str, list[str]] = {}
        self._arrived: dict[str, simpy.Event] = {}
        self._on_trip: set[str] = set()
        """Names of the units a simulated trip (:meth:`_trip`) holds."""
        self._next_incident = 0
        self.taken_ids: set[str] = set()
        """Incident ids of the interrupted run this one resumed (:mod:`.resume`), open or
        cleared there: a scripted incident of one of them does not occur again, and
        generated incidents take other ids."""
        self.resumed_from: str | None = None
        """The run whose open incidents this model resumed, if any."""
        self.refused: list[tuple[str, str]] = []
        """(event id, reason) of each reported call or incident refused by :meth:`receive`."""
        self.engine_wall_s = 0.0
        """Wall seconds spent advancing the traffic engine (the rest of a run is dispatch)."""
        self.before_dispatch: list[Callable[[Incident], None]] = []
        """Called with an incident when it is handed to dispatch, before units are chosen
        (a twin run takes the operators' overrides recorded meanwhile here)."""
        env.process(self._shifts())
        for spec in config.incidents:
            env.process(self._scripted(spec))
        for rate in config.rates:
            env.process(self._rate(rate))
        if config.calls.nuisance_per_hour > 0:
            env.process(self._nuisance())

    # ------------------------------------------------------------ helpers
    def _node(self, node_id: str, key: str) -> int:
        try:
            return int(self.sim.network.node_index[node_id])
        except KeyError:
            raise ValueError(f"{key}: unknown node {node_id!r}") from None

    def hour_of_day(self, t_s: float | None = None) -> float:
        """Hour of day (0..24) at ``t_s`` (default now)."""
        t = self.env.now if t_s is None else t_s
        return (self.start_hour + t / 3600.0) % 24.0

    def _staff(self, hour: float) -> int:
        return sum(s.count for s in self.config.call_centre.shifts
                   if s.from_hour <= hour < s.to_hour)

    def sync(self) -> None:
        """Advance the traffic engine to the clock (no-op when already there)."""
        if self.sim.time_s < self.env.now - 1e-9:
            t0 = time.perf_counter()
            self.sim.run(float(self.env.now))
            self.engine_wall_s += time.perf_counter() - t0
        self.drives.poll()

    def _exp(self, mean: float) -> float:
        return float(self.draw.exponential(mean))

    # ------------------------------------------------------------ sources
    def _shifts(self) -> Proc:
        """Hold slots of the call-taker resource for positions off duty."""
        while True:
            off = self.capacity - self._staff(self.hour_of_day())
            while len(self._off_duty) < off:
                self._off_duty.append(self.takers.request(priority=-1))
            while len(self._off_duty) > off:
                req = self._off_duty.pop()
                if req.triggered:
                    self.takers.release(req)
                else:
                    req.cancel()
            yield self.env.timeout(SHIFT_CHECK_S)

    def _scripted(self, spec: Any) -> Proc:
        yield self.env.timeout(spec.at_s)
        if spec.id in self.incidents or spec.id in self.taken_ids:
            return  # resumed from an interrupted run, or cleared there (:mod:`.resume`)
        self.start_incident(spec.type, self.sim.network.link_index[spec.link], injury=spec.injury,
                            lanes_blocked=spec.lanes_blocked, n_calls=spec.calls,
                            incident_id=spec.id)

    def _rate(self, rate: Any) -> Proc:
        per_s = rate.per_hour / 3600.0
        if per_s <= 0:
            return
        n_links = self.sim.network.n_links
        while True:
            yield self.env.timeout(self._exp(1.0 / per_s))
            if not rate.from_hour <= self.hour_of_day() < rate.to_hour:
                continue
            injury = "none"
            if rate.type == "crash":
                u = float(self.draw.random())
                injury = "serious" if u < rate.serious_share else (
                    "minor" if u < rate.serious_share + (1 - rate.serious_share) / 2 else "none")
            self.start_incident(rate.type, int(self.draw.integers(n_links)), injury=injury)

    def _nuisance(self) -> Proc:
        cfg = self.config.calls
        kinds = sorted(cfg.nuisance_shares)
        p = np.array([cfg.nuisance_shares[k] for k in kinds], dtype=float)
        p = p / p.sum()
        while True:
            yield self.env.timeout(self._exp(3600.0 / cfg.nuisance_per_hour))
            kind = kinds[int(self.draw.choice(len(kinds), p=p))]
            call = Call(id=len(self.calls), kind=kind, t_ring=float(self.env.now), priority=3,
                        patience_s=self._exp(cfg.patience_mean_s))
            self.calls.append(call)
            self.env.process(self._answer(call, None))

    # ------------------------------------------------------------ live reports
    def receive(self, obs: Observation) -> str | None:
        """Take an ``emergency_call``, ``incident_report`` or ``unit_position``
        Observation (live mode).

        The call rings now. A genuine call (``call_type`` ``normal``) about a new
        incident opens one (``incident_type``, optional ``injury``) at the reported
        link, or at the nearest link within ``max_snap_m`` of the reported position;
        a call with the ``incident_id`` of an open incident is a repeat call about it.
        ``ghost``, ``prank`` and ``info`` calls only occupy a call taker. An
        incident report (CCTV, patrol) opens an incident whose first call rings now.
        A unit position (see :meth:`_unit_position`) moves and re-states a unit.

        Returns
        -------
        str or None
            The incident id (the unit id for a unit position), or None for a nuisance
            call or a refusal; each refusal is kept in :attr:`refused` with its reason,
            so nothing vanishes silently.
        """
        p = obs.payload
        if obs.kind == ObservationKind.UNIT_POSITION:
            return self._unit_position(obs)
        if obs.kind not in (ObservationKind.EMERGENCY_CALL, ObservationKind.INCIDENT_REPORT):
            return self._refuse(obs, f"not a call or incident report: {obs.kind.value}")
        call_type = str(p.get("call_type", "normal"))
        if call_type not in ("normal", "ghost", "prank", "info"):
            return self._refuse(obs, f"unknown call_type {call_type!r}")
        if call_type != "normal":
            call = Call(id=len(self.calls), kind=call_type, t_ring=float(self.env.now),
                        priority=3, patience_s=self._exp(self.config.calls.patience_mean_s))
            self.calls.append(call)
            self.env.process(self._answer(call, None))
            return None
        known = self.incidents.get(str(p.get("incident_id", "")))
        if known is not None and known.t_clear is None:
            known.n_calls += 1
            known.calls_open += 1
            self.env.process(self._ring_later(known, 0.0))
            return known.id
        itype = str(p.get("incident_type", ""))
        injury = str(p.get("injury", "none"))
        if itype not in inc_rules.ON_SCENE_S:
            return self._refuse(obs, f"unknown incident_type {itype!r}")
        if injury not in ("none", "minor", "serious"):
            return self._refuse(obs, f"unknown injury {injury!r}")
        link, why = self._snap(obs)
        if link is None:
            return self._refuse(obs, why)
        inc = self.start_incident(itype, link, injury=injury, n_calls=0,
                                  incident_id=str(p.get("incident_id") or obs.event_id),
                                  unreported=False)
        inc.n_calls = inc.calls_open = 1
        self.env.process(self._ring_later(inc, 0.0))
        return inc.id

    def _snap(self, obs: Observation) -> tuple[int | None, str]:
        """The link ``obs`` was made on (its ``link_id``, or the nearest within
        ``max_snap_m``), or None and the reason it cannot be placed."""
        loc = obs.location
        if loc is None:
            return None, "no location"
        spot = place(self.sim.network, loc.lon, loc.lat, loc.link_id, self.config.max_snap_m)
        return spot.link, spot.reason

    def _unit_position(self, obs: Observation) -> str | None:
        """A unit's reported position and status (payload ``unit_id``, ``status``).

        The position is snapped to the network like an incident's (a known
        ``link_id``, or the nearest link within ``max_snap_m``) and kept in
        :attr:`Unit.link`; an available unit's ETA is then counted from there, not
        from its station. The status (one of :data:`units.STATUSES`) is taken as
        reported, with one exception: a unit on a simulated trip stays busy (a report
        of ``available`` moves it but does not release it; the trip's own stages set
        its status). A unit reported available while no trip holds it is offered to
        the incidents waiting for one. Unknown unit, unknown status, no location or
        a position off the roads is refused.
        """
        p = obs.payload
        unit = self.units.get(str(p.get("unit_id", "")))
        if unit is None:
            return self._refuse(obs, f"unknown unit {p.get('unit_id')!r}")
        status = str(p.get("status", ""))
        if status not in STATUSES:
            return self._refuse(obs, f"unknown unit status {status!r}")
        link, why = self._snap(obs)
        if link is None:
            return self._refuse(obs, why)
        now = float(self.env.now)
        unit.link = link
        unit.position_t_s = now
        on_trip = unit.name in self._on_trip
        if not (on_trip and status == "available"):
            unit.set_status(status, now)
        if status == "available" and not on_trip:
            self._serve_waiting()
        return unit.name

    def _refuse(self, obs: Observation, reason: str) -> str | None:
        self.refused.append((obs.event_id, reason))
        return None

    # ------------------------------------------------------------ incidents
    def start_incident(self, incident_type: str, link: int, *, injury: str = "none",
                       lanes_blocked: int = 1, n_calls: int | None = None,
                       incident_id: str | None = None, unreported: bool = True) -> Incident:
        """Open an incident now: block its lanes (road types) and schedule its calls."""
        cfg = self.config.calls
        iid = incident_id if incident_id is not None else f"inc-{self._next_incident}"
        self._next_incident += 1
        while incident_id is None and (iid in self.incidents or iid in self.taken_ids):
            iid = f"inc-{self._next_incident}"
            self._next_incident += 1
        medical_p1 = bool(self.draw.random() < 0.5)
        inc = Incident(id=iid, type=incident_type, link=int(link), t_occurred=float(self.env.now),
                       injury=injury,  # type: ignore[arg-type]
                       priority=inc_rules.priority(incident_type, injury, medical_p1),
                       needs=inc_rules.needs(incident_type, injury))
        self.sync()
        inc.area = min(self.station_nodes, key=lambda sid: (self.travel.to_link_s(
            self.travel.node_vertex(self.station_nodes[sid]), inc.link), sid))
        if inc.is_road:
            lanes = int(self.sim.network.link_lanes[inc.link])
            inc.lanes_blocked = min(lanes_blocked, lanes)
            inc.engine_incident = self.sim.open_incident(inc.link, inc.lanes_blocked,
                                                         speed_factor=0.5)
        self.incidents[iid] = inc
        self._arrived[iid] = self.env.event()
        n = int(self.draw.poisson(cfg.per_incident_mean)) if n_calls is None else n_calls
        inc.n_calls = inc.calls_open = n
        delays = sorted(self._exp(cfg.delay_mean_s) for _ in range(n))
        for d in delays:
            self.env.process(self._ring_later(inc, d))
        if n == 0 and unreported:
            self.env.process(self._unreported(inc))
        return inc

    def _ring_later(self, inc: Incident, delay_s: float) -> Proc:
        yield self.env.timeout(delay_s)
        call = Call(id=len(self.calls), kind="normal", t_ring=float(self.env.now),
                    incident_id=inc.id, priority=inc.priority,
                    patience_s=self._exp(self.config.calls.patience_mean_s))
        self.calls.append(call)
        if inc.t_ring is None:
            inc.t_ring = call.t_ring
        yield from self._answer(call, inc)

    def _unreported(self, inc: Incident) -> Proc:
        """Nobody reached the centre: drivers clear a road incident themselves."""
        if not inc.is_road:
            return
        yield self.env.timeout(self.config.calls.unreported_self_clear_s)
        self._reopen(inc)

    def _reopen(self, inc: Incident) -> None:
        if inc.engine_incident is not None:
            self.sync()
            self.sim.clear_incident(inc.engine_incident)
            inc.engine_incident = None
            inc.t_road_reopened = float(self.env.now)

    # ------------------------------------------------------------ call centre
    def _answer(self, call: Call, inc: Incident | None) -> Proc:
        env = self.env
        req = self.takers.request(priority=call.priority)
        got = yield req | env.timeout(call.patience_s)
        if req not in got:
            req.cancel()
            call.t_abandon = float(env.now)
            self._call_done(inc)
            return
        call.t_answer = float(env.now)
        if inc is not None and inc.t_answer is None:
            inc.t_answer = call.t_answer
        cfg = self.config.calls
        talk = cfg.classify_mean_s if call.kind == "normal" else cfg.nuisance_talk_mean_s
        yield env.timeout(self._exp(talk))
        call.t_classified = float(env.now)
        self.takers.release(req)
        if inc is not None:
            if inc.t_classified is None:
                inc.t_classified = call.t_classified
                env.process(self._hand_over(inc))
            else:
                call.duplicate = True
        self._call_done(inc)

    def _call_done(self, inc: Incident | None) -> None:
        if inc is None:
            return
        inc.calls_open -= 1
        if inc.calls_open == 0 and inc.t_classified is None:
            self.env.process(self._unreported(inc))

    def _hand_over(self, inc: Incident) -> Proc:
        yield self.env.timeout(self.config.call_centre.dispatch_decision_s)
        for hook in self.before_dispatch:
            hook(inc)
        self._pending[inc.id] = list(inc.needs)
        self.waiting.append(inc)
        self._serve_waiting()

    # ------------------------------------------------------------ dispatch
    def available(self, kind: str | None = None) -> list[Unit]:
        """Available units (of ``kind`` when given), in name order."""
        return [u for u in self.units.values()
                if u.status == "available" and (kind is None or u.kind == kind)]

    def origin_vertex(self, unit: Unit) -> int:
        """Search vertex a unit sets off from: its last reported link, else its station."""
        return unit.link if unit.link is not None else self.travel.node_vertex(unit.home_node)

    def eta_s(self, unit: Unit, link: int) -> float:
        """Travel seconds of an available unit from where it is to ``link`` right now."""
        self.sync()
        return self.travel.to_link_s(self.origin_vertex(unit), link)

    def _serve_waiting(self) -> None:
        """Assign units to queued incidents, P1 first, then in order of hand-over."""
        self.waiting.sort(key=lambda i: (i.priority, i.t_classified or 0.0))
        for inc in list(self.waiting):
            pending = self._pending[inc.id]
            for kind in list(pending):
                cands = self.available(kind)
                if not cands:
                    continue
                eta = {u.name: self.eta_s(u, inc.link) for u in cands}
                unit = self.policy.choose(inc, kind, cands, eta, self.available())
                if unit is None:
                    continue
                pending.remove(kind)
                self._send(unit, inc, eta[unit.name])
            if not pending:
                self.waiting.remove(inc)

    def _send(self, unit: Unit, inc: Incident, eta_s: float) -> None:
        now = float(self.env.now)
        unit.set_status("dispatched", now)
        unit.incident_id = inc.id
        inc.units[unit.kind] = unit.name
        inc.kind_times[unit.kind] = {"t_dispatch": now}
        if inc.t_dispatch is None:
            inc.t_dispatch = now
        self._on_trip.add(unit.name)
        self.env.process(self._trip(unit, inc))

    def _trip(self, unit: Unit, inc: Incident, stage: str = "dispatched") -> Proc:
        """A unit's trip for ``inc`` from ``stage`` on (one of :data:`TRIP_STAGES`; a
        resumed trip, :mod:`.resume`, starts later than ``dispatched``)."""
        env, times = self.env, inc.kind_times[unit.kind]
        k = TRIP_STAGES.index(stage)
        if k <= 0:
            turnout = self.config.targets.turnout_s.get(unit.kind, 60.0)
            yield env.timeout(turnout * float(self.draw_units.uniform(0.5, 1.2)))
            unit.set_status("en_route", float(env.now))
            times["t_enroute"] = float(env.now)
            if inc.t_enroute is None:
                inc.t_enroute = times["t_enroute"]
        if k <= 1:
            if self.config.units_in_traffic:
                self.sync()
                drive = yield from self.drives.drive(inc.id, unit.name, self.origin_vertex(unit),
                                                     inc.link)
                now = drive.depart_s + drive.travel_s  # the engine's arrival, not the poll time
            else:
                travel = self.eta_s(unit, inc.link)
                yield env.timeout(travel if math.isfinite(travel) else 3600.0)
                now = float(env.now)
            unit.link = inc.link
            unit.set_status("on_scene", now)
            times["t_onscene"] = now
            inc.arrivals[unit.kind] = now
            if inc.t_onscene is None or now < inc.t_onscene:  # engine arrivals polled together
                inc.t_onscene = now
            if len(inc.arrivals) == len(inc.needs):
                self._arrived[inc.id].succeed()
            if unit.kind == "ambulance":
                inc.t_patient_contact = now + PATIENT_CONTACT_S
        if k <= 2:
            now = times.get("t_onscene", float(env.now))
            work_s = inc_rules.ON_SCENE_S[inc.type] * float(self.draw_units.uniform(0.5, 1.5)) \
                / max(len(inc.needs), 1)
            yield env.timeout(max(now + work_s - float(env.now), 0.0))
            if unit.kind == inc_rules.clearing_kind(inc.type):
                if not self._arrived[inc.id].triggered:
                    yield self._arrived[inc.id]
                self._reopen(inc)
        origin = inc.link
        at_node: int | None = None
        if k <= 4 and unit.kind == "ambulance" and self.hospitals and (
                inc.type == "medical" or inc.injury != "none"):
            self.sync()
            legs = [(self.travel.to_node_s(origin, h), h) for h in self.hospitals]
            leg_s, at_node = min(legs)
            if k <= 3:
                unit.set_status("transporting", float(env.now))
                inc.t_transport = float(env.now)
                yield env.timeout(leg_s if math.isfinite(leg_s) else 3600.0)
                inc.t_at_facility = float(env.now)
                yield env.timeout(HANDOVER_S)
            else:
                handed = inc.t_at_facility if inc.t_at_facility is not None else float(env.now)
                yield env.timeout(max(handed + HANDOVER_S - float(env.now), 0.0))
        if k <= 4:
            unit.set_status("returning", float(env.now))
        self.sync()
        if at_node is not None:
            src = self.travel.node_vertex(at_node)
        else:
            src = unit.link if k == 5 and unit.link is not None else origin
        back = self.travel.to_node_s(src, unit.home_node)
        yield env.timeout(back if math.isfinite(back) else 3600.0)
        unit.link = None  # back at its station
        self._on_trip.discard(unit.name)
        unit.set_status("available", float(env.now))
        inc.units_done += 1
        if inc.units_done == len(inc.needs):
            inc.t_clear = float(env.now)
            inc.t_closed = inc.t_clear + REPORT_S
        self._serve_waiting()

    def override(self, incident_id: str, kind: str, unit_name: str) -> None:
        """Send ``unit_name`` for ``kind`` of ``incident_id`` when that is next decided
        and the unit is available then (the operator's choice, as ``overrides`` in the
        configuration); the policy becomes an :class:`OperatorOverride` of itself.
        The units waiting incidents can get are reconsidered at once."""
        if not isinstance(self.policy, OperatorOverride):
            self.policy = OperatorOverride(self.policy, {})
        self.policy.overrides.setdefault(incident_id, {})[kind] = unit_name
        self._serve_waiting()

    # ------------------------------------------------------------ KPIs
    def kpis(self) -> dict[str, Any]:
        """KPIs of DOMAIN.md section 2.4 so far: calls (overall and per band of the
        call-taker shifts), incidents overall, per service and per area (nearest station),
        unit utilisation, and the incidents still waiting for a unit."""
        tg = self.config.targets
        now = float(self.env.now)
        incs = list(self.incidents.values())
        services: dict[str, Any] = {}
        for kind in sorted({k for i in incs for k in i.needs}):
            rows = [incident_row(i, kind) for i in incs if kind in i.needs]
            services[kind] = incident_kpis(
                rows, call_processing_target_s=tg.call_processing_s,
                turnout_target_s=tg.turnout_s.get(kind),
                response_target_s=tg.response_s.get(kind),
                travel_target_s=tg.fire_travel_s if kind == "fire" else None)
        util: dict[str, float | None] = {}
        for kind in sorted({u.kind for u in self.units.values()}):
            us = [u for u in self.units.values() if u.kind == kind]
            util[kind] = sum(u.busy_until_now_s(now) for u in us) / (len(us) * now) \
                if now > 0 else None
        areas = {area: incident_kpis([incident_row(i) for i in incs if i.area == area],
                                     call_processing_target_s=tg.call_processing_s,
                                     turnout_target_s=None, response_target_s=None)
                 for area in sorted({i.area for i in incs})}
        cuts = sorted({0.0, 24.0} | {h for sh in self.config.call_centre.shifts
                                      for h in (sh.from_hour, sh.to_hour)})
        shifts = {}
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
            band = [c for c in self.calls if lo <= self.hour_of_day(c.t_ring) < hi]
            shifts[f"{lo:05.2f}-{hi:05.2f}h"] = call_kpis(band, tg.answer_s)
        return {
            "horizon_s": now,
            "areas": areas,
            "shifts": shifts,
            "calls": call_kpis(self.calls, tg.answer_s),
            "overall": incident_kpis([incident_row(i) for i in incs],
                                     call_processing_target_s=tg.call_processing_s,
                                     turnout_target_s=None, response_target_s=None),
            "services": services,
            "utilisation": util,
            "waiting": [i.id for i in self.waiting],
        }
