"""Interventions a what-if fork can try, as small typed records.

Each one acts on a fork through a :class:`ForkContext` (the fork's simulation, its
window and the incident clearances planned in it), at the start of the window or at a
time of its own. What each means in the engine:

- :class:`CloseLink`: a road closure with a signed diversion
  (:meth:`~twin.simulation.Simulation.close_link`): nobody enters the link, drivers whose
  route goes through it re-plan around it, those who cannot avoid it wait at the closure.
- :class:`SetSignalTiming`: a new signal plan (phase durations, offset) for one program;
  :class:`ExtendGreen`: more green for the approach of one link at its signal.
- :class:`Reroute`: a ``share`` of the drivers on the road re-plan on current travel
  times every ``period_s`` (traffic information, VMS, navigation apps).
- :class:`ClearIncidentEarlier` / :class:`ClearIncidentAt`: "send a tow truck earlier":
  an open incident is cleared at an earlier time than planned.
- :class:`Combined`: several at once.

:func:`parse_intervention` reads the command-line form (``close:LINK``, ...).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from twin.simulation import Simulation

__all__ = [
    "ClearIncidentAt",
    "ClearIncidentEarlier",
    "CloseLink",
    "Combined",
    "ExtendGreen",
    "ForkContext",
    "Intervention",
    "Reroute",
    "SetSignalTiming",
    "approach_green_phases",
    "parse_intervention",
]

Action = Callable[[Simulation], None]


class ForkContext:
    """What an intervention may act on in one fork.

    Attributes
    ----------
    sim : Simulation, the fork (standing at ``start_s``)
    start_s, end_s : float, the window in simulation seconds
    clearances : dict, incident id -> planned clearance time (s) of the incidents
        open or planned in the window; an intervention may move them.
    """

    def __init__(self, sim: Simulation, start_s: float, end_s: float,
                 clearances: dict[int, float]) -> None:
        self.sim = sim
        self.start_s = float(start_s)
        self.end_s = float(end_s)
        self.clearances = clearances
        self.actions: list[tuple[float, int, Action]] = []
        """Scheduled actions, a heap of (time_s, sequence, action)."""
        self._seq = 0

    def at(self, time_s: float, action: Action) -> None:
        """Run ``action(sim)`` when the fork reaches ``time_s`` (now when in the past);
        actions due at the same time run in the order they were scheduled."""
        self._seq += 1
        heapq.heappush(self.actions, (max(float(time_s), self.start_s), self._seq, action))


class Intervention(Protocol):
    """Something a planner could do; applied to a fork at the start of its window."""

    @property
    def label(self) -> str:
        """A short human-readable name."""
        ...

    def apply(self, fork: ForkContext) -> None:
        """Change the fork (now, or by scheduling actions with :meth:`ForkContext.at`)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``type`` plus the fields."""
        ...


class _Record:
    """``to_dict`` for the dataclass interventions."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description: ``type`` plus the fields."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, tuple) and value and hasattr(value[0], "to_dict"):
                value = [v.to_dict() for v in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


@dataclass(frozen=True)
class CloseLink(_Record):
    """Close ``link`` (an id) to traffic, with drivers diverted around it."""

    link: str

    @property
    def label(self) -> str:
        """Name for tables."""
        return f"close link {self.link}"

    def apply(self, fork: ForkContext) -> None:
        """Close the link in the fork now."""
        fork.sim.close_link(self.link)


@dataclass(frozen=True)
class SetSignalTiming(_Record):
    """Give signal ``program`` new phase durations (seconds, one per phase) and offset."""

    program: str
    phase_duration_s: tuple[float, ...]
    offset_s: float | None = None

    @property
    def label(self) -> str:
        """Name for tables."""
        durations = "/".join(f"{d:g}" for d in self.phase_duration_s)
        return f"signal {self.program} phases {durations} s"

    def apply(self, fork: ForkContext) -> None:
        """Switch the plan in the fork now."""
        fork.sim.set_signal_timing(self.program, self.phase_duration_s, self.offset_s)


def approach_green_phases(sim: Simulation, link: str | int) -> tuple[int, list[int]]:
    """The signal program at the end of ``link`` and the phases (0-based, within the
    program) that show green (``G`` or ``g``) to at least one of its lane connections.

    Raises
    ------
    ValueError
        When no signal controls the link's connections.
    """
    net = sim.network
    index = sim.resolve_link(link)
    conns = np.flatnonzero((net.conn_from_link == index) & (net.conn_program >= 0))
    if conns.size == 0:
        raise ValueError(f"no signal controls link {net.link_ids[index]!r}")
    program = int(net.conn_program[conns[0]])
    sig_index = sorted({int(i) for i in net.conn_signal_index[conns]})
    sig = net.signals
    a, b = int(sig.phase_offsets[program]), int(sig.phase_offsets[program + 1])
    green = [k for k, state in enumerate(sig.phase_state[a:b])
             if any(state[i] in "Gg" for i in sig_index)]
    return program, green


@dataclass(frozen=True)
class ExtendGreen(_Record):
    """``extra_green_s`` more green for the approach of ``link`` at its signal.

    The approach's longest green phase gets the extra seconds. With ``keep_cycle``
    they are taken from the other phases that neither serve the approach nor show
    amber, in proportion to their time above ``min_green_s``, so the cycle (and any
    coordination) stays; otherwise the cycle grows by ``extra_green_s``.
    """

    link: str
    extra_green_s: float = 10.0
    keep_cycle: bool = True
    min_green_s: float = 7.0

    @property
    def label(self) -> str:
        """Name for tables."""
        cycle = "same cycle" if self.keep_cycle else "longer cycle"
        return f"+{self.extra_green_s:g} s green for {self.link} ({cycle})"

    def timing(self, sim: Simulation) -> tuple[str, np.ndarray]:
        """The program id and its new phase durations (seconds).

        Raises
        ------
        ValueError
            When no signal controls the link, or the other phases cannot give the time.
        """
        program, green = approach_green_phases(sim, self.link)
        if not green:
            raise ValueError(f"signal program of {self.link!r} never shows it green")
        durations, _ = sim.signal_timing(program)
        main = max(green, key=lambda k: (durations[k], -k))
        new = durations.copy()
        new[main] += self.extra_green_s
        if self.keep_cycle:
            sig = sim.network.signals
            a = int(sig.phase_offsets[program])
            donors = [k for k in range(len(durations)) if k not in green
                      and "y" not in sig.phase_state[a + k]]
            slack = np.array([max(0.0, durations[k] - self.min_green_s) for k in donors])
            if slack.sum() < self.extra_green_s:
                raise ValueError(f"the other phases of signal {sig.program_ids[program]!r} have "
                                 f"{slack.sum():g} s above {self.min_green_s:g} s to give, "
                                 f"{self.extra_green_s:g} s asked")
            for k, s in zip(donors, slack, strict=True):
                new[k] -= self.extra_green_s * s / slack.sum()
        return sim.network.signals.program_ids[program], new

    def apply(self, fork: ForkContext) -> None:
        """Switch the plan in the fork now."""
        program, durations = self.timing(fork.sim)
        fork.sim.set_signal_timing(program, durations)


@dataclass(frozen=True)
class Reroute(_Record):
    """A ``share`` of the drivers re-plan on current travel times every ``period_s``
    (the first round at the next step)."""

    share: float = 0.3
    period_s: float = 300.0

    @property
    def label(self) -> str:
        """Name for tables."""
        return f"reroute {self.share:.0%} of drivers every {self.period_s:g} s"

    def apply(self, fork: ForkContext) -> None:
        """Turn re-routing on in the fork's engine settings."""
        fork.sim.set_rerouting(self.share, self.period_s)


@dataclass(frozen=True)
class ClearIncidentAt(_Record):
    """Clear open incident ``incident_id`` at ``at_s`` (simulation seconds)."""

    incident_id: int
    at_s: float

    @property
    def label(self) -> str:
        """Name for tables."""
        return f"clear incident {self.incident_id} at {self.at_s:g} s"

    def apply(self, fork: ForkContext) -> None:
        """Move the incident's clearance to ``at_s``."""
        if self.incident_id not in fork.sim.open_incidents:
            raise ValueError(f"incident {self.incident_id} is not open")
        fork.clearances[self.incident_id] = max(fork.start_s, float(self.at_s))


@dataclass(frozen=True)
class ClearIncidentEarlier(_Record):
    """Clear open incident ``incident_id`` ``earlier_s`` seconds before its planned
    clearance (not before the start of the window)."""

    incident_id: int
    earlier_s: float = 900.0

    @property
    def label(self) -> str:
        """Name for tables."""
        return f"clear incident {self.incident_id} {self.earlier_s / 60:g} min earlier"

    def apply(self, fork: ForkContext) -> None:
        """Move the incident's planned clearance earlier.

        Raises
        ------
        ValueError
            When the incident has no planned clearance (use :class:`ClearIncidentAt`).
        """
        planned = fork.clearances.get(self.incident_id)
        if planned is None or not math.isfinite(planned):
            raise ValueError(f"incident {self.incident_id} has no planned clearance; "
                             f"use ClearIncidentAt")
        fork.clearances[self.incident_id] = max(fork.start_s, planned - self.earlier_s)


@dataclass(frozen=True)
class Combined(_Record):
    """Several interventions applied together, in order."""

    parts: tuple[Intervention, ...]

    @property
    def label(self) -> str:
        """Name for tables."""
        return " + ".join(p.label for p in self.parts)

    def apply(self, fork: ForkContext) -> None:
        """Apply each part."""
        for p in self.parts:
            p.apply(fork)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {text!r}")
    return value


def parse_intervention(text: str) -> Intervention:
    """An intervention from its command-line form.

    ``close:LINK``, ``reroute:SHARE[:PERIOD_S]`` (share in [0, 1] or a percentage such
    as ``30%``), ``green:LINK:EXTRA_S`` (``green:LINK:+10``; ``...:cycle`` lets the
    cycle grow), ``signal:PROGRAM:D1,D2,...``, ``clear-earlier:INCIDENT:SECONDS``,
    ``clear-at:INCIDENT:TIME_S``; several joined with ``&`` are combined.

    Raises
    ------
    ValueError
        Naming what cannot be read.
    """
    if "&" in text:
        return Combined(tuple(parse_intervention(t.strip()) for t in text.split("&")))
    kind, _, rest = text.partition(":")
    args = rest.split(":") if rest else []
    kind = kind.strip().lower()
    try:
        if kind == "close" and len(args) == 1:
            return CloseLink(args[0])
        if kind == "reroute" and 1 <= len(args) <= 2:
            share_text = args[0].strip()
            share = _number(share_text.rstrip("%"), "share")
            share = share / 100 if share_text.endswith("%") else share
            if not 0 < share <= 1:
                raise ValueError(f"share must be in (0, 1], got {args[0]!r}")
            period = _number(args[1], "period_s") if len(args) == 2 else 300.0
            if period <= 0:
                raise ValueError(f"period_s must be > 0, got {args[1]!r}")
            return Reroute(share, period)
        if kind == "green" and 2 <= len(args) <= 3:
            extra = _number(args[1], "extra green")
            if extra <= 0:
                raise ValueError(f"extra green must be > 0 s, got {args[1]!r}")
            if len(args) == 3 and args[2] != "cycle":
                raise ValueError(f"the third field of green: is 'cycle', got {args[2]!r}")
            return ExtendGreen(args[0], extra, keep_cycle=len(args) == 2)
        if kind == "signal" and len(args) == 2:
            return SetSignalTiming(args[0], tuple(_number(d, "phase duration")
                                                  for d in args[1].split(",")))
        if kind == "clear-earlier" and len(args) == 2:
            return ClearIncidentEarlier(int(args[0]), _number(args[1], "seconds earlier"))
        if kind == "clear-at" and len(args) == 2:
            return ClearIncidentAt(int(args[0]), _number(args[1], "time"))
    except ValueError as exc:
        raise ValueError(f"intervention {text!r}: {exc}") from None
    raise ValueError(f"intervention {text!r} is not one of close:LINK, reroute:SHARE[:PERIOD_S], "
                     f"green:LINK:EXTRA_S[:cycle], signal:PROGRAM:D1,D2,..., "
                     f"clear-earlier:INCIDENT:SECONDS, clear-at:INCIDENT:TIME_S")
