"""The two real recordings shipped in ``data/sensors``: METR-LA and I-94.

- :class:`MetrLa`: 207 Los Angeles freeway loop detectors, speeds every 5 minutes
  for 1-7 March 2012.
- :class:`I94`: hourly westbound volumes of I-94 at MnDOT ATR 301,
  2012-10-02 to 2018-09-30, deduplicated.

Licenses and sources are in the repository's ``NOTICE``.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from twin.observations import Location, Observation, ObservationKind

from .replay_records import (
    DATA_DIR,
    MPH_TO_MPS,
    BadRecord,
    Gap,
    Recording,
    ReplayItem,
    Tick,
    decode_line,
    open_lines,
)

__all__ = ["I94", "MetrLa"]


def _read_csv_gz(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return [row for row in csv.reader(f) if row]


class MetrLa(Recording):
    """METR-LA: 207 loop detectors on Los Angeles freeways, 1-7 March 2012.

    Each sensor ``<id>`` becomes the source ``metr-la-<id>``, publishing one
    ``DETECTOR_INTERVAL`` observation per 5-minute row: ``mean_speed_mps`` is the
    recorded speed (mph) times :data:`MPH_TO_MPS`, located at the sensor's
    coordinates. METR-LA records speeds only, so ``count`` and ``occupancy``
    are None (not measured).

    Time: the file has no timestamps; row ``i`` is taken as the interval that
    starts at 2012-03-01 00:00 America/Los_Angeles plus ``5 i`` minutes (the
    dates of the T-GCN README; an assumption). ``observed_at`` is the interval's
    end, ``event_id`` is ``metr-la-<id>@<interval start>``.

    Missing readings (an empty or non-numeric cell, NaN, or a speed <= 0, the
    raw METR-LA marker for "no data") produce no observation and are reported as
    :class:`Gap`. The shipped file has none: T-GCN filled them before
    publishing, which cannot be undone here.
    """

    name = "metr-la"
    START = datetime(2012, 3, 1, tzinfo=ZoneInfo("America/Los_Angeles"))
    INTERVAL_S = 300.0
    TIME_ZONE = ZoneInfo("America/Los_Angeles")

    def __init__(self, data_dir: str | Path | None = None) -> None:
        folder = Path(data_dir) if data_dir is not None else DATA_DIR / "metr-la"
        speed_rows = _read_csv_gz(folder / "los_speed.csv.gz")
        self.sensor_ids: tuple[str, ...] = tuple(s.strip() for s in speed_rows[0])
        locations = {row[1]: (float(row[3]), float(row[2]))
                     for row in _read_csv_gz(folder / "graph_sensor_locations.csv")[1:]}
        missing = [s for s in self.sensor_ids if s not in locations]
        if missing:
            raise ValueError(f"{folder}: no location for sensor(s) {', '.join(missing[:5])}")
        self.lonlat = np.array([locations[s] for s in self.sensor_ids], dtype=np.float64)
        n = len(self.sensor_ids)
        speeds = np.full((len(speed_rows) - 1, n), np.nan)
        for i, row in enumerate(speed_rows[1:]):
            for j, cell in enumerate(row[:n]):
                try:
                    speeds[i, j] = float(cell)
                except ValueError:
                    pass
        speeds[~(speeds > 0)] = np.nan  # NaN stays NaN; 0 and negatives are "no data"
        self.speed_mph: NDArray[np.float64] = speeds
        self.source_ids = tuple(f"metr-la-{s}" for s in self.sensor_ids)
        self.total_observations = int(np.isfinite(speeds).sum())
        self.start_time = self.interval_start(0) + timedelta(seconds=self.INTERVAL_S)
        """``observed_at`` of the first row (also :attr:`first_time`)."""
        self.first_time = self.start_time
        self.folder = folder

    @property
    def n_intervals(self) -> int:
        """Rows (5-minute intervals) in the recording."""
        return int(self.speed_mph.shape[0])

    def interval_start(self, row: int) -> datetime:
        """Start of row ``row``'s interval, in Los Angeles time."""
        utc = self.START.astimezone(UTC) + timedelta(seconds=self.INTERVAL_S * row)
        return utc.astimezone(self.TIME_ZONE)

    def row_of(self, when: datetime) -> int:
        """The first row whose ``observed_at`` is at or after ``when``."""
        delta = (when - self.start_time).total_seconds() / self.INTERVAL_S
        return max(0, math.ceil(delta - 1e-9))

    def count_since(self, since: datetime | None) -> int | None:
        first = 0 if since is None else self.row_of(since)
        return int(np.isfinite(self.speed_mph[first:]).sum())

    def observation(self, row: int, col: int) -> Observation:
        """The observation of sensor column ``col`` in row ``row`` (its speed must be finite)."""
        start = self.interval_start(row)
        sid = self.source_ids[col]
        lon, lat = self.lonlat[col]
        return Observation(
            kind=ObservationKind.DETECTOR_INTERVAL, source_id=sid,
            observed_at=start + timedelta(seconds=self.INTERVAL_S),
            payload={"interval_s": self.INTERVAL_S, "count": None, "occupancy": None,
                     "mean_speed_mps": float(self.speed_mph[row, col]) * MPH_TO_MPS},
            location=Location(float(lon), float(lat)),
            event_id=f"{sid}@{start.isoformat()}")

    def items(self, since: datetime | None = None) -> Iterator[ReplayItem]:
        first = 0 if since is None else self.row_of(since)
        ok = np.isfinite(self.speed_mph)
        open_gap: dict[int, int] = {}  # column -> first missing row
        for row in range(first, self.n_intervals):
            for col in np.flatnonzero(~ok[row]).tolist():
                open_gap.setdefault(col, row)
            for col in [c for c in open_gap if ok[row, c]]:
                yield self._gap(col, open_gap.pop(col), row - 1)
            cols = np.flatnonzero(ok[row]).tolist()
            if cols:
                obs = tuple(self.observation(row, c) for c in cols)
                yield Tick(obs[0].observed_at, obs)
        for col, start in sorted(open_gap.items()):
            yield self._gap(col, start, self.n_intervals - 1)

    def _gap(self, col: int, first: int, last: int) -> Gap:
        return Gap(self.source_ids[col], self.interval_start(first), self.interval_start(last),
                   last - first + 1)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.folder), "sensors": len(self.sensor_ids),
                "intervals": self.n_intervals, "interval_s": self.INTERVAL_S,
                "first_interval_start": self.interval_start(0).isoformat(),
                "observations": self.total_observations,
                "missing_readings": int((~np.isfinite(self.speed_mph)).sum())}


