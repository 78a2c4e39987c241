"""Live mode: the twin runs on the wall clock and its traffic follows a live source.

A recording stands in for the devices (issue 4: "live mode works with no
hardware"): :class:`LiveReplay` plays it through the :class:`ingest gate
<hardware_bridge.ingest.Ingest>` onto a :class:`~twin.bus.Bus`, exactly as
``kota replay`` does, while a :class:`MirroredTwin` - a
:class:`~twin.simulation.Simulation` with a :class:`~hardware_bridge.mirror.SpeedMirror`
attached to that bus - runs along and takes the readings.

One clock
---------
Simulated time is recording time since the first reading played: the reading
observed at ``T`` is assimilated when the simulation stands at exactly
``T - T0`` seconds. The order is fixed, in one thread:

1. while the replay waits for the next reading to fall due (paced at
   ``speedup`` recorded seconds per wall second), the simulation runs along the
   wall clock towards that reading's time, in chunks of at most ``sample_s``,
   the mirror and the score sampling the twin's speeds after each chunk;
2. the replay submits the reading's tick through the gate, which publishes
   what it accepts on the bus;
3. the simulation is advanced to the tick's time (the rest of the way, or all
   of it when the replay runs as fast as possible), and only then the score and
   the mirror drain the bus and take the readings: between two steps, never
   inside one;
4. with early warnings (:attr:`LiveReplay.warnings`), the warning feed takes the
   tick's readings and publishes the alerts they complete on the bus.

When the simulation cannot keep up with ``speedup`` the replay runs late
(``max_late_s``) rather than skipping anything.

Event ids
---------
Each live run re-scopes the recording's event ids under its run id
(``<run id>/<event id>``), as :class:`~twin.runner.TwinRun` does for its virtual
sensors: with a store, a second live run of the same window is taken again and
mirrored again instead of being refused as duplicates of the first.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.alert_log import RecentAlerts
from twin.bus import Bus
from twin.live import LiveTwin, TwinView
from twin.observations import Observation
from twin.simulation import Simulation

from .ingest import Ingest
from .live_score import SpeedScore
from .live_sources import LiveSource
from .mirror import SpeedMirror
from .replay import Replayer, ReplayStats
from .replay_records import Gap, Recording, ReplayItem, Tick

if TYPE_CHECKING:
    from twin.store import Store

    from .live_warnings import LiveWarnings

__all__ = ["AssimilateHook", "LiveReplay", "MirroredTwin", "open_live"]

AssimilateHook = Callable[[float, datetime, list[Observation]], None]
"""``hook(sim_time_s, tick_time, observations)`` just before the twin takes a tick's readings."""


class MirroredTwin:
    """A simulation whose speeds follow the readings on a bus, scored as it runs.

    Parameters
    ----------
    source : LiveSource
    bus : Bus, where the gate publishes the readings
    mirror : bool, assimilate the readings (False: a baseline that only scores them)
    gain : float, the mirror's nudging gain
    sample_s : float, the longest run chunk between speed samples, simulated seconds
    warmup_s : float, readings before this simulated time are not scored
    duration_s : float, the planned length (for the dashboard's progress)
    """

    def __init__(self, source: LiveSource, bus: Bus, *, mirror: bool = True, gain: float = 0.8,
                 sample_s: float = 30.0, warmup_s: float = 900.0,
                 duration_s: float = math.inf) -> None:
        if not (math.isfinite(sample_s) and sample_s > 0):
            raise ValueError(f"sample_s must be a finite number > 0, got {sample_s!r}")
        self.source = source
        self.sample_s = float(sample_s)
        self.duration_s = float(duration_s)
        self.sim = Simulation(source.network, source.trips, seed=source.seed)
        self.sim.load_kernels()
        self.mirror = SpeedMirror(self.sim, source.sensor_links, gain=gain) if mirror else None
        if self.mirror is not None:
            self.mirror.attach(bus)
        self.score = SpeedScore(self.sim, source.sensor_links, warmup_s=warmup_s)
        self.score.attach(bus)
        self.alerts = RecentAlerts(bus)
        """The recent incident reports on the bus (the early warnings), for the view."""
        self.origin: datetime | None = None
        """The time the twin's clock shows at simulated time 0 (set by the driver)."""
        self.assimilations = 0
        """Batches of readings taken."""
        self.observations_taken = 0
        self.max_skew_s = 0.0
        """Largest ``|simulated time - (observed_at - origin)|`` over the readings taken, s."""
        self.live = LiveTwin(source.network, self.view())

    def advance_to(self, t_s: float) -> None:
        """Run to ``t_s`` simulated seconds in chunks of at most ``sample_s``, sampling the
        twin's speeds after each, then publish a view."""
        sim = self.sim
        while sim.time_s < t_s - 1e-9:
            sim.run(min(t_s, sim.time_s + self.sample_s))
            self.score.sample()
            if self.mirror is not None:
                self.mirror.sample()
        self.live.publish_view(self.view())

    def assimilate(self, hook: AssimilateHook | None = None,
                   tick_time: datetime | None = None) -> list[Observation]:
        """Score, then mirror, every reading the bus delivered (call it between steps)."""
        batch = self.score.take()
        if hook is not None and tick_time is not None:
            hook(self.sim.time_s, tick_time, batch)
        if self.mirror is not None:
            self.mirror.update()
        if batch and self.origin is not None:
            now = self.sim.time_s
            self.max_skew_s = max(self.max_skew_s, max(
                abs(now - (o.observed_at - self.origin).total_seconds()) for o in batch))
        self.assimilations += bool(batch)
        self.observations_taken += len(batch)
        self.live.publish_view(self.view())
        return batch

    def totals(self) -> dict[str, Any]:
        """JSON-ready: what the twin took, the mirror's counts, the running score, the traffic."""
        return {
            "source": self.source.name,
            "mirrored": self.mirror is not None,
            "sim_time_s": float(self.sim.time_s),
            "assimilations": self.assimilations,
            "clock_skew_max_s": self.max_skew_s,
            "mirror": None if self.mirror is None else self.mirror.stats.as_dict(),
            "score": self.score.as_dict(),
            "trips": len(self.source.trips),
            "vehicles_active": int(self.sim.n_active),
            "vehicles_arrived": int(self.sim.n_arrived),
        }

    def view(self, finished: bool = False) -> TwinView:
        """The twin now, for the dashboard."""
        sim = self.sim
        origin = self.origin if self.origin is not None else datetime.now().astimezone()
        return TwinView(
            scenario_name=f"live {self.source.name}" + ("" if self.mirror else " (not mirrored)"),
            time_s=float(sim.time_s), clock_time=origin + timedelta(seconds=sim.time_s),
            duration_s=self.duration_s if math.isfinite(self.duration_s) else 0.0,
            n_waiting=int(sim.n_waiting), n_active=int(sim.n_active),
            n_arrived=int(sim.n_arrived), n_total=len(self.source.trips),
            link_speed_mps=np.array(sim.link_speed_mps, dtype=np.float64),
            link_vehicle_count=np.array(sim.link_vehicle_count, dtype=np.int64),
            finished=finished, alerts=self.alerts.recent())


