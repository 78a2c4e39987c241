"""The MQTT adapter: device topics on the broker into the ingest gate, nothing lost, nothing doubled.

:class:`MqttBridge` logs in as :data:`~hardware_bridge.devices.BRIDGE_USER` (TLS,
password), with a fixed client id and a persistent session, and subscribes to

- ``city/+/+/+/+/event`` at QoS 1 (events: every one counts),
- ``city/+/+/+/+/telemetry`` at QoS 0 (high-rate readings),
- ``city/+/+/+/+/status`` at QoS 1 (retained; a device's last will says ``{"online": false}``).

paho's network thread only copies each message into a queue; one worker thread
hands it to the gate (:meth:`~hardware_bridge.ingest.Ingest.submit_message` with the
device id and place taken from the topic, which the broker's ACL lets only that
device write) and acknowledges a QoS 1 message (manual PUBACK) only after the gate
returned. When the gate raises :class:`~hardware_bridge.ingest.IngestUnavailable`
(the store is down) the worker keeps the message and tries again with backoff; the
broker meanwhile holds the rest (it sends at most ``max_inflight_messages``
unacknowledged messages), so a database outage loses nothing. A message that was
taken but whose PUBACK was lost comes again and is counted as a duplicate by the
gate. No exception leaves a paho callback.

The bridge's own status topic is :data:`~hardware_bridge.devices.BRIDGE_STATUS_TOPIC`
(retained ``{"online": true}``, last will ``{"online": false}``).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from .devices import BRIDGE_STATUS_TOPIC, BRIDGE_USER, parse_topic
from .ingest import Ingest, IngestOutcome, IngestUnavailable
from .mqtt_client import BrokerConfig, new_client

__all__ = ["BridgeCounts", "DeviceLink", "MqttBridge", "SUBSCRIPTIONS"]

log = logging.getLogger(__name__)

SUBSCRIPTIONS: tuple[tuple[str, int], ...] = (
    ("city/+/+/+/+/event", 1),
    ("city/+/+/+/+/telemetry", 0),
    ("city/+/+/+/+/status", 1),
)
"""``(topic filter, QoS)`` the bridge subscribes to."""

TRANSPORT = "mqtt"
MAX_STATUS_BYTES = 4096


@dataclass(slots=True)
class DeviceLink:
    """A device's connection state as its ``status`` topic tells it."""

    online: bool | None = None
    changed_at: datetime | None = None
    last_status: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BridgeCounts:
    """The bridge's counters.

    Attributes
    ----------
    received : int, messages taken off the broker (events, telemetry and status)
    accepted, duplicates, quarantined : int, observations (or whole messages) as the gate counted them
    status : int, status messages read
    retries : int, times a message was tried again because the store was down
    held : int, messages waiting in the bridge (queued or being retried)
    telemetry_dropped : int, QoS 0 messages dropped because the bridge's queue was full
    connects : int, successful connections to the broker (1 + reconnects)
    """

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    status: int = 0
    retries: int = 0
    held: int = 0
    telemetry_dropped: int = 0
    connects: int = 0

    def as_dict(self) -> dict[str, int]:
        """JSON-ready counters."""
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int
    """Which connection brought it: a PUBACK is only sent on that one."""


@dataclass
class _Counters:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    status: int = 0
    retries: int = 0
    telemetry_dropped: int = 0
    connects: int = 0
    links: dict[str, DeviceLink] = field(default_factory=dict)


