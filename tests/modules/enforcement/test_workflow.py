"""The case workflow on SQLite and PostgreSQL: dedup, human verification, deadlines on
simulated time, confirmation, points, tickets, STNK blocks and their lifting."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from twin.modules.enforcement import CaseState, TransitionError, ViolationCode, case_id_of, sign
from twin.modules.enforcement.repository import BLOCKS, POINTS, TRANSITIONS, VIOLATIONS

from .conftest import SECRET, T0, speeding

DAY_S = 86400.0


def test_duplicate_camera_event_makes_one_case(make_enforcement, registry) -> None:
    """The same camera event in one batch, in a later batch and after a restart: one case."""
    enf = make_enforcement()
    obs = speeding(registry, 1)
    first = enf.ingest([obs, obs])
    assert (first.violations, first.new_cases, first.duplicates) == (2, 1, 1)
    again = enf.ingest([obs])
    assert (again.new_cases, again.duplicates) == (0, 1)
    restarted = make_enforcement()
    assert restarted.ingest([obs]).new_cases == 0
    assert enf.cases.count(VIOLATIONS) == 1
    case = enf.cases.case_of_violation(f"speeding.point:{obs.event_id}")
    assert case is not None and case.case_id == case_id_of(f"speeding.point:{obs.event_id}")
    assert case.state is CaseState.PENDING_VERIFICATION
    assert case.fine_idr == 500_000 and case.points == 5
    assert [t[1] for t in enf.cases.transitions_of(case.case_id)] == [
        "CAPTURED", "AUTO_CHECKED", "PENDING_VERIFICATION"]
    assert case.evidence["observations"][0]["event_id"] == obs.event_id
    assert case.evidence["image_sha256"] == ["ab" * 32]


def test_low_confidence_plate_skips_auto_check(make_enforcement, registry) -> None:
    enf = make_enforcement()
    obs = speeding(registry, 1)
    low = obs.__class__(obs.kind, obs.source_id, obs.observed_at,
                        {**obs.payload, "confidence": 0.4}, obs.location, event_id="x:1")
    enf.ingest([low])
    cases = enf.cases.cases()
    assert {c.code for c in cases} == {"SPEEDING", "NO_PLATE_OR_INVALID_PLATE"}
    for c in cases:
        assert [t[1] for t in enf.cases.transitions_of(c.case_id)] == [
            "CAPTURED", "PENDING_VERIFICATION"]


def test_no_sanction_without_an_officer(make_enforcement, registry) -> None:
    """The system cannot verify; a rejection needs a reason; claims keep others off."""
    enf = make_enforcement()
    enf.ingest([speeding(registry, 1), speeding(registry, 2, index=1)])
    a, b = enf.queue.list()
    with pytest.raises(TransitionError, match="only an officer"):
        enf.cases.write(lambda tx: enf.cases.move(tx, enf.cases.load(tx.conn, a.case_id),
                                                  CaseState.VERIFIED, at=T0, actor="system:ai",
                                                  reason="auto"))
    enf.queue.claim(a.case_id, "ani")
    with pytest.raises(TransitionError, match="claimed by ani"):
        enf.queue.verify(a.case_id, "budi")
    assert [c.case_id for c in enf.queue.list(officer="budi")] == [b.case_id]
    with pytest.raises(ValueError, match="needs a reason"):
        enf.queue.reject(b.case_id, "budi", "  ")
    rejected = enf.queue.reject(b.case_id, "budi", "ambulance on duty")
    assert rejected.state is CaseState.REJECTED and rejected.closed_at is not None
    with pytest.raises(TransitionError):
        enf.queue.verify(b.case_id, "budi")
    verified = enf.queue.verify(a.case_id, "ani")
    assert verified.state is CaseState.OWNER_RESOLVED
    owner = registry.owner_of(a.plate)
    assert owner is not None and verified.owner_name == owner.name
    assert verified.verified_by == "ani"


def test_unregistered_plate_ends_owner_unknown(make_enforcement, registry) -> None:
    enf = make_enforcement()
    obs = speeding(registry, 1)
    fake = obs.__class__(obs.kind, obs.source_id, obs.observed_at,
                         {**obs.payload, "plate": "B 9999 QQQ"}, obs.location, event_id="f:1")
    enf.ingest([fake])
    case = enf.queue.verify(enf.queue.list()[0].case_id, "ani")
    assert case.state is CaseState.OWNER_UNKNOWN
    assert "not in the registration data" in enf.cases.transitions_of(case.case_id)[-1][4]


def test_officer_supplies_unreadable_plate(make_enforcement, registry) -> None:
    enf = make_enforcement()
    obs = speeding(registry, 1)
    low = obs.__class__(obs.kind, obs.source_id, obs.observed_at,
                        {**obs.payload, "plate": None, "confidence": 0.0}, obs.location,
                        event_id="n:1")
    enf.ingest([low])
    case = next(c for c in enf.queue.list() if c.code == "SPEEDING")
    plate = sorted(registry.vehicles)[3]
    done = enf.queue.verify(case.case_id, "ani", plate=plate.lower().replace(" ", ""))
    assert done.state is CaseState.OWNER_RESOLVED and done.plate == plate
    assert done.plate_token is not None


def _to_notice(enf, registry, n: int = 1, index: int = 0):
    enf.ingest([speeding(registry, n, index=index)])
    case = enf.queue.verify(enf.queue.list(limit=100)[-1].case_id, "ani")
    enf.workflow.start()
    enf.clock.run(enf.clock.now_s + DAY_S + 1)
    case = enf.cases.case(case.case_id)
    assert case.state is CaseState.NOTICE_SENT
    return case


def test_confirmation_points_ticket_and_payment(make_enforcement, registry) -> None:
    """Confirmed by the owner: 5 points on their SIM, a VA ticket due H+15; paying closes it."""
    enf = make_enforcement()
    case = _to_notice(enf, registry)
    assert case.confirmation_due_at == case.observed_at + timedelta(days=8)
    ticket = enf.workflow.confirm(case.case_id)
    owner = registry.owner_of(case.plate)
    assert ticket.state is CaseState.TICKET_ISSUED and ticket.driver_id == owner.driver_id
    assert ticket.va_number is not None and ticket.va_number.startswith("88908")
    assert ticket.payment_due_at == case.observed_at + timedelta(days=15)
    record = enf.tar.record(owner.driver_id, enf.clock.now)
    assert (record.accumulated_points, record.balance) == (5, 7)
    body = json.dumps({"payment_ref": "P-1", "va_number": ticket.va_number, "amount_idr": 500_000,
                       "paid_at": enf.clock.now.isoformat(), "bank": "BRI"}).encode()
    assert enf.gateway.handle(body, sign(SECRET, body)).outcome == "accepted"
    closed = enf.cases.case(case.case_id)
    assert closed.state is CaseState.CLOSED and closed.outcome == "paid"
    enf.clock.run(enf.clock.now_s + 30 * DAY_S)  # the payment deadline passes harmlessly
    assert enf.cases.case(case.case_id).state is CaseState.CLOSED
    assert enf.cases.count(BLOCKS) == 0


def test_other_named_driver_takes_the_points(make_enforcement, registry) -> None:
    enf = make_enforcement()
    case = _to_notice(enf, registry)
    other = next(d for d in registry.drivers if d.endswith("-2"))
    ticket = enf.workflow.confirm(case.case_id, driver_id=other)
    assert ticket.driver_id == other
    assert enf.tar.record(other, enf.clock.now).accumulated_points == 5
    owner = registry.owner_of(case.plate)
    assert enf.tar.record(owner.driver_id, enf.clock.now).accumulated_points == 0
    with pytest.raises(TransitionError, match="not waiting for confirmation"):
        enf.workflow.confirm(case.case_id)
    assert enf.cases.count(POINTS) == 1


def test_no_response_blocks_at_h8_and_paying_lifts(make_enforcement, registry) -> None:
    """No answer: at H+8 (simulated) the ticket goes to the owner and the STNK is blocked;
    unpaid at H+15 the case is STNK_BLOCKED; a late payment lifts the block and closes it."""
    enf = make_enforcement()
    case = _to_notice(enf, registry)
    h8_s = (case.confirmation_due_at - enf.clock.start).total_seconds()
    enf.clock.run(h8_s - 1)
    assert enf.cases.case(case.case_id).state is CaseState.NOTICE_SENT
    enf.clock.run(h8_s + 1)
    ticket = enf.cases.case(case.case_id)
    assert ticket.state is CaseState.TICKET_ISSUED and ticket.stnk_blocked
    assert ticket.driver_id is None and enf.cases.count(POINTS) == 0
    assert enf.workflow.blocked_plates() == {case.plate}
    h15_s = (ticket.payment_due_at - enf.clock.start).total_seconds()
    enf.clock.run(h15_s + 1)
    assert enf.cases.case(case.case_id).state is CaseState.STNK_BLOCKED
    body = json.dumps({"payment_ref": "late-1", "va_number": ticket.va_number,
                       "amount_idr": 500_000, "paid_at": enf.clock.now.isoformat()}).encode()
    assert enf.gateway.handle(body, sign(SECRET, body)).status == 200
    after = enf.cases.case(case.case_id)
    assert after.state is CaseState.CLOSED and not after.stnk_blocked
    assert enf.workflow.blocked_plates() == set()
    actions = [e["action"] for e in enf.cases.audit_entries(case.case_id)]
    assert actions.count("stnk.blocked") == 1 and actions.count("stnk.unblocked") == 1


def test_dispute_review(make_enforcement, registry) -> None:
    enf = make_enforcement()
    a = _to_notice(enf, registry, 1, index=0)
    b = _to_notice(enf, registry, 2, index=1)
    enf.workflow.dispute(a.case_id, "sold", "sold in 2025")
    enf.workflow.dispute(b.case_id, "not_mine")
    with pytest.raises(TransitionError, match="only an officer"):  # the owner cannot dismiss
        enf.cases.write(lambda tx: enf.cases.move(tx, enf.cases.load(tx.conn, a.case_id),
                                                  CaseState.DISMISSED, at=T0, actor="owner",
                                                  reason="self-dismiss"))
    assert enf.workflow.review_dispute(a.case_id, "kasubdit", upheld=True,
                                       reason="sale deed seen").state is CaseState.DISMISSED
    t = enf.workflow.review_dispute(b.case_id, "kasubdit", upheld=False, reason="no proof")
    assert t.state is CaseState.TICKET_ISSUED and t.va_number is not None


def test_timers_recover_after_restart(make_enforcement, registry) -> None:
    """A new process (new clock) reschedules the deadline of a waiting case from the store."""
    enf = make_enforcement()
    case = _to_notice(enf, registry)
    later = make_enforcement(start=enf.clock.now)
    assert later.workflow.start() == 1
    later.clock.run(10 * DAY_S)
    assert later.cases.case(case.case_id).state is CaseState.TICKET_ISSUED


def test_every_transition_is_audited_and_the_chain_holds(make_enforcement, registry) -> None:
    enf = make_enforcement()
    case = _to_notice(enf, registry)
    enf.workflow.confirm(case.case_id)
    n_transitions = enf.cases.count(TRANSITIONS)
    entries = enf.cases.audit_entries()
    assert sum(1 for e in entries if e["action"] == "case.transition") == n_transitions
    assert {e["actor"] for e in entries} >= {"officer:ani", "system:pos", "owner"}
    report = enf.cases.verify_audit()
    assert report.ok and report.entries == len(entries)


def test_violation_rows_hold_no_plate(make_enforcement, registry, store) -> None:
    """Analytics tables carry the token; the plate in clear only in the case record."""
    from sqlalchemy import select

    enf = make_enforcement()
    obs = speeding(registry, 1)
    enf.ingest([obs])
    with store.engine.connect() as conn:
        row = conn.execute(select(VIOLATIONS)).one()._mapping
    assert obs.payload["plate"] not in json.dumps({k: str(v) for k, v in row.items()})
    assert row["plate_token"] == enf.tokenizer.token(obs.payload["plate"], obs.observed_at)
    assert row["code"] == ViolationCode.SPEEDING.value
