"""How a real device publishes to the broker (used by the emulator, the tests and the benchmarks).

A :class:`DevicePublisher` logs in with the device's own account (its id and
secret), leaves a retained last will ``{"online": false}`` on its ``status``
topic, and announces ``{"online": true}`` there (retained) on every connect. It
keeps a persistent session and lets paho reconnect with backoff; QoS 1 messages
not acknowledged before a connection dropped are sent again (with the DUP flag)
after the reconnect, so nothing is lost, and the bridge's gate drops the copies.

Each message is the gate's envelope (:mod:`hardware_bridge.ingest`)::

    {"device_id": ..., "seq": n, "sent_at": ISO-8601, "observation": {...}}
    {"device_id": ..., "seq": n, "sent_at": ISO-8601, "observations": [{...}, ...]}

``seq`` counts the device's messages. At most ``max_inflight`` QoS 1 messages wait
for their PUBACK at a time; :meth:`DevicePublisher.publish` blocks while that many
are outstanding (back-pressure instead of an unbounded queue).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt

from twin.observations import Observation

from .devices import Device
from .mqtt_client import BrokerConfig, new_client

__all__ = ["DeviceConnectError", "DevicePublisher", "PublisherCounts", "envelope_bytes"]

log = logging.getLogger(__name__)

ONLINE = json.dumps({"online": True}).encode()
OFFLINE = json.dumps({"online": False}).encode()


class DeviceConnectError(ConnectionError):
    """The broker refused the device (bad password, not authorised) or could not be reached."""


@dataclass(frozen=True, slots=True)
class PublisherCounts:
    """What one publisher has done.

    Attributes
    ----------
    messages : int, messages handed to the client
    observations : int, observations in them
    acked : int, QoS 1 messages the broker acknowledged
    inflight : int, QoS 1 messages still waiting for their PUBACK
    connects : int, successful connections (1 + reconnects)
    """

    messages: int
    observations: int
    acked: int
    inflight: int
    connects: int


def envelope_bytes(device_id: str, seq: int, observations: Sequence[Observation], sent_at: datetime,
                   *, batch: bool | None = None) -> bytes:
    """The JSON envelope of one message (``batch`` None: a list only for more than one)."""
    env: dict[str, Any] = {"device_id": device_id, "seq": seq, "sent_at": sent_at.isoformat()}
    if batch or (batch is None and len(observations) != 1):
        env["observations"] = [o.to_dict() for o in observations]
    else:
        env["observation"] = observations[0].to_dict()
    return json.dumps(env, separators=(",", ":")).encode("utf-8")


class DevicePublisher:
    """One device's connection to the broker.

    Parameters
    ----------
    broker : BrokerConfig, where the broker is (its account is replaced by the device's)
    device : Device, whose id and secret log in and whose topics are written
    max_inflight : int, QoS 1 messages awaiting PUBACK before :meth:`publish` blocks
    first_seq : int, the first message's sequence number (continue a device's count
        across restarts: the gate refuses numbers it has seen)
    client_id : str or None, default ``device-{id}`` (fixed: the persistent session)
    now : callable, the device's clock for ``sent_at``
    """

    def __init__(self, broker: BrokerConfig, device: Device, *, max_inflight: int = 20,
                 first_seq: int = 0, client_id: str | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight}")
        self.device = device
        self.broker = broker.with_account(device.device_id, device.secret)
        self.max_inflight = max_inflight
        self.now = now
        self.next_seq = first_seq
        self._status_topic = device.topic("status")
        self._client = new_client(self.broker, client_id or f"device-{device.device_id}")
        self._client.max_inflight_messages_set(max_inflight + 2)  # + the status messages
        self._client.will_set(self._status_topic, OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._cond = threading.Condition()
        self._pending: set[int] = set()  # QoS 1 mids holding an in-flight slot
        self._untracked: set[int] = set()  # QoS 0 and status mids
        self._early: set[int] = set()  # on_publish came before publish() registered the mid
        self._reserved = 0
        self._connected = threading.Event()
        self._refused: str | None = None
        self._messages = 0
        self._observations = 0
        self._acked = 0
        self._connects = 0
        self._started = False

    # -- connection -------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> DevicePublisher:
        """Connect (paho's thread keeps reconnecting with backoff); wait for the first CONNACK.

        Raises
        ------
        DeviceConnectError
            When the broker refuses the account, or no connection was made in ``timeout_s``.
        """
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self._client.loop_start()
        self._started = True
        deadline = time.monotonic() + timeout_s
        while not self._connected.wait(0.05):
            if self._refused is not None or time.monotonic() > deadline:
                reason = self._refused or f"no connection within {timeout_s:g} s"
                self.stop(announce=False)
                raise DeviceConnectError(f"{self.device.device_id} -> {self.broker.url}: {reason}")
        return self

    @property
    def connected(self) -> bool:
        """Whether the device is connected now."""
        return self._connected.is_set()

    def stop(self, timeout_s: float = 10.0, *, announce: bool = True) -> None:
        """Wait for outstanding PUBACKs, say ``{"online": false}`` and disconnect.

        A clean disconnect does not fire the last will, so the device says it itself.
        """
        if not self._started:
            return
        if announce and self.connected:
            self.flush(timeout_s)
            info = self._client.publish(self._status_topic, OFFLINE, qos=1, retain=True)
            self._register(info.mid, slot=False)
            self.flush(timeout_s, include_status=True)
        self._client.disconnect()
        self._client.loop_stop()
        self._started = False
        self._connected.clear()

    def __enter__(self) -> DevicePublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- publishing -------------------------------------------------------------------------

    def publish(self, observations: Sequence[Observation], *, channel: str = "event",
                qos: int = 1, batch: bool | None = None, timeout_s: float | None = None) -> int:
        """Publish the observations as one message; its sequence number.

        Blocks while ``max_inflight`` QoS 1 messages await their PUBACK (at most
        ``timeout_s``, then :class:`TimeoutError`).
        """
        if not observations:
            raise ValueError("nothing to publish")
        with self._cond:
            seq = self.next_seq
            self.next_seq += 1
        payload = envelope_bytes(self.device.device_id, seq, observations, self.now(), batch=batch)
        self.publish_raw(payload, channel=channel, qos=qos, timeout_s=timeout_s)
        with self._cond:
            self._observations += len(observations)
        return seq

    def publish_raw(self, payload: bytes, *, channel: str = "event", qos: int = 1,
                    timeout_s: float | None = None, topic: str | None = None) -> None:
        """Publish bytes as they are (malformed payloads in the tests; ``topic`` overrides)."""
        if qos == 1:
            self._reserve(timeout_s)
        try:
            info = self._client.publish(topic or self.device.topic(channel), payload, qos=qos)
        except Exception:
            if qos == 1:
                with self._cond:
                    self._reserved -= 1
                    self._cond.notify_all()
            raise
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # cannot happen with an unlimited queue
            raise RuntimeError(f"{self.device.device_id}: paho's queue is full")
        self._register(info.mid, slot=qos == 1)
        with self._cond:
            self._messages += 1

    def flush(self, timeout_s: float | None = None, *, include_status: bool = False) -> bool:
        """Wait until every QoS 1 message was acknowledged; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s

        def done() -> bool:
            return self._reserved == 0 and not self._pending and (
                not include_status or not self._untracked)

        with self._cond:
            while not done():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.1 if left is None else min(left, 0.1))
            return True

    def counts(self) -> PublisherCounts:
        """The publisher's counters."""
        with self._cond:
            return PublisherCounts(self._messages, self._observations, self._acked,
                                   self._reserved, self._connects)

    # -- internals ----------------------------------------------------------------------------

    def _reserve(self, timeout_s: float | None) -> None:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._reserved >= self.max_inflight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{self.device.device_id}: {self._reserved} messages "
                                       f"unacknowledged for {timeout_s:g} s")
                self._cond.wait(0.5 if left is None else min(left, 0.5))
            self._reserved += 1

    def _register(self, mid: int, *, slot: bool) -> None:
        """Record a published mid; its PUBACK may already have come (``_early``)."""
        with self._cond:
            if mid in self._early:
                self._early.discard(mid)
                if slot:
                    self._reserved -= 1
                    self._acked += 1
                self._cond.notify_all()
            elif slot:
                self._pending.add(mid)
            else:
                self._untracked.add(mid)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        try:
            with self._cond:
                if mid in self._pending:
                    self._pending.discard(mid)
                    self._reserved -= 1
                    self._acked += 1
                elif mid in self._untracked:
                    self._untracked.discard(mid)
                else:
                    self._early.add(mid)
                self._cond.notify_all()
        except Exception:  # never into paho's thread
            log.exception("device %s: on_publish failed", self.device.device_id)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        try:
            if reason_code.is_failure:
                self._refused = str(reason_code)
                log.warning("device %s: broker refused the connection: %s",
                            self.device.device_id, reason_code)
                return
            with self._cond:
                self._connects += 1
            info = client.publish(self._status_topic, ONLINE, qos=1, retain=True)
            self._register(info.mid, slot=False)
            self._connected.set()
        except Exception:
            log.exception("device %s: on_connect failed", self.device.device_id)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._connected.clear()
        if reason_code != 0:
            log.info("device %s: connection lost (%s); reconnecting", self.device.device_id, reason_code)
