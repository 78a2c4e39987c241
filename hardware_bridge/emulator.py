"""The device emulator: the simulator's virtual sensors publish to the broker as real devices would.

:class:`DeviceEmulator` gives every source id of the registry its own
:class:`~hardware_bridge.mqtt_device.DevicePublisher` (own account, last will,
persistent session, QoS 1 events, bounded in-flight) and publishes each
observation handed to it from that device, one per message or in batches of up
to ``batch_size``. Observations of sources that are not registered devices (for
example the scenario's own incident reports, ``scenario/...``) are counted as
skipped, not published.

:func:`emulate_scenario` runs a scenario (:class:`~twin.runner.TwinRun`: engine,
loop detectors, incidents) and publishes everything its virtual sensors put on the
bus; with a ``[modules.enforcement]`` section it also publishes the cameras' and
signals' synthetic stream (:mod:`twin.modules.enforcement.simfeed`) in step with
the simulation clock. :func:`scenario_sources` names the devices a scenario has,
so a registry can be generated for it (:func:`registry_for`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario

from .devices import DeviceRegistry
from .mqtt_client import BrokerConfig
from .mqtt_device import DevicePublisher

__all__ = ["DeviceEmulator", "EmulatorCounts", "emulate_scenario", "enforcement_stream",
           "registry_for", "scenario_sources"]

log = logging.getLogger(__name__)

_DEVICE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DOMAIN_OF: Mapping[ObservationKind, str] = {
    ObservationKind.DETECTOR_INTERVAL: "traffic",
    ObservationKind.SIGNAL_STATE: "traffic",
    ObservationKind.PLATE_READ: "etle",
    ObservationKind.POINT_SPEED: "etle",
    ObservationKind.INCIDENT_REPORT: "cctv",
    ObservationKind.EMERGENCY_CALL: "emergency",
    ObservationKind.UNIT_POSITION: "emergency",
}


@dataclass(frozen=True, slots=True)
class EmulatorCounts:
    """What the emulator has published.

    Attributes
    ----------
    observations : int, observations handed to the devices
    messages : int, MQTT messages published
    acked : int, QoS 1 messages the broker acknowledged
    skipped : int, observations of sources that are not registered devices
    devices : int, devices connected so far
    reconnects : int, reconnects over all devices
    """

    observations: int = 0
    messages: int = 0
    acked: int = 0
    skipped: int = 0
    devices: int = 0
    reconnects: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counters."""
        return {k: getattr(self, k) for k in self.__slots__}


def registry_for(sources: Mapping[str, Iterable[ObservationKind]], *,
                 kab_kota: str = "jakarta-timur", site: str = "sim") -> DeviceRegistry:
    """A registry with fresh secrets for ``{source_id: kinds}``.

    Each device's domain follows its first kind (loop detectors and signals
    ``traffic``, cameras ``etle``, ...). Source ids that cannot be device ids
    (uppercase, ``/``) are left out.
    """
    out = DeviceRegistry()
    for source, kinds in sorted(sources.items()):
        kind_list = sorted(set(kinds))
        if not kind_list or not _DEVICE_ID.match(source):
            continue
        domain = _DOMAIN_OF[kind_list[0]]
        for dev in DeviceRegistry.generate([source], kab_kota=kab_kota, domain=domain, site=site,
                                           kinds=kind_list):
            out.add(dev)
    return out


