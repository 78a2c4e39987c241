"""Recordings to replay into the twin: generic files and the two shipped real data sets.

A :class:`Recording` yields, in time order, :class:`Tick` (the observations that
share one ``observed_at``), :class:`BadRecord` (a line that cannot become an
observation, with its line number, for the quarantine) and :class:`Gap` (readings
missing from the recording: reported, never invented). :mod:`hardware_bridge.replay`
plays them through the ingest gate.

Generic files (``.gz`` allowed), one record per line:

- **JSONL** (``.jsonl``, ``.ndjson``, ``.json``): one :meth:`Observation.to_dict`
  object per line.
- **Observation CSV** (``.csv`` whose header has ``kind`` and ``payload``):
  columns ``kind, source_id, observed_at, payload`` (a JSON object) and
  optionally ``event_id, lon, lat, link_id, pos_m, lane``.
- **Detector CSV** (``.csv`` whose header has ``detector_id``): one loop-detector
  interval per row, becoming a ``DETECTOR_INTERVAL`` observation::

      detector_id,interval_start,interval_s,count,occupancy,mean_speed_mps,lon,lat,link_id,lane
      loop-7,2026-11-28T07:00:00+07:00,60,21,0.12,11.4,106.92,-6.20,,

  Required: ``detector_id``, ``interval_start`` (ISO 8601 *with* a UTC offset,
  the start of the interval), ``interval_s`` (> 0) and ``count``. Optional:
  ``occupancy`` (a fraction 0-1), the mean speed as *one* of ``mean_speed_mps``,
  ``mean_speed_kmh`` or ``mean_speed_mph`` (converted to m/s), ``lon`` and
  ``lat`` (together), ``link_id``, ``lane``. An empty cell means "not measured".
  ``observed_at`` is the interval's end and ``event_id`` is
  ``<detector_id>@<interval_start>``, so replaying a file twice ingests it once.

Files are read whole and sorted by time (stable), so their rows may come in any
order; lines that cannot be read come first, as :class:`BadRecord`.

Fields a recording does not measure
-----------------------------------
A ``DETECTOR_INTERVAL`` payload must carry ``count`` (an integer) and
``occupancy`` (a number) whatever the detector measured. A replayed record
lists what it did measure in ``payload["measured"]`` (e.g. ``["mean_speed_mps"]``);
the other required fields then hold the least value consistent with the
measurement, never an estimate: ``occupancy`` 0.0, and ``count`` 1 when a mean
speed was measured (a mean speed needs at least one vehicle) or 0 otherwise.
Consumers that sum counts or occupancies must skip records whose ``measured``
list lacks the field. Records without ``measured`` (virtual sensors, devices)
measured every field.

Built-in recordings (:func:`open_recording` by name), read from ``data/sensors``:

- ``metr-la``: :class:`MetrLa`, 207 Los Angeles freeway loop detectors, speeds
  every 5 minutes for 1-7 March 2012.
- ``i94``: :class:`I94`, hourly westbound volumes of I-94 at MnDOT ATR 301,
  2012-10-02 to 2018-09-30, deduplicated.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from twin.observations import Location, Observation, ObservationError, ObservationKind

from .plausibility import implausible

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


# ----------------------------------------------------------------------------- helpers


def _open_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw line without the newline)`` of a text file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            yield n, raw.rstrip(b"\r\n")


def _decode(raw: bytes, line: int) -> str:
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff") if line == 1 else text


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _aware(text: str, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no UTC offset")
    return when


def _checked(obs: Observation) -> Observation:
    """``obs``, or :class:`ObservationError` when it is physically implausible (the gate's test)."""
    reason = implausible(obs)
    if reason:
        raise ObservationError(reason)
    return obs


def _ticks(timed: list[tuple[datetime, int, Observation]]) -> list[Tick]:
    """Observations grouped into ticks by instant, in time order (stable)."""
    timed.sort(key=lambda t: (t[0], t[1]))
    ticks: list[Tick] = []
    i = 0
    while i < len(timed):
        j = i
        while j < len(timed) and timed[j][0] == timed[i][0]:
            j += 1
        ticks.append(Tick(timed[i][2].observed_at, tuple(o for _, _, o in timed[i:j])))
        i = j
    return ticks


class _FileRecording(Recording):
    """A file read whole: bad lines first, then the ticks sorted by time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.bad: list[BadRecord] = []
        self.gaps: list[Gap] = []
        self.lines_read = 0
        timed: list[tuple[datetime, int, Observation]] = []
        for obs in self._read():
            timed.append((obs.observed_at.astimezone(UTC), len(timed), obs))
        self.ticks = _ticks(timed)
        self.total_observations = len(timed)
        self.first_time = self.ticks[0].time if self.ticks else None

    def _read(self) -> Iterator[Observation]:
        raise NotImplementedError

    def _bad(self, line: int, reason: str, raw: bytes) -> None:
        self.bad.append(BadRecord(self.name, line, reason, raw))

    def items(self, since: datetime | None = None) -> Iterator[ReplayItem]:
        yield from self.bad
        yield from (g for g in self.gaps if since is None or g.end >= since)
        for tick in self.ticks:
            if since is None or tick.time >= since:
                yield tick

    def count_since(self, since: datetime | None) -> int | None:
        return sum(len(t.observations) for t in self.ticks if since is None or t.time >= since)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "lines": self.lines_read,
                "observations": self.total_observations, "bad_lines": len(self.bad),
                "gaps": len(self.gaps), "missing_readings": sum(g.missing for g in self.gaps)}


class JsonlObservations(_FileRecording):
    """A JSONL file of :meth:`Observation.to_dict` objects, one per line (blank lines skipped)."""

    def _read(self) -> Iterator[Observation]:
        for n, raw in _open_lines(self.path):
            self.lines_read = n
            if not raw.strip():
                continue
            try:
                data = json.loads(_decode(raw, n), parse_constant=_no_constants)
                yield _checked(Observation.from_dict(data))
            except UnicodeDecodeError as exc:
                self._bad(n, f"not UTF-8 ({exc.reason} at byte {exc.start})", raw)
            except (ObservationError, ValueError, TypeError) as exc:
                self._bad(n, str(exc), raw)


class _CsvRecording(_FileRecording):
    """A CSV file with a header line; each later line one record."""

    required: tuple[str, ...] = ()

    def _row(self, cells: dict[str, str]) -> Observation:
        raise NotImplementedError

    def _read(self) -> Iterator[Observation]:
        header: list[str] | None = None
        for n, raw in _open_lines(self.path):
            self.lines_read = n
            if not raw.strip():
                continue
            try:
                row = next(csv.reader([_decode(raw, n)]))
            except UnicodeDecodeError as exc:
                self._bad(n, f"not UTF-8 ({exc.reason} at byte {exc.start})", raw)
                continue
            except csv.Error as exc:
                self._bad(n, f"not a CSV row: {exc}", raw)
                continue
            if header is None:
                header = [h.strip() for h in row]
                missing = [c for c in self.required if c not in header]
                if missing:
                    raise ValueError(f"{self.path}: the header lacks the column(s) "
                                     f"{', '.join(missing)}; it has {', '.join(header)}")
                continue
            if len(row) != len(header):
                self._bad(n, f"{len(row)} fields, the header has {len(header)}", raw)
                continue
            cells = {k: v.strip() for k, v in zip(header, row, strict=True)}
            try:
                yield _checked(self._row(cells))
            except (ObservationError, ValueError, TypeError) as exc:
                self._bad(n, str(exc), raw)


def _location(cells: dict[str, str]) -> Location | None:
    lon, lat = cells.get("lon", ""), cells.get("lat", "")
    link_id = cells.get("link_id", "") or None
    if not lon and not lat:
        return None
    if not lon or not lat:
        raise ValueError("lon and lat must be given together")
    pos = cells.get("pos_m", "")
    lane = cells.get("lane", "")
    return Location(float(lon), float(lat), link_id=link_id,
                    pos_m=float(pos) if pos else None, lane=int(lane) if lane else None)


class ObservationCsv(_CsvRecording):
    """A CSV of observations: ``kind, source_id, observed_at, payload`` (JSON) and optional
    ``event_id, lon, lat, link_id, pos_m, lane`` columns."""

    required = ("kind", "source_id", "observed_at", "payload")

    def _row(self, cells: dict[str, str]) -> Observation:
        try:
            payload = json.loads(cells["payload"], parse_constant=_no_constants)
        except ValueError as exc:
            raise ValueError(f"payload is not a JSON object: {exc}") from None
        if not isinstance(payload, dict):
            raise ValueError("payload is not a JSON object")
        return Observation(kind=cells["kind"], source_id=cells["source_id"],  # type: ignore[arg-type]
                           observed_at=_aware(cells["observed_at"], "observed_at"),
                           payload=payload, location=_location(cells),
                           event_id=cells.get("event_id", ""))


class DetectorCsv(_CsvRecording):
    """The detector CSV layout of the module docstring; gaps per detector are reported."""

    required = ("detector_id", "interval_start", "interval_s", "count")
    _SPEEDS = (("mean_speed_mps", 1.0), ("mean_speed_kmh", KMH_TO_MPS), ("mean_speed_mph", MPH_TO_MPS))

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        last: dict[str, tuple[datetime, float]] = {}
        for tick in self.ticks:
            for obs in tick.observations:
                interval = float(obs.payload["interval_s"])
                start = obs.observed_at - timedelta(seconds=interval)
                prev = last.get(obs.source_id)
                if prev is not None and prev[1] == interval:
                    expected = prev[0] + timedelta(seconds=interval)
                    missing = round((start - expected).total_seconds() / interval)
                    if missing >= 1:
                        self.gaps.append(Gap(obs.source_id, expected,
                                             start - timedelta(seconds=interval), missing))
                last[obs.source_id] = (start, interval)

    def _row(self, cells: dict[str, str]) -> Observation:
        det = cells["detector_id"]
        if not det:
            raise ValueError("detector_id is empty")
        start = _aware(cells["interval_start"], "interval_start")
        interval = float(cells["interval_s"])
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError(f"interval_s must be > 0, got {cells['interval_s']!r}")
        count = int(cells["count"])
        measured = ["count"]
        speeds = [(k, f) for k, f in self._SPEEDS if cells.get(k, "")]
        if len(speeds) > 1:
            raise ValueError(f"give one mean speed column, not {', '.join(k for k, _ in speeds)}")
        speed = None
        if speeds:
            key, factor = speeds[0]
            speed = float(cells[key]) * factor
            measured.append("mean_speed_mps")
        occ_text = cells.get("occupancy", "")
        occupancy = float(occ_text) if occ_text else 0.0
        if occ_text:
            measured.append("occupancy")
        return Observation(
            kind=ObservationKind.DETECTOR_INTERVAL, source_id=det,
            observed_at=start + timedelta(seconds=interval),
            payload={"interval_s": interval, "count": count, "occupancy": occupancy,
                     "mean_speed_mps": speed, "measured": measured},
            location=_location(cells), event_id=f"{det}@{start.isoformat()}")


# ----------------------------------------------------------------------------- METR-LA


def _read_csv_gz(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        return [row for row in csv.reader(f) if row]


class MetrLa(Recording):
    """METR-LA: 207 loop detectors on Los Angeles freeways, 1-7 March 2012.

    Each sensor ``<id>`` becomes the source ``metr-la-<id>``, publishing one
    ``DETECTOR_INTERVAL`` observation per 5-minute row: ``mean_speed_mps`` is the
    recorded speed (mph) times :data:`MPH_TO_MPS`, located at the sensor's
    coordinates. METR-LA records speeds only, so ``payload["measured"]`` is
    ``["mean_speed_mps"]`` and ``count`` is 1, the least consistent with a
    measured mean speed (see the module docstring), ``occupancy`` 0.0.

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
            payload={"interval_s": self.INTERVAL_S, "count": 1, "occupancy": 0.0,
                     "mean_speed_mps": float(self.speed_mph[row, col]) * MPH_TO_MPS,
                     "measured": ["mean_speed_mps"]},
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
    ``mean_speed_mps`` None, ``measured`` ``["count"]`` (``occupancy`` 0.0 is
    not a reading); ``holiday`` (None or its name) and ``weather`` (the distinct
    ``weather_main`` values of the hour) ride along. No location: the data set
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
        for n, raw in _open_lines(self.path):
            if not raw.strip():
                continue
            try:
                row = next(csv.reader([_decode(raw, n)]))
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
            payload={"interval_s": self.INTERVAL_S, "count": self.volumes[i], "occupancy": 0.0,
                     "mean_speed_mps": None, "measured": ["count"], **self.extra[i]},
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


# ----------------------------------------------------------------------------- by name

BUILTIN: dict[str, type[Recording]] = {"metr-la": MetrLa, "i94": I94}
"""Built-in recordings by name."""


def open_recording(source: str | Path) -> Recording:
    """A built-in recording by name (``metr-la``, ``i94``) or a file by its path.

    The file format comes from the name (``.gz`` stripped first): ``.jsonl``,
    ``.ndjson`` or ``.json`` is JSONL; ``.csv`` is an observation CSV or a
    detector CSV, told apart by the header.

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
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".jsonl", ".ndjson", ".json"):
        return JsonlObservations(path)
    if kind == ".csv":
        header = _csv_header(path)
        if "detector_id" in header:
            return DetectorCsv(path)
        if "kind" in header and "payload" in header:
            return ObservationCsv(path)
        raise ValueError(f"{path}: a CSV header needs 'detector_id' (detector readings) or "
                         f"'kind' and 'payload' (observations); it has {', '.join(header)}")
    raise ValueError(f"{path}: unknown recording format {kind or '(no suffix)'!r}; "
                     f"use .jsonl, .ndjson, .json or .csv (optionally .gz)")


def _csv_header(path: Path) -> Sequence[str]:
    for n, raw in _open_lines(path):
        if raw.strip():
            try:
                return [h.strip() for h in next(csv.reader([_decode(raw, n)]))]
            except (UnicodeDecodeError, csv.Error):
                return []
    return []


def iter_observations(items: Iterable[ReplayItem]) -> Iterator[Observation]:
    """Every observation of ``items`` in order (the ticks' contents)."""
    for item in items:
        if isinstance(item, Tick):
            yield from item.observations
