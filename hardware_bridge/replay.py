"""Replay a recording into the twin through the ingest gate, paced to the wall clock.

:class:`Replayer` plays a :class:`~hardware_bridge.replay_sources.Recording`
(a generic JSONL/CSV file or a built-in data set, see
:mod:`hardware_bridge.replay_sources`) through :meth:`Ingest.submit
<hardware_bridge.ingest.Ingest.submit>` with ``transport="replay"``, so recorded
observations meet exactly the checks, deduplication, store and bus that live
devices do. A replay is a trusted source: the gate's envelope freshness rules
(``seq``, ``sent_at``) do not apply to ``submit``, and the observations keep
their recorded ``observed_at``.

Pacing: with ``speedup`` X, a tick recorded ``d`` seconds after the first one
played is submitted ``d / X`` wall seconds after it (``speedup`` 300 plays
5-minute intervals every second). ``speedup`` 0 or infinity plays as fast as
the gate takes it, in batches of up to ``batch_size`` observations. When the
gate is slower than the pace the replay runs late rather than skipping
anything; :attr:`ReplayStats.max_late_s` says by how much.

Every observation has a deterministic ``event_id`` (``<source>@<interval
start>`` for detector intervals), so playing a recording twice into the same
store ingests it once: the second time every observation counts as a duplicate.
A line the recording cannot read goes to the quarantine with its file name and
line number (``ingest.quarantine``); an observation the gate refuses is
quarantined by the gate. Readings missing from the recording are counted in
:attr:`ReplayStats.missing` and listed as gaps, never invented.

A multi-sensor batch is submitted without a device id (the gate checks that a
device reports only as itself), so the gate's per-device counters show it
under ``"unknown"``; a batch from a single source is submitted as that device.

>>> from twin.bus import Bus
>>> from hardware_bridge.ingest import Ingest
>>> from hardware_bridge.replay_sources import I94
>>> stats = Replayer(Ingest(Bus(), require_freshness=False), I94(), limit=48).run()
>>> stats.accepted, stats.duplicates
(48, 0)
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from twin.observations import Observation

from .ingest import Ingest, IngestOutcome
from .replay_sources import BadRecord, Gap, Recording, Tick

__all__ = ["TRANSPORT", "ReplayStats", "Replayer", "parse_start"]

TRANSPORT = "replay"
"""The ``transport`` name replayed input carries at the gate and in the quarantine."""

MAX_GAPS_KEPT = 1000


@dataclass
class ReplayStats:
    """Counters of a replay, updated as it plays (the progress callback gets this object).

    Attributes
    ----------
    recording : str
    received : int, observations taken from the recording and handed to the gate
    accepted, duplicates : int, as the gate counted them
    quarantined : int, unreadable lines plus observations the gate refused
    bad_lines : int, of ``quarantined``: lines the recording could not read
    missing : int, readings absent from the recording (gaps), not replayed
    gaps : list of Gap, the first :data:`MAX_GAPS_KEPT` gaps; ``gap_count`` counts all
    ticks : int, distinct instants played
    total : int or None, observations expected from the start point (progress)
    first_time, last_time : datetime or None, recording times of the first and last tick played
    wall_s : float, wall time so far
    max_late_s : float, most a paced tick was submitted after its due time
    stopped : bool, :meth:`Replayer.stop` ended the replay early
    """

    recording: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    bad_lines: int = 0
    missing: int = 0
    gaps: list[Gap] = field(default_factory=list)
    gap_count: int = 0
    ticks: int = 0
    total: int | None = None
    first_time: datetime | None = None
    last_time: datetime | None = None
    wall_s: float = 0.0
    max_late_s: float = 0.0
    stopped: bool = False

    def add(self, outcome: IngestOutcome) -> None:
        """Count one gate outcome."""
        self.accepted += outcome.accepted
        self.duplicates += outcome.duplicates
        self.quarantined += outcome.quarantined

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready totals (the gaps summarised, the first ten listed)."""
        return {
            "recording": self.recording, "received": self.received, "accepted": self.accepted,
            "duplicates": self.duplicates, "quarantined": self.quarantined,
            "bad_lines": self.bad_lines, "missing": self.missing, "gaps": self.gap_count,
            "first_gaps": [g.as_dict() for g in self.gaps[:10]], "ticks": self.ticks,
            "first_time": None if self.first_time is None else self.first_time.isoformat(),
            "last_time": None if self.last_time is None else self.last_time.isoformat(),
            "wall_s": round(self.wall_s, 3), "max_late_s": round(self.max_late_s, 3),
            "stopped": self.stopped,
        }


ProgressCallback = Callable[[ReplayStats], None]


