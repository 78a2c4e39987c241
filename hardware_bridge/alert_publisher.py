"""Public information messages: the twin's Alerts published to the broker as NGSI-LD entities.

The prediction module's early warnings (and any other ``INCIDENT_REPORT`` shaped as a
FIWARE Alert: with ``category`` and ``severity`` in its payload) are published, as the
Smart Data Models Alert entity of :func:`hardware_bridge.ngsi_ld.to_entity`, on

    info/{kab_kota}/alert/{severity}

at QoS 1, so a public display, a radio desk or a traveller-information service can
subscribe to ``info/{kab_kota}/alert/#`` (or only to ``.../high`` and ``.../critical``).
The broker's ACL (:meth:`~hardware_bridge.devices.DeviceRegistry.acl_text`) lets the
bridge's account write ``info/#`` and every account read it. Incident reports without
``category``/``severity`` (a CCTV stopped-vehicle alert, a patrol report) stay inside the
twin: they may carry what the public should not see.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from twin.bus import Bus, Subscription
from twin.observations import Observation, ObservationKind

from .mqtt_client import BrokerConfig, new_client
from .ngsi_ld import NgsiLdError, to_entity

__all__ = ["INFO_ROOT", "AlertPublisher", "PublisherCounts", "alert_topic", "is_public_alert"]

log = logging.getLogger(__name__)

INFO_ROOT = "info"
"""First level of the public information topics."""


def alert_topic(kab_kota: str, severity: str) -> str:
    """``info/{kab_kota}/alert/{severity}``."""
    return f"{INFO_ROOT}/{kab_kota}/alert/{severity}"


def is_public_alert(obs: Observation) -> bool:
    """Whether ``obs`` is an Alert meant for the public (an incident report with category and severity)."""
    return (obs.kind is ObservationKind.INCIDENT_REPORT
            and isinstance(obs.payload.get("category"), str)
            and isinstance(obs.payload.get("severity"), str))


@dataclass(frozen=True, slots=True)
class PublisherCounts:
    """published: handed to the broker and acknowledged; skipped: not public or not mappable."""

    published: int
    skipped: int
    pending: int


class AlertPublisher:
    """Publishes public Alerts from the bus to the broker (QoS 1, from its own thread).

    Parameters
    ----------
    broker : BrokerConfig, with the bridge's account (it may write ``info/#``)
    bus : Bus, where the alerts appear
    kab_kota : str, the topic level of the city or regency
    client_id : str, fixed, so the broker keeps the session
    """

    def __init__(self, broker: BrokerConfig, bus: Bus, *, kab_kota: str,
                 client_id: str = "kota-alerts") -> None:
        self.kab_kota = kab_kota
        self.broker = broker
        self._bus = bus
        self._client = new_client(broker, client_id)
        self._queue: queue.Queue[Observation] = queue.Queue()
        self._sub: Subscription | None = None
        self._lock = threading.Lock()
        self._published = 0
        self._skipped = 0
        self._inflight: dict[int, str] = {}
        self._early_acks: set[int] = set()
        self._busy = False
        self._client.on_publish = self._on_publish
        self._client.on_connect = self._on_connect
        self._connected = threading.Event()
        self._refused: str | None = None
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> AlertPublisher:
        """Connect and start publishing what appears on the bus from now on.

        Raises
        ------
        ConnectionError
            When the broker refused the connection (its reason, e.g. a bad user name or
            password), at once; or when no connection was accepted within ``timeout_s``.
        """
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._connected.wait(0.05):
            if self._refused is not None or time.monotonic() > deadline:
                self._client.disconnect()
                self._client.loop_stop()
                reason = (f"the broker refused the connection: {self._refused}"
                          if self._refused is not None
                          else f"no connection within {timeout_s:g} s")
                raise ConnectionError(f"alert publisher -> {self.broker.url}: {reason}")
        self._sub = self._bus.subscribe_callback("incident_report/#", self._queue.put, name="alert-publisher")
        self._worker = threading.Thread(target=self._run, name="alert-publisher", daemon=True)
        self._worker.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Publish what is queued, wait for the broker's acknowledgements, disconnect."""
        if self._sub is not None:
            self._bus.unsubscribe(self._sub)
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout_s)
        self.flush(timeout_s)
        self._client.disconnect()
        self._client.loop_stop()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued was acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                if self._queue.empty() and not self._inflight and not self._busy:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def counts(self) -> PublisherCounts:
        """What was published, skipped and is still waiting."""
        with self._lock:
            return PublisherCounts(self._published, self._skipped, self._queue.qsize() + len(self._inflight))

    # -- internals ----------------------------------------------------------------------

    def _on_connect(self, client: object, userdata: object, flags: object, reason_code: Any,
                    properties: object) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            log.error("alert publisher: broker refused the connection: %s", reason_code)
            return
        self._connected.set()

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                with self._lock:
                    obs = self._queue.get_nowait()
                    self._busy = True
            except queue.Empty:
                time.sleep(0.02)
                continue
            try:
                self._publish(obs)
            finally:
                with self._lock:
                    self._busy = False

    def _publish(self, obs: Observation) -> None:
        if not is_public_alert(obs):
            with self._lock:
                self._skipped += 1
            return
        try:
            entity = to_entity(obs)
        except NgsiLdError as exc:
            log.warning("alert %s not published: %s", obs.event_id, exc)
            with self._lock:
                self._skipped += 1
            return
        topic = alert_topic(self.kab_kota, str(obs.payload["severity"]))
        # Not under self._lock: paho calls on_publish holding its own message lock, which
        # publish() also takes, so holding ours across publish() can deadlock. A PUBACK that
        # comes before we record the mid is parked in _early_acks.
        info = self._client.publish(topic, json.dumps(entity, ensure_ascii=False), qos=1)
        with self._lock:
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                self._published += 1
            else:
                self._inflight[info.mid] = obs.event_id

    def _on_publish(self, client: object, userdata: object, mid: int, reason_code: object,
                    properties: object) -> None:
        with self._lock:
            if self._inflight.pop(mid, None) is not None:
                self._published += 1
            else:
                self._early_acks.add(mid)
