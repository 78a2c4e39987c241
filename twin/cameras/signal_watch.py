"""The signal programs red-light cameras watch: states, red onsets, controller messages.

The engine shows every connection of a program the state of the program's phase at
the start of each step (:mod:`core_ext._micro_nb`, phase 0), so a program's state is a
function of time and of the timing in effect (:meth:`twin.simulation.Simulation.signal_programs`,
which :meth:`~twin.simulation.Simulation.set_signal_timing` changes). A signal controller
reports each phase change; :meth:`SignalWatch.changes_until` lists them, and
:class:`~twin.cameras.VirtualCameras` publishes them as ``signal_state`` observations
(``source_id`` the program id, payload ``program`` and ``state``, the state string with
one character per signal index, as in SUMO).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from twin.network import SignalPrograms

__all__ = ["SignalWatch"]

_AFTER_S = 1e-6


class SignalWatch:
    """State strings and phase changes of ``programs`` under the timing ``timing()`` gives.

    Parameters
    ----------
    timing : callable returning the :class:`~twin.network.SignalPrograms` in effect;
        read again by :meth:`refresh`.
    programs : the program indices watched.
    """

    def __init__(self, timing: Callable[[], SignalPrograms], programs: Iterable[int]) -> None:
        self._timing = timing
        self.signals = timing()
        self.programs = tuple(sorted(set(int(p) for p in programs)))
        self._next_change_s = {p: 0.0 for p in self.programs}
        self._switched: set[int] = set()
        self._listed_until_s = 0.0

    def refresh(self) -> None:
        """Read the timing in effect again.

        A program whose timing changed since the last call switched plans without a
        transition (the engine jumps to the new plan's phase at once): its next listed
        change is the phase it shows under the new plan, starting where the listing had
        got to (the switch happened after the last :meth:`changes_until`).
        """
        old, new = self.signals, self._timing()
        for p in self.programs:
            a, b = int(old.phase_offsets[p]), int(old.phase_offsets[p + 1])
            if old.offset_s[p] != new.offset_s[p] \
                    or not np.array_equal(old.phase_duration_s[a:b], new.phase_duration_s[a:b]):
                self._next_change_s[p] = self._listed_until_s
                self._switched.add(p)
        self.signals = new

    def phase_at(self, program: int, time_s: float) -> tuple[int, float]:
        """``(phase index, start time in seconds)`` of the phase running at ``time_s``."""
        return self.signals.phase_at(program, time_s)

    def state_at(self, program: int, time_s: float) -> str:
        """The program's state string at ``time_s`` (one character per signal index)."""
        return self.signals.state_at(program, time_s)

    def red_since(self, program: int, index: int, time_s: float) -> float | None:
        """When signal ``index`` of ``program`` turned red, if it is red at ``time_s``
        (counted back along the timing in effect)."""
        sig = self.signals
        i, start = self.phase_at(program, time_s)
        if sig.phase_state[i][index] not in "rR":
            return None
        a, b = int(sig.phase_offsets[program]), int(sig.phase_offsets[program + 1])
        for _ in range(b - a - 1):
            i = i - 1 if i > a else b - 1
            if sig.phase_state[i][index] not in "rR":
                break
            start -= float(sig.phase_duration_s[i])
        return start

    def changes_until(self, time_s: float) -> list[tuple[float, int, str]]:
        """Phase changes not listed before, up to ``time_s``: ``(start_s, program, state)``
        by time. The first call lists each program's phase at time 0 (with its start,
        which may lie before 0); after a plan switch (:meth:`refresh`), the new plan's
        phase starts at the switch."""
        out: list[tuple[float, int, str]] = []
        for p in self.programs:
            while self._next_change_s[p] <= time_s + _AFTER_S:
                i, start = self.phase_at(p, self._next_change_s[p] + _AFTER_S)
                switch_s = self._next_change_s[p]
                self._next_change_s[p] = start + float(self.signals.phase_duration_s[i])
                if p in self._switched:  # the new plan's phase shows from the switch on
                    self._switched.discard(p)
                    start = max(start, switch_s)
                out.append((start, p, self.signals.phase_state[i]))
        self._listed_until_s = max(self._listed_until_s, time_s)
        out.sort(key=lambda x: (x[0], x[1]))
        return out