class LiveReplay:
    """Plays a source's recording into a :class:`MirroredTwin` on one clock (see the module).

    Parameters
    ----------
    twin : MirroredTwin
    ingest : Ingest, the gate publishing on the twin's bus (``require_freshness=False``)
    speedup : float, recorded seconds per wall second; 0 or ``inf``: as fast as possible
    start : datetime, timedelta or None, where in the recording to begin (as ``kota replay``)
    duration_s : float, play the readings up to this long after the first one
    run_id : str or None, scopes the event ids and names the run in the store
    progress : callable or None, ``progress(self)`` after each tick and while waiting
    on_assimilate : callable or None, see :data:`AssimilateHook`
    wall_step_s : float, longest wall-clock wait between run chunks while paced
    clock : callable, monotonic wall clock in seconds
    """

    def __init__(self, twin: MirroredTwin, ingest: Ingest, *, speedup: float = 60.0,
                 start: datetime | timedelta | None = None, duration_s: float = math.inf,
                 run_id: str | None = None, progress: Callable[[LiveReplay], None] | None = None,
                 on_assimilate: AssimilateHook | None = None, wall_step_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if math.isnan(duration_s) or duration_s <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration_s!r}")
        recording = twin.source.recording
        if recording is None:
            raise ValueError(f"live source {twin.source.name!r} has no recording to replay")
        self.twin = twin
        self.ingest = ingest
        self.run_id = run_id or f"live-{twin.source.name}-{uuid.uuid4().hex[:8]}"
        self.duration_s = float(duration_s)
        self.progress = progress
        self.on_assimilate = on_assimilate
        self.wall_step_s = float(wall_step_s)
        self.clock = clock
        self._stop = threading.Event()
        self._ticks_seen = 0
        self.warnings: LiveWarnings | None = None
        """Early warnings polled after every tick the twin took (see :mod:`.live_warnings`)."""
        self.replayer = Replayer(
            ingest, _LiveRecording(recording, self.run_id, self.duration_s),
            speedup=speedup, start=start, progress=self._on_submit, batch_size=1,
            clock=clock, sleep=self._run_while_waiting)
        self.speedup = self.replayer.speedup
        twin.origin = self.replayer.since or recording.first_time
        twin.live.publish_view(twin.view())

    @property
    def stats(self) -> ReplayStats:
        """The replay's counters (received, accepted, ... as the gate counted them)."""
        return self.replayer.stats

    def stop(self) -> None:
        """End :meth:`run` at the next chunk or tick (thread-safe)."""
        self._stop.set()
        self.replayer.stop()

    def run(self) -> dict[str, Any]:
        """Play to the end of the duration or the recording, or :meth:`stop`; the totals.

        Raises
        ------
        hardware_bridge.ingest.IngestUnavailable
            When the store cannot be written.
        """
        store = self.ingest.store
        status = "failed"
        if store is not None:
            store.start_run(f"live {self.twin.source.name}", run_id=self.run_id,
                            seed=self.twin.source.seed)
        try:
            self.replayer.run()
            status = "stopped" if self.stats.stopped else "finished"
        except KeyboardInterrupt:
            status = "stopped"
            self.stats.stopped = True
            raise
        finally:
            self.twin.live.publish_view(self.twin.view(finished=True))
            if store is not None:
                store.finish_run(self.run_id, status=status, summary=self.totals())
        return self.totals()

    # ------------------------------------------------------------------ the one clock
    def _run_while_waiting(self, delay_s: float) -> None:
        """The replay's sleep: run the twin along the wall clock until the next tick is due."""
        sim = self.twin.sim
        w0 = self.clock()
        s0 = sim.time_s
        end = w0 + delay_s
        cap = min(s0 + delay_s * self.speedup, self.duration_s)
        while not self._stop.is_set():
            now = self.clock()
            target = min(cap, s0 + (now - w0) * self.speedup)
            if target > sim.time_s:
                self.twin.advance_to(target)
            if self.progress is not None:
                self.progress(self)
            now = self.clock()
            if now >= end:
                return
            self._stop.wait(min(end - now, self.wall_step_s))

    def _on_submit(self, stats: ReplayStats) -> None:
        if stats.ticks == self._ticks_seen or stats.last_time is None or stats.first_time is None:
            return  # a quarantined line, not a tick
        self._ticks_seen = stats.ticks
        twin = self.twin
        twin.origin = stats.first_time
        twin.advance_to((stats.last_time - stats.first_time).total_seconds())
        twin.assimilate(self.on_assimilate, stats.last_time)
        if self.warnings is not None and self.warnings.poll():
            twin.live.publish_view(twin.view())
        if self.progress is not None:
            self.progress(self)

    # ------------------------------------------------------------------ reporting
    def totals(self) -> dict[str, Any]:
        """JSON-ready totals: the replay's counts, what the twin took, the mirror, the score."""
        twin, stats = self.twin, self.stats
        return {
            **twin.totals(),
            "run_id": self.run_id,
            "speedup": self.speedup if math.isfinite(self.speedup) else None,
            "first_time": None if stats.first_time is None else stats.first_time.isoformat(),
            "last_time": None if stats.last_time is None else stats.last_time.isoformat(),
            "wall_s": round(stats.wall_s, 3),
            "max_late_s": round(stats.max_late_s, 3),
            "stopped": stats.stopped,
            "observations": {"received": stats.received, "accepted": stats.accepted,
                             "duplicates": stats.duplicates, "quarantined": stats.quarantined,
                             "missing": stats.missing, "taken_by_twin": twin.observations_taken},
            "ticks": stats.ticks,
            "stored": self.ingest.store is not None,
            "alerts": None if self.warnings is None else self.warnings.totals(),
        }


