"""Run locks: held by one live process at a time, released when that process dies."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from twin.store import open_store
from twin.store.run_lock import run_lock_key

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from twin.store import open_store
store = open_store(sys.argv[1])
assert store.run_locks.acquire(sys.argv[2])
print("held", flush=True)
sys.stdin.read()  # until killed
"""


def eventually_acquired(url: str, run_id: str, deadline_s: float = 60.0) -> bool:
    """Whether a store on ``url`` takes ``run_id``'s lock before ``deadline_s`` (a server
    ends a dead client's session a moment after the client is gone)."""
    store = open_store(url)
    try:
        end = time.monotonic() + deadline_s
        while not store.run_locks.acquire(run_id):
            if time.monotonic() > end:
                return False
            time.sleep(0.05)
        return True
    finally:
        store.close()


def test_a_run_lock_is_held_by_one_store_at_a_time(store_url: str) -> None:
    one, two = open_store(store_url), open_store(store_url)
    assert one.run_locks.acquire("run-a")
    assert not one.run_locks.acquire("run-a")  # held already, here
    assert not two.run_locks.acquire("run-a")  # held by another store
    assert two.run_locks.acquire("run-b")  # one lock per run
    assert one.run_locks.held() == {"run-a"} and two.run_locks.held() == {"run-b"}
    one.run_locks.release("run-a")
    assert two.run_locks.acquire("run-a")
    assert not one.run_locks.acquire("run-a")
    two.close()  # a closed store holds nothing
    assert one.run_locks.acquire("run-a") and one.run_locks.acquire("run-b")
    one.close()


def test_an_in_memory_store_holds_its_own_locks() -> None:
    with open_store("sqlite://") as store:
        assert store.run_locks.acquire("r")
        assert not store.run_locks.acquire("r")
        store.run_locks.release("r")
        assert store.run_locks.acquire("r")


def test_a_killed_process_releases_its_run_locks(store_url: str) -> None:
    """Another process holds the lock while it lives; killed (no clean-up at all), its
    lock is free again."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, store_url, "run-x"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        store = open_store(store_url)
        assert not store.run_locks.acquire("run-x")
        store.close()
    finally:
        proc.kill()
        proc.wait()
    assert eventually_acquired(store_url, "run-x")


def test_a_released_sqlite_lock_leaves_no_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    with open_store(url) as store:
        assert store.run_locks.acquire("r")
        assert len(list((tmp_path / "kota.db-runs").iterdir())) == 1
        store.run_locks.release("r")
        assert not list((tmp_path / "kota.db-runs").iterdir())


def _lock_holder_pid(url: str, run_id: str) -> int:
    """The server process of the session holding ``run_id``'s advisory lock."""
    key = run_lock_key(run_id) & 0xFFFFFFFFFFFFFFFF
    with open_store(url) as other, other.engine.connect() as conn:
        pid = conn.execute(text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = CAST(:c AS oid) AND objid = CAST(:o AS oid) AND objsubid = 1"),
            {"c": key >> 32, "o": key & 0xFFFFFFFF}).scalar()
    assert pid is not None
    return int(pid)


def _terminate(url: str, pid: int) -> None:
    with open_store(url) as other, other.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        conn.commit()


@pytest.mark.postgres
def test_a_lock_lost_with_its_connection_is_taken_again(postgres_url: str) -> None:
    store = open_store(postgres_url)
    assert store.run_locks.acquire("run-a")
    _terminate(postgres_url, _lock_holder_pid(postgres_url, "run-a"))
    assert store.run_locks.check() == frozenset()  # reconnected, taken again
    assert store.run_locks.held() == {"run-a"}
    with open_store(postgres_url) as other:
        assert not other.run_locks.acquire("run-a")
    store.close()


@pytest.mark.postgres
def test_a_lock_another_session_took_meanwhile_is_reported_lost(postgres_url: str) -> None:
    store = open_store(postgres_url)
    assert store.run_locks.acquire("run-a")
    _terminate(postgres_url, _lock_holder_pid(postgres_url, "run-a"))
    other = open_store(postgres_url)
    end = time.monotonic() + 60.0
    while not other.run_locks.acquire("run-a"):  # the server ends the session, then
        assert time.monotonic() < end
        time.sleep(0.05)
    assert store.run_locks.check() == {"run-a"}
    assert store.run_locks.held() == frozenset()
    other.close()
    store.close()
