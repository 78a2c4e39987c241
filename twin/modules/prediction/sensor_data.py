"""Reading a sensor-speed history (METR-LA style CSV) and its sensor graph.

The files may be gzipped (``.gz``). The speed file has a header line of sensor ids and
one line per time step, one column per sensor; empty or non-numeric fields are missing
values. METR-LA marks a missing reading with ``0`` mph, so values ``<= 0`` are read as
missing too (``nonpositive_is_missing``; turn it off for flows, where 0 is a real
count). The adjacency file is a square matrix of non-negative weights, with or without
a header line of ids.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray

__all__ = ["METR_LA_FIT_ROWS", "METR_LA_START", "SensorHistory", "adjacency_beside",
           "default_metr_la_speed_path", "load_adjacency", "load_sensor_history"]

METR_LA_START = "2012-03-01T00:00"
"""Local (Los Angeles) time of the first row of the METR-LA week: a Thursday."""
METR_LA_FIT_ROWS = 1612
"""Rows 0-1611 are the fit split of the evaluation protocol (issue 7)."""

_REPO = Path(__file__).resolve().parents[3]
_CANDIDATES = tuple(
    folder / "sensors" / "metr-la" / name
    for folder in (_REPO / "data", _REPO.parent / "shared" / "data")
    for name in ("los_speed.csv.gz", "los_speed.csv")
)
_ADJACENCY_NAMES = ("adj_mx_dcrnn.csv.gz", "adj_mx_dcrnn.csv", "los_adj.csv")


def default_metr_la_speed_path() -> Path:
    """``data/sensors/metr-la/los_speed.csv[.gz]`` in the repository, else in ``../shared/data/``.

    Returns the first candidate that exists (the repository's when none does, so the
    error message names where the file belongs).
    """
    return next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])


def adjacency_beside(speed_path: Path) -> Path | None:
    """The sensor graph in the speed file's folder: DCRNN's ``adj_mx_dcrnn.csv[.gz]``, else ``los_adj.csv``.

    (T-GCN's ``los_adj.csv`` is DCRNN's adjacency symmetrised, ``max(A, A')``.)
    """
    folder = Path(speed_path).parent
    return next((folder / n for n in _ADJACENCY_NAMES if (folder / n).exists()), None)


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


@dataclass(frozen=True)
class SensorHistory:
    """A history matrix and what was read as missing."""

    values: NDArray[np.float64]
    """(rows, sensors), NaN = missing."""
    sensor_ids: tuple[str, ...]
    missing_fields: int
    """Empty or non-numeric fields read as NaN."""
    nonpositive_values: int
    """Values <= 0 read as NaN (0 when ``nonpositive_is_missing`` was off)."""


def load_sensor_history(path: Path | str, *, nonpositive_is_missing: bool = True) -> SensorHistory:
    """Read a CSV of sensor readings: a header of sensor ids, then one row per time step.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        A row has the wrong number of fields, or the file has no data row.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"sensor history {path} does not exist")
    with _open_text(path) as f:
        header = [h.strip() for h in f.readline().strip().split(",")]
        if not header or header == [""]:
            raise ValueError(f"{path}: empty file")
        values = np.genfromtxt(f, delimiter=",", dtype=np.float64, ndmin=2, invalid_raise=True)
    if values.size == 0:
        raise ValueError(f"{path}: no data row")
    if values.shape[1] != len(header):
        raise ValueError(f"{path}: {values.shape[1]} columns but {len(header)} sensor ids in the header")
    values[~np.isfinite(values)] = np.nan
    missing = int(np.isnan(values).sum())
    nonpositive = 0
    if nonpositive_is_missing:
        bad = values <= 0
        nonpositive = int(bad.sum())
        values[bad] = np.nan
    return SensorHistory(values, tuple(header), missing, nonpositive)


def load_adjacency(path: Path | str, n_sensors: int) -> NDArray[np.float64]:
    """Read an ``n_sensors`` square weight matrix (a header line of ids is skipped if present)."""
    with _open_text(Path(path)) as f:
        a = np.genfromtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    if a.shape == (n_sensors + 1, n_sensors):
        a = a[1:]
    if a.shape != (n_sensors, n_sensors):
        raise ValueError(f"{path}: adjacency is {a.shape}, expected ({n_sensors}, {n_sensors})")
    return a
