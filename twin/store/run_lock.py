"""Run locks: which unfinished runs a live process still holds.

A run whose process died keeps the status ``running`` in the ``runs`` table, and so does
a run of the same scenario that another process is running at the same moment (two
``kota run`` on one PostgreSQL store). A module that takes over the work of dead runs
(:mod:`twin.modules.dispatch.resume`) tells them apart by the run's lock: a live run
holds it (:meth:`RunLocks.acquire` at its start, :meth:`RunLocks.release` when it
finishes), and whatever ends the process releases it:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) keyed by a 64-bit
  hash of the run id (:func:`run_lock_key`), on one connection the store keeps for its
  locks. The server drops a session's locks when the session ends: the process exits or
  is killed (its socket closes), or the network loses it (the server notices through
  TCP keep-alive). A lost connection (a server restart) is made again and the locks
  taken again by :meth:`RunLocks.check`.
- SQLite file: an exclusive ``flock`` on one file per run in ``<database>-runs/`` beside
  the database file; the kernel releases it when the process dies.
- SQLite in memory: the database lives and dies with its process and its one store, so
  the store's own set of held runs is the whole truth.

A lock is not a lease. It needs no heartbeat and no clock, so nothing depends on how
fast a run goes: a run faster than real time, one slower than real time on a big network,
or one paused between two :meth:`~twin.runner.TwinRun.advance` calls stays live as long as
its process holds its store open; a run whose process died is seen dead at once (a
restart a second later resumes it), however recently it saved anything. The store
closed (:meth:`RunLocks.close`) releases its locks as a dead process would.

Taking a dead run's lock is also how a run claims it: while one new run resumes a dead
run, holding its lock, a second new run started at the same moment cannot take it and
leaves it alone.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from .engine import is_memory_database

__all__ = ["RunLocks", "run_lock_key"]

log = logging.getLogger(__name__)

_KEY_PREFIX = b"kota-twin run "


def run_lock_key(run_id: str) -> int:
    """The PostgreSQL advisory lock key of ``run_id``: a signed 64-bit hash (two run ids
    sharing a key would only make a dead run look live, never the reverse)."""
    digest = hashlib.blake2b(_KEY_PREFIX + run_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Backend(Protocol):
    def take(self, run_id: str) -> bool: ...

    def drop(self, run_id: str) -> None: ...

    def lost(self, held: set[str]) -> set[str]: ...

    def close(self) -> None: ...


class _MemoryLocks:
    """In-memory SQLite: no other process sees the database; the held set decides."""

    def take(self, run_id: str) -> bool:
        return True

    def drop(self, run_id: str) -> None:
        pass

    def lost(self, held: set[str]) -> set[str]:
        return set()

    def close(self) -> None:
        pass


class _FileLocks:
    """SQLite file: ``flock`` on ``<database>-runs/<hash of run id>.lock``."""

    def __init__(self, database: Path) -> None:
        self.folder = database.with_name(database.name + "-runs")
        self._fds: dict[str, int] = {}

    def _path(self, run_id: str) -> Path:
        return self.folder / (hashlib.sha256(run_id.encode()).hexdigest()[:32] + ".lock")

    def take(self, run_id: str) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(run_id)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            try:  # the file the holder removed as we opened it locks nothing
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._fds[run_id] = fd
                return True
            os.close(fd)

    def drop(self, run_id: str) -> None:
        fd = self._fds.pop(run_id, None)
        if fd is None:
            return
        try:
            os.unlink(self._path(run_id))  # while still locked: nobody else removes it
        except FileNotFoundError:
            pass
        os.close(fd)

    def lost(self, held: set[str]) -> set[str]:
        return set()  # a process's own file locks are never lost

    def close(self) -> None:
        for run_id in list(self._fds):
            self.drop(run_id)


class _PgLocks:
    """PostgreSQL: session advisory locks on one connection kept for them (autocommit,
    so it never idles inside a transaction)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = self._engine.connect()
            self._conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def take(self, run_id: str) -> bool:
        got = self._connection().execute(text("SELECT pg_try_advisory_lock(:k)"),
                                         {"k": run_lock_key(run_id)}).scalar()
        return bool(got)

    def drop(self, run_id: str) -> None:
        if self._conn is None or self._conn.closed:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": run_lock_key(run_id)})
        except DBAPIError as exc:  # the session is gone, and its locks with it
            log.warning("run lock of %s: connection lost on release (%s)", run_id, exc.orig)
            self._discard()

    def lost(self, held: set[str]) -> set[str]:
        if not held:
            return set()
        try:
            self._connection().execute(text("SELECT 1"))
            return set()
        except DBAPIError as exc:
            log.warning("run locks: connection lost (%s); taking them again", exc.orig)
            self._discard()
        try:
            return {run_id for run_id in held if not self.take(run_id)}
        except DBAPIError as exc:  # the server is not back yet: again at the next check
            log.warning("run locks: cannot take them again yet (%s)", exc.orig)
            self._discard()
            return set()

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except DBAPIError:
                pass
        self._conn = None

    def close(self) -> None:
        if self._conn is None:
            return
        try:  # released here, not when the server gets round to ending the session
            self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            self._conn.close()
        except DBAPIError:
            self._discard()
        self._conn = None


class RunLocks:
    """The run locks one store holds (see the module's docstring). Thread-safe.

    Parameters
    ----------
    engine : Engine, the store's (PostgreSQL, SQLite file or SQLite in memory)
    """

    def __init__(self, engine: Engine) -> None:
        self._backend: _Backend
        database = engine.url.database or ""
        if engine.dialect.name == "postgresql":
            self._backend = _PgLocks(engine)
        elif engine.dialect.name == "sqlite" and not is_memory_database(database):
            self._backend = _FileLocks(Path(database))
        else:
            self._backend = _MemoryLocks()
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def acquire(self, run_id: str) -> bool:
        """Take ``run_id``'s lock and hold it until :meth:`release` (or :meth:`close`).

        Returns
        -------
        bool
            False when it is held already: by another session or process (the run is
            live, or another run is taking it over), or by this store.
        """
        with self._mutex:
            if run_id in self._held or not self._backend.take(run_id):
                return False
            self._held.add(run_id)
            return True

    def release(self, run_id: str) -> None:
        """Release ``run_id``'s lock if this store holds it."""
        with self._mutex:
            if run_id in self._held:
                self._held.discard(run_id)
                self._backend.drop(run_id)

    def held(self) -> frozenset[str]:
        """The run ids whose locks this store holds."""
        with self._mutex:
            return frozenset(self._held)

    def check(self) -> frozenset[str]:
        """Make sure the held locks are still held: on PostgreSQL, a lost connection lost
        its locks; it is made again and they are taken again. The run ids whose lock
        another session took meanwhile (they are no longer held; a run among them may
        have been taken over), usually none."""
        with self._mutex:
            lost = self._backend.lost(set(self._held))
            self._held -= lost
        for run_id in sorted(lost):
            log.error("run %s lost its run lock to another session: another run may have "
                      "taken over its work", run_id)
        return frozenset(lost)

    def close(self) -> None:
        """Release every held lock."""
        with self._mutex:
            self._held.clear()
            self._backend.close()
