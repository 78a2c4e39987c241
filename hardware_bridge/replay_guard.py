"""Replay protection: message sequence numbers in a sliding window, and clock skew.

Every device numbers its messages (``seq``, increasing) and stamps them with the
time it sent them (``sent_at``). :class:`SequenceWindow` remembers, per device,
the highest number seen and which of the ``window`` numbers below it arrived,
like the anti-replay window of IPsec (RFC 4303 §3.4.3): a number seen before is a
repeat, a number older than the window is stale, anything else is new (QoS 1
redelivery and HTTP retries may reorder a few messages). Numbers skipped over
are counted as gaps: messages the device sent that never arrived (yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["SeqVerdict", "SequenceWindow"]


class SeqVerdict(StrEnum):
    """What a sequence number means."""

    NEW = "new"
    REPEAT = "repeat"
    """Seen before (a redelivery or a replay)."""
    STALE = "stale"
    """Older than the window: cannot tell, so refused."""


@dataclass(slots=True)
class _DeviceWindow:
    highest: int
    seen_bits: int  # bit i set: highest - i was seen (bit 0 is highest itself)
    first: int  # the first number taken: holes above it are gaps, numbers below it are late


class SequenceWindow:
    """Per-device sliding windows of sequence numbers.

    Parameters
    ----------
    window : int
        How many numbers below the highest are still accepted out of order.
    """

    def __init__(self, window: int = 1024) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._devices: dict[str, _DeviceWindow] = {}
        self.gaps: dict[str, int] = {}
        """Per device: numbers skipped so far and not (yet) filled in."""

    def check(self, device_id: str, seq: int) -> SeqVerdict:
        """The verdict on ``seq`` without recording it."""
        w = self._devices.get(device_id)
        if w is None or seq > w.highest:
            return SeqVerdict.NEW
        back = w.highest - seq
        if back >= self.window:
            return SeqVerdict.STALE
        return SeqVerdict.REPEAT if (w.seen_bits >> back) & 1 else SeqVerdict.NEW

    def record(self, device_id: str, seq: int) -> None:
        """Mark ``seq`` as taken (call after the message was accepted)."""
        w = self._devices.get(device_id)
        mask = (1 << self.window) - 1
        if w is None:
            self._devices[device_id] = _DeviceWindow(seq, 1, seq)
            self.gaps.setdefault(device_id, 0)
            return
        if seq > w.highest:
            shift = seq - w.highest
            self.gaps[device_id] += shift - 1
            # a jump past the window forgets it all (shifting by a huge jump would build a huge int)
            w.seen_bits = 1 if shift >= self.window else ((w.seen_bits << shift) | 1) & mask
            w.highest = seq
            return
        back = w.highest - seq
        if back < self.window and not (w.seen_bits >> back) & 1:
            w.seen_bits |= 1 << back
            if seq > w.first:
                self.gaps[device_id] -= 1

    def highest(self, device_id: str) -> int | None:
        """The highest number taken from ``device_id``."""
        w = self._devices.get(device_id)
        return None if w is None else w.highest
