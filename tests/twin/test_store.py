"""The store on SQLite and on a real PostgreSQL server: dedup, round trips, restarts."""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, text

from tests.pg_server import libpq_conninfo
from twin.observations import Location, Observation, ObservationKind
from twin.store import (
    InsertResult,
    Store,
    StoreError,
    current_revision,
    head_revision,
    make_engine,
    open_store,
    upgrade,
)
from twin.store.schema import Base

WIB = timezone(timedelta(hours=7), "WIB")
T0 = datetime(2025, 3, 3, 7, 0, tzinfo=WIB)


def detector(i: int, source: str = "det-1", minutes: int | None = None) -> Observation:
    """Detector interval ``i`` of ``source``; its event id is ``{source}:{i}``."""
    return Observation(
        kind=ObservationKind.DETECTOR_INTERVAL,
        source_id=source,
        observed_at=T0 + timedelta(minutes=i if minutes is None else minutes),
        payload={"interval_s": 60, "count": i % 40, "occupancy": 0.125,
                 "mean_speed_mps": None if i % 7 == 0 else 8.5 + i % 5},
        location=Location(lon=106.8272, lat=-6.1754, link_id="L-12", pos_m=42.5, lane=1),
        event_id=f"{source}:{i}",
    )


def mixed_kinds() -> list[Observation]:
    """One observation of every kind, with varied zones, locations and payload extras."""
    minus_330 = timezone(-timedelta(hours=3, minutes=30))
    loc = Location(lon=106.8456, lat=-6.2088)
    return [
        detector(3),
        Observation(ObservationKind.POINT_SPEED, "radar-7", T0.replace(microsecond=123456),
                    {"speed_mps": 23.61, "vehicle_class": "car", "lane_guess": [1, 2]},
                    Location(106.8, -6.2, "L-9", 0.0, 0)),
        Observation(ObservationKind.PLATE_READ, "anpr-2", T0.astimezone(UTC),
                    {"plate": "B 1234 XYZ", "confidence": 0.93, "image": None}),
        Observation(ObservationKind.PLATE_READ, "anpr-2", T0 + timedelta(seconds=1),
                    {"plate": None, "confidence": 0.1}, loc),
        Observation(ObservationKind.SIGNAL_STATE, "tl-44", T0.astimezone(minus_330),
                    {"program": "peak", "state": "GGrrGGrr"}),
        Observation(ObservationKind.INCIDENT_REPORT, "cctv-1", T0 + timedelta(hours=2),
                    {"incident_type": "crash", "lanes_blocked": 2,
                     "note": "Jl. Jend. Sudirman — depan halte"}, loc),
        Observation(ObservationKind.EMERGENCY_CALL, "112-jkt", T0 - timedelta(days=1),
                    {"call_type": "medical", "caller": {"lang": "id", "repeat": False}}),
        Observation(ObservationKind.UNIT_POSITION, "amb-3", T0 + timedelta(minutes=5),
                    {"unit_id": "AMB-3", "status": "en_route", "eta_s": 1e-7,
                     "big": 12345678901234567}, loc),
    ]


# -- deduplication ----------------------------------------------------------------------


def test_dedup_within_batch(store: Store) -> None:
    """Repeats inside one batch are counted as duplicates and stored once."""
    batch = [detector(i) for i in (0, 1, 0, 2, 1, 1)]
    assert store.add_observations(batch) == InsertResult(inserted=3, duplicates=3)
    assert store.count_observations() == 3


def test_dedup_across_batches(store: Store) -> None:
    """A batch overlapping stored rows inserts only the new ones; a replay inserts none."""
    assert store.add_observations(detector(i) for i in range(100)) == InsertResult(100, 0)
    assert store.add_observations(detector(i) for i in range(50, 150)) == InsertResult(50, 50)
    assert store.add_observations(detector(i) for i in range(50, 150)) == InsertResult(0, 100)
    assert store.add_observations([]) == InsertResult(0, 0)
    assert store.count_observations() == 150
    ids = [o.event_id for o in store.observations()]
    assert ids == [f"det-1:{i}" for i in range(150)]


