"""Live mode on devices: the twin runs in real time and takes whatever the gate publishes.

Where :class:`~hardware_bridge.live_mode.LiveReplay` lets a recording set the
pace, :class:`LiveFeed` follows the wall clock: simulated time is wall time since
the start (the twin's clock shows the real time), and devices report through an
adapter (the :class:`~hardware_bridge.mqtt_adapter.MqttBridge`) into the gate
on the twin's bus whenever they like. Every ``wall_step_s`` the simulation is
advanced to the present, and then the :class:`~hardware_bridge.live_mode.MirroredTwin`
takes the readings that arrived: between steps, never inside one. A reading is
taken up to one wall step after it arrived; ``clock_skew_max_s`` in the totals
is the largest difference between a reading's ``observed_at`` and the twin's
clock when it was taken (the devices' reporting delay plus that step).
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from twin.bus import Bus

from .ingest import Ingest
from .live_mode import AssimilateHook, MirroredTwin
from .live_sources import LiveSource

if TYPE_CHECKING:
    from twin.store import Store

    from .devices import DeviceRegistry
    from .mqtt_client import BrokerConfig

__all__ = ["FeedAdapter", "LiveFeed", "open_mqtt_live"]


class FeedAdapter(Protocol):
    """An inbound adapter started and stopped with the feed (the MQTT bridge)."""

    def start(self) -> object:
        """Start serving (on its own threads)."""

    def stop(self) -> None:
        """Stop serving."""


class LiveFeed:
    """Runs a :class:`MirroredTwin` in real time on readings the adapters deliver (see the module).

    Parameters
    ----------
    twin : MirroredTwin
    ingest : Ingest, the gate the adapters feed, publishing on the twin's bus
    adapters : the adapters to start with the run and stop after it
    duration_s : float, stop after this many seconds (default: until :meth:`stop`)
    run_id : str or None, names the run in the store
    progress : callable or None, ``progress(self)`` after every step
    on_assimilate : callable or None, see :data:`~hardware_bridge.live_mode.AssimilateHook`
    wall_step_s : float, wall seconds between steps
    clock : callable, monotonic wall clock in seconds
    now : callable, the time the twin's clock starts from (aware)
    """

    def __init__(self, twin: MirroredTwin, ingest: Ingest, *,
                 adapters: Sequence[FeedAdapter] = (), duration_s: float = math.inf,
                 run_id: str | None = None, progress: Callable[[LiveFeed], None] | None = None,
                 on_assimilate: AssimilateHook | None = None, wall_step_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] | None = None) -> None:
        if math.isnan(duration_s) or duration_s <= 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration_s!r}")
        if not (math.isfinite(wall_step_s) and wall_step_s > 0):
            raise ValueError(f"wall_step_s must be a finite number > 0, got {wall_step_s!r}")
        self.twin = twin
        self.ingest = ingest
        self.adapters = tuple(adapters)
        self.duration_s = float(duration_s)
        self.run_id = run_id or f"live-{twin.source.name}-{uuid.uuid4().hex[:8]}"
        self.progress = progress
        self.on_assimilate = on_assimilate
        self.wall_step_s = float(wall_step_s)
        self.clock = clock
        zone = twin.source.time_zone
        self.now = now if now is not None else (
            lambda: datetime.now(zone) if zone is not None else datetime.now().astimezone())
        self.stopped = False
        self.wall_s = 0.0
        self._stop = threading.Event()

    def stop(self) -> None:
        """End :meth:`run` at the next step (thread-safe)."""
        self._stop.set()

    def run(self) -> dict[str, Any]:
        """Start the adapters, run until the duration or :meth:`stop`, stop them; the totals.

        Raises
        ------
        ConnectionError
            From an adapter that cannot connect (no broker, refused account).
        """
        twin, store = self.twin, self.ingest.store
        twin.origin = origin = self.now()
        twin.live.publish_view(twin.view())
        started: list[FeedAdapter] = []
        status = "failed"
        w0 = self.clock()
        if store is not None:
            store.start_run(f"live {twin.source.name}", run_id=self.run_id, seed=twin.source.seed)
        try:
            for adapter in self.adapters:
                adapter.start()
                started.append(adapter)
            w0 = self.clock()
            while True:
                t = min(self.duration_s, self.clock() - w0)
                twin.advance_to(t)
                twin.assimilate(self.on_assimilate, origin + timedelta(seconds=t))
                self.wall_s = self.clock() - w0
                if self.progress is not None:
                    self.progress(self)
                if t >= self.duration_s or self._stop.wait(self.wall_step_s):
                    break
            self.stopped = self._stop.is_set()
            status = "stopped" if self.stopped else "finished"
        except KeyboardInterrupt:
            self.stopped = True
            status = "stopped"
            raise
        finally:
            for adapter in reversed(started):
                adapter.stop()
            self.wall_s = self.clock() - w0
            twin.live.publish_view(twin.view(finished=True))
            if store is not None:
                store.finish_run(self.run_id, status=status, summary=self.totals())
        return self.totals()

    def totals(self) -> dict[str, Any]:
        """JSON-ready totals: the gate's counts, what the twin took, the mirror, the score."""
        twin = self.twin
        return {
            **twin.totals(),
            "run_id": self.run_id,
            "speedup": 1.0,
            "first_time": None if twin.origin is None else twin.origin.isoformat(),
            "last_time": None if twin.origin is None else
            (twin.origin + timedelta(seconds=twin.sim.time_s)).isoformat(),
            "wall_s": round(self.wall_s, 3),
            "stopped": self.stopped,
            "observations": {**self.ingest.totals(), "taken_by_twin": twin.observations_taken},
            "stored": self.ingest.store is not None,
        }


def open_mqtt_live(source: LiveSource, broker: BrokerConfig, registry: DeviceRegistry, *,
                   store: Store | None = None, mirror: bool = True, gain: float = 0.8,
                   warmup_s: float = 900.0, duration_s: float = math.inf,
                   client_id: str = "kota-live",
                   progress: Callable[[LiveFeed], None] | None = None,
                   on_assimilate: AssimilateHook | None = None,
                   wall_step_s: float = 0.5) -> LiveFeed:
    """Wire a live run on MQTT devices: a bus, the gate on it for ``registry`` (writing to
    ``store`` when given), the mirrored twin of ``source``, and the MQTT bridge (``broker``
    with the bridge's account) feeding the gate. Call :meth:`LiveFeed.run`."""
    from .mqtt_adapter import MqttBridge

    run_id = f"live-{source.name}-{uuid.uuid4().hex[:8]}"
    bus = Bus()
    ingest = Ingest(bus, registry=registry, store=store, run_id=run_id)
    twin = MirroredTwin(source, bus, mirror=mirror, gain=gain, warmup_s=warmup_s,
                        duration_s=duration_s)
    return LiveFeed(twin, ingest, adapters=[MqttBridge(broker, ingest, client_id=client_id)],
                    duration_s=duration_s, run_id=run_id, progress=progress,
                    on_assimilate=on_assimilate, wall_step_s=wall_step_s)
