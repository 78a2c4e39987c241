"""Schema migrations: bring a database to the newest schema with Alembic.

The migration scripts ship inside the package (``twin/migrations``), so this
works from an installed wheel with no ``alembic.ini``. :func:`upgrade` holds a
lock while it runs (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on
PostgreSQL), so several processes opening a fresh database at once migrate it
exactly once.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from .engine import IMMEDIATE, make_engine

SCRIPT_LOCATION = "twin:migrations"
"""Alembic ``script_location`` in package-resource form (works when installed)."""

_PG_MIGRATION_LOCK = 0x6B6F7461  # "kota"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations.

    When ``connection`` is given, ``env.py`` migrates through it (inside the
    caller's transaction) instead of opening its own.
    """
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision the packaged migrations know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError("no migrations found in twin/migrations/versions")
    return head


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(url: str | URL | Engine) -> str | None:
    """The revision ``url``'s database is at, or None for an empty database."""
    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with engine.connect() as conn:
            return _current(conn)
    finally:
        if engine is not url:
            engine.dispose()


def upgrade(url: str | URL | Engine, revision: str = "head") -> str | None:
    """Migrate the database at ``url`` to ``revision`` (default: the newest).

    Idempotent: a database already there is left untouched (one cheap query).

    Returns
    -------
    str or None
        The revision the database is at afterwards.
    """
    engine = url if isinstance(url, Engine) else make_engine(url)
    target = head_revision() if revision == "head" else revision
    try:
        with engine.connect() as conn:
            if _current(conn) == target:
                conn.rollback()
                return target
            conn.rollback()
            conn.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": _PG_MIGRATION_LOCK})
                command.upgrade(alembic_config(conn), revision)
            return _current(conn)
    finally:
        if engine is not url:
            engine.dispose()
