"""The one gate every inbound message passes: validate, authenticate, deduplicate, then publish.

Each adapter (MQTT, HTTP push, NGSI-LD, replay) turns its transport's bytes into
either an *envelope* — handed to :meth:`Ingest.submit_message` — or a list of
:class:`~twin.observations.Observation` it built itself (:meth:`Ingest.submit`).
The gate then:

1. refuses oversize, non-UTF-8, non-JSON (``NaN`` and ``Infinity`` included) and
   mis-shaped messages;
2. checks the device: registered, writing under its own place in the topic tree,
   reporting only the kinds it is registered for and only as itself;
3. checks freshness: ``sent_at`` within ``max_skew_s`` of the bridge's clock and
   the sequence number not seen before (:mod:`.replay_guard`);
4. checks each observation's fields and their physical plausibility
   (:mod:`.plausibility`);
5. drops observations whose ``event_id`` was already taken, writes the new ones to
   the store, and only then publishes them on the bus.

A refused message or observation goes to the quarantine (the store's table and a
short in-memory list for operators) with its raw bytes, the device, the time and
the reason; it never raises into the adapter. The one exception is
:class:`IngestUnavailable`: the store could not be written, nothing was taken, and
the adapter must not acknowledge the message (MQTT redelivers it, HTTP answers
503), so a database outage loses nothing and doubles nothing.

The envelope, as JSON::

    {"device_id": "cam-jtn-01", "seq": 42, "sent_at": "2026-11-28T04:00:00+07:00",
     "observations": [ {Observation.to_dict()}, ... ]}       # or "observation": {...}
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twin.bus import Bus
from twin.observations import Observation, ObservationError

from .devices import DeviceRegistry
from .plausibility import implausible
from .replay_guard import SequenceWindow, SeqVerdict

if TYPE_CHECKING:
    from twin.store import Store

__all__ = [
    "DeviceStats",
    "Ingest",
    "IngestOutcome",
    "IngestUnavailable",
    "QuarantinedMessage",
    "parse_envelope",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH = 10_000
UNKNOWN_DEVICE = "unknown"


class IngestUnavailable(RuntimeError):
    """The store could not be written: nothing was taken; do not acknowledge the message."""


class _Refused(Exception):
    """A whole message is refused (internal)."""


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What the gate did with one message.

    Attributes
    ----------
    accepted : int, observations published (new event ids)
    duplicates : int, observations (or a whole repeated message, counted as its
        observations when known, else 1) already taken before
    quarantined : int, observations (or 1 for a whole message) refused
    reason : str or None, why the message, or its first refused observation, was refused
    """

    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Nothing was refused."""
        return self.quarantined == 0


@dataclass(slots=True)
class DeviceStats:
    """Counters of one device, for the sensors page and ``--json`` totals."""

    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    gaps: int = 0
    """Sequence numbers skipped: messages sent that never arrived (drops)."""
    last_seen: datetime | None = None
    last_lag_s: float | None = None
    max_lag_s: float = 0.0
    lag_sum_s: float = 0.0
    lag_count: int = 0

    @property
    def mean_lag_s(self) -> float | None:
        """Mean of received-minus-sent time over messages that carried ``sent_at``."""
        return self.lag_sum_s / self.lag_count if self.lag_count else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        return {
            "messages": self.messages, "accepted": self.accepted, "duplicates": self.duplicates,
            "quarantined": self.quarantined, "gaps": self.gaps,
            "last_seen": None if self.last_seen is None else self.last_seen.isoformat(),
            "last_lag_s": self.last_lag_s, "mean_lag_s": self.mean_lag_s, "max_lag_s": self.max_lag_s,
        }


@dataclass(frozen=True, slots=True)
class QuarantinedMessage:
    """A refused input as operators see it."""

    received_at: datetime
    device_id: str
    transport: str
    reason: str
    raw: bytes = field(repr=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_envelope(raw: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The JSON object in ``raw``, or :class:`ValueError` naming what is wrong with it."""
    if len(raw) > max_bytes:
        raise ValueError(f"message of {len(raw):,} bytes is over the limit of {max_bytes:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"message is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("message JSON is nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"message must be a JSON object, got {type(data).__name__}")
    return data


class Ingest:
    """The gate between the adapters and the twin's bus (thread-safe).

    Parameters
    ----------
    bus : Bus
        Where accepted observations are published.
    registry : DeviceRegistry or None
        The known devices. None accepts any device id (trusted sources such as a
        recording being replayed).
    store : Store or None
        Observations are written here before they are published, and event ids
        are checked against it, so deduplication survives a restart. Quarantined
        input is written to its quarantine table.
    run_id : str or None
        Store observations under this run.
    max_skew_s : float
        Largest accepted difference between a message's ``sent_at`` and the
        bridge's clock (DOMAIN §5.2: 30 s).
    require_freshness : bool
        Demand ``seq`` and ``sent_at`` on every envelope (devices); a trusted
        source such as a replay may omit them.
    now : callable
        The bridge's clock (UTC); tests pass a fixed one.
    """

    def __init__(
        self,
        bus: Bus,
        *,
        registry: DeviceRegistry | None = None,
        store: Store | None = None,
        run_id: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_batch: int = MAX_BATCH,
        max_skew_s: float = 30.0,
        require_freshness: bool = True,
        sequence_window: int = 1024,
        dedupe_memory: int = 1_000_000,
        quarantine_memory: int = 200,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bus = bus
        self.registry = registry
        self.store = store
        self.run_id = run_id
        self.max_message_bytes = max_message_bytes
        self.max_batch = max_batch
        self.max_skew_s = max_skew_s
        self.require_freshness = require_freshness
        self.now = now
        self._seq = SequenceWindow(sequence_window)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._seen_cap = dedupe_memory
        self._stats: dict[str, DeviceStats] = {}
        self.recent_quarantine: deque[QuarantinedMessage] = deque(maxlen=quarantine_memory)
        self._lock = threading.RLock()

    # -- public ---------------------------------------------------------------------------

    def submit_message(self, raw: bytes, *, transport: str, device_id: str | None = None,
                       place: Sequence[str] | None = None,
                       max_age_s: float | None = None) -> IngestOutcome:
        """Take one envelope (see the module docstring) as it came off the wire.

        Parameters
        ----------
        raw : bytes
        transport : str, e.g. ``"mqtt"`` or ``"http"`` (recorded with quarantined input)
        device_id : str or None
            The device the transport authenticated (MQTT username or topic level,
            HTTP signer). The envelope's ``device_id`` must agree with it.
        place : (kab_kota, domain, site) or None
            Where in the topic tree the message was published; checked against the registry.
        max_age_s : float or None
            How old ``sent_at`` may be (default ``max_skew_s``). A broker that keeps a
            device's QoS 1 messages while the bridge or its store is down delivers them
            late but unchanged; its transport passes the outage it tolerates here, and
            the sequence window still refuses repeats. A ``sent_at`` in the future is
            always held to ``max_skew_s``.
        """
        with self._lock:
            who = device_id or UNKNOWN_DEVICE
            try:
                envelope = parse_envelope(raw, self.max_message_bytes)
                who, items, sent = self._open_envelope(envelope, device_id, place, max_age_s)
            except (_Refused, ValueError) as exc:
                return self._quarantine_message(who, transport, str(exc), raw)
            seq = envelope.get("seq")
            verdict = SeqVerdict.NEW if seq is None else self._seq.check(who, seq)
            if verdict is SeqVerdict.STALE:
                return self._quarantine_message(
                    who, transport, f"sequence number {seq} is older than the replay window "
                    f"(highest seen {self._seq.highest(who)})", raw)
            if verdict is SeqVerdict.REPEAT:
                stats = self._device(who)
                stats.messages += 1
                stats.duplicates += max(1, len(items))
                return IngestOutcome(duplicates=max(1, len(items)))
            observations: list[Observation] = []
            refused: list[tuple[str, bytes]] = []
            for i, item in enumerate(items):
                try:
                    observations.append(self._observation(item, who))
                except (ObservationError, _Refused) as exc:
                    label = f"observation {i}: {exc}" if len(items) > 1 else str(exc)
                    refused.append((label, json.dumps(item, default=repr).encode("utf-8")))
            outcome = self._take(observations, who, transport, refused,
                                 sent_at=sent)
            if seq is not None:
                self._seq.record(who, seq)
                self._device(who).gaps = self._seq.gaps.get(who, 0)
            return outcome

    def submit(self, observations: Sequence[Observation], *, transport: str,
               device_id: str | None = None, relayed_by: str | None = None,
               raw: bytes = b"") -> IngestOutcome:
        """Take observations an adapter built itself (NGSI-LD, camera XML, replay).

        Each is still checked for plausibility, and, when ``device_id`` is given,
        for being that device's own of a registered kind. A relay — a context
        broker forwarding many sensors' observations — is named by ``relayed_by``
        instead: it must be registered, the observations may carry any source id,
        each must be of a kind the relay is registered for, and the relay's
        counters take them.
        """
        if device_id is not None and relayed_by is not None:
            raise ValueError("give device_id or relayed_by, not both")
        with self._lock:
            who = device_id or relayed_by or UNKNOWN_DEVICE
            sender = device_id or relayed_by
            if sender is not None and self.registry is not None and sender not in self.registry:
                return self._quarantine_message(who, transport, f"unknown device {sender!r}",
                                                raw or _dump(observations))
            good: list[Observation] = []
            refused: list[tuple[str, bytes]] = []
            for obs in observations:
                try:
                    self._check(obs, device_id, relay=relayed_by)
                    good.append(obs)
                except _Refused as exc:
                    refused.append((f"observation {obs.event_id!r}: {exc}", _dump([obs])))
            return self._take(good, who, transport, refused, sent_at=None)

    def quarantine(self, raw: bytes, *, transport: str, reason: str,
                   device_id: str | None = None) -> IngestOutcome:
        """Quarantine input an adapter could not even read (a broken XML part, a bad signature)."""
        with self._lock:
            return self._quarantine_message(device_id or UNKNOWN_DEVICE, transport, reason, raw)

    def stats(self) -> dict[str, DeviceStats]:
        """A copy of the per-device counters."""
        with self._lock:
            return {k: replace(v) for k, v in self._stats.items()}

    def totals(self) -> dict[str, int]:
        """Counters summed over devices: messages, accepted, duplicates, quarantined, gaps."""
        with self._lock:
            keys = ("messages", "accepted", "duplicates", "quarantined", "gaps")
            return {k: sum(getattr(s, k) for s in self._stats.values()) for k in keys}

    # -- internals ------------------------------------------------------------------------

    def _device(self, who: str) -> DeviceStats:
        stats = self._stats.get(who)
        if stats is None:
            stats = self._stats[who] = DeviceStats()
        return stats

    def _open_envelope(self, env: Mapping[str, Any], device_id: str | None,
                       place: Sequence[str] | None, max_age_s: float | None,
                       ) -> tuple[str, list[Any], datetime | None]:
        claimed = env.get("device_id")
        if claimed is not None and not isinstance(claimed, str):
            raise _Refused(f"device_id must be a string, got {claimed!r}")
        if device_id is not None and claimed is not None and claimed != device_id:
            raise _Refused(f"envelope says device {claimed!r} but the transport authenticated {device_id!r}")
        who = device_id or claimed
        if not who:
            raise _Refused("message names no device (device_id)")
        if self.registry is not None:
            dev = self.registry.get(who)
            if dev is None:
                raise _Refused(f"unknown device {who!r}")
            if place is not None and tuple(place) != (dev.kab_kota, dev.domain, dev.site):
                raise _Refused(f"device {who!r} published under {'/'.join(place)}, "
                               f"not its own place {dev.kab_kota}/{dev.domain}/{dev.site}")
        if "observations" in env and "observation" in env:
            raise _Refused("message has both 'observation' and 'observations'")
        if "observations" in env:
            items = env["observations"]
            if not isinstance(items, list):
                raise _Refused("'observations' must be a list")
            if len(items) > self.max_batch:
                raise _Refused(
                    f"batch of {len(items):,} observations is over the limit of {self.max_batch:,}")
        elif "observation" in env:
            items = [env["observation"]]
        else:
            raise _Refused("message carries no 'observation' or 'observations'")
        seq = env.get("seq")
        sent_at = env.get("sent_at")
        if self.require_freshness and (seq is None or sent_at is None):
            raise _Refused("message must carry 'seq' and 'sent_at' (replay protection)")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**63):
            raise _Refused(f"seq must be a non-negative integer, got {seq!r}")
        sent = None if sent_at is None else self._check_skew(
            sent_at, self.max_skew_s if max_age_s is None else max_age_s)
        return who, items, sent

    def _check_skew(self, sent_at: Any, max_age_s: float) -> datetime:
        """``sent_at`` parsed, or :class:`_Refused` when it is malformed, stale or ahead."""
        if not isinstance(sent_at, str):
            raise _Refused(f"sent_at must be an ISO 8601 string, got {sent_at!r}")
        try:
            when = datetime.fromisoformat(sent_at)
        except ValueError:
            raise _Refused(f"sent_at {sent_at!r} is not an ISO 8601 timestamp") from None
        if when.tzinfo is None:
            raise _Refused(f"sent_at {sent_at!r} has no time zone")
        skew = (self.now() - when).total_seconds()
        if skew > max_age_s:
            raise _Refused(f"stale message: sent {skew:.1f} s ago (at most {max_age_s:g} s)")
        if skew < -self.max_skew_s:
            raise _Refused(f"message from the future: sent_at is {-skew:.1f} s ahead of the bridge's clock")
        return when

    def _observation(self, item: Any, who: str) -> Observation:
        obs = Observation.from_dict(item)
        self._check(obs, who)
        return obs

    def _check(self, obs: Observation, device_id: str | None, *, relay: str | None = None) -> None:
        if device_id is not None and obs.source_id != device_id:
            raise _Refused(f"device {device_id!r} may not report as {obs.source_id!r}")
        sender = device_id or relay
        if sender is not None and self.registry is not None:
            dev = self.registry.get(sender)
            if dev is not None and obs.kind not in dev.kinds:
                what = "relay" if relay else "device"
                raise _Refused(f"{what} {sender!r} is not registered for {obs.kind.value!r}")
        reason = implausible(obs)
        if reason:
            raise _Refused(reason)
        if len(obs.event_id) > 200:
            raise _Refused("event_id is longer than 200 characters")

    def _take(self, observations: list[Observation], who: str, transport: str,
              refused: list[tuple[str, bytes]], sent_at: datetime | None) -> IngestOutcome:
        received_at = self.now()
        new: list[Observation] = []
        batch_ids: set[str] = set()
        for o in observations:
            if o.event_id in self._seen or o.event_id in batch_ids:
                continue
            batch_ids.add(o.event_id)
            new.append(o)
        if self.store is not None and new:
            try:
                # one transaction; already stored ids (an earlier run of the bridge) and rows
                # the store refuses as unstorable (it quarantines them) are not in inserted_ids
                written = self.store.add_observations(new, run_id=self.run_id).inserted_ids
                new = [o for o in new if o.event_id in written]
            except Exception as exc:  # the store is down: take nothing, let the sender retry
                log.warning("store unavailable, message from %s not taken: %s", who, exc)
                raise IngestUnavailable(f"the store could not be written: {exc}") from exc
        # Publish what the store took before anything else can fail: a retry after a
        # failed quarantine write then finds these as duplicates, never publishes twice.
        for o in new:
            self._remember(o.event_id)
        self.bus.publish_many(new)
        if self.store is not None:
            try:
                for reason, raw in refused:
                    self.store.quarantine(who, f"{transport}: {reason}", raw)
            except Exception as exc:
                raise IngestUnavailable(f"the store could not be written: {exc}") from exc
        for reason, raw in refused:
            self.recent_quarantine.append(QuarantinedMessage(received_at, who, transport, reason, raw))
            log.info("quarantined from %s via %s: %s", who, transport, reason)
        stats = self._device(who)
        stats.messages += 1
        stats.accepted += len(new)
        stats.duplicates += len(observations) - len(new)
        stats.quarantined += len(refused)
        stats.last_seen = received_at
        if sent_at is not None:
            lag = (received_at - sent_at).total_seconds()
            stats.last_lag_s = lag
            stats.max_lag_s = max(stats.max_lag_s, lag)
            stats.lag_sum_s += lag
            stats.lag_count += 1
        return IngestOutcome(accepted=len(new), duplicates=len(observations) - len(new),
                             quarantined=len(refused), reason=refused[0][0] if refused else None)

    def _quarantine_message(self, who: str, transport: str, reason: str, raw: bytes) -> IngestOutcome:
        received_at = self.now()
        if self.store is not None:
            try:
                self.store.quarantine(who, f"{transport}: {reason}", raw)
            except Exception as exc:
                raise IngestUnavailable(f"the store could not be written: {exc}") from exc
        self.recent_quarantine.append(QuarantinedMessage(received_at, who, transport, reason, raw))
        log.info("quarantined from %s via %s: %s", who, transport, reason)
        stats = self._device(who)
        stats.messages += 1
        stats.quarantined += 1
        stats.last_seen = received_at
        return IngestOutcome(quarantined=1, reason=reason)

    def _remember(self, event_id: str) -> None:
        self._seen[event_id] = None
        if len(self._seen) > self._seen_cap:
            self._seen.popitem(last=False)


def _dump(observations: Sequence[Observation]) -> bytes:
    return json.dumps([o.to_dict() for o in observations], default=repr).encode("utf-8")
