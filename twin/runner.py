"""Run a scenario: network, demand, engine, sensors, bus and store on one clock.

:class:`TwinRun` composes the parts of DESIGN.md's one flow of data. The
traffic step is one periodic SimPy process on the :class:`~twin.clock.Clock`;
incidents are processes too, and so are the scenario's conditions, closures and
odd-even windows (:mod:`twin.timed`). Virtual sensors (loop detectors, and the cameras of
:mod:`twin.cameras` reading the plates of :class:`twin.vehicles.Fleet`) publish
Observations to the bus; the store drains its bus subscription in batches, so
every Observation the sensors publish is stored once (deduplicated by ``event_id``).
From its start to its finish the run holds its run lock in the store
(:mod:`twin.store.run_lock`), which tells it apart from a run whose process died.
"""

from __future__ import annotations

import logging
import math
import resource
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.alert_log import RecentAlerts
from twin.assemble import build_network, build_trips, run_seeds
from twin.bus import Bus
from twin.cameras import VirtualCameras
from twin.clock import Clock, ProcessGenerator
from twin.live import LiveTwin, TwinView
from twin.map_marks import IncidentMark, MarkSource, SiteMark, UnitMark, link_midpoint
from twin.module_host import LiveModule, RunContext, build_live_modules
from twin.observations import Location, Observation, ObservationKind
from twin.scenario import IncidentSpec, Scenario, check_against_network
from twin.sensors import LoopDetectorSensors, Site, auto_detector_sites
from twin.simulation import Simulation
from twin.store import Store, open_store
from twin.timed import TimedActions
from twin.vehicles import Fleet

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

_FLUSH_EVERY_S = 60.0
"""The store takes what the sensors published at least this often (simulated seconds)."""
_FLUSH_AT = 10_000
"""... or as soon as this many observations wait."""


@dataclass
class RunResult:
    """What a finished (or stopped) run reports."""

    run_id: str
    scenario_name: str
    summary: dict[str, Any] = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


