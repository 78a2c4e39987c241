"""Kill the consumer with SIGKILL in the middle of a stream of plate reads and payments,
restart it, and compare with an uninterrupted run: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.store_fixtures import BACKENDS
from twin.modules.enforcement import CaseStore, synthetic_registry
from twin.modules.enforcement.repository import CASES, PAYMENTS, POINTS, TRANSITIONS, VIOLATIONS
from twin.store import open_store

from .conftest import T0, plate_read

ROOT = Path(__file__).resolve().parents[3]


def make_stream(path: Path) -> tuple[int, int]:
    """1,500 reads (a third speeding, 60 re-sent), acts on 120 violators; (violations, payments)."""
    rng = random.Random(5)
    plates = sorted(synthetic_registry(300, seed=11).vehicles)
    items: list[dict] = []
    speeders: list[str] = []
    n_pay = 0
    for n in range(1, 1501):
        at = T0 + timedelta(seconds=2 * n)
        fast = n % 3 == 0
        obs = plate_read("cam", n, at, rng.choice(plates), speed_mps=(80 if fast else 40) / 3.6,
                         vehicle_class="car")
        items.append({"obs": obs.to_dict()})
        if n % 25 == 0:
            items.append({"obs": obs.to_dict()})  # the camera re-sends an event
        if fast:
            speeders.append(f"speeding.point:cam:{n}")
        if n % 100 == 0:
            for vid in speeders[-10:-2]:
                items.append({"act": "verify", "violation_id": vid})
                items.append({"act": "confirm", "violation_id": vid})
                items.append({"act": "pay", "violation_id": vid, "ref": f"PAY-{vid}",
                              "paid_at": at.isoformat()})
                n_pay += 1
    path.write_text("".join(json.dumps(it) + "\n" for it in items))
    return len(speeders), n_pay


def run_worker(url: str, stream: Path, pause_s: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.modules.enforcement.crash_worker", url, str(stream),
         str(pause_s)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def snapshot(url: str) -> dict:
    with open_store(url) as store:
        cases = CaseStore.of(store)
        report = cases.verify_audit()

        def work(conn):
            return {
                "violations": conn.execute(select(func.count()).select_from(VIOLATIONS)).scalar(),
                "states": sorted(conn.execute(select(CASES.c.case_id, CASES.c.state)).all()),
                "transitions": conn.execute(select(func.count()).select_from(TRANSITIONS)).scalar(),
                "payments": sorted(r[0] for r in conn.execute(select(PAYMENTS.c.payment_ref))),
                "points": conn.execute(select(func.sum(POINTS.c.points))).scalar(),
            }
        snap = cases.read(work)
    snap["audit_ok"], snap["audit_entries"] = report.ok, report.entries
    return snap


@pytest.fixture(params=BACKENDS)
def two_urls(request, tmp_path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ref.db'}", f"sqlite:///{tmp_path / 'crash.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    urls = (server.create_database(), server.create_database())
    yield urls
    for u in urls:
        server.drop_database(u)


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_doubles_nothing(two_urls, tmp_path) -> None:
    ref_url, crash_url = two_urls
    stream = tmp_path / "stream.jsonl"
    n_violations, n_payments = make_stream(stream)
    ref = run_worker(ref_url, stream)
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0 and out.strip() == "done", err
    expected = snapshot(ref_url)
    assert expected["violations"] == n_violations and len(expected["payments"]) == n_payments
    assert expected["audit_ok"]

    rng = random.Random(1)
    kills = 0
    for _ in range(6):
        proc = run_worker(crash_url, stream, pause_s=0.01)
        time.sleep(rng.uniform(1.0, 2.5))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        kills += 1
    assert kills >= 2, "the worker finished before it could be killed twice; slow it down"
    proc = run_worker(crash_url, stream)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and out.strip() == "done", err
    assert snapshot(crash_url) == expected
