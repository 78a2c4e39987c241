"""Engines for the store: URL handling, SQLite pragmas, disconnect detection."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

DEFAULT_URL = "sqlite:///var/kota.db"
"""The embedded default: ``var/kota.db`` relative to the current directory."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before failing."""

IMMEDIATE = "kota_begin_immediate"
"""Execution option: on SQLite, start the transaction with ``BEGIN IMMEDIATE``.

Write transactions take the write lock up front, so two writers queue on
``busy_timeout`` instead of failing when a read lock cannot be upgraded.
"""

_PG_DEADLOCK_CODES = frozenset({"40P01", "40001"})


def normalise_url(url: str | URL) -> URL:
    """``url`` as a SQLAlchemy URL, with PostgreSQL pointed at psycopg 3.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``; other
    drivers named explicitly are kept.
    """
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_memory_database(database: str) -> bool:
    """Whether a SQLite URL's ``database`` part names an in-memory database."""
    return database in ("", ":memory:") or database.startswith("file::memory:")


def make_engine(url: str | URL) -> Engine:
    """An engine for ``url`` configured the way the store needs it.

    SQLite: a leading ``~`` in the path is expanded to the home folder and the
    parent folder of the database file is created; every connection
    gets ``journal_mode=WAL``, ``synchronous=NORMAL``, ``foreign_keys=ON`` and a
    busy timeout, and SQLAlchemy (not the sqlite3 module) emits ``BEGIN`` so
    transactions and DDL behave as on PostgreSQL. In-memory databases share one
    connection (so use them from one thread at a time). PostgreSQL: psycopg 3,
    ``pool_pre_ping`` so connections killed by a server restart are replaced on
    checkout.
    """
    parsed = normalise_url(url)
    dumps = partial(json.dumps, allow_nan=False, ensure_ascii=False)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if is_memory_database(database):
            engine = create_engine(
                parsed, json_serializer=dumps, poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        else:
            if database.startswith("~"):  # sqlite3 would open a folder named "~"
                database = str(Path(database).expanduser())
                parsed = parsed.set(database=database)
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed, json_serializer=dumps)
        _install_sqlite_hooks(engine)
        return engine
    connect_args: dict[str, object] = {}
    if parsed.get_dialect().driver == "psycopg":
        connect_args = {"connect_timeout": 10, "application_name": "kota-twin"}
    return create_engine(
        parsed, json_serializer=dumps, pool_pre_ping=True, connect_args=connect_args,
    )


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (see _begin); the sqlite3 module must not.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` means the database connection was lost (server restart, network)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def is_transient_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a deadlock or serialization failure that a retry resolves."""
    if not isinstance(exc, DBAPIError):
        return False
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code in _PG_DEADLOCK_CODES