class Replayer:
    """Plays one recording into an :class:`~hardware_bridge.ingest.Ingest`.

    Parameters
    ----------
    ingest : Ingest
        The gate. Build it with ``require_freshness=False`` and, for a
        recording of sensors that are not registered devices, ``registry=None``.
    recording : Recording
    speedup : float
        Recorded seconds per wall second; 0 or ``inf`` (the default) plays as
        fast as possible.
    start : datetime, timedelta or None
        Play from this recording time (aware datetime; a naive one is read in
        the time zone of the recording's first observation), or this long after
        the recording's first observation. Earlier ticks are skipped, not played.
    limit : int or None
        Play at most this many observations.
    progress : callable or None
        ``progress(stats)`` after every submission to the gate; ``stats`` is the
        live :class:`ReplayStats` (read it, do not keep it).
    batch_size : int
        Largest batch handed to the gate when not paced.
    clock, sleep : callables
        Monotonic wall clock in seconds and a sleep; default ``time.monotonic``
        and a wait that :meth:`stop` interrupts.

    Raises
    ------
    hardware_bridge.ingest.IngestUnavailable
        From :meth:`run`, when the store cannot be written; what was taken
        before stays taken, and replaying again resumes without doubling.
    """

    def __init__(
        self,
        ingest: Ingest,
        recording: Recording,
        *,
        speedup: float = math.inf,
        start: datetime | timedelta | None = None,
        limit: int | None = None,
        progress: ProgressCallback | None = None,
        batch_size: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if isinstance(speedup, bool) or not isinstance(speedup, int | float) \
                or math.isnan(speedup) or speedup < 0:
            raise ValueError(f"speedup must be a number >= 0 (0 or inf: as fast as possible), "
                             f"got {speedup!r}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be an integer >= 0, got {limit!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        self.ingest = ingest
        self.recording = recording
        self.speedup = float(speedup)
        self.paced = 0.0 < self.speedup < math.inf
        self.since = self._since(start)
        self.limit = limit
        self.progress = progress
        self.batch_size = batch_size
        self.clock = clock
        self._stop = threading.Event()
        self._wall0 = 0.0
        self.sleep = sleep if sleep is not None else self._stop.wait
        self.stats = ReplayStats(recording.name, total=recording.count_since(self.since))
        if limit is not None and self.stats.total is not None:
            self.stats.total = min(self.stats.total, limit)

    def _since(self, start: datetime | timedelta | None) -> datetime | None:
        first = self.recording.first_time
        if start is None:
            return None
        if isinstance(start, timedelta):
            return None if first is None else first + start
        if start.tzinfo is None:
            if first is None:
                raise ValueError(f"start {start.isoformat()} has no time zone")
            return start.replace(tzinfo=first.tzinfo)
        return start

    def stop(self) -> None:
        """Ask :meth:`run` to stop before its next submission (thread-safe)."""
        self._stop.set()

    # ---------------------------------------------------------------------- playing
    def run(self) -> ReplayStats:
        """Play the recording to its end, the limit, or :meth:`stop`; return the totals."""
        stats = self.stats
        self._wall0 = self.clock()
        rec0: datetime | None = None
        pending: list[Observation] = []
        try:
            for item in self.recording.items(self.since):
                if self._stop.is_set():
                    stats.stopped = True
                    break
                if isinstance(item, BadRecord):
                    self._quarantine(item)
                elif isinstance(item, Gap):
                    stats.missing += item.missing
                    stats.gap_count += 1
                    if len(stats.gaps) < MAX_GAPS_KEPT:
                        stats.gaps.append(item)
                elif isinstance(item, Tick):
                    obs: Sequence[Observation] = item.observations
                    if self.limit is not None:
                        obs = obs[:max(0, self.limit - stats.received)]
                        if not obs:
                            break
                    if rec0 is None:
                        rec0 = stats.first_time = item.time
                    if self.paced:
                        self._wait_until(self._wall0
                                         + (item.time - rec0).total_seconds() / self.speedup)
                        if self._stop.is_set():
                            stats.stopped = True
                            break
                    stats.last_time = item.time
                    stats.ticks += 1
                    stats.received += len(obs)
                    pending.extend(obs)
                    if self.paced or len(pending) >= self.batch_size:
                        self._submit(pending)
                        pending = []
            if pending:
                self._submit(pending)
        finally:
            stats.wall_s = self.clock() - self._wall0
        return stats

    def _wait_until(self, due: float) -> None:
        delay = due - self.clock()
        if delay > 0:
            self.sleep(delay)
        self.stats.max_late_s = max(self.stats.max_late_s, self.clock() - due)

    def _submit(self, observations: list[Observation]) -> None:
        # the recording relays its many sensors; the gate counts them under its name
        self.stats.add(self.ingest.submit(observations, transport=TRANSPORT,
                                          relayed_by=f"replay:{self.recording.name}"))
        self._report()

    def _quarantine(self, bad: BadRecord) -> None:
        self.stats.bad_lines += 1
        self.stats.add(self.ingest.quarantine(bad.raw, transport=TRANSPORT, reason=bad.describe(),
                                              device_id=f"replay:{self.recording.name}"))
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.stats.wall_s = self.clock() - self._wall0
            self.progress(self.stats)


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([dhms])", re.IGNORECASE)
_UNIT_S = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}


def parse_start(text: str) -> datetime | timedelta:
    """A ``--start`` value: an ISO 8601 time, or a duration after the recording's start.

    Durations are a number of seconds (``3600``) or parts like ``1d``, ``2h30m``,
    ``90s``, ``1.5h``.

    Raises
    ------
    ValueError
        When ``text`` is neither.
    """
    s = text.strip()
    try:
        seconds = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"start offset must be >= 0 seconds, got {text!r}")
        return timedelta(seconds=seconds)
    compact = s.replace(" ", "")
    parts = _DURATION.findall(compact)
    if parts and "".join(n + u for n, u in parts).lower() == compact.lower():
        return timedelta(seconds=sum(float(n) * _UNIT_S[u.lower()] for n, u in parts))
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"start {text!r} is neither an ISO 8601 time (2012-03-01T07:00-08:00) "
                         f"nor a duration (3600, 90m, 2h30m, 1d)") from None