# ----------------------------------------------------------------------------- I-94


class I94(Recording):
    """Hourly westbound volumes of I-94 at MnDOT ATR station 301 (UCI, CC BY 4.0).

    One source, ``i94-atr301``, one ``DETECTOR_INTERVAL`` per hour:
    ``interval_s`` 3600, ``count`` the recorded ``traffic_volume``,
    ``mean_speed_mps`` and ``occupancy`` None (not measured); ``holiday`` (None
    or its name) and ``weather`` (the distinct ``weather_main`` values of the
    hour) ride along. No location: the data set
    does not give the station's coordinates.

    Time: ``date_time`` is local time (America/Chicago), read as the start of
    the hour; ``observed_at`` is its end. The autumn daylight-saving hour
    01:00, which occurs twice but appears once, is read as the first
    (daylight-time) occurrence.

    Deduplication: the file has one row per weather condition, so an hour with
    two simultaneous conditions appears twice (7,629 extra rows, always with the
    same volume). The first row of each ``date_time`` is kept and the repeats
    are dropped, counted in :meth:`summary` as ``duplicate_rows``; a repeat with
    a *different* volume would be a conflict and goes to the quarantine as a
    :class:`BadRecord`. Hours with no row (11,976 in 2,588 spans) are reported as
    :class:`Gap`, computed in UTC so the spring daylight-saving change is no gap.
    """

    name = "i94"
    SOURCE_ID = "i94-atr301"
    INTERVAL_S = 3600.0
    TIME_ZONE = ZoneInfo("America/Chicago")

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else (
            DATA_DIR / "i94" / "Metro_Interstate_Traffic_Volume.csv.gz")
        self.bad: list[BadRecord] = []
        self.rows = 0
        self.duplicate_rows = 0
        starts: list[datetime] = []
        volumes: list[int] = []
        extra: list[dict[str, Any]] = []
        index: dict[str, int] = {}
        header: list[str] | None = None
        for n, raw in open_lines(self.path):
            if not raw.strip():
                continue
            try:
                row = next(csv.reader([decode_line(raw, n)]))
            except (UnicodeDecodeError, csv.Error) as exc:
                self.bad.append(BadRecord(self.path.name, n, f"unreadable line: {exc}", raw))
                continue
            if header is None:
                header = row
                need = ("holiday", "weather_main", "date_time", "traffic_volume")
                if any(c not in header for c in need):
                    raise ValueError(f"{self.path}: header lacks one of {need}")
                continue
            self.rows += 1
            cells = dict(zip(header, row, strict=False))
            stamp = cells.get("date_time", "")
            try:
                volume = int(cells["traffic_volume"])
                if stamp in index:
                    k = index[stamp]
                    if volume != volumes[k]:
                        raise ValueError(f"{stamp} repeats with volume {volume}, "
                                         f"first given as {volumes[k]}")
                    self.duplicate_rows += 1
                    if cells["weather_main"] not in extra[k]["weather"]:
                        extra[k]["weather"].append(cells["weather_main"])
                    continue
                local = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=self.TIME_ZONE)
            except (KeyError, ValueError) as exc:
                self.bad.append(BadRecord(self.path.name, n, str(exc), raw))
                continue
            index[stamp] = len(starts)
            starts.append(local)
            volumes.append(volume)
            holiday = cells.get("holiday", "None")
            extra.append({"holiday": None if holiday in ("None", "") else holiday,
                          "weather": [cells["weather_main"]]})
        order = sorted(range(len(starts)), key=lambda i: starts[i].astimezone(UTC))
        self.starts = [starts[i] for i in order]
        self.volumes = [volumes[i] for i in order]
        self.extra = [extra[i] for i in order]
        self.total_observations = len(self.starts)
        self.first_time = (self.starts[0] + timedelta(seconds=self.INTERVAL_S)
                           if self.starts else None)
        self.gaps = self._find_gaps()

    def _find_gaps(self) -> list[Gap]:
        gaps = []
        hour = timedelta(seconds=self.INTERVAL_S)
        for a, b in zip(self.starts, self.starts[1:], strict=False):
            step = round((b.astimezone(UTC) - a.astimezone(UTC)) / hour)
            if step > 1:
                gaps.append(Gap(self.SOURCE_ID, (a.astimezone(UTC) + hour).astimezone(self.TIME_ZONE),
                                (b.astimezone(UTC) - hour).astimezone(self.TIME_ZONE), step - 1))
        return gaps

    def observation(self, i: int) -> Observation:
        """The observation of the ``i``-th (deduplicated, sorted) hour."""
        start = self.starts[i]
        return Observation(
            kind=ObservationKind.DETECTOR_INTERVAL, source_id=self.SOURCE_ID,
            observed_at=start + timedelta(seconds=self.INTERVAL_S),
            payload={"interval_s": self.INTERVAL_S, "count": self.volumes[i], "occupancy": None,
                     "mean_speed_mps": None, **self.extra[i]},
            event_id=f"{self.SOURCE_ID}@{start.isoformat()}")

    def _first_index(self, since: datetime | None) -> int:
        if since is None:
            return 0
        hour = timedelta(seconds=self.INTERVAL_S)
        return next((i for i, s in enumerate(self.starts) if s + hour >= since), len(self.starts))

    def count_since(self, since: datetime | None) -> int | None:
        return len(self.starts) - self._first_index(since)

    def items(self, since: datetime | None = None) -> Iterator[ReplayItem]:
        yield from self.bad
        first = self._first_index(since)
        gaps = iter(g for g in self.gaps if since is None or g.end + timedelta(hours=1) >= since)
        gap = next(gaps, None)
        for i in range(first, len(self.starts)):
            while gap is not None and gap.end < self.starts[i]:
                yield gap
                gap = next(gaps, None)
            obs = self.observation(i)
            yield Tick(obs.observed_at, (obs,))
        while gap is not None:
            yield gap
            gap = next(gaps, None)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "rows": self.rows,
                "duplicate_rows": self.duplicate_rows, "hours": len(self.starts),
                "conflicting_or_bad_rows": len(self.bad), "gaps": len(self.gaps),
                "missing_hours": sum(g.missing for g in self.gaps),
                "first_hour": self.starts[0].isoformat() if self.starts else None,
                "last_hour": self.starts[-1].isoformat() if self.starts else None}
