"""Two runs of one scenario on one store at the same time: neither takes over the other's
incidents; only a run whose process died is resumed, and by one run only (issue 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.twin.test_store_run_locks import eventually_acquired
from twin.modules.dispatch.board import load_board, load_incidents
from twin.modules.dispatch.resume import is_over
from twin.runner import TwinRun
from twin.store import open_store

from .test_resume import CRASH_S, dispatch_of, scenario

ROOT = Path(__file__).resolve().parents[3]

RUN_A = """
import sys
from tests.modules.dispatch.test_resume import CRASH_S, scenario
from twin.runner import TwinRun
a = TwinRun(scenario(), store_url=sys.argv[1])
a.advance(CRASH_S)
print(a.run_id, flush=True)
sys.stdin.read()  # runs on until killed
"""


def open_ids(run: TwinRun) -> set[str]:
    """The incidents a restart would resume from ``run``'s last saved board."""
    return {r.incident_id for r in load_incidents(run.store, run.run_id) if not is_over(r)}


def test_a_live_run_of_the_same_scenario_is_not_taken_over(store_url: str) -> None:
    a = TwinRun(scenario(), store_url=store_url)
    a.advance(CRASH_S)
    open_a = open_ids(a)
    assert {"crime-a", "crime-b", "crash"} <= open_a

    b = TwinRun(scenario(), store_url=store_url)  # started while A runs
    b.start()
    live_b = dispatch_of(b)
    assert live_b.model is not None and live_b.resumed is None
    assert not open_a & set(live_b.model.incidents)  # B's own day, from its start
    run_a = b.store.run(a.run_id)
    assert run_a is not None and run_a.status == "running" and run_a.summary is None

    # both go on, each with its own board; A still serves its incidents
    b.advance(600.0)
    a.advance(CRASH_S + 600.0)
    board_a = load_board(a.store, a.run_id)
    assert board_a is not None and board_a.t_now_s == CRASH_S + 600.0
    assert {u.incident_id for u in board_a.units if u.incident_id} <= \
        {r.incident_id for r in load_incidents(a.store, a.run_id)}
    summary_a = a.run(chunk_s=3600.0).summary["modules"]["dispatch"]
    assert summary_a["resumed_from"] is None
    assert all(r.times_s["t_clear"] is not None or r.n_calls == 0
               for r in load_incidents(a.store, a.run_id) if r.incident_id in open_a)
    summary_b = b.run(chunk_s=3600.0).summary["modules"]["dispatch"]
    assert summary_b["resumed_from"] is None
    for run in (a, b):
        stored = run.store.run(run.run_id)
        assert stored is not None and stored.status == "finished"
        assert stored.summary is not None and "resumed_by" not in stored.summary
    a.close()
    b.close()


def test_the_dead_run_is_resumed_not_the_live_one_saved_later(store_url: str) -> None:
    """A dies; B, started before A died, is still running and saved its board last. A new
    run C resumes A, the latest *dead* run, and leaves B alone."""
    a = TwinRun(scenario(), store_url=store_url)
    a.advance(CRASH_S)
    open_a = open_ids(a)
    b = TwinRun(scenario(), store_url=store_url)
    b.advance(CRASH_S)
    a.store.close()  # A dies
    b.advance(CRASH_S + 60.0)  # B's board is the latest saved
    boards = [load_board(b.store, r) for r in (a.run_id, b.run_id)]
    assert boards[0] is not None and boards[1] is not None
    assert boards[1].saved_at > boards[0].saved_at

    c = TwinRun(scenario(), store_url=store_url)
    c.start()
    resumed = dispatch_of(c).resumed
    assert resumed is not None and resumed.run_id == a.run_id
    assert set(resumed.incidents) == open_a
    run_b = c.store.run(b.run_id)
    assert run_b is not None and run_b.status == "running"
    run_a = c.store.run(a.run_id)
    assert run_a is not None and run_a.status == "interrupted"
    assert run_a.summary is not None and run_a.summary["resumed_by"] == c.run_id
    for run in (b, c):
        run.finish()
        run.close()


def test_a_dead_run_being_taken_over_is_not_taken_over_twice(store_url: str) -> None:
    """While one new run holds a dead run's lock to take it over, a second new run started
    at the same moment leaves it alone; once that lock is released unused (that run
    died too), the dead run is still there to resume."""
    a = TwinRun(scenario(), store_url=store_url)
    a.advance(CRASH_S)
    a_id = a.run_id
    a.store.close()  # A dies
    taking_over = open_store(store_url)
    assert taking_over.run_locks.acquire(a_id)

    b = TwinRun(scenario(), store_url=store_url)
    b.start()
    assert dispatch_of(b).resumed is None
    run_a = b.store.run(a_id)
    assert run_a is not None and run_a.status == "running"

    taking_over.close()
    c = TwinRun(scenario(), store_url=store_url)
    c.start()
    resumed = dispatch_of(c).resumed
    assert resumed is not None and resumed.run_id == a_id
    for run in (b, c):
        run.finish()
        run.close()


def test_kota_run_twice_then_the_first_process_killed(store_url: str) -> None:
    """Run A in a process of its own; run B of the same scenario starts while A's process
    lives and leaves A alone. A's process is killed (no clean-up at all); run C resumes A."""
    proc = subprocess.Popen([sys.executable, "-c", RUN_A, store_url], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        a_id = proc.stdout.readline().strip()
        assert a_id
        b = TwinRun(scenario(), store_url=store_url)
        b.start()
        assert dispatch_of(b).resumed is None
        run_a = b.store.run(a_id)
        assert run_a is not None and run_a.status == "running"
    finally:
        proc.kill()
        proc.wait()
    # the server ends the killed process's session a moment later
    assert eventually_acquired(store_url, a_id)
    c = TwinRun(scenario(), store_url=store_url)
    c.start()
    resumed = dispatch_of(c).resumed
    assert resumed is not None and resumed.run_id == a_id and resumed.incidents
    run_a = c.store.run(a_id)
    assert run_a is not None and run_a.status == "interrupted"
    for run in (b, c):
        run.finish()
        run.close()
