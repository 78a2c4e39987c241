"""Replay of recordings through the ingest gate: order, pacing, dedupe, quarantine, conversions."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hardware_bridge.ingest import Ingest
from hardware_bridge.replay import Replayer, parse_start
from hardware_bridge.replay_sources import (
    I94,
    MPH_TO_MPS,
    DetectorCsv,
    Gap,
    JsonlObservations,
    MetrLa,
    ObservationCsv,
    Tick,
    open_recording,
)
from twin.bus import Bus
from twin.observations import Observation, ObservationKind
from twin.store import Store

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 11, 28, 7, 0, tzinfo=WIB)


def _obs(source: str, minute: int, speed_mps: float = 10.0, count: int = 5) -> Observation:
    start = T0 + timedelta(minutes=minute)
    return Observation(
        kind=ObservationKind.DETECTOR_INTERVAL, source_id=source,
        observed_at=start + timedelta(minutes=1),
        payload={"interval_s": 60.0, "count": count, "occupancy": 0.1, "mean_speed_mps": speed_mps},
        event_id=f"{source}@{start.isoformat()}")


def _jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _gate(store: Store | None = None) -> tuple[Ingest, Bus]:
    bus = Bus()
    return Ingest(bus, store=store, require_freshness=False), bus


# ----------------------------------------------------------------------- ordering and pacing


def test_replay_publishes_in_recorded_time_order_whatever_the_file_order(tmp_path: Path) -> None:
    minutes = [4, 0, 3, 1, 2, 0]
    sources = ["a", "b", "a", "a", "b", "a"]
    path = _jsonl(tmp_path / "rec.jsonl",
                  [json.dumps(_obs(s, m).to_dict()) for s, m in zip(sources, minutes, strict=True)])
    ingest, bus = _gate()
    feed = bus.subscribe("#")
    stats = Replayer(ingest, JsonlObservations(path)).run()
    got = feed.drain()
    assert [o.observed_at for o in got] == sorted(o.observed_at for o in got)
    assert len(got) == stats.accepted == 6
    assert stats.ticks == 5  # minute 0 holds two observations (b and a)
    # within one instant the file's order is kept (stable)
    assert [o.source_id for o in got[:2]] == ["b", "a"]
    # the gate counts the recording's sensors under the recording, which relays them
    assert set(ingest.stats()) == {f"replay:{JsonlObservations(path).name}"}
    assert ingest.totals()["accepted"] == 6


def test_pacing_waits_recorded_time_over_speedup() -> None:
    """Paced replay asks to sleep (recorded gap) / speedup between ticks: a fake clock, exact."""
    rec = _ListRecording([_obs("a", m) for m in (0, 5, 15)])  # ticks 5 and 10 minutes apart
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    ingest, _ = _gate()
    stats = Replayer(ingest, rec, speedup=300.0, clock=lambda: now[0], sleep=sleep).run()
    assert slept == pytest.approx([1.0, 2.0])
    assert stats.accepted == 3 and stats.wall_s == pytest.approx(3.0)


def test_paced_replay_takes_at_least_the_recorded_span_over_speedup(tmp_path: Path) -> None:
    """Real clock, loose: never faster than the pace (a lower bound only, no upper bound)."""
    rec = _ListRecording([_obs("a", m) for m in range(4)])  # 3 minutes of recording
    ingest, _ = _gate()
    stats = Replayer(ingest, rec, speedup=1800.0).run()  # 180 s / 1800 = 0.1 s
    assert stats.accepted == 4
    assert stats.wall_s >= 0.09


def test_speedup_zero_and_inf_do_not_sleep() -> None:
    for speedup in (0.0, float("inf")):
        rec = _ListRecording([_obs("a", m) for m in (0, 60, 600)])
        slept: list[float] = []
        Replayer(_gate()[0], rec, speedup=speedup, sleep=slept.append).run()
        assert slept == []


def test_stop_from_the_progress_callback_ends_the_replay() -> None:
    rec = _ListRecording([_obs("a", m) for m in range(10)])
    ingest, _ = _gate()
    replayer = Replayer(ingest, rec, speedup=1e9)
    replayer.progress = lambda stats: replayer.stop() if stats.received >= 3 else None
    stats = replayer.run()
    assert stats.stopped and stats.received == 3


# ----------------------------------------------------------------------- dedupe


def test_second_replay_into_the_same_store_ingests_nothing(tmp_path: Path, store: Store) -> None:
    path = _jsonl(tmp_path / "rec.jsonl", [json.dumps(_obs("a", m).to_dict()) for m in range(5)])
    first = Replayer(_gate(store)[0], open_recording(path)).run()
    ingest, bus = _gate(store)  # a new gate (a restart): only the store remembers
    feed = bus.subscribe("#")
    second = Replayer(ingest, open_recording(path)).run()
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (second.accepted, second.duplicates) == (0, 5)
    assert feed.drain() == []
    assert store.count_observations() == 5


def test_metr_la_replayed_twice_is_stored_once(store: Store) -> None:
    rec = MetrLa()
    first = Replayer(_gate(store)[0], rec, limit=600).run()
    second = Replayer(_gate(store)[0], rec, limit=600).run()
    assert first.accepted == 600 and second.duplicates == 600 and second.accepted == 0
    assert store.count_observations() == 600


# ----------------------------------------------------------------------- bad lines


def test_bad_jsonl_lines_are_quarantined_with_line_numbers_the_rest_go_through(
        tmp_path: Path, store: Store) -> None:
    good = [json.dumps(_obs("a", m).to_dict()) for m in range(3)]
    bad_unit = _obs("a", 7).to_dict()
    bad_unit["payload"]["mean_speed_mps"] = 120.0  # km/h where m/s belongs
    lines = [good[0], "{not json", good[1], json.dumps({"kind": "detector_interval"}),
             "", json.dumps(bad_unit), good[2]]
    path = _jsonl(tmp_path / "rec.jsonl", lines)
    stats = Replayer(_gate(store)[0], open_recording(path)).run()
    assert stats.accepted == 3
    assert stats.quarantined == stats.bad_lines == 3
    reasons = sorted(q.reason for q in store.quarantined())
    assert [r.split(": ")[1] for r in reasons] == ["rec.jsonl:2", "rec.jsonl:4", "rec.jsonl:6"]
    assert any("looks like km/h" in r for r in reasons)
    assert all(r.startswith("replay: ") for r in reasons)


def test_bad_detector_csv_rows_are_quarantined_with_line_numbers(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "loops.csv"
    path.write_text(
        "detector_id,interval_start,interval_s,count,occupancy,mean_speed_kmh\n"
        "d1,2026-11-28T07:00:00+07:00,60,10,0.1,36\n"
        "d1,2026-11-28T07:01:00,60,10,0.1,36\n"            # 3: no UTC offset
        "d1,2026-11-28T07:02:00+07:00,60,ten,0.1,36\n"     # 4: count not a number
        "d1,2026-11-28T07:03:00+07:00,60,10,12,36\n"       # 5: occupancy in percent
        "d1,2026-11-28T07:04:00+07:00,60,10,0.1\n"         # 6: a field short
        "d2,2026-11-28T07:00:00+07:00,60,0,,\n",            # 7: fine (no speed, no occupancy)
        encoding="utf-8")
    rec = open_recording(path)
    assert isinstance(rec, DetectorCsv)
    stats = Replayer(_gate(store)[0], rec).run()
    assert stats.accepted == 2 and stats.bad_lines == 4
    lines = sorted(int(q.reason.split(":")[2]) for q in store.quarantined())
    assert lines == [3, 4, 5, 6]
    stored = {o.source_id: o for o in store.observations()}
    assert stored["d1"].payload["mean_speed_mps"] == pytest.approx(10.0)  # 36 km/h
    assert stored["d2"].payload["mean_speed_mps"] is None
    assert stored["d2"].payload["occupancy"] is None  # not measured, not made up


def test_observation_csv_reads_payload_and_location(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("kind,source_id,observed_at,payload,lon,lat\n")
        f.write('point_speed,radar-1,2026-11-28T07:00:00+07:00,"{""speed_mps"": 13.5}",106.9,-6.2\n')
        f.write('point_speed,radar-1,2026-11-28T07:00:01+07:00,"{""speed_mps"": 1000}",106.9,-6.2\n')
    rec = open_recording(path)
    assert isinstance(rec, ObservationCsv)
    ingest, bus = _gate()
    feed = bus.subscribe("#")
    stats = Replayer(ingest, rec).run()
    (got,) = feed.drain()
    assert got.payload["speed_mps"] == 13.5 and got.location is not None and got.location.lat == -6.2
    assert stats.bad_lines == 1 and ingest.recent_quarantine[0].reason.startswith("obs.csv.gz:3:")


def test_unknown_formats_are_refused_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    (tmp_path / "y.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="unknown recording format"):
        open_recording(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="detector_id"):
        open_recording(tmp_path / "y.csv")
    with pytest.raises(ValueError, match="neither a built-in"):
        open_recording("metr-ny")


# ----------------------------------------------------------------------- METR-LA


def test_metr_la_converts_mph_to_mps_at_the_sensor_location() -> None:
    rec = MetrLa()
    first = next(i for i in rec.items() if isinstance(i, Tick))
    assert len(first.observations) == 207
    obs = first.observations[0]
    assert obs.source_id == "metr-la-773869"
    assert obs.payload["mean_speed_mps"] == pytest.approx(64.375 * 0.44704)
    assert MPH_TO_MPS == pytest.approx(1609.344 / 3600)
    assert obs.payload["count"] is None and obs.payload["occupancy"] is None  # speeds only
    assert obs.location is not None
    assert (obs.location.lat, obs.location.lon) == (34.15497, -118.31829)
    assert obs.event_id == "metr-la-773869@2012-03-01T00:00:00-08:00"
    assert obs.observed_at == datetime(2012, 3, 1, 8, 5, tzinfo=UTC)
    assert rec.n_intervals == 2016 and rec.total_observations == 2016 * 207


def test_metr_la_start_offset_and_limit() -> None:
    rec = MetrLa()
    stats = Replayer(_gate()[0], rec, start=parse_start("7h"), limit=500).run()
    assert stats.first_time is not None
    assert stats.first_time.isoformat() == "2012-03-01T07:05:00-08:00"
    assert stats.received == 500 and stats.ticks == 3
    naive = Replayer(_gate()[0], rec, start=datetime(2012, 3, 7, 23, 50), limit=None).run()
    # observed (interval end) at 23:50, 23:55 and 00:00 in Los Angeles time: the last three rows
    assert naive.ticks == 3
    assert naive.last_time is not None and naive.last_time.isoformat() == "2012-03-08T00:00:00-08:00"


def test_metr_la_missing_readings_are_reported_not_invented(tmp_path: Path) -> None:
    src = MetrLa()
    ids = src.sensor_ids[:3]
    with gzip.open(tmp_path / "los_speed.csv.gz", "wt") as f:
        f.write(",".join(ids) + "\n60,61,62\n,61,0\nnan,61,62\n60,61,62\n")
    (tmp_path / "graph_sensor_locations.csv").write_text(
        (src.folder / "graph_sensor_locations.csv").read_text())
    rec = MetrLa(tmp_path)
    items = list(rec.items())
    gaps = [i for i in items if isinstance(i, Gap)]
    observed = [o for i in items if isinstance(i, Tick) for o in i.observations]
    assert len(observed) == 12 - 3
    assert {(g.source_id, g.missing) for g in gaps} == {
        (f"metr-la-{ids[0]}", 2), (f"metr-la-{ids[2]}", 1)}
    stats = Replayer(_gate()[0], rec).run()
    assert stats.missing == 3 and stats.gap_count == 2 and stats.accepted == 9


# ----------------------------------------------------------------------- I-94


def test_i94_is_deduplicated_by_timestamp() -> None:
    rec = I94()
    s = rec.summary()
    assert (s["rows"], s["duplicate_rows"], s["hours"]) == (48204, 7629, 40575)
    assert s["missing_hours"] == 11976 and s["gaps"] == 2588
    stats = Replayer(_gate()[0], rec).run()
    assert stats.accepted == 40575 and stats.duplicates == 0 and stats.quarantined == 0
    assert stats.missing == 11976


def test_i94_hour_is_a_detector_interval_with_count_volume() -> None:
    obs = I94().observation(0)
    assert obs.source_id == "i94-atr301"
    assert obs.payload["interval_s"] == 3600.0 and obs.payload["count"] == 5545
    assert obs.payload["mean_speed_mps"] is None and obs.payload["occupancy"] is None
    assert obs.event_id == "i94-atr301@2012-10-02T09:00:00-05:00"


def test_i94_conflicting_duplicate_is_quarantined_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "i94.csv"
    head = ("holiday,temp,rain_1h,snow_1h,clouds_all,weather_main,weather_description,"
            "date_time,traffic_volume\n")
    path.write_text(head
                    + "None,288,0,0,40,Clouds,c,2012-10-02 09:00:00,5545\n"
                    + "None,288,0,0,40,Mist,m,2012-10-02 09:00:00,5545\n"     # same hour, same volume
                    + "None,288,0,0,40,Rain,r,2012-10-02 09:00:00,4000\n"     # 4: conflict
                    + "None,288,0,0,40,Clouds,c,2012-10-02 12:00:00,4767\n"   # 2 hours missing
                    + "None,288,0,0,40,Clouds,c,2012-10-02 13:00:00,lots\n",  # 6: not a number
                    encoding="utf-8")
    rec = I94(path)
    assert rec.duplicate_rows == 1 and len(rec.starts) == 2
    assert [b.line for b in rec.bad] == [4, 6]
    assert rec.observation(0).payload["weather"] == ["Clouds", "Mist"]
    stats = Replayer(_gate()[0], rec).run()
    assert (stats.accepted, stats.bad_lines, stats.missing) == (2, 2, 2)


# ----------------------------------------------------------------------- helpers


def test_parse_start() -> None:
    assert parse_start("3600") == timedelta(hours=1)
    assert parse_start("2h30m") == timedelta(hours=2, minutes=30)
    assert parse_start("1d") == timedelta(days=1)
    assert parse_start("1.5h") == timedelta(minutes=90)
    assert parse_start("2012-03-01T07:00:00-08:00") == datetime(2012, 3, 1, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither"):
        parse_start("soon")


class _ListRecording(JsonlObservations):
    """A recording from observations in memory (the file reader's grouping and sorting)."""

    def __init__(self, observations: list[Observation]) -> None:  # noqa: D107
        self._given = observations
        super().__init__(Path("memory.jsonl"))

    def _read(self):  # type: ignore[no-untyped-def]
        yield from self._given
