"""Fixtures of the quality tests: the ETLE module on a real store (SQLite and PostgreSQL)."""

from tests.modules.enforcement.conftest import make_enforcement, registry  # noqa: F401
