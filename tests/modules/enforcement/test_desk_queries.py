"""The read functions the Enforcement page needs: cases of a plate or driver, payments."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from twin.modules.enforcement import CaseState, sign

from .conftest import SECRET, T0, speeding


def _pay(enf, case_id: str, ref: str, minutes: int) -> None:
    ticket = enf.workflow.confirm(case_id)
    body = json.dumps({"payment_ref": ref, "va_number": ticket.va_number,
                       "amount_idr": ticket.fine_idr, "bank": "BRI",
                       "paid_at": (T0 + timedelta(minutes=minutes)).isoformat()}).encode()
    assert enf.gateway.handle(body, sign(SECRET, body)).outcome == "accepted"


def test_cases_of_plate_and_driver_and_recent_payments(make_enforcement, registry) -> None:
    enf = make_enforcement()
    enf.ingest([speeding(registry, 1), speeding(registry, 2, at=T0 + timedelta(minutes=5)),
                speeding(registry, 3, index=1)])
    older, newer = sorted((c for c in enf.cases.cases() if c.plate == sorted(registry.vehicles)[0]),
                          key=lambda c: c.observed_at)
    spaced = older.plate.replace(" ", "").lower()  # any spacing and case finds the plate
    assert [c.case_id for c in enf.cases.cases_of(plate=spaced)] == [newer.case_id, older.case_id]
    assert enf.cases.cases_of(plate="B 1 ZZZ") == []
    assert enf.cases.recent_payments() == []

    for case in (older, newer):
        enf.queue.verify(case.case_id, "ani")
        enf.workflow.send_notice(case.case_id)
    _pay(enf, older.case_id, "P-old", 10)
    _pay(enf, newer.case_id, "P-new", 20)
    driver = registry.owner_of(older.plate).driver_id
    assert {c.case_id for c in enf.cases.cases_of(driver_id=driver)} == {older.case_id,
                                                                          newer.case_id}
    assert enf.cases.cases_of(driver_id="D-nobody") == []
    payments = enf.cases.recent_payments()
    assert [(p.payment_ref, p.case_id, p.amount_idr, p.bank) for p in payments] == [
        ("P-new", newer.case_id, 500_000, "BRI"), ("P-old", older.case_id, 500_000, "BRI")]
    assert payments[0].paid_at == T0 + timedelta(minutes=20)
    assert [p.payment_ref for p in enf.cases.recent_payments(limit=1)] == ["P-new"]
    assert enf.cases.count_by_state() == {CaseState.CLOSED.value: 2,
                                          CaseState.PENDING_VERIFICATION.value: 1}
    with pytest.raises(ValueError, match="exactly one"):
        enf.cases.cases_of()
