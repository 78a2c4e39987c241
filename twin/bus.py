"""An in-process publish/subscribe bus for Observations.

Topics are ``{kind}/{source_id}`` (see :attr:`Observation.topic`); patterns use
MQTT wildcards: ``+`` matches one level, ``#`` (last) matches the rest, so
``detector_interval/#`` receives every detector record.

Each subscription has a bounded queue. When it is full the new record is not
queued for that subscriber: the loss is counted on the subscription and in
:meth:`Bus.stats`, and logged, never dropped in silence. Callback subscribers
are called synchronously; an exception in one is counted and logged and does
not reach the publisher or the other subscribers.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from twin.observations import Observation

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 100_000


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether ``topic`` matches the MQTT-style ``pattern``."""
    p_parts = pattern.split("/")
    t_parts = topic.split("/")
    for i, p in enumerate(p_parts):
        if p == "#":
            return i == len(p_parts) - 1
        if i >= len(t_parts):
            return False
        if p != "+" and p != t_parts[i]:
            return False
    return len(p_parts) == len(t_parts)


def _check_pattern(pattern: str) -> None:
    parts = pattern.split("/")
    for i, p in enumerate(parts):
        if "#" in p and (p != "#" or i != len(parts) - 1):
            raise ValueError(f"topic pattern {pattern!r}: '#' may only stand alone as the last level")
        if "+" in p and p != "+":
            raise ValueError(f"topic pattern {pattern!r}: '+' must stand alone in its level")


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    """Counters of one subscription."""

    name: str
    pattern: str
    delivered: int
    dropped: int
    failed: int
    queued: int
    maxsize: int


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters of the whole bus."""

    published: int
    unrouted: int
    dropped: int
    subscriptions: tuple[SubscriptionStats, ...]


class Subscription:
    """One subscriber's view of the bus: a bounded queue or a callback."""

    def __init__(
        self,
        name: str,
        pattern: str,
        maxsize: int,
        callback: Callable[[Observation], None] | None = None,
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"subscription {name!r}: maxsize must be >= 1, got {maxsize}")
        self.name = name
        self.pattern = pattern
        self.maxsize = maxsize
        self.callback = callback
        self.delivered = 0
        self.dropped = 0
        self.failed = 0
        self._queue: deque[Observation] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._queue)

    def _offer(self, obs: Observation) -> bool:
        if self.callback is not None:
            try:
                self.callback(obs)
            except Exception:  # a subscriber's bug must not stop the publisher
                self.failed += 1
                log.exception("bus subscriber %r failed on %s", self.name, obs.topic)
                return False
            self.delivered += 1
            return True
        with self._lock:
            if len(self._queue) >= self.maxsize:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning(
                        "bus subscriber %r is full (%d queued): %d observation(s) not delivered",
                        self.name, self.maxsize, self.dropped,
                    )
                return False
            self._queue.append(obs)
            self.delivered += 1
            return True

    def get_nowait(self) -> Observation | None:
        """The oldest queued observation, or ``None`` when the queue is empty."""
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def drain(self, max_items: int | None = None) -> list[Observation]:
        """Remove and return queued observations, oldest first."""
        with self._lock:
            n = len(self._queue) if max_items is None else min(max_items, len(self._queue))
            return [self._queue.popleft() for _ in range(n)]

    def stats(self) -> SubscriptionStats:
        """This subscription's counters."""
        return SubscriptionStats(self.name, self.pattern, self.delivered, self.dropped,
                                 self.failed, len(self._queue), self.maxsize)


class Bus:
    """In-process publish/subscribe for Observations (thread-safe)."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self.published = 0
        self.unrouted = 0

    def subscribe(
        self, pattern: str, *, name: str | None = None, maxsize: int = DEFAULT_QUEUE_SIZE
    ) -> Subscription:
        """A queue subscription to ``pattern``; read it with ``drain()``."""
        _check_pattern(pattern)
        sub = Subscription(name or pattern, pattern, maxsize)
        with self._lock:
            self._subs.append(sub)
        return sub

    def subscribe_callback(
        self, pattern: str, callback: Callable[[Observation], None], *, name: str | None = None
    ) -> Subscription:
        """Call ``callback(observation)`` synchronously for each match of ``pattern``."""
        _check_pattern(pattern)
        label = name or str(getattr(callback, "__name__", pattern))
        sub = Subscription(label, pattern, 1, callback)
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``."""
        with self._lock:
            self._subs = [s for s in self._subs if s is not sub]

    def publish(self, obs: Observation) -> int:
        """Deliver ``obs`` to every matching subscriber; return how many took it."""
        topic = obs.topic
        with self._lock:
            subs = [s for s in self._subs if topic_matches(s.pattern, topic)]
            self.published += 1
            if not subs:
                self.unrouted += 1
        return sum(1 for s in subs if s._offer(obs))

    def publish_many(self, observations: list[Observation]) -> int:
        """Publish each observation in order; return the number of deliveries."""
        return sum(self.publish(o) for o in observations)

    def stats(self) -> BusStats:
        """Counters of the bus and of every subscription."""
        with self._lock:
            subs = tuple(s.stats() for s in self._subs)
            return BusStats(self.published, self.unrouted, sum(s.dropped for s in subs), subs)
