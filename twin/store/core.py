"""The :class:`Store`: runs, observations, quarantine and link time series.

Every write is one transaction. Observations are deduplicated by ``event_id``
with ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL alike), so a
batch written twice, or by two writers at once, is stored once. A transaction
that fails because the connection dropped (a PostgreSQL restart, a network
blip) is retried once on fresh connections. The drop may come after the server
applied the COMMIT, so every write is safe to repeat: observations and link
intervals by their keys, runs and quarantine rows by checking, on the retry,
for the rows the first attempt stored. Reads, the store's own and the modules'
(:meth:`Store.read`), are retried the same way.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from numbers import Integral, Real
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from twin.observations import Location, Observation, ObservationKind

from .engine import DEFAULT_URL, IMMEDIATE, is_disconnect, is_transient_conflict, make_engine
from .migrate import upgrade
from .run_lock import RunLocks
from .schema import LinkIntervalRow, ObservationRow, QuarantineRow, RunRow

__all__ = [
    "InsertResult",
    "LinkIntervals",
    "QuarantineRecord",
    "Run",
    "Store",
    "StoreError",
    "open_store",
    "storable_text",
    "upsert_insert",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

URL_ENV = "KOTA_DB_URL"
"""Environment variable naming the database when :func:`open_store` gets no URL."""

_CONFLICT_RETRIES = 5
_OBSERVATIONS = cast(Table, ObservationRow.__table__)
_LINK_INTERVALS = cast(Table, LinkIntervalRow.__table__)
_MAX_INT32 = 2**31 - 1


class StoreError(RuntimeError):
    """A store operation was refused; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class InsertResult:
    """What a batch write did.

    Attributes
    ----------
    inserted : int, rows newly written
    duplicates : int, records skipped because their ``event_id`` was already
        stored or appeared earlier in the same batch
    quarantined : int, records that cannot be stored as observations unchanged
        (a NaN or non-JSON value in the payload, a non-finite ``pos_m``, a NUL
        character or an unpaired surrogate in a text field); they were written
        to the quarantine table instead, in the same transaction
    inserted_ids : frozenset of str, the ``event_id`` of each row newly written
    """

    inserted: int
    duplicates: int
    quarantined: int = 0
    inserted_ids: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True, slots=True)
class Run:
    """One scenario run or live session, as stored.

    Attributes
    ----------
    run_id : str
    scenario : str, scenario name
    scenario_hash : str or None, hash of the scenario file
    seed : int or None
    started_at, finished_at : datetime (UTC); ``finished_at`` is None while running
    status : str, ``running``, ``finished``, ``failed`` ...
    summary : dict or None, JSON summary written by :meth:`Store.finish_run`
    """

    run_id: str
    scenario: str
    scenario_hash: str | None
    seed: int | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """Input that was refused, kept for inspection.

    Attributes
    ----------
    id : int
    received_at : datetime (UTC)
    source : str, adapter or device that delivered it
    reason : str
    raw : str, the input as text (see :meth:`Store.quarantine`)
    """

    id: int
    received_at: datetime
    source: str
    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class LinkIntervals:
    """Per-link interval aggregates, one array element per (link, interval).

    Sorted by ``link_id`` then ``interval_start_s``.

    Attributes
    ----------
    link_id : ndarray of str, shape (n,)
    interval_start_s : ndarray of float64, shape (n,), seconds of run time
    mean_speed_mps : ndarray of float64, shape (n,), m/s; NaN where no vehicle was seen
    vehicle_count : ndarray of int64, shape (n,)
    flow_vph : ndarray of float64, shape (n,), vehicles per hour
    """

    link_id: NDArray[np.str_]
    interval_start_s: NDArray[np.float64]
    mean_speed_mps: NDArray[np.float64]
    vehicle_count: NDArray[np.int64]
    flow_vph: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.link_id.shape[0])


def upsert_insert(conn: Connection,
                  table: type[Any] | Table) -> postgresql.Insert | sqlite.Insert:
    """A dialect-specific INSERT that supports ``on_conflict_do_nothing``."""
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"the store supports SQLite and PostgreSQL, not {name}")


