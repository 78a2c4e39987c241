"""Generic recordings: JSONL and CSV files of observations, and a CSV layout for loop detectors.

Files (``.gz`` allowed), one record per line:

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

A field left empty is None in the payload (not measured), never a made-up value.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twin.observations import Location, Observation, ObservationError, ObservationKind

from .plausibility import implausible
from .replay_records import (
    KMH_TO_MPS,
    MPH_TO_MPS,
    BadRecord,
    Gap,
    Recording,
    ReplayItem,
    Tick,
    decode_line,
    open_lines,
)

__all__ = ["DetectorCsv", "JsonlObservations", "ObservationCsv", "open_file"]


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
        for n, raw in open_lines(self.path):
            self.lines_read = n
            if not raw.strip():
                continue
            try:
                data = json.loads(decode_line(raw, n), parse_constant=_no_constants)
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
        for n, raw in open_lines(self.path):
            self.lines_read = n
            if not raw.strip():
                continue
            try:
                row = next(csv.reader([decode_line(raw, n)]))
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
        count = int(cells["count"]) if cells["count"] else None
        speeds = [(k, f) for k, f in self._SPEEDS if cells.get(k, "")]
        if len(speeds) > 1:
            raise ValueError(f"give one mean speed column, not {', '.join(k for k, _ in speeds)}")
        speed = None
        if speeds:
            key, factor = speeds[0]
            speed = float(cells[key]) * factor
        occ_text = cells.get("occupancy", "")
        occupancy = float(occ_text) if occ_text else None
        return Observation(
            kind=ObservationKind.DETECTOR_INTERVAL, source_id=det,
            observed_at=start + timedelta(seconds=interval),
            payload={"interval_s": interval, "count": count, "occupancy": occupancy,
                     "mean_speed_mps": speed},
            location=_location(cells), event_id=f"{det}@{start.isoformat()}")


def open_file(path: Path) -> Recording:
    """The recording in ``path``, its format from the name (see the module docstring).

    Raises
    ------
    ValueError
        For an unknown format or a CSV header that fits neither layout.
    """
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
    for n, raw in open_lines(path):
        if raw.strip():
            try:
                return [h.strip() for h in next(csv.reader([decode_line(raw, n)]))]
            except (UnicodeDecodeError, csv.Error):
                return []
    return []

