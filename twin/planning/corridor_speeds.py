"""Observed corridor speeds and the network links each corridor is compared on.

The observed speeds are Dinas Perhubungan DKI Jakarta's average peak-hour speed on main
road corridors, one row per corridor and month of 2023 (``data/jakarta/speed/``, see
NOTICE): UTF-8 with a byte-order mark, columns ``periode_data`` (year), ``bulan`` (month),
``nama_jalan`` (corridor) and ``kecepatan`` (km/h, decimal comma). A corridor's target is
the mean of its months.

A corridor map (TOML) names, for each observed corridor compared, the network streets
(``Network.link_name``) standing for it::

    [[corridor]]
    observed = "I Gusti Ngurah Rai"        # nama_jalan in the speed file
    streets = ["Jalan Dokter KRT Radjiman Widyodiningrat"]
    match = "proxy"                        # "same street" or "proxy"
    note = "why these links stand for the corridor"
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from twin.network import Network

__all__ = ["CalibrationError", "CorridorMap", "ObservedSpeed", "corridor_links",
           "load_corridor_map", "load_observed_speeds"]

MATCH_KINDS = ("same street", "proxy")


class CalibrationError(ValueError):
    """A missing or malformed data file, an unknown corridor or street; the message says which."""


@dataclass(frozen=True)
class ObservedSpeed:
    """One corridor's observed peak-hour speed over the months in the file."""

    corridor: str
    mean_kmh: float
    min_kmh: float
    max_kmh: float
    months: int


@dataclass(frozen=True)
class CorridorMap:
    """An observed corridor and the network streets it is compared on."""

    observed: str
    streets: tuple[str, ...]
    match: str
    note: str


def _speed_kmh(text: str, where: str) -> float:
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise CalibrationError(f"{where}: kecepatan {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise CalibrationError(f"{where}: kecepatan {text!r} is not a speed > 0")
    return value


def load_observed_speeds(path: str | Path) -> dict[str, ObservedSpeed]:
    """Corridor name -> its observed speed (mean over the file's months).

    Raises
    ------
    CalibrationError : the file is missing, lacks a column, or holds a bad speed.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"observed speed file not found: {p}")
    values: dict[str, list[float]] = defaultdict(list)
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"nama_jalan", "kecepatan"} - set(reader.fieldnames or ())
        if missing:
            raise CalibrationError(f"{p}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            name = (row["nama_jalan"] or "").strip()
            if not name:
                raise CalibrationError(f"{p}:{line}: empty nama_jalan")
            values[name].append(_speed_kmh(row["kecepatan"] or "", f"{p}:{line}"))
    if not values:
        raise CalibrationError(f"{p}: no rows")
    return {name: ObservedSpeed(name, float(np.mean(v)), min(v), max(v), len(v))
            for name, v in sorted(values.items())}


def load_corridor_map(path: str | Path) -> list[CorridorMap]:
    """The ``[[corridor]]`` entries of a corridor map file.

    Raises
    ------
    CalibrationError : the file is missing, is not TOML, or an entry is malformed.
    """
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"corridor map not found: {p}")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{p}: not valid TOML: {exc}") from None
    entries = data.get("corridor")
    if not isinstance(entries, list) or not entries:
        raise CalibrationError(f"{p}: needs at least one [[corridor]] entry")
    out = []
    for i, e in enumerate(entries):
        where = f"{p}: corridor.{i}"
        observed, streets = e.get("observed"), e.get("streets")
        if not isinstance(observed, str) or not observed:
            raise CalibrationError(f"{where}: needs observed = \"<nama_jalan>\"")
        if not isinstance(streets, list) or not streets or \
                not all(isinstance(s, str) and s for s in streets):
            raise CalibrationError(f"{where} ({observed}): needs streets = [\"<street name>\", ...]")
        match = e.get("match", "proxy")
        if match not in MATCH_KINDS:
            raise CalibrationError(f"{where} ({observed}): match must be one of {MATCH_KINDS}")
        out.append(CorridorMap(observed, tuple(streets), match, str(e.get("note", ""))))
    names = [c.observed for c in out]
    if len(set(names)) != len(names):
        raise CalibrationError(f"{p}: a corridor is mapped twice")
    return out


def corridor_links(network: Network, corridors: list[CorridorMap],
                   observed: dict[str, ObservedSpeed]) -> dict[str, NDArray[np.int64]]:
    """Observed corridor -> indices of the network links whose street name it maps.

    Raises
    ------
    CalibrationError : a corridor is not in the observed file, or a street is not in the
        network (the message lists the nearest names there are).
    """
    names = np.asarray(network.link_name, dtype=object)
    known = sorted(set(network.link_name) - {""})
    out: dict[str, NDArray[np.int64]] = {}
    for c in corridors:
        if c.observed not in observed:
            raise CalibrationError(f"unknown corridor {c.observed!r}: the observed file has "
                                   f"{', '.join(observed)}")
        idx: list[NDArray[np.int64]] = []
        for street in c.streets:
            hit = np.flatnonzero(names == street)
            if hit.size == 0:
                close = [k for k in known if street.split()[-1].lower() in k.lower()][:5]
                raise CalibrationError(f"corridor {c.observed!r}: no link of the network is named "
                                       f"{street!r}" + (f" (similar: {', '.join(close)})"
                                                        if close else ""))
            idx.append(hit.astype(np.int64))
        out[c.observed] = np.unique(np.concatenate(idx))
    return out