def _bulk_insert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], conflict: Sequence[str]
) -> list[Any]:
    """Insert ``rows`` skipping conflicts on ``conflict``; return the first conflict column's
    value of each row inserted (so the caller knows which were new).

    PostgreSQL: one ``INSERT ... SELECT FROM unnest(array, ...) ON CONFLICT DO
    NOTHING`` with one array parameter per column (psycopg would otherwise spend
    seconds parsing multi-row VALUES statements). SQLite: SQLAlchemy's batched
    ``INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING``. Rows keep their
    order, so writers that sort their rows lock keys in the same order.
    """
    if not rows:
        return []
    key = conflict[0]
    if conn.dialect.name == "postgresql":
        names = list(rows[0])
        arrays: dict[str, list[Any]] = {}
        casts = []
        for i, name in enumerate(names):
            column = table.c[name]
            values = [row[name] for row in rows]
            if isinstance(column.type, JSON):
                values = [None if v is None else _dumps(v) for v in values]
            arrays[f"c{i}"] = values
            casts.append(f"%(c{i})s::{column.type.compile(dialect=conn.dialect)}[]")
        sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest("
            f"{', '.join(casts)}) ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {key}"
        )
        return [r[0] for r in conn.exec_driver_sql(sql, arrays).all()]
    stmt = upsert_insert(conn, table).on_conflict_do_nothing(index_elements=list(conflict))
    return [r[0] for r in conn.execute(stmt.returning(table.c[key]), rows).all()]


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise StoreError(f"{name} must be a timezone-aware datetime, got {value!r}")
    return value


