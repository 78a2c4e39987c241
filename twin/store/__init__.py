"""The store: runs, observations, quarantined input and link time series.

SQLite (WAL) is the embedded default, PostgreSQL (psycopg 3) the production
store; both run the same code and the same tests. Writes are transactional and
observations are deduplicated by ``event_id``, so records survive restarts and
retries without loss or doubling. The schema is managed by the Alembic
migrations in ``twin/migrations``; :func:`open_store` applies them.

>>> from twin.store import open_store
>>> with open_store("sqlite://") as store:
...     store.count_observations()
0
"""

from .core import (
    InsertResult,
    LinkIntervals,
    QuarantineRecord,
    Run,
    Store,
    StoreError,
    open_store,
)
from .engine import DEFAULT_URL, make_engine
from .migrate import current_revision, head_revision, upgrade

__all__ = [
    "DEFAULT_URL",
    "InsertResult",
    "LinkIntervals",
    "QuarantineRecord",
    "Run",
    "Store",
    "StoreError",
    "current_revision",
    "head_revision",
    "make_engine",
    "open_store",
    "upgrade",
]
