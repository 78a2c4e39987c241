"""Reading a sensor-speed history (METR-LA style CSV) and its sensor graph.

The speed file has a header line of sensor ids and one line per time step, one column
per sensor; empty or non-numeric fields are missing values. METR-LA marks a missing
reading with ``0`` mph, so values ``<= 0`` are read as missing too (``nonpositive_is_missing``;
turn it off for flows, where 0 is a real count). The adjacency file is a square matrix
of non-negative weights, with or without a header line of ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["METR_LA_FIT_ROWS", "METR_LA_START", "SensorHistory", "adjacency_beside",
           "default_metr_la_speed_path", "load_adjacency", "load_sensor_history"]

METR_LA_START = "2012-03-01T00:00"
"""Local (Los Angeles) time of the first row of the METR-LA week: a Thursday."""
METR_LA_FIT_ROWS = 1612
"""Rows 0-1611 are the fit split of the evaluation protocol (issue 7)."""

_REPO = Path(__file__).resolve().parents[3]
_CANDIDATES = (
    _REPO / "data" / "sensors" / "metr-la" / "los_speed.csv",
    _REPO.parent / "shared" / "data" / "sensors" / "metr-la" / "los_speed.csv",
)


def default_metr_la_speed_path() -> Path:
    """``data/sensors/metr-la/los_speed.csv`` in the repository, else ``../shared/data/...`` beside it.

    Returns the first candidate that exists (the repository's when neither does, so the
    error message names where the file belongs).
    """
    return next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])


def adjacency_beside(speed_path: Path) -> Path | None:
    """``los_adj.csv`` in the same folder as the speed file, if there is one."""
    p = Path(speed_path).with_name("los_adj.csv")
    return p if p.exists() else None


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
    with path.open(encoding="utf-8") as f:
        header = [h.strip() for h in f.readline().strip().split(",")]
    if not header or header == [""]:
        raise ValueError(f"{path}: empty file")
    values = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2,
                           invalid_raise=True)
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
    a = np.genfromtxt(Path(path), delimiter=",", dtype=np.float64, ndmin=2)
    if a.shape == (n_sensors + 1, n_sensors):
        a = a[1:]
    if a.shape != (n_sensors, n_sensors):
        raise ValueError(f"{path}: adjacency is {a.shape}, expected ({n_sensors}, {n_sensors})")
    return a