def storable_text(value: str | bytes | bytearray | memoryview) -> str:
    """Text PostgreSQL and SQLite both accept: invalid UTF-8 and NUL become escapes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", errors="backslashreplace")
    value = value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return value.replace("\x00", "\\x00")


def _json_or_reason(value: Any, name: str) -> str | None:
    """None if ``value`` serialises to strict JSON in UTF-8, else the reason it does not."""
    try:
        _dumps(value).encode("utf-8")
    except UnicodeEncodeError:  # a ValueError too: test it first
        return f"{name} contains an unpaired surrogate, which UTF-8 cannot store"
    except ValueError as exc:
        if str(exc).startswith("Out of range float"):
            return f"{name} contains NaN or infinity, which JSON cannot store"
        return f"{name} is not JSON-serialisable: {exc}"
    except TypeError as exc:
        return f"{name} is not JSON-serialisable: {exc}"
    return None


def _text_reason(value: str, name: str) -> str | None:
    """Why the text ``value`` cannot be stored as it is, or None if it can."""
    if "\x00" in value:
        return f"{name} contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{name} contains an unpaired surrogate, which UTF-8 cannot store"
    return None


def _unstorable(obs: Observation) -> str | None:
    """Why ``obs`` cannot be stored as an observation row, or None if it can.

    Both backends must store it unchanged: SQLite would silently turn a NaN
    ``pos_m`` into NULL, and neither accepts NUL characters in text columns or
    text that is not valid UTF-8.
    """
    texts = {"event_id": obs.event_id, "source_id": obs.source_id}
    loc = obs.location
    if loc is not None:
        if loc.link_id is not None:
            texts["location.link_id"] = loc.link_id
        pos_m, lane = loc.pos_m, loc.lane
        if pos_m is not None and not (isinstance(pos_m, Real) and math.isfinite(pos_m)):
            return f"location.pos_m is {pos_m!r}, not a finite number of metres"
        if lane is not None and not (isinstance(lane, Integral) and 0 <= lane <= _MAX_INT32):
            return f"location.lane is {lane!r}, not a lane index (0, 1, ...)"
    for name, value in texts.items():
        reason = _text_reason(value, name)
        if reason is not None:
            return reason
    return _json_or_reason(dict(obs.payload), "payload")


def _observation_row(obs: Observation, run_id: str | None, received_at: datetime) -> dict:
    """The row of a storable ``obs``; numbers as plain ``float``/``int``.

    Plain types because the drivers need them: psycopg refuses a column array
    mixing ``int`` and ``float`` (``lon=106`` beside ``lon=106.5``), and sqlite3
    cannot bind NumPy integers.
    """
    loc = obs.location
    offset = obs.observed_at.utcoffset()
    return {
        "event_id": obs.event_id,
        "kind": obs.kind.value,
        "source_id": obs.source_id,
        "observed_at": obs.observed_at,
        "utc_offset_s": 0 if offset is None else round(offset.total_seconds()),
        "lon": None if loc is None else float(loc.lon),
        "lat": None if loc is None else float(loc.lat),
        "link_id": None if loc is None else loc.link_id,
        "pos_m": None if loc is None or loc.pos_m is None else float(loc.pos_m),
        "lane": None if loc is None or loc.lane is None else int(loc.lane),
        "payload": dict(obs.payload),
        "schema_version": obs.schema_version,
        "run_id": run_id,
        "received_at": received_at,
    }


_OBS_COLUMNS = (
    ObservationRow.kind, ObservationRow.source_id, ObservationRow.observed_at,
    ObservationRow.utc_offset_s, ObservationRow.lon, ObservationRow.lat,
    ObservationRow.link_id, ObservationRow.pos_m, ObservationRow.lane,
    ObservationRow.payload, ObservationRow.event_id, ObservationRow.schema_version,
)


def _observation_from_row(row: Sequence[Any]) -> Observation:
    (kind, source_id, observed_at, offset_s, lon, lat, link_id, pos_m, lane, payload,
     event_id, schema_version) = row
    tz = UTC if offset_s == 0 else timezone(timedelta(seconds=offset_s))
    location = None
    if lon is not None and lat is not None:
        location = Location(lon=lon, lat=lat, link_id=link_id, pos_m=pos_m, lane=lane)
    return Observation(
        kind=kind, source_id=source_id, observed_at=observed_at.astimezone(tz),
        payload=payload, location=location, event_id=event_id,
        schema_version=schema_version,
    )


def _run_from_row(row: Any) -> Run:
    return Run(**row._mapping)


def _no_run(run_id: str) -> str:
    return f"no run {run_id!r}; start it with start_run()"


def _require_run(conn: Connection, run_id: str) -> None:
    """Raise :class:`StoreError` unless the run ``run_id`` exists."""
    if conn.execute(select(RunRow.run_id).where(RunRow.run_id == run_id)).first() is None:
        raise StoreError(_no_run(run_id))


def _quarantine_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return row["source"], row["reason"], row["raw"]


def _quarantine_ids(conn: Connection, received_at: datetime) -> dict[tuple[str, str, str], list[int]]:
    """The ids of the quarantine rows received at ``received_at``, by content."""
    stmt = select(QuarantineRow.id, QuarantineRow.source, QuarantineRow.reason,
                  QuarantineRow.raw).where(QuarantineRow.received_at == received_at)
    found: dict[tuple[str, str, str], list[int]] = {}
    for row in conn.execute(stmt.order_by(QuarantineRow.id)):
        found.setdefault((row.source, row.reason, row.raw), []).append(row.id)
    return found


def _not_yet_quarantined(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` minus those an earlier attempt of the same call already stored.

    A call stamps all its rows with one ``received_at`` (to the microsecond), so
    a stored row with that stamp and the same content is that attempt's.
    """
    if not rows:
        return rows
    stored = _quarantine_ids(conn, rows[0]["received_at"])
    left = []
    for row in rows:
        ids = stored.get(_quarantine_key(row))
        if ids:
            ids.pop()
        else:
            left.append(row)
    return left


def _column(values: ArrayLike, name: str, dtype: type, n: int) -> np.ndarray:
    arr: np.ndarray = np.asarray(values, dtype=dtype)
    if arr.ndim == 0:
        arr = np.full(n, arr, dtype=dtype)
    if arr.shape != (n,):
        raise StoreError(f"{name} must be a scalar or have shape ({n},), got {arr.shape}")
    return arr


