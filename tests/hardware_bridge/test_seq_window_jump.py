"""A device's sequence number may jump far ahead (a reboot counting from its clock) without harm."""

from __future__ import annotations

import tracemalloc

from hardware_bridge.replay_guard import SequenceWindow, SeqVerdict


def test_a_huge_jump_forgets_the_window_without_building_a_huge_number():
    w = SequenceWindow(64)
    w.record("d", 5)
    tracemalloc.start()
    w.record("d", 2**62)  # the largest numbers the gate accepts are below 2**63
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # the old shift built a 2**62-bit integer
    assert w.highest("d") == 2**62
    assert w.check("d", 2**62) is SeqVerdict.REPEAT
    assert w.check("d", 2**62 - 1) is SeqVerdict.NEW
    assert w.check("d", 5) is SeqVerdict.STALE
