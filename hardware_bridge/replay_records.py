"""The items a replayed recording is made of, and the :class:`Recording` interface.

A :class:`Recording` yields, in time order, :class:`Tick` (the observations that
share one ``observed_at``), :class:`BadRecord` (a line that cannot become an
observation, with its line number, for the quarantine) and :class:`Gap` (readings
missing from the recording: reported, never invented).

Fields a recording does not measure
-----------------------------------
A ``DETECTOR_INTERVAL`` payload carries ``count``, ``occupancy`` and
``mean_speed_mps``; a field the recording does not measure is None (METR-LA has
speeds only, I-94 volumes only), never an estimate.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.observations import Observation

__all__ = [
    "DATA_DIR",
    "KMH_TO_MPS",
    "MPH_TO_MPS",
    "BadRecord",
    "Gap",
    "Recording",
    "ReplayItem",
    "Tick",
    "decode_line",
    "iter_observations",
    "open_lines",
]


DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "sensors"
"""The repository's ``data/sensors`` folder (the shipped recordings)."""

MPH_TO_MPS = 0.44704
"""Metres per second in one mile per hour (exact: 1609.344 m / 3600 s)."""
KMH_TO_MPS = 1.0 / 3.6
"""Metres per second in one kilometre per hour."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Observations of one instant (their common ``observed_at``), in recording order."""

    time: datetime
    observations: tuple[Observation, ...]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that cannot become an observation.

    Attributes
    ----------
    source : str, the file (or recording) it came from
    line : int, 1-based line number (the header is line 1 of a CSV)
    reason : str
    raw : bytes, the line as read
    """

    source: str
    line: int
    reason: str
    raw: bytes = field(repr=False)

    def describe(self) -> str:
        """``<source>:<line>: <reason>``, the quarantine reason."""
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Gap:
    """Readings missing from a recording: reported, not invented.

    Attributes
    ----------
    source_id : str, the sensor
    start, end : datetime, interval starts of the first and the last missing reading
    missing : int, readings missing in ``[start, end]``
    """

    source_id: str
    start: datetime
    end: datetime
    missing: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"source_id": self.source_id, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "missing": self.missing}


ReplayItem = Tick | BadRecord | Gap


class Recording:
    """A recording to replay: a name, and its items in time order.

    Subclasses set :attr:`name`, :attr:`first_time`, :attr:`total_observations`
    and implement :meth:`items`.
    """

    name: str = "recording"
    first_time: datetime | None = None
    """``observed_at`` of the first observation (None for an empty recording)."""
    total_observations: int | None = None
    """How many observations :meth:`items` yields from the beginning (None: unknown)."""

    def items(self, since: datetime | None = None) -> Iterator[ReplayItem]:
        """Ticks, bad records and gaps in time order; ticks before ``since`` are left out."""
        raise NotImplementedError

    def count_since(self, since: datetime | None) -> int | None:
        """Observations from ``since`` on (for a progress bar); None when unknown."""
        return self.total_observations if since is None else None

    def summary(self) -> dict[str, Any]:
        """Facts about the recording itself (rows read, rows dropped and why), JSON-ready."""
        return {"name": self.name}



def open_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line without the newline)`` of a text file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            yield n, raw.rstrip(b"\r\n")


def decode_line(raw: bytes, line: int) -> str:
    """``raw`` as UTF-8 text, without a byte-order mark on line 1 (UnicodeDecodeError if not)."""
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff") if line == 1 else text


def iter_observations(items: Iterable[ReplayItem]) -> Iterator[Observation]:
    """Every observation of ``items`` in order (the ticks' contents)."""
    for item in items:
        if isinstance(item, Tick):
            yield from item.observations