class Store:
    """The persistent store of runs, observations, quarantined input and link series.

    Create it with :func:`open_store`. Safe to share between threads: each call
    uses its own connection and transaction. The exception is an in-memory
    SQLite database (``sqlite://``), which is one shared connection: use it
    from one thread at a time.

    Parameters
    ----------
    engine : Engine
        From :func:`twin.store.engine.make_engine` (SQLite pragmas, PostgreSQL
        pre-ping); the schema must already be migrated.
    reconnect_timeout_s : float
        PostgreSQL only: how long a call waits for an unreachable server (for
        example one that is restarting) before it gives up and raises.
    """

    def __init__(self, engine: Engine, *, reconnect_timeout_s: float = 15.0) -> None:
        self._engine = engine
        self._reconnect_timeout_s = reconnect_timeout_s
        self._closed = False
        self._run_locks = RunLocks(engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (to build stores on it, and for tests); read the database
        through :meth:`read`, which survives a dropped connection."""
        return self._engine

    @property
    def run_locks(self) -> RunLocks:
        """The locks of the live runs this store's process runs (:mod:`.run_lock`): a
        run holds its own while it runs; a run with status ``running`` whose lock nobody
        holds is one whose process died."""
        return self._run_locks

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def __repr__(self) -> str:
        return f"Store({self._engine.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the run locks, close every pooled connection; the store cannot be
        used afterwards."""
        self._closed = True
        self._run_locks.close()
        self._engine.dispose()

    # -- transactions -----------------------------------------------------------------

    def _connect(self) -> Connection:
        """A connection; on PostgreSQL, waits out a server that is (re)starting."""
        deadline = time.monotonic() + self._reconnect_timeout_s
        delay = 0.05
        while True:
            try:
                return self._engine.connect()
            except OperationalError:
                if self.dialect != "postgresql" or time.monotonic() + delay > deadline:
                    raise
                log.warning("database unreachable; retrying in %.2f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run the read-only ``work`` in one transaction and return what it returns.

        How code outside the store reads the database (the modules' tables and
        queries), rather than ``engine.connect()``: a connection that drops (a
        PostgreSQL restart, a network blip) is replaced and ``work`` runs once more,
        a PostgreSQL deadlock or serialization failure is retried, and an
        unreachable server is waited for up to ``reconnect_timeout_s``.

        Parameters
        ----------
        work : Callable[[Connection], T]
            Reads through the connection it is given and returns the result, fully
            fetched (the connection is closed once ``work`` returns). It must be safe
            to run again and should not call other reads of this store: pass it the
            connection instead.

        Returns
        -------
        T
            What ``work`` returned.

        Raises
        ------
        StoreError
            The store is closed.
        sqlalchemy.exc.DBAPIError
            The database failed again after the retries, or for another reason.
        """
        return self._transaction(lambda conn, _maybe_committed: work(conn), write=False)

    def _read(self, work: Callable[[Connection], T]) -> T:
        """:meth:`read` (the name the store's own methods use)."""
        return self.read(work)

    def _write(self, work: Callable[[Connection, bool], T]) -> T:
        """Run ``work(conn, maybe_committed)`` in one write transaction and commit it.

        ``maybe_committed`` is True when an earlier attempt lost its connection:
        if that happened while committing, the earlier attempt's rows may be
        stored already, and ``work`` must not write them a second time.
        """
        return self._transaction(work, write=True)

    def _transaction(self, work: Callable[[Connection, bool], T], *, write: bool) -> T:
        """Run ``work`` in one transaction and commit it.

        A dropped connection (``connection_invalidated``) is retried once after
        ``engine.dispose()``; a PostgreSQL deadlock or serialization failure is
        retried a few times (those roll back for certain). ``work`` must be safe
        to run again.
        """
        if self._closed:
            raise StoreError("the store is closed; open a new one with open_store()")
        reconnected = False
        conflicts = 0
        while True:
            try:
                with self._connect() as conn:
                    if write:
                        conn.execution_options(**{IMMEDIATE: True})
                    with conn.begin():
                        return work(conn, reconnected)
            except DBAPIError as exc:
                if is_disconnect(exc) and not reconnected:
                    log.warning("database connection lost (%s); retrying once", exc.orig)
                    reconnected = True
                    self._engine.dispose()
                    continue
                if is_transient_conflict(exc) and conflicts < _CONFLICT_RETRIES:
                    conflicts += 1
                    time.sleep(0.02 * conflicts)
                    continue
                raise

    # -- runs -------------------------------------------------------------------------

    def start_run(
        self,
        scenario: str,
        *,
        run_id: str | None = None,
        scenario_hash: str | None = None,
        seed: int | None = None,
        started_at: datetime | None = None,
    ) -> str:
        """Record the start of a run and return its id.

        Parameters
        ----------
        scenario : str
            Scenario name.
        run_id : str, optional
            A new random id (32 hex characters) when not given.
        scenario_hash : str, optional
            Hash of the scenario file's bytes.
        seed : int, optional
            The run's random seed.
        started_at : datetime, optional
            Timezone-aware; now when not given.

        Raises
        ------
        StoreError
            If a run with ``run_id`` already exists.
        """
        run_id = run_id or uuid.uuid4().hex
        row = {
            "run_id": run_id,
            "scenario": scenario,
            "scenario_hash": scenario_hash,
            "seed": None if seed is None else operator.index(seed),
            "started_at": datetime.now(UTC) if started_at is None
            else _aware(started_at, "started_at"),
            "finished_at": None,
            "status": "running",
            "summary": None,
        }

        def work(conn: Connection, maybe_committed: bool) -> None:
            stmt = upsert_insert(conn, RunRow).values(row).on_conflict_do_nothing(
                index_elements=["run_id"]
            ).returning(RunRow.run_id)
            if conn.execute(stmt).first() is not None:
                return
            if maybe_committed:
                stored = conn.execute(
                    select(RunRow.__table__).where(RunRow.run_id == run_id)
                ).one()._asdict()
                if stored == row:  # our own earlier attempt, committed before the drop
                    return
            raise StoreError(f"run {run_id!r} already exists; choose another run_id")

        self._write(work)
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: str = "finished",
        summary: Mapping[str, Any] | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Record the end of a run: its status, summary (JSON) and finish time.

        Raises
        ------
        StoreError
            If the run does not exist, or ``summary`` is not strict JSON
            (NaN and infinity are refused).
        """
        summary_dict = None if summary is None else dict(summary)
        reason = _json_or_reason(summary_dict, "summary")
        if reason is not None:
            raise StoreError(f"cannot finish run {run_id!r}: {reason}")
        values = {
            "status": status,
            "summary": summary_dict,
            "finished_at": datetime.now(UTC) if finished_at is None
            else _aware(finished_at, "finished_at"),
        }

        def work(conn: Connection, _maybe_committed: bool) -> None:  # an UPDATE: idempotent
            stmt = update(RunRow).where(RunRow.run_id == run_id).values(values)
            if conn.execute(stmt).rowcount == 0:
                raise StoreError(_no_run(run_id))

        self._write(work)

    def run(self, run_id: str) -> Run | None:
        """The run ``run_id``, or None if there is none."""
        def work(conn: Connection) -> Run | None:
            row = conn.execute(
                select(RunRow.__table__).where(RunRow.run_id == run_id)
            ).first()
            return None if row is None else _run_from_row(row)

        return self._read(work)

    def runs(self, limit: int | None = None) -> list[Run]:
        """Runs, most recently started first."""
        def work(conn: Connection) -> list[Run]:
            stmt = select(RunRow.__table__).order_by(RunRow.started_at.desc(), RunRow.run_id)
            if limit is not None:
                stmt = stmt.limit(limit)
            return [_run_from_row(row) for row in conn.execute(stmt)]

        return self._read(work)

    # -- observations -----------------------------------------------------------------

    def add_observations(
        self, obs: Iterable[Observation], run_id: str | None = None
    ) -> InsertResult:
        """Store a batch of observations in one transaction, once per ``event_id``.

        Records whose ``event_id`` is already stored, or repeats an earlier record
        of the same batch, are counted as duplicates and skipped (the first one
        wins); they never raise. Records that cannot be stored (see
        :class:`InsertResult`) go to the quarantine table in the same transaction.

        Parameters
        ----------
        obs : iterable of Observation
        run_id : str, optional
            Attach the observations to this run (it must exist).

        Returns
        -------
        InsertResult
            Exact counts. If the connection drops while committing and the commit
            had in fact succeeded, the retry reports those rows as duplicates.

        Raises
        ------
        StoreError
            If ``run_id`` names no run.
        """
        received_at = datetime.now(UTC)
        rows: dict[str, dict[str, Any]] = {}
        bad: list[dict[str, Any]] = []
        seen: set[str] = set()
        total = 0
        for o in obs:
            if not isinstance(o, Observation):
                raise TypeError(f"add_observations takes Observation objects, got {o!r}")
            total += 1
            if o.event_id in seen:
                continue
            seen.add(o.event_id)
            reason = _unstorable(o)
            if reason is not None:
                raw = json.dumps(o.to_dict(), default=repr, ensure_ascii=False)
                bad.append({
                    "received_at": received_at, "source": storable_text(o.source_id),
                    "reason": f"observation {storable_text(o.event_id)!r}: {reason}",
                    "raw": storable_text(raw),
                })
                continue
            rows[o.event_id] = _observation_row(o, run_id, received_at)
        # Sorted keys: concurrent writers lock overlapping keys in the same order.
        ordered = [rows[k] for k in sorted(rows)]

        def work(conn: Connection, maybe_committed: bool) -> list[str]:
            if run_id is not None:
                _require_run(conn, run_id)
            inserted = _bulk_insert(conn, _OBSERVATIONS, ordered, ["event_id"])
            new_bad = _not_yet_quarantined(conn, bad) if maybe_committed else bad
            if new_bad:
                conn.execute(insert(QuarantineRow), new_bad)
            return inserted

        ids = self._write(work) if ordered or bad else []
        return InsertResult(inserted=len(ids), duplicates=total - len(bad) - len(ids),
                            quarantined=len(bad), inserted_ids=frozenset(ids))

    def observations(
        self,
        kind: ObservationKind | str | None = None,
        source_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        *,
        run_id: str | None = None,
        newest_first: bool = False,
    ) -> list[Observation]:
        """Stored observations, oldest first (by ``observed_at``, then insertion).

        Each comes back equal to the :class:`Observation` that was stored,
        including its UTC offset.

        Parameters
        ----------
        kind, source_id, run_id : optional
            Keep only observations with this value.
        since, until : datetime, optional
            Timezone-aware; keep ``since <= observed_at < until``.
        limit : int, optional
            At most this many (the first ones in the chosen order).
        newest_first : bool
            Order newest first instead (so ``limit`` keeps the latest).
        """
        stmt = select(*_OBS_COLUMNS)
        if kind is not None:
            stmt = stmt.where(ObservationRow.kind == ObservationKind(kind).value)
        if source_id is not None:
            stmt = stmt.where(ObservationRow.source_id == source_id)
        if run_id is not None:
            stmt = stmt.where(ObservationRow.run_id == run_id)
        if since is not None:
            stmt = stmt.where(ObservationRow.observed_at >= _aware(since, "since"))
        if until is not None:
            stmt = stmt.where(ObservationRow.observed_at < _aware(until, "until"))
        if newest_first:
            stmt = stmt.order_by(ObservationRow.observed_at.desc(), ObservationRow.id.desc())
        else:
            stmt = stmt.order_by(ObservationRow.observed_at, ObservationRow.id)
        if limit is not None:
            stmt = stmt.limit(limit)

        def work(conn: Connection) -> list[Observation]:
            return [_observation_from_row(row) for row in conn.execute(stmt)]

        return self._read(work)

    def known_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Those of ``event_ids`` that are stored (to drop duplicates before publishing)."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()

        def work(conn: Connection) -> set[str]:
            found: set[str] = set()
            for i in range(0, len(ids), 1000):
                chunk = ids[i:i + 1000]
                stmt = select(ObservationRow.event_id).where(ObservationRow.event_id.in_(chunk))
                found.update(conn.execute(stmt).scalars())
            return found

        return self._read(work)

    def count_observations(self, kind: ObservationKind | str | None = None) -> int:
        """How many observations are stored (of ``kind``, if given)."""
        stmt = select(func.count()).select_from(ObservationRow)
        if kind is not None:
            stmt = stmt.where(ObservationRow.kind == ObservationKind(kind).value)
        return self._read(lambda conn: int(conn.execute(stmt).scalar_one()))

    # -- quarantine -------------------------------------------------------------------

    def quarantine(self, source: str, reason: str, raw: str | bytes) -> int:
        """Keep input that could not be accepted, and return its quarantine id.

        Parameters
        ----------
        source : str
            The adapter or device that delivered it.
        reason : str
            Why it was refused (for the operator).
        raw : str or bytes
            The input as received. Stored as text: bytes are decoded as UTF-8 with
            invalid bytes written as ``\\xNN``, and NUL characters as ``\\x00``.
        """
        received_at = datetime.now(UTC)
        row = {"received_at": received_at, "source": storable_text(source),
               "reason": storable_text(reason), "raw": storable_text(raw)}

        def work(conn: Connection, maybe_committed: bool) -> int:
            if maybe_committed:
                stored = _quarantine_ids(conn, received_at).get(_quarantine_key(row))
                if stored:
                    return stored[0]
            stmt = insert(QuarantineRow).values(row).returning(QuarantineRow.id)
            return int(conn.execute(stmt).scalar_one())

        return self._write(work)

    def quarantined(
        self, limit: int | None = 100, *, source: str | None = None
    ) -> list[QuarantineRecord]:
        """Quarantined input, most recent first (of ``source``, if given)."""
        stmt = select(QuarantineRow.__table__).order_by(QuarantineRow.id.desc())
        if source is not None:
            stmt = stmt.where(QuarantineRow.source == source)
        if limit is not None:
            stmt = stmt.limit(limit)

        def work(conn: Connection) -> list[QuarantineRecord]:
            return [QuarantineRecord(**row._mapping) for row in conn.execute(stmt)]

        return self._read(work)

    def quarantine_counts(self, since: datetime | None = None) -> dict[str, int]:
        """Quarantined inputs per source (device or adapter), optionally since a time."""
        stmt = select(QuarantineRow.source, func.count()).group_by(QuarantineRow.source)
        if since is not None:
            stmt = stmt.where(QuarantineRow.received_at >= _aware(since, "since"))

        def work(conn: Connection) -> dict[str, int]:
            return {str(src): int(n) for src, n in conn.execute(stmt)}

        return self._read(work)

    # -- link interval series ---------------------------------------------------------

    def add_link_intervals(
        self,
        run_id: str,
        link_id: Sequence[str] | ArrayLike,
        interval_start_s: ArrayLike,
        mean_speed_mps: ArrayLike,
        vehicle_count: ArrayLike,
        flow_vph: ArrayLike,
    ) -> int:
        """Store per-link interval aggregates of a run in bulk, in one transaction.

        All arrays are 1-D of the same length ``n`` as ``link_id``; numeric ones may
        also be scalars, broadcast to every link (e.g. one ``interval_start_s`` for a
        whole interval). A (run, link, interval start) already stored is kept and
        the new row skipped.

        Parameters
        ----------
        run_id : str
            An existing run.
        link_id : sequence or ndarray of str, shape (n,)
        interval_start_s : float or array, shape (n,), seconds of run time
        mean_speed_mps : float or array, shape (n,), m/s; NaN means no vehicle seen
        vehicle_count : int or array, shape (n,), non-negative whole numbers
        flow_vph : float or array, shape (n,), vehicles per hour

        Returns
        -------
        int
            Rows newly written. If the connection drops while committing and the
            commit had in fact succeeded, the retry finds those rows stored and
            counts 0 for them.

        Raises
        ------
        StoreError
            On shape mismatches, non-finite times or flows, negative or fractional
            counts, or an unknown run.
        """
        links = np.asarray(link_id, dtype=np.str_)
        if links.ndim != 1:
            raise StoreError(f"link_id must be 1-D, got shape {links.shape}")
        n = links.shape[0]
        start = _column(interval_start_s, "interval_start_s", np.float64, n)
        speed = _column(mean_speed_mps, "mean_speed_mps", np.float64, n)
        count_f = _column(vehicle_count, "vehicle_count", np.float64, n)
        flow = _column(flow_vph, "flow_vph", np.float64, n)
        if not (np.isfinite(start).all() and np.isfinite(flow).all()):
            raise StoreError("interval_start_s and flow_vph must be finite")
        if np.isinf(speed).any():
            raise StoreError("mean_speed_mps must be finite or NaN (no vehicle seen)")
        if not ((count_f >= 0) & (count_f <= _MAX_INT32) & (count_f == np.rint(count_f))).all():
            raise StoreError(f"vehicle_count must be non-negative whole numbers up to "
                             f"{_MAX_INT32}")
        count = count_f.astype(np.int64)
        order = np.lexsort((start, links))  # same lock order for concurrent writers
        rows = [
            {"run_id": run_id, "link_id": lk, "interval_start_s": st,
             "mean_speed_mps": None if math.isnan(sp) else sp,
             "vehicle_count": ct, "flow_vph": fl}
            for lk, st, sp, ct, fl in zip(
                links[order].tolist(), start[order].tolist(), speed[order].tolist(),
                count[order].tolist(), flow[order].tolist(), strict=True,
            )
        ]
        if not rows:
            return 0

        def work(conn: Connection, _maybe_committed: bool) -> int:  # ON CONFLICT: idempotent
            _require_run(conn, run_id)
            return len(_bulk_insert(conn, _LINK_INTERVALS, rows,
                                    ["run_id", "link_id", "interval_start_s"]))

        return self._write(work)

    def link_intervals(self, run_id: str, link_id: str | None = None) -> LinkIntervals:
        """A run's per-link interval aggregates (of one link, if given) as arrays."""
        stmt = select(
            LinkIntervalRow.link_id, LinkIntervalRow.interval_start_s,
            LinkIntervalRow.mean_speed_mps, LinkIntervalRow.vehicle_count,
            LinkIntervalRow.flow_vph,
        ).where(LinkIntervalRow.run_id == run_id)
        if link_id is not None:
            stmt = stmt.where(LinkIntervalRow.link_id == link_id)
        stmt = stmt.order_by(LinkIntervalRow.link_id, LinkIntervalRow.interval_start_s)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(stmt))

        rows = self._read(work)
        cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        return LinkIntervals(
            link_id=np.asarray(cols[0], dtype=np.str_),
            interval_start_s=np.asarray(cols[1], dtype=np.float64),
            mean_speed_mps=np.asarray(
                [math.nan if v is None else v for v in cols[2]], dtype=np.float64
            ),
            vehicle_count=np.asarray(cols[3], dtype=np.int64),
            flow_vph=np.asarray(cols[4], dtype=np.float64),
        )


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open (and create or migrate) the store.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL: ``sqlite:///path/to.db`` or
        ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` is taken to
        mean psycopg 3). Default: ``$KOTA_DB_URL`` if set, else
        ``sqlite:///var/kota.db`` relative to the current directory (the folder is
        created).
    migrate : bool
        Bring the schema to the newest revision first (idempotent; cheap when
        already there).

    Examples
    --------
    >>> store = open_store("sqlite://")
    >>> store.count_observations()
    0
    >>> store.close()
    """
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine)