class TwinRun:
    """One run of a scenario.

    Parameters
    ----------
    scenario : Scenario
    realtime : bool
        Pace the clock to the wall (for watching on the dashboard).
    speedup : float
        With ``realtime``, simulated seconds per wall second.
    store_url : str or None
        Overrides the scenario's ``[store] url``.
    view_every_s : float or None
        Publish a :class:`TwinView` for live readers every this many simulated
        seconds. Default: every second when ``realtime``; otherwise only after
        each chunk of :meth:`run`, since nobody watches a batch run tick by tick.
    modules : names of the scenario's ``[modules.*]`` sections to run inside the run
        (:mod:`twin.module_host`); default every one that has a live host, ``()`` none.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        realtime: bool = False,
        speedup: float = 10.0,
        store_url: str | None = None,
        view_every_s: float | None = None,
        modules: Iterable[str] | None = None,
    ) -> None:
        meta = scenario.scenario
        self.scenario = scenario
        self.network = build_network(scenario)
        check_against_network(scenario, self.network)
        demand_rng, engine_seed = run_seeds(meta.seed)
        self.trips = build_trips(scenario, self.network, demand_rng)
        self.sim = Simulation(self.network, self.trips, seed=engine_seed)
        self.sim.load_kernels()  # so sim_wall_s times the simulation, not the JIT cache
        self.bus = Bus()
        self.clock = Clock(meta.start, realtime=realtime, speedup=speedup)
        sites: list[Site] = []
        for d in scenario.sensors.loop_detectors:
            link = self.network.link_index[d.link]
            pos = d.pos_m if d.pos_m is not None else float(self.network.link_length_m[link]) / 2
            if d.per_lane:
                sites += [(f"{d.id}-lane{k}", d.link, pos, k)
                          for k in range(int(self.network.link_lanes[link]))]
            else:
                sites.append((d.id, d.link, pos, d.lane))
        wanted = scenario.sensors.auto_loop_detectors
        if wanted:
            taken = {site[1] for site in sites}
            extra = auto_detector_sites(self.network, max_count=wanted + len(taken))
            sites += [s for s in extra if s[1] not in taken][:wanted]
        self.run_id = f"{meta.name}-{meta.seed}-{uuid.uuid4().hex[:8]}"
        self.sensors = LoopDetectorSensors(
            self.sim, self.network, self.bus, clock_start=meta.start,
            interval_s=scenario.sensors.interval_s, sites=sites, event_scope=self.run_id,
        )
        self.fleet = Fleet(
            self.trips.vehicle_class, meta.seed, regions=scenario.vehicles.regions,
            today=meta.start.date(), expired_sim_share=scenario.vehicles.expired_sim_share,
            other_driver_share=scenario.vehicles.other_driver_share,
        )
        self.cameras = VirtualCameras(
            self.sim, self.network, self.bus, meta.start, scenario.cameras, fleet=self.fleet,
            plate_reads=scenario.sensors.plate_reads, seed=meta.seed, event_scope=self.run_id,
            cctv_period_s=scenario.sensors.cctv_period_s,
        )
        self.timed = TimedActions(scenario, self.sim, self.fleet, self.clock)
        self.store: Store = open_store(store_url or scenario.store.url)
        # what the twin's own sensors report (a scenario's incident is the truth, not a report)
        self.alerts = RecentAlerts(self.bus, accept=lambda o: not o.source_id.startswith("scenario/"),
                                   place=self._link_place)
        self._store_feed = self.bus.subscribe("#", name="store")
        self.sites: tuple[SiteMark, ...] = self._sites()
        """The run's cameras and loop detectors, as the live map shows them."""
        self._open_incidents: dict[str, IncidentMark] = {}
        self.modules: list[LiveModule] = []  # built below, once the first view is published
        self.view_every_s = view_every_s if view_every_s is not None else (
            1.0 if realtime else None)
        self.live = LiveTwin(self.network, self.view())
        self.observations_stored = 0
        self.observations_duplicate = 0
        self.modules = build_live_modules(RunContext(
            scenario=scenario, network=self.network, sim=self.sim, bus=self.bus, clock=self.clock,
            store=self.store, run_id=self.run_id, fleet=self.fleet, live=self.live,
            realtime=realtime), modules)
        self._stop = False
        self._wall0: float | None = None
        self._reached_s = 0.0

    # ------------------------------------------------------------ processes
    def _traffic(self) -> ProcessGenerator:
        """Keep the engine in step with the clock, many steps per kernel call.

        After the other processes due at this instant have acted (they may
        schedule more), the engine is given as many whole steps as fit before the
        next event of any process (an incident, the end of the current
        :meth:`run` chunk), sensor interval end or view, and the clock wakes this
        process first at that instant: so the engine stands at time ``T``
        whenever another process acts at ``T``. A live module may advance the
        engine itself to the instant it acts at (the dispatch model does before
        reading travel times); this process then runs it on to the clock's time,
        never past it and never back.
        """
        env = self.clock.env
        dt = self.scenario.scenario.step_s
        every = self.view_every_s
        next_view = every if every is not None else float("inf")
        next_flush = _FLUSH_EVERY_S
        while True:
            yield env.timeout(0)  # whatever else happens at this instant goes first
            start = float(env.now)
            until = min(env.peek(), self.sensors.next_sample_s, self.cameras.next_sample_s,
                        next_view)
            n = max(1, math.floor((until - start) / dt + 1e-9))
            yield self.clock.wake_first(n * dt)
            now = float(env.now)
            # to the clock, not ``n`` steps on: a module (dispatch) may have advanced the
            # engine to the instant it acted at since this process last woke
            self.sim.run(max(now, self.sim.time_s))
            loops = self.sensors.sample(now)
            self.cameras.sample(now)
            if loops or now + 1e-9 >= next_flush or len(self._store_feed) >= _FLUSH_AT:
                self._flush_store()
                next_flush = (math.floor(now / _FLUSH_EVERY_S + 1e-9) + 1) * _FLUSH_EVERY_S
            if every is not None and now + 1e-9 >= next_view:
                self.live.publish_view(self.view())
                next_view += every

    def _incident(self, spec: IncidentSpec) -> ProcessGenerator:
        env = self.clock.env
        yield env.timeout(spec.start_s)
        link = self.network.link_index[spec.link]
        handle = self.sim.open_incident(link, spec.lanes_blocked)
        lon, lat = link_midpoint(self.network, link)
        self._open_incidents[spec.id] = IncidentMark(
            spec.id, spec.type, spec.link, spec.lanes_blocked, lon, lat, "scenario")
        self.bus.publish(Observation(
            kind=ObservationKind.INCIDENT_REPORT,
            source_id=f"scenario/{spec.id}",
            observed_at=self.clock.now,
            payload={"incident_type": spec.type, "lanes_blocked": spec.lanes_blocked,
                     "duration_s": spec.duration_s},
            location=Location(lon, lat, link_id=spec.link),
            event_id=f"{self.run_id}/{spec.id}",
        ))
        yield env.timeout(spec.duration_s)
        self.sim.clear_incident(handle)
        self._open_incidents.pop(spec.id, None)

    def _sites(self) -> tuple[SiteMark, ...]:
        cams = [SiteMark(c.spec.id, "camera", c.spec.type, c.spec.link, c.location.lon,
                         c.location.lat) for c in self.cameras.cameras]
        loops = [SiteMark(d, "detector", "loop", loc.link_id or "", loc.lon, loc.lat)
                 for d, loc in zip(self.sensors.detector_ids, self.sensors.locations, strict=True)]
        return tuple(cams + loops)

    def _marks(self) -> tuple[tuple[IncidentMark, ...], tuple[UnitMark, ...]]:
        """The open incidents (the run's, then each module's) and the modules' units."""
        incidents = list(self._open_incidents.values())
        units: list[UnitMark] = []
        for module in self.modules:
            if isinstance(module, MarkSource):
                marks = module.map_marks()
                incidents += marks.incidents
                units += marks.units
        return tuple(incidents), tuple(units)

    def _link_place(self, link_id: str) -> str:
        """A link's street name (its id when unnamed or unknown), for alert descriptions."""
        i = self.network.link_index.get(link_id)
        return (self.network.link_name[i] or link_id) if i is not None else link_id

    # ------------------------------------------------------------ running
    def view(self, finished: bool = False) -> TwinView:
        """A fresh :class:`TwinView` of the current state."""
        meta = self.scenario.scenario
        incidents, units = self._marks()
        return TwinView(
            scenario_name=meta.name,
            time_s=float(self.sim.time_s),
            clock_time=self.clock.datetime_at(self.sim.time_s),
            duration_s=meta.duration_s,
            n_waiting=int(self.sim.n_waiting),
            n_active=int(self.sim.n_active),
            n_arrived=int(self.sim.n_arrived),
            n_total=len(self.trips),
            link_speed_mps=np.array(self.sim.link_speed_mps, dtype=np.float64),
            link_vehicle_count=np.array(self.sim.link_vehicle_count, dtype=np.int64),
            finished=finished,
            alerts=self.alerts.recent(),
            incidents=incidents,
            units=units,
            sites=self.sites,
        )

    def stop(self) -> None:
        """Ask a running :meth:`run` to stop at the next chunk boundary."""
        self._stop = True

    def run(self, progress: ProgressCallback | None = None, chunk_s: float = 60.0) -> RunResult:
        """Run to the end of the scenario (or until :meth:`stop`).

        ``progress(done_s)`` is called after each chunk of simulated time.
        """
        meta = self.scenario.scenario
        self.start()
        status = "finished"
        t = self.time_s
        try:
            while t < meta.duration_s and not self._stop:
                t = self.advance(min(meta.duration_s, t + chunk_s))
                if progress is not None:
                    progress(t)
            if self._stop and t < meta.duration_s:
                status = "stopped"
        except BaseException:
            status = "failed"
            raise
        finally:
            summary = self.finish(status)
        return RunResult(self.run_id, meta.name, summary)

    def module(self, name: str) -> LiveModule | None:
        """The live module of ``[modules.<name>]`` running in this run, if any."""
        return next((m for m in self.modules if m.name == name), None)

    @property
    def time_s(self) -> float:
        """Simulated seconds since the scenario's start that the twin has run to."""
        return self._reached_s

    def start(self) -> None:
        """Record the run in the store and start its processes (once; :meth:`advance` calls it)."""
        if self._wall0 is not None:
            return
        meta = self.scenario.scenario
        self.store.start_run(
            meta.name, run_id=self.run_id, scenario_hash=self.scenario.sha256, seed=meta.seed,
        )
        self.store.run_locks.acquire(self.run_id)  # live until finished or the process dies
        self.clock.process(self._traffic())
        for spec in self.scenario.incidents:
            self.clock.process(self._incident(spec))
        self.timed.start()
        for module in self.modules:
            module.start()
        self._wall0 = time.perf_counter()

    def advance(self, until_s: float) -> float:
        """Run the twin up to simulated second ``until_s`` (at most the scenario's end);
        the time reached."""
        self.start()
        until = min(float(until_s), self.scenario.scenario.duration_s)
        if until > self._reached_s:
            self.clock.run(until_s=until + 1e-9)  # the processes due at ``until`` act too
            self._reached_s = until
            if self.view_every_s is None:
                self.live.publish_view(self.view())
        return self._reached_s

    def finish(self, status: str = "finished") -> dict[str, Any]:
        """Store what waits, record the run's end and summary, publish the final view;
        the summary."""
        self.start()
        assert self._wall0 is not None
        modules = {m.name: m.finish() for m in self.modules}
        self._flush_store()
        summary = self.summary(time.perf_counter() - self._wall0)
        if modules:
            summary["modules"] = modules
        self.store.finish_run(self.run_id, status=status, summary=summary)
        self.store.run_locks.release(self.run_id)
        self.live.publish_view(self.view(finished=True))
        return summary

    def _flush_store(self) -> None:
        batch = self._store_feed.drain()
        if batch:
            result = self.store.add_observations(batch, run_id=self.run_id)
            self.observations_stored += result.inserted
            self.observations_duplicate += result.duplicates

    def summary(self, wall_s: float) -> dict[str, Any]:
        """Figures of the run so far: engine summary plus wall time and records."""
        s = dict(self.sim.summary())
        s.update({
            "run_id": self.run_id,
            "scenario": self.scenario.scenario.name,
            "sim_time_s": float(self.sim.time_s),
            "sim_wall_s": round(wall_s, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "observations_stored": self.observations_stored,
            "observations_duplicate": self.observations_duplicate,
            "camera_observations": self.cameras.published,
            "bus_dropped": self.bus.stats().dropped,
        })
        s.update(self.timed.summary())
        if self.scenario.events:
            s["events"] = self._event_summary()
        return s

    def _event_summary(self) -> dict[str, dict[str, int]]:
        """Per ``[[events]]`` entry: its trips, how many have departed and arrived."""
        ids = np.array(self.trips.trip_ids, dtype=object)
        n = len(ids)
        inserted = np.isfinite(np.asarray(self.sim.insert_s[:n]))
        arrived = np.isfinite(np.asarray(self.sim.arrive_s[:n]))
        out = {}
        for ev in self.scenario.events:
            mine = np.char.startswith(ids.astype(str), f"event-{ev.id}-")
            out[ev.id] = {"trips": int(mine.sum()), "departed": int((mine & inserted).sum()),
                          "arrived": int((mine & arrived).sum())}
        return out

    def close(self) -> None:
        """Release the store."""
        self.store.close()