def test_bulk_20k(store: Store) -> None:
    """20,000 observations in one batch are written and counted exactly."""
    batch = [detector(i, minutes=i % 1440) for i in range(20_000)]
    assert store.add_observations(batch) == InsertResult(20_000, 0)
    assert store.add_observations(batch[:5000]) == InsertResult(0, 5000)
    assert store.count_observations() == 20_000


# -- round trip and queries -------------------------------------------------------------


def test_round_trip_every_kind(store: Store) -> None:
    """Every kind reads back equal to what was stored, with its UTC offset kept."""
    obs = mixed_kinds()
    assert store.add_observations(obs).inserted == len(obs)
    back = store.observations()
    expected = sorted(obs, key=lambda o: o.observed_at)
    assert back == expected
    assert [o.to_dict() for o in back] == [o.to_dict() for o in expected]
    assert [o.observed_at.utcoffset() for o in back] == [
        o.observed_at.utcoffset() for o in expected
    ]


def test_query_filters(store: Store) -> None:
    """kind, source, time window (since inclusive, until exclusive), run and limit filter."""
    run = store.start_run("rush_hour", seed=7)
    store.add_observations([detector(i, "det-a") for i in range(10)], run_id=run)
    store.add_observations([detector(i, "det-b") for i in range(10)])
    store.add_observations(mixed_kinds())
    assert len(store.observations(kind="plate_read")) == 2
    assert len(store.observations(kind=ObservationKind.DETECTOR_INTERVAL)) == 21
    assert {o.source_id for o in store.observations(source_id="det-b")} == {"det-b"}
    window = store.observations(source_id="det-a", since=T0 + timedelta(minutes=2),
                                until=T0 + timedelta(minutes=5))
    assert [o.event_id for o in window] == ["det-a:2", "det-a:3", "det-a:4"]
    utc_window = store.observations(source_id="det-a", since=(T0 + timedelta(minutes=8))
                                    .astimezone(UTC))
    assert [o.event_id for o in utc_window] == ["det-a:8", "det-a:9"]
    assert len(store.observations(run_id=run)) == 10
    first = store.observations(source_id="det-b", limit=3)
    assert [o.event_id for o in first] == ["det-b:0", "det-b:1", "det-b:2"]
    latest = store.observations(source_id="det-b", limit=2, newest_first=True)
    assert [o.event_id for o in latest] == ["det-b:9", "det-b:8"]
    with pytest.raises(StoreError, match="timezone-aware"):
        store.observations(since=datetime(2025, 1, 1))


def test_unstorable_observation_goes_to_quarantine(store: Store) -> None:
    """A NaN in a payload extra is quarantined in the same transaction, not lost or raised."""
    bad = Observation(ObservationKind.POINT_SPEED, "radar-7", T0,
                      {"speed_mps": 12.0, "accel_mps2": math.nan}, event_id="radar-7:nan")
    result = store.add_observations([detector(1), bad, detector(2)])
    assert result == InsertResult(inserted=2, duplicates=0, quarantined=1)
    assert store.count_observations() == 2
    (record,) = store.quarantined()
    assert record.source == "radar-7"
    assert "radar-7:nan" in record.reason and "NaN" in record.reason
    assert json.loads(record.raw.replace("NaN", "null"))["event_id"] == "radar-7:nan"


def test_unstorable_text_and_position_go_to_quarantine(store: Store) -> None:
    """Text that is not UTF-8 (an unpaired surrogate, as ``surrogateescape`` decoding
    leaves) and a NaN ``pos_m`` (SQLite would store NULL) are quarantined; the good
    records of the batch are stored."""
    surrogate = Observation(ObservationKind.POINT_SPEED, "radar-7", T0,
                            {"speed_mps": 12.0, "note": "caf\udce9"}, event_id="radar-7:s")
    bad_source = Observation(ObservationKind.POINT_SPEED, "radar-\udce9", T0,
                             {"speed_mps": 12.0}, event_id="radar-x:1")
    nan_pos = Observation(ObservationKind.POINT_SPEED, "radar-7", T0, {"speed_mps": 9.0},
                          Location(106.8, -6.2, "L-9", math.nan), event_id="radar-7:p")
    result = store.add_observations([detector(1), surrogate, bad_source, nan_pos, detector(2)])
    assert result == InsertResult(inserted=2, duplicates=0, quarantined=3)
    assert [o.event_id for o in store.observations()] == ["det-1:1", "det-1:2"]
    by_event = {json.loads(r.raw.replace("NaN", "null"))["event_id"]: r
                for r in store.quarantined()}
    assert set(by_event) == {"radar-7:s", "radar-x:1", "radar-7:p"}
    assert "payload contains an unpaired surrogate" in by_event["radar-7:s"].reason
    assert "caf\\udce9" in by_event["radar-7:s"].raw  # kept, escaped
    assert "source_id contains an unpaired surrogate" in by_event["radar-x:1"].reason
    assert by_event["radar-x:1"].source == "radar-\\udce9"
    assert "location.pos_m is nan" in by_event["radar-7:p"].reason


