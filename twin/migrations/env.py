"""Alembic environment for the store's migrations.

Used through :func:`twin.store.migrate.upgrade`, which passes an open connection
in ``config.attributes["connection"]``. The ``alembic`` command line works too,
given an ``alembic.ini`` that names these migrations (the repository ships none)::

    [alembic]
    script_location = twin:migrations

Then ``alembic -x url=sqlite:///var/kota.db current`` (the database comes from
``-x url=...`` or from ``sqlalchemy.url`` in that file).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from twin.store.engine import make_engine
from twin.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database given: pass -x url=... or set sqlalchemy.url")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transactional_ddl=True,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL as text instead of running it."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations against the given (or a new) connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
