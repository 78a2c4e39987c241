"""A stream consumer for the crash test, run as a real subprocess.

    python -m tests.modules.enforcement.crash_worker STORE_URL STREAM.jsonl [PAUSE_S]

The stream is JSON lines: ``{"obs": {...}}`` (an Observation dict) or an act on the case
of a violation: ``{"act": "verify" | "confirm" | "pay", "violation_id": ..., "ref": ...}``.
The worker resumes at its committed checkpoint, runs observations through detection in
batches and acts one by one, moving the checkpoint after each. Acts are idempotent on
replay (a verified case is not verified again, a payment reference is taken once), so a
SIGKILL at any instant loses and doubles nothing. Prints ``done`` at the end.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from twin.clock import Clock
from twin.modules.enforcement import (
    CaseState,
    DetectionConfig,
    Enforcement,
    EnforcementSettings,
    case_id_of,
    sign,
    synthetic_registry,
)
from twin.modules.enforcement.config import CameraConfig
from twin.observations import Observation
from twin.store import open_store

KEY = b"crash-test-pseudonym-key-0123456789"
SECRET = b"crash-test-callback-secret-012345"
BATCH = 50


def build(url: str, start: datetime) -> Enforcement:
    store = open_store(url)
    det = DetectionConfig(cameras=[CameraConfig(id="cam", kind="speed", speed_limit_kmh=50.0)])
    return Enforcement(store, Clock(start), synthetic_registry(300, seed=11),
                       EnforcementSettings(detection=det), pseudonym_key=KEY, callback_secret=SECRET)


def act(enf: Enforcement, item: dict) -> None:
    case = enf.cases.case(case_id_of(item["violation_id"]))
    assert case is not None, item
    if item["act"] == "verify":
        if case.state is CaseState.PENDING_VERIFICATION:
            case = enf.queue.verify(case.case_id, "ani")
        if case.state is CaseState.OWNER_RESOLVED:
            enf.workflow.send_notice(case.case_id)
    elif item["act"] == "confirm":
        if case.state is CaseState.NOTICE_SENT:
            enf.workflow.confirm(case.case_id)
    else:
        body = json.dumps({"payment_ref": item["ref"], "va_number": case.va_number,
                           "amount_idr": case.fine_idr, "paid_at": item["paid_at"]}).encode()
        result = enf.gateway.handle(body, sign(SECRET, body))
        assert result.outcome in ("accepted", "duplicate"), result


def main() -> None:
    url, path = sys.argv[1], sys.argv[2]
    pause_s = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    with open(path, encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    first = Observation.from_dict(items[0]["obs"]).observed_at
    enf = build(url, first)
    i = enf.ingestor.position
    while i < len(items):
        if "obs" in items[i]:
            j = i
            while j < len(items) and j - i < BATCH and "obs" in items[j]:
                j += 1
            enf.ingest([Observation.from_dict(it["obs"]) for it in items[i:j]])
            i = j
        else:
            act(enf, items[i])
            enf.ingestor.ingest([], advance=1)
            i += 1
        if pause_s:
            time.sleep(pause_s)
    print("done", flush=True)


if __name__ == "__main__":
    main()