class MqttBridge:
    """Reads the device topics into an :class:`~hardware_bridge.ingest.Ingest`.

    Parameters
    ----------
    broker : BrokerConfig, the broker and the bridge's account (default user ``BRIDGE_USER``)
    ingest : Ingest, the gate
    client_id : str, fixed, so the broker keeps the session (and queued QoS 1 messages)
    retry_min_s, retry_max_s : float, backoff of retries while the store is down
    queue_size : int, messages buffered between paho's thread and the worker; QoS 0
        messages beyond it are dropped and counted (QoS 1 ones are limited by the broker)
    max_age_s : float, how late an event may arrive (``sent_at`` age) and still be taken: the
        broker keeps QoS 1 events while the bridge or its store is down and delivers them
        unchanged afterwards, so this is the outage the bridge rides out (default a day);
        repeats are refused by sequence number whatever their age
    now : callable, the bridge's clock for status changes
    """

    def __init__(self, broker: BrokerConfig, ingest: Ingest, *, client_id: str = BRIDGE_USER,
                 retry_min_s: float = 0.2, retry_max_s: float = 10.0, queue_size: int = 10_000,
                 max_age_s: float = 86_400.0,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if broker.username is None:
            raise ValueError(f"the bridge needs its broker account ({BRIDGE_USER}) and password")
        self.broker = broker
        self.ingest = ingest
        self.client_id = client_id
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.queue_size = queue_size
        self.max_age_s = max_age_s
        self.now = now
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._lock = threading.Lock()
        self._c = _Counters()
        self._busy = 0  # messages taken off the queue, not yet done
        self._connection = 0  # counts connections; message ids are only valid on their own
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._worker: threading.Thread | None = None
        self._client = new_client(broker, client_id)
        self._client.manual_ack_set(True)
        self._client.will_set(BRIDGE_STATUS_TOPIC, json.dumps({"online": False}), qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    # -- life cycle --------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> MqttBridge:
        """Connect, subscribe and start the worker; wait until the subscriptions are granted.

        Raises
        ------
        ConnectionError
            The broker refused the account, or nothing was subscribed within ``timeout_s``.
        """
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="mqtt-bridge-worker", daemon=True)
        self._worker.start()
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._subscribed.wait(0.05):
            if self._refused is not None or time.monotonic() > deadline:
                reason = self._refused or f"not subscribed within {timeout_s:g} s"
                self.stop()
                raise ConnectionError(f"bridge -> {self.broker.url}: {reason}")
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the message in hand, say ``{"online": false}`` and disconnect.

        Messages still queued are not acknowledged: the broker keeps them for the
        session and sends them again on the next start.
        """
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout_s)
            self._worker = None
        try:
            if self._client.is_connected():
                info = self._client.publish(BRIDGE_STATUS_TOPIC, json.dumps({"online": False}),
                                            qos=1, retain=True)
                info.wait_for_publish(timeout=min(timeout_s, 2.0))
        except (RuntimeError, ValueError) as exc:
            log.info("bridge: could not announce going offline: %s", exc)
        self._client.disconnect()
        self._client.loop_stop()
        self._subscribed.clear()

    def __enter__(self) -> MqttBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected to the broker now."""
        return bool(self._client.is_connected())

    # -- reporting ---------------------------------------------------------------------------

    def counts(self) -> BridgeCounts:
        """The bridge's counters now."""
        with self._lock:
            c = self._c
            return BridgeCounts(c.received, c.accepted, c.duplicates, c.quarantined, c.status,
                                c.retries, self._queue.qsize() + self._busy, c.telemetry_dropped,
                                c.connects)

    def links(self) -> dict[str, DeviceLink]:
        """Per device: online or offline, since when, and its last status message."""
        with self._lock:
            return {k: replace(v) for k, v in self._c.links.items()}

    def device_report(self) -> dict[str, dict[str, Any]]:
        """Per device: the gate's counters (messages, lag, gaps = drops) with the link state."""
        stats = self.ingest.stats()
        links = self.links()
        out: dict[str, dict[str, Any]] = {}
        for dev in sorted(set(stats) | set(links)):
            row: dict[str, Any] = stats[dev].as_dict() if dev in stats else {}
            link = links.get(dev, DeviceLink())
            row.update({"online": link.online,
                        "status_changed_at": None if link.changed_at is None else link.changed_at.isoformat(),
                        "last_status": link.last_status})
            out[dev] = row
        return out

    def wait_idle(self, timeout_s: float = 10.0, quiet_s: float = 0.2) -> bool:
        """Wait until nothing arrived for ``quiet_s`` and nothing is held; False on timeout."""
        deadline = time.monotonic() + timeout_s
        last = (-1, -1)
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            c = self.counts()
            now = (c.received, c.held)
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif c.held == 0 and time.monotonic() - quiet_since >= quiet_s:
                return True
            time.sleep(0.02)
        return False

    # -- paho callbacks (network thread): never raise ----------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        try:
            if reason_code.is_failure:
                self._refused = str(reason_code)
                log.error("bridge: broker refused the connection: %s", reason_code)
                return
            with self._lock:
                self._c.connects += 1
                self._connection += 1
            log.info("bridge: connected to %s (session present: %s)", self.broker.url,
                     flags.session_present)
            client.subscribe(list(SUBSCRIPTIONS))
            client.publish(BRIDGE_STATUS_TOPIC, json.dumps({"online": True}), qos=1, retain=True)
        except Exception:
            log.exception("bridge: on_connect failed")

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        try:
            failed = [str(rc) for rc in reason_codes if rc.is_failure]
            if failed:
                self._refused = f"subscriptions refused: {failed}"
                log.error("bridge: broker refused subscriptions: %s", failed)
                return
            self._subscribed.set()
        except Exception:
            log.exception("bridge: on_subscribe failed")

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            m = _Message(msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._connection)
            if m.qos == 0 and self._queue.qsize() >= self.queue_size:
                with self._lock:
                    self._c.telemetry_dropped += 1
                return
            with self._lock:
                self._c.received += 1
            self._queue.put(m)
        except Exception:  # e.g. a topic that is not UTF-8: paho raises on msg.topic
            log.exception("bridge: could not take a message off the broker")
            try:
                if msg.qos == 1:
                    client.ack(msg.mid, msg.qos)
            except Exception:
                log.exception("bridge: could not acknowledge an unreadable message")

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if reason_code != 0:
            log.warning("bridge: connection lost (%s); paho reconnects with backoff", reason_code)

    # -- the worker --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                m = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._lock:
                self._busy += 1
            try:
                if self._handle_with_retry(m) and m.qos == 1:
                    self._ack(m)
            except Exception:  # a bug must not stop the bridge; the message stays unacknowledged
                log.exception("bridge: failed on a message on %s", m.topic)
            finally:
                with self._lock:
                    self._busy -= 1

    def _ack(self, m: _Message) -> None:
        """PUBACK ``m``, unless the connection that brought it is gone.

        After a reconnect the broker sends unacknowledged messages again, and the
        same message id may then name another message: the copy is acknowledged
        when it comes (the gate counts it as a duplicate).
        """
        with self._lock:
            current = m.connection == self._connection
        if current:
            self._client.ack(m.mid, m.qos)

    def _handle_with_retry(self, m: _Message) -> bool:
        """Hand ``m`` to the gate until it is taken; False when stopped before that."""
        delay = self.retry_min_s
        failed: Exception | None = None
        while True:
            try:
                if failed is None:
                    self._handle(m)
                else:  # a bug on this input: keep it for inspection rather than redeliver it forever
                    self._count(self.ingest.quarantine(
                        m.payload, transport=TRANSPORT, device_id=_device_of(m.topic),
                        reason=f"the bridge failed on this message: {failed!r}"))
                return True
            except IngestUnavailable as exc:
                with self._lock:
                    self._c.retries += 1
                log.warning("bridge: store unavailable, holding the message on %s (retry in %.1f s): %s",
                            m.topic, delay, exc)
                if self._stop.wait(delay):
                    return False
                delay = min(self.retry_max_s, delay * 2)
            except Exception as exc:
                if failed is not None:
                    raise
                log.exception("bridge: failed on a message on %s; quarantining it", m.topic)
                failed = exc

    def _handle(self, m: _Message) -> None:
        """Hand one message to the gate (status messages are read here)."""
        parsed = parse_topic(m.topic)
        if parsed is None:
            self._count(self.ingest.quarantine(m.payload, transport=TRANSPORT,
                                               reason=f"not a device topic: {m.topic!r}"))
            return
        kab_kota, domain, site, device_id, channel = parsed
        if channel == "status":
            self._status(m, device_id, (kab_kota, domain, site))
            return
        self._count(self.ingest.submit_message(m.payload, transport=TRANSPORT, device_id=device_id,
                                               place=(kab_kota, domain, site),
                                               max_age_s=self.max_age_s))

    def _count(self, outcome: IngestOutcome) -> None:
        with self._lock:
            self._c.accepted += outcome.accepted
            self._c.duplicates += outcome.duplicates
            self._c.quarantined += outcome.quarantined

    def _status(self, m: _Message, device_id: str, place: tuple[str, str, str]) -> None:
        with self._lock:
            self._c.status += 1
        if not m.payload:  # a retained status being cleared
            return
        reason = self._status_problem(m.payload, device_id, place)
        if reason is not None:
            self._count(self.ingest.quarantine(m.payload, transport=TRANSPORT, reason=reason,
                                               device_id=device_id))
            return
        data = json.loads(m.payload)
        with self._lock:
            link = self._c.links.setdefault(device_id, DeviceLink())
            if link.online is not data["online"]:
                link.changed_at = self.now()
            link.online = data["online"]
            link.last_status = data

    def _status_problem(self, raw: bytes, device_id: str, place: tuple[str, str, str]) -> str | None:
        registry = self.ingest.registry
        if registry is not None:
            dev = registry.get(device_id)
            if dev is None:
                return f"status of unknown device {device_id!r}"
            if place != (dev.kab_kota, dev.domain, dev.site):
                return f"status of {device_id!r} under {'/'.join(place)}, not its own place"
        if len(raw) > MAX_STATUS_BYTES:
            return f"status message of {len(raw):,} bytes is over {MAX_STATUS_BYTES:,}"
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return f"status message is not JSON: {exc}"
        if not isinstance(data, dict) or not isinstance(data.get("online"), bool):
            return 'status message must be an object with a boolean "online"'
        return None


def _device_of(topic: str) -> str | None:
    parsed = parse_topic(topic)
    return None if parsed is None else parsed[3]