class DeviceEmulator:
    """Publishes observations to the broker, each from the device that made it.

    Parameters
    ----------
    broker : BrokerConfig, the broker (each device logs in with its own account)
    registry : DeviceRegistry, the devices and their secrets
    batch_size : int, observations per message (1: one per message, as most devices do)
    max_inflight : int, per device, QoS 1 messages awaiting PUBACK
    first_seq : mapping or int, each device's first sequence number (continue the count
        of an earlier run: the gate refuses numbers it has seen)
    """

    def __init__(self, broker: BrokerConfig, registry: DeviceRegistry, *, batch_size: int = 1,
                 max_inflight: int = 20, first_seq: Mapping[str, int] | int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.broker = broker
        self.registry = registry
        self.batch_size = batch_size
        self.max_inflight = max_inflight
        self._first_seq = first_seq
        self._publishers: dict[str, DevicePublisher] = {}
        self._pending: dict[str, list[Observation]] = {}
        self._skipped = 0
        self._skipped_sources: set[str] = set()

    def _publisher(self, source_id: str) -> DevicePublisher | None:
        pub = self._publishers.get(source_id)
        if pub is None:
            dev = self.registry.get(source_id)
            if dev is None:
                return None
            first = (self._first_seq if isinstance(self._first_seq, int)
                     else self._first_seq.get(source_id, 0))
            pub = DevicePublisher(self.broker, dev, max_inflight=self.max_inflight, first_seq=first,
                                  client_id=f"emulated-{source_id}").start()
            self._publishers[source_id] = pub
        return pub

    def connect_all(self) -> None:
        """Connect every registered device now (otherwise each connects at its first observation)."""
        for dev in self.registry:
            self._publisher(dev.device_id)

    def publish(self, obs: Observation) -> bool:
        """Publish (or batch) ``obs`` from its device; False when it has no device."""
        pub = self._publisher(obs.source_id)
        if pub is None:
            self._skipped += 1
            if obs.source_id not in self._skipped_sources:
                self._skipped_sources.add(obs.source_id)
                log.info("emulator: %r is not a registered device; its observations are skipped",
                         obs.source_id)
            return False
        if self.batch_size == 1:
            pub.publish([obs])
            return True
        batch = self._pending.setdefault(obs.source_id, [])
        batch.append(obs)
        if len(batch) >= self.batch_size:
            pub.publish(batch, batch=True)
            self._pending[obs.source_id] = []
        return True

    def publish_many(self, observations: Iterable[Observation]) -> int:
        """Publish each observation in order; how many had a device."""
        return sum(self.publish(o) for o in observations)

    def send_batches(self) -> None:
        """Publish the partly filled batches now."""
        for source, batch in self._pending.items():
            if batch:
                self._publishers[source].publish(batch, batch=True)
        self._pending = {k: [] for k in self._pending}

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Send partial batches and wait until the broker acknowledged everything."""
        self.send_batches()
        deadline = time.monotonic() + timeout_s
        return all(p.flush(max(0.0, deadline - time.monotonic())) for p in self._publishers.values())

    def next_seq(self) -> dict[str, int]:
        """Each connected device's next sequence number (to continue in a later run)."""
        return {k: p.next_seq for k, p in self._publishers.items()}

    def counts(self) -> EmulatorCounts:
        """The emulator's counters now."""
        cs = [p.counts() for p in self._publishers.values()]
        return EmulatorCounts(
            observations=sum(c.observations for c in cs) + sum(len(b) for b in self._pending.values()),
            messages=sum(c.messages for c in cs), acked=sum(c.acked for c in cs),
            skipped=self._skipped, devices=len(cs),
            reconnects=sum(max(0, c.connects - 1) for c in cs))

    def close(self, timeout_s: float = 30.0) -> None:
        """Flush, then disconnect every device (each says ``{"online": false}``)."""
        self.flush(timeout_s)
        for pub in self._publishers.values():
            pub.stop(timeout_s)

    def __enter__(self) -> DeviceEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def enforcement_stream(scenario: Scenario, duration_s: float | None = None) -> list[Observation]:
    """The synthetic camera and signal stream of the scenario's ``[modules.enforcement]`` (or []).

    ``duration_s`` shortens it (default: the scenario's duration).
    """
    if "enforcement" not in scenario.modules:
        return []
    from twin.assemble import build_network
    from twin.modules.enforcement.registry import synthetic_registry
    from twin.modules.enforcement.scenario_run import camera_sites, enforcement_settings
    from twin.modules.enforcement.simfeed import synthetic_stream

    settings = enforcement_settings(scenario)
    meta = scenario.scenario
    network = build_network(scenario)
    vehicles = synthetic_registry(settings.registry_vehicles, seed=meta.seed)
    return synthetic_stream(camera_sites(scenario, network), settings.detection, settings.feed,
                            vehicles, meta.start, meta.duration_s if duration_s is None else duration_s,
                            seed=meta.seed)


def scenario_sources(run: TwinRun, extra: Iterable[Observation] = ()) -> dict[str, set[ObservationKind]]:
    """``{source_id: kinds}`` of a run's loop detectors and of ``extra`` observations."""
    out: dict[str, set[ObservationKind]] = {
        d: {ObservationKind.DETECTOR_INTERVAL} for d in run.sensors.detector_ids}
    for o in extra:
        out.setdefault(o.source_id, set()).add(o.kind)
    return out


def emulate_scenario(run: TwinRun, emulator: DeviceEmulator, *, extra: list[Observation] | None = None,
                     chunk_s: float = 60.0,
                     progress: Callable[[float, EmulatorCounts], None] | None = None) -> dict[str, Any]:
    """Run ``run`` to its end and publish what its sensors put on the bus; the run's summary.

    Parameters
    ----------
    run : TwinRun, not yet run
    emulator : DeviceEmulator
    extra : observations from outside the engine (e.g. :func:`enforcement_stream`), sorted by
        time; each is published once the simulation clock has passed its ``observed_at``
    chunk_s : float, simulated seconds between progress calls and batch sends
    progress : called with ``(simulated seconds done, counts)`` after each chunk
    """
    start: datetime = run.scenario.scenario.start
    pending = list(extra or [])
    position = 0
    failure: list[BaseException] = []

    def publish(obs: Observation) -> None:
        if failure:
            return
        try:
            emulator.publish(obs)
        except Exception as exc:  # e.g. the broker refused a device: stop the run, report it
            failure.append(exc)
            run.stop()

    def on_chunk(done_s: float) -> None:
        nonlocal position
        while position < len(pending) and \
                (pending[position].observed_at - start).total_seconds() < done_s:
            publish(pending[position])
            position += 1
        if not failure:
            emulator.send_batches()
        if progress is not None:
            progress(done_s, emulator.counts())

    run.bus.subscribe_callback("#", publish, name="device-emulator")
    result = run.run(progress=on_chunk, chunk_s=chunk_s)
    if failure:
        raise failure[0]
    if result.summary.get("sim_time_s", 0.0) >= run.scenario.scenario.duration_s:
        for obs in pending[position:]:
            publish(obs)
    if failure:
        raise failure[0]
    return result.summary


def load_seq_state(path: Path) -> dict[str, int]:
    """Next sequence numbers saved by an earlier run (empty when there is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, int)} \
        if isinstance(data, dict) else {}