def test_mixed_number_types_in_one_batch(store: Store) -> None:
    """Locations may hold ints, floats and NumPy scalars side by side (psycopg refuses
    mixed int/float arrays, sqlite3 NumPy integers); a fractional lane is quarantined."""
    def at(i: int, loc: Location) -> Observation:
        return Observation(ObservationKind.POINT_SPEED, "radar-7", T0 + timedelta(seconds=i),
                           {"speed_mps": 10.0}, loc, event_id=f"radar-7:{i}")

    obs = [at(0, Location(106, -6, "L-1", 0, 1)),
           at(1, Location(106.5, -6.25, "L-1", 42.5, np.int64(2))),
           at(2, Location(np.float64(106.75), np.float32(-6.5), "L-1", np.float32(1.5), 0))]
    result = store.add_observations([*obs, at(3, Location(106.0, -6.0, "L-1", 1.0, 1.5))])
    assert result == InsertResult(inserted=3, duplicates=0, quarantined=1)
    back = store.observations()
    assert [o.location for o in back] == [o.location for o in obs]
    assert all(type(v) is float for o in back for v in (o.location.lon, o.location.pos_m))
    assert [type(o.location.lane) for o in back] == [int, int, int]
    assert "location.lane is 1.5" in store.quarantined()[0].reason


# -- SQLite specifics, restarts ---------------------------------------------------------


def test_sqlite_pragmas(tmp_path) -> None:
    """Every SQLite connection runs in WAL with NORMAL sync, foreign keys and a busy timeout."""
    with open_store(f"sqlite:///{tmp_path / 'kota.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_default_url_is_var_kota_db(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL the store is ``var/kota.db`` under the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KOTA_DB_URL", raising=False)
    with open_store() as store:
        store.add_observations([detector(1)])
    assert (tmp_path / "var" / "kota.db").is_file()


def test_sqlite_path_with_tilde_is_in_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``sqlite:///~/...`` is the home folder, not a folder named ``~``."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///~/kota/k.db") as store:
        store.add_observations([detector(1)])
    assert (tmp_path / "home" / "kota" / "k.db").is_file()
    assert not (tmp_path / "~").exists()


