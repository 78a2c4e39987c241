"""The one clock of a twin: simulated time or wall time, over SimPy.

A :class:`Clock` owns a SimPy environment. Scenarios run on a plain
``simpy.Environment`` (as fast as the machine allows); the live twin, or a
scenario watched on the dashboard, runs on ``simpy.rt.RealtimeEnvironment``
paced to the wall clock. SimPy processes (the traffic step, call centre, case
workflows) are written once and run on either. ``env.now`` counts seconds since
``start``; :meth:`Clock.datetime_at` turns it into a timezone-aware datetime.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import simpy
import simpy.rt

ProcessGenerator = Generator[simpy.Event, Any, Any]


class Clock:
    """The single owner of time in a twin.

    Parameters
    ----------
    start : datetime
        Timezone-aware wall-clock time of ``now_s == 0``.
    realtime : bool
        Pace the simulation to the wall clock.
    speedup : float
        With ``realtime``, simulated seconds per wall second (10 runs ten
        times faster than real time).
    strict : bool
        With ``realtime``, raise ``RuntimeError`` when the simulation falls
        behind the wall clock instead of catching up.
    """

    def __init__(
        self,
        start: datetime,
        *,
        realtime: bool = False,
        speedup: float = 1.0,
        strict: bool = False,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError(f"clock start {start!r} must be timezone-aware")
        if speedup <= 0:
            raise ValueError(f"speedup must be > 0, got {speedup}")
        self.start = start
        self.realtime = realtime
        self.speedup = speedup
        self.env: simpy.Environment
        if realtime:
            self.env = simpy.rt.RealtimeEnvironment(factor=1.0 / speedup, strict=strict)
        else:
            self.env = simpy.Environment()

    @property
    def now_s(self) -> float:
        """Seconds since ``start``."""
        return float(self.env.now)

    @property
    def now(self) -> datetime:
        """The current time as a timezone-aware datetime."""
        return self.datetime_at(self.env.now)

    def datetime_at(self, time_s: float) -> datetime:
        """The datetime ``time_s`` seconds after ``start``."""
        return self.start + timedelta(seconds=float(time_s))

    def process(self, generator: ProcessGenerator) -> simpy.Process:
        """Start a SimPy process on this clock."""
        return self.env.process(generator)

    def wake_first(self, delay_s: float) -> simpy.Event:
        """A timeout of ``delay_s`` that fires before every other event due at the
        same instant (SimPy's urgent priority): the process that keeps the
        traffic engine in step with the clock waits on it, so the engine has
        reached time ``T`` before any other process acts at ``T``."""
        return _WakeFirst(self.env, delay_s)

    def run(self, until_s: float) -> None:
        """Advance to ``until_s`` seconds, running every process due before it."""
        self.env.run(until=until_s)


class _WakeFirst(simpy.Event):
    """A timeout scheduled with :data:`simpy.events.URGENT` priority."""

    def __init__(self, env: simpy.Environment, delay_s: float) -> None:
        if delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, simpy.events.URGENT, delay_s)