def open_live(source: LiveSource, *, store: Store | None = None, mirror: bool = True,
              gain: float = 0.8, warmup_s: float = 900.0, speedup: float = 60.0,
              start: datetime | timedelta | None = None, duration_s: float = math.inf,
              progress: Callable[[LiveReplay], None] | None = None,
              on_assimilate: AssimilateHook | None = None) -> LiveReplay:
    """Wire a live run of ``source``: a bus, the gate on it (writing to ``store`` when given,
    under the run's id), the mirrored twin, the replay. Call :meth:`LiveReplay.run`."""
    run_id = f"live-{source.name}-{uuid.uuid4().hex[:8]}"
    bus = Bus()
    ingest = Ingest(bus, store=store, run_id=run_id, require_freshness=False)
    twin = MirroredTwin(source, bus, mirror=mirror, gain=gain, warmup_s=warmup_s,
                        duration_s=duration_s)
    return LiveReplay(twin, ingest, speedup=speedup, start=start, duration_s=duration_s,
                      run_id=run_id, progress=progress, on_assimilate=on_assimilate)


class _LiveRecording(Recording):
    """A recording's items with event ids scoped to a run, up to ``duration_s`` after its
    first tick."""

    def __init__(self, inner: Recording, scope: str, duration_s: float) -> None:
        self.inner = inner
        self.scope = scope
        self.duration_s = duration_s
        self.name = inner.name
        self.first_time = inner.first_time
        self.total_observations = None

    def items(self, since: datetime | None = None) -> Iterator[ReplayItem]:
        first: datetime | None = None
        for item in self.inner.items(since):
            if isinstance(item, Tick):
                first = first or item.time
                if (item.time - first).total_seconds() > self.duration_s + 1e-9:
                    return
                yield Tick(item.time, tuple(replace(o, event_id=f"{self.scope}/{o.event_id}")
                                            for o in item.observations))
            elif isinstance(item, Gap) and first is not None \
                    and (item.start - first).total_seconds() > self.duration_s:
                continue
            else:
                yield item

    def summary(self) -> dict[str, Any]:
        return self.inner.summary()