def test_closed_store_refuses_calls(tmp_path) -> None:
    """A closed store raises StoreError instead of silently reconnecting."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.add_observations([detector(1)])
    with pytest.raises(StoreError, match="closed"):
        store.count_observations()


def test_read_returns_what_the_work_read(store_url: str) -> None:
    """Store.read hands ``work`` a connection in a transaction and returns its result; a
    closed store refuses it like every other call."""
    store = open_store(store_url)
    store.add_observations([detector(i) for i in range(3)])

    def work(conn: Connection) -> tuple[bool, list[str]]:
        return conn.in_transaction(), [r[0] for r in conn.execute(
            text("SELECT event_id FROM observations ORDER BY event_id"))]

    assert store.read(work) == (True, ["det-1:0", "det-1:1", "det-1:2"])
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.read(work)


def test_survives_close_and_reopen(store_url: str) -> None:
    """Rows written before close are there after reopening, and still deduplicate."""
    with open_store(store_url) as store:
        store.add_observations(mixed_kinds())
        run = store.start_run("demo")
        store.quarantine("mqtt", "bad json", "{")
    with open_store(store_url) as store:
        assert store.observations() == sorted(mixed_kinds(), key=lambda o: o.observed_at)
        assert store.add_observations(mixed_kinds()).duplicates == len(mixed_kinds())
        assert store.run(run) is not None
        assert len(store.quarantined()) == 1


def test_concurrent_writers(store_url: str) -> None:
    """Two writers (separate engines) sending overlapping batches store the union exactly once."""
    upgrade(store_url)
    ids_a = list(range(0, 3000))
    ids_b = list(range(3999, 999, -1))  # descending: the two meet in the overlap
    results: dict[str, list[InsertResult]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str, ids: list[int]) -> None:
        try:
            with open_store(store_url, migrate=False) as store:
                barrier.wait()
                for k in range(0, len(ids), 100):
                    chunk = ids[k:k + 100]
                    batch = [detector(i) for i in chunk + chunk[:10]]  # repeats inside, too
                    results[name].append(store.add_observations(batch))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=a) for a in (("a", ids_a), ("b", ids_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    union = set(ids_a) | set(ids_b)
    sent = len(ids_a) + len(ids_b) + 10 * (len(ids_a) + len(ids_b)) // 100
    all_results = results["a"] + results["b"]
    assert sum(r.inserted for r in all_results) == len(union)
    assert sum(r.duplicates for r in all_results) == sent - len(union)
    with open_store(store_url) as store:
        stored = [o.event_id for o in store.observations()]
    assert len(stored) == len(set(stored)) == len(union)
    assert set(stored) == {f"det-1:{i}" for i in union}


def test_concurrent_open_of_fresh_database(store_url: str) -> None:
    """Several processes opening a fresh database at once migrate it exactly once."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def opener() -> None:
        try:
            barrier.wait()
            open_store(store_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert current_revision(store_url) == head_revision()


# -- PostgreSQL restarts ----------------------------------------------------------------


@pytest.mark.postgres
def test_pg_restart_between_batches_and_while_idle(
    request: pytest.FixtureRequest, postgres_url: str  # noqa: F811
) -> None:
    """A server restart between batches (pool full of dead connections) loses nothing."""
    server = request.getfixturevalue("postgres_server")
    with open_store(postgres_url) as store:
        assert store.add_observations(detector(i) for i in range(500)) == InsertResult(500, 0)
        server.restart()
        assert store.add_observations(detector(i) for i in range(400, 900)) == InsertResult(
            400, 100
        )
        server.restart()  # idle: the next call is a read
        assert store.count_observations() == 900
        stored = [o.event_id for o in store.observations()]
        assert stored == [f"det-1:{i}" for i in range(900)]


@pytest.mark.postgres
@pytest.mark.parametrize("when", ["before_insert", "before_commit"])
def test_pg_restart_mid_transaction(
    request: pytest.FixtureRequest, postgres_url: str, when: str  # noqa: F811
) -> None:
    """The server restarting inside a batch's transaction: one retry, nothing lost or doubled."""
    server = request.getfixturevalue("postgres_server")
    with open_store(postgres_url) as store:
        store.add_observations(detector(i) for i in range(100))
        restarts = []

        def restart_once(*_args: object, **_kw: object) -> None:
            if not restarts:
                restarts.append(time.perf_counter())
                server.restart()

        if when == "before_insert":
            def hook(conn, cursor, statement, *_rest):  # type: ignore[no-untyped-def]
                if statement.startswith("INSERT INTO observations"):
                    restart_once()
            event.listen(store.engine, "before_cursor_execute", hook)
        else:
            event.listen(store.engine, "commit", restart_once)
        result = store.add_observations(detector(i) for i in range(50, 1050))
        assert len(restarts) == 1
        assert result == InsertResult(950, 50)
        assert store.count_observations() == 1050
        stored = [o.event_id for o in store.observations()]
        assert stored == [f"det-1:{i}" for i in range(1050)]


@pytest.mark.postgres
def test_pg_connection_lost_after_the_commit_landed(
    postgres_url: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    """The connection dies after COMMIT was applied but before the client heard back.

    The retry must not write anything twice (quarantine rows have no natural key)
    nor report a run it stored itself as "already exists".
    """
    with open_store(postgres_url) as store:
        dropped: list[int] = []

        def commit_then_drop(conn) -> None:  # type: ignore[no-untyped-def]
            if dropped:
                return
            dbapi = conn.connection.dbapi_connection
            dbapi.commit()  # the work is stored ...
            dbapi.execute("SELECT 1")  # ... and SQLAlchemy's own COMMIT will fail:
            with psycopg.connect(libpq_conninfo(postgres_url), autocommit=True) as admin:
                # with a timeout (PostgreSQL 14+) it returns once the backend is gone
                admin.execute("SELECT pg_terminate_backend(%s, 10000)",
                              (dbapi.info.backend_pid,))
            dropped.append(1)

        event.listen(store.engine, "commit", commit_then_drop)
        caplog.set_level("WARNING", logger="twin.store.core")
        run = store.start_run("rush_hour", run_id="r1", seed=3)
        assert dropped and run == "r1" and store.run("r1") is not None

        dropped.clear()
        qid = store.quarantine("mqtt:cam-1", "not JSON", "{")
        assert dropped and [r.id for r in store.quarantined()] == [qid]

        dropped.clear()
        bad = Observation(ObservationKind.POINT_SPEED, "radar-7", T0,
                          {"speed_mps": 1.0, "accel_mps2": math.inf}, event_id="radar-7:inf")
        result = store.add_observations([detector(1), bad, detector(2)], run_id="r1")
        # the retry finds the first attempt's rows: reported as duplicates, as documented
        assert dropped and result == InsertResult(inserted=0, duplicates=2, quarantined=1)
        assert store.count_observations() == 2
        assert len(store.quarantined()) == 2

        dropped.clear()
        assert store.add_link_intervals("r1", ["a", "b"], 0.0, 5.0, 2, 24.0) == 0  # likewise
        assert dropped and len(store.link_intervals("r1")) == 2

        event.remove(store.engine, "commit", commit_then_drop)
        lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
        assert len(lost) == 4  # every call above did retry
        with pytest.raises(StoreError, match="already exists"):  # a real clash still is one
            store.start_run("rush_hour", run_id="r1", seed=3)


@pytest.mark.postgres
def test_pg_waits_for_a_restarting_server(
    request: pytest.FixtureRequest, postgres_url: str  # noqa: F811
) -> None:
    """A batch sent while the server is down waits for it to come back, then lands once."""
    server = request.getfixturevalue("postgres_server")
    with open_store(postgres_url) as store:
        store.add_observations(detector(i) for i in range(10))
        server.stop()
        starter = threading.Timer(1.0, server.start)
        starter.start()
        try:
            result = store.add_observations(detector(i) for i in range(5, 20))
        finally:
            starter.join()
        assert result == InsertResult(10, 5)
        assert store.count_observations() == 20


# -- runs, quarantine, link intervals ---------------------------------------------------


def test_runs(store: Store) -> None:
    """A run is started, found, finished with a JSON summary; misuse raises StoreError."""
    started = datetime(2025, 3, 3, 6, 0, tzinfo=WIB)
    run = store.start_run("rush_hour", scenario_hash="ab12", seed=np.int64(42),
                          started_at=started, run_id="r1")
    assert run == "r1"
    rec = store.run("r1")
    assert rec is not None and rec.status == "running" and rec.finished_at is None
    assert rec.started_at == started and rec.seed == 42 and rec.scenario_hash == "ab12"
    store.finish_run("r1", summary={"vehicles": 1200, "mean_speed_mps": 9.5, "ok": [1, None]})
    rec = store.run("r1")
    assert rec is not None and rec.status == "finished" and rec.finished_at is not None
    assert rec.summary == {"vehicles": 1200, "mean_speed_mps": 9.5, "ok": [1, None]}
    other = store.start_run("closure")
    assert [r.run_id for r in store.runs()] == [other, "r1"]
    assert store.run("nope") is None
    with pytest.raises(StoreError, match="already exists"):
        store.start_run("again", run_id="r1")
    with pytest.raises(StoreError, match="no run"):
        store.finish_run("nope")
    with pytest.raises(StoreError, match="NaN"):
        store.finish_run("r1", summary={"x": math.nan})
    with pytest.raises(StoreError, match="no run"):
        store.add_observations([detector(1)], run_id="nope")
    assert store.count_observations() == 0


def test_quarantine_round_trip(store: Store) -> None:
    """Quarantined input comes back newest first; bytes, bad UTF-8 and NUL survive as text."""
    first = store.quarantine("mqtt:cam-1", "not JSON", '{"plate": "B 1')
    second = store.quarantine("http:bank", "bad signature", b'{"amount": 5}\x00\xff')
    third = store.quarantine("mqtt:cam-1", "unknown kind", "ümlaut ✓")
    assert first < second < third
    records = store.quarantined()
    assert [r.id for r in records] == [third, second, first]
    assert records[1].raw == '{"amount": 5}\\x00\\xff'
    assert records[0].raw == "ümlaut ✓" and records[0].reason == "unknown kind"
    assert records[2].raw == '{"plate": "B 1' and records[2].source == "mqtt:cam-1"
    assert all(r.received_at.tzinfo is not None for r in records)
    assert [r.id for r in store.quarantined(limit=1)] == [third]
    assert [r.id for r in store.quarantined(source="mqtt:cam-1")] == [third, first]


def test_link_intervals(store: Store) -> None:
    """Arrays in, arrays out: bulk insert, NaN speeds, per-link read, dedup, validation."""
    run = store.start_run("grid")
    rng = np.random.default_rng(3)
    links = np.array([f"L{j:03d}" for j in range(200)])
    total = 0
    for k in range(12):
        speed = rng.uniform(2.0, 16.0, links.size)
        speed[rng.random(links.size) < 0.1] = np.nan
        count = rng.integers(0, 30, links.size)
        total += store.add_link_intervals(run, links, 300.0 * k, speed, count, count * 12.0)
    assert total == 2400
    assert store.add_link_intervals(run, links[:5], 0.0, 1.0, 1, 12.0) == 0  # already there
    series = store.link_intervals(run)
    assert len(series) == 2400
    assert series.link_id.dtype.kind == "U" and series.vehicle_count.dtype == np.int64
    assert list(series.link_id[:13]) == ["L000"] * 12 + ["L001"]
    one = store.link_intervals(run, "L007")
    np.testing.assert_array_equal(one.interval_start_s, 300.0 * np.arange(12))
    np.testing.assert_array_equal(one.flow_vph, one.vehicle_count * 12.0)
    assert np.isnan(series.mean_speed_mps).any()
    assert len(store.link_intervals("nope")) == 0

    # Read back equals what went in, element for element.
    run2 = store.start_run("exact")
    speeds = np.array([3.25, np.nan, 0.1])
    store.add_link_intervals(run2, ["b", "a", "c"], [60.0, 0.5, 60.0], speeds, [3, 0, 7],
                             np.array([180.0, 0.0, 420.0]))
    back = store.link_intervals(run2)
    assert list(back.link_id) == ["a", "b", "c"]
    np.testing.assert_array_equal(back.interval_start_s, [0.5, 60.0, 60.0])
    np.testing.assert_array_equal(back.mean_speed_mps, [np.nan, 3.25, 0.1])
    np.testing.assert_array_equal(back.vehicle_count, [0, 3, 7])

    with pytest.raises(StoreError, match="shape"):
        store.add_link_intervals(run, links, 0.0, np.ones(3), 1, 1.0)
    with pytest.raises(StoreError, match="no run"):
        store.add_link_intervals("nope", links, 0.0, 1.0, 1, 1.0)
    with pytest.raises(StoreError, match="non-negative"):
        store.add_link_intervals(run, ["x"], 0.0, 1.0, -1, 1.0)
    for count in (1.5, np.nan, 2.0**40):  # would be truncated, garbage, or overflow int32
        with pytest.raises(StoreError, match="whole numbers"):
            store.add_link_intervals(run, ["x"], 0.0, 1.0, count, 1.0)
    assert store.add_link_intervals(run, ["x"], 0.0, 1.0, np.float64(4.0), 48.0) == 1


# -- migrations -------------------------------------------------------------------------


def test_migrations_reach_head_and_match_the_models(store_url: str) -> None:
    """A fresh database migrates to head, reopening is a no-op, and no schema drift exists."""
    assert current_revision(store_url) is None
    open_store(store_url).close()
    assert current_revision(store_url) == head_revision() == "0007"
    assert upgrade(store_url) == "0007"
    open_store(store_url).close()
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            assert versions == [("0007",)]
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
