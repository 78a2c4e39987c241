"""Recordings to replay into the twin: generic files and the two shipped real data sets.

A :class:`Recording` yields, in time order, :class:`Tick` (the observations that
share one ``observed_at``), :class:`BadRecord` (a line that cannot become an
observation, with its line number, for the quarantine) and :class:`Gap` (readings
missing from the recording: reported, never invented). :mod:`hardware_bridge.replay`
plays them through the ingest gate.

Formats and data sets live in :mod:`.replay_records` (the items and the
:class:`Recording` interface), :mod:`.replay_files` (JSONL, observation CSV,
detector CSV) and :mod:`.replay_datasets` (METR-LA, I-94); this module names
them and opens one by name or path.

Built-in recordings (:func:`open_recording` by name), read from ``data/sensors``:


- ``metr-la``: :class:`MetrLa`, 207 Los Angeles freeway loop detectors, speeds
  every 5 minutes for 1-7 March 2012.
- ``i94``: :class:`I94`, hourly westbound volumes of I-94 at MnDOT ATR 301,
  2012-10-02 to 2018-09-30, deduplicated.
"""

from __future__ import annotations

from pathlib import Path

from .replay_datasets import I94, MetrLa
from .replay_files import DetectorCsv, JsonlObservations, ObservationCsv, open_file
from .replay_records import (
    DATA_DIR,
    KMH_TO_MPS,
    MPH_TO_MPS,
    BadRecord,
    Gap,
    Recording,
    ReplayItem,
    Tick,
    iter_observations,
)

__all__ = [
    "BUILTIN",
    "DATA_DIR",
    "KMH_TO_MPS",
    "MPH_TO_MPS",
    "BadRecord",
    "DetectorCsv",
    "Gap",
    "I94",
    "JsonlObservations",
    "MetrLa",
    "ObservationCsv",
    "Recording",
    "ReplayItem",
    "Tick",
    "iter_observations",
    "open_recording",
]

BUILTIN: dict[str, type[Recording]] = {"metr-la": MetrLa, "i94": I94}
"""Built-in recordings by name."""


def open_recording(source: str | Path) -> Recording:
    """A built-in recording by name (``metr-la``, ``i94``) or a file by its path.

    The file format comes from the name (``.gz`` stripped first): ``.jsonl``,
    ``.ndjson`` or ``.json`` is JSONL; ``.csv`` is an observation CSV or a
    detector CSV, told apart by the header (see :mod:`.replay_files`).

    Raises
    ------
    ValueError
        For an unknown name, a missing file, an unknown format or a CSV header
        that fits neither layout.
    """
    text = str(source)
    if text in BUILTIN:
        return BUILTIN[text]()
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{text!r} is neither a built-in recording ({', '.join(BUILTIN)}) "
                         f"nor a file")
    return open_file(path)
