"""Alembic migrations of the store (see :mod:`twin.store.migrate`)."""
