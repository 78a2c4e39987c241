"""The signal programs red-light cameras watch: states, red onsets, controller messages.

The engine shows every connection of a program the state of the program's phase at
the start of each step (:mod:`core_ext._micro_nb`, phase 0), so a program's state is a
function of time alone, computed here from the same arrays. A signal controller
reports each phase change; :meth:`SignalWatch.changes_until` lists them, and
:class:`~twin.cameras.VirtualCameras` publishes them as ``signal_state`` observations
(``source_id`` the program id, payload ``program`` and ``state``, the state string with
one character per signal index, as in SUMO).
"""

from __future__ import annotations

from collections.abc import Iterable

from twin.network import SignalPrograms

__all__ = ["SignalWatch"]

_AFTER_S = 1e-6


class SignalWatch:
    """State strings and phase changes of ``programs`` (indices into ``signals``)."""

    def __init__(self, signals: SignalPrograms, programs: Iterable[int]) -> None:
        self.signals = signals
        self.programs = tuple(sorted(set(int(p) for p in programs)))
        self._next_change_s = {p: 0.0 for p in self.programs}

    def phase_at(self, program: int, time_s: float) -> tuple[int, float]:
        """``(phase index, start time in seconds)`` of the phase running at ``time_s``."""
        sig = self.signals
        a, b = int(sig.phase_offsets[program]), int(sig.phase_offsets[program + 1])
        cycle = sig.cycle_s(program)
        into = (time_s + float(sig.offset_s[program])) % cycle
        before = 0.0
        for i in range(a, b):
            dur = float(sig.phase_duration_s[i])
            if into < before + dur:
                return i, time_s - (into - before)
            before += dur
        return b - 1, time_s - (into - before + float(sig.phase_duration_s[b - 1]))

    def state_at(self, program: int, time_s: float) -> str:
        """The program's state string at ``time_s`` (one character per signal index)."""
        return self.signals.phase_state[self.phase_at(program, time_s)[0]]

    def red_since(self, program: int, index: int, time_s: float) -> float | None:
        """When signal ``index`` of ``program`` turned red, if it is red at ``time_s``."""
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
        which may lie before 0)."""
        out: list[tuple[float, int, str]] = []
        for p in self.programs:
            while self._next_change_s[p] <= time_s + _AFTER_S:
                i, start = self.phase_at(p, self._next_change_s[p] + _AFTER_S)
                out.append((start, p, self.signals.phase_state[i]))
                self._next_change_s[p] = start + float(self.signals.phase_duration_s[i])
        out.sort(key=lambda x: (x[0], x[1]))
        return out
