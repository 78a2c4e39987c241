"""Payment callbacks through a real HTTP server on localhost: every refusal has a reason
and is recorded; the same payment twice is taken once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from hardware_bridge.bank_callback import CallbackServer
from twin.modules.enforcement import CaseState, sign
from twin.modules.enforcement.bank import http_delivery
from twin.modules.enforcement.repository import PAYMENTS, REFUSALS

from .conftest import SECRET, speeding


@pytest.fixture
def ticketed(make_enforcement, registry):
    """An Enforcement with two tickets issued, and a callback server in front of it."""
    enf = make_enforcement()
    enf.ingest([speeding(registry, 1, index=0), speeding(registry, 2, index=1)])
    for c in enf.queue.list():
        enf.queue.verify(c.case_id, "ani")
    enf.workflow.start()
    enf.clock.run(2 * 86400.0)
    tickets = [enf.workflow.confirm(c.case_id) for c in enf.cases.cases(CaseState.NOTICE_SENT)]
    with CallbackServer(enf.gateway) as server:
        yield enf, tickets, http_delivery(server.url), server.url


def body(va: str, amount: int = 500_000, ref: str = "R-1", **extra) -> bytes:
    return json.dumps({"payment_ref": ref, "va_number": va, "amount_idr": amount,
                       "paid_at": "2026-03-05T10:00:00+07:00", "bank": "BRI", **extra}).encode()


def test_accepted_then_duplicate(ticketed) -> None:
    enf, (t1, _), post, _ = ticketed
    b = body(t1.va_number)
    r = post(b, sign(SECRET, b))
    assert (r.status, r.outcome, r.case_id) == (200, "accepted", t1.case_id)
    r2 = post(b, sign(SECRET, b))
    assert (r2.status, r2.outcome) == (200, "duplicate")
    assert enf.cases.count(PAYMENTS) == 1
    assert enf.cases.case(t1.case_id).state is CaseState.CLOSED


@pytest.mark.parametrize(("make", "status", "reason"), [
    (lambda t: (body(t.va_number), "sha256=" + "0" * 64), 401, "signature"),
    (lambda t: (body(t.va_number), None), 401, "signature"),
    (lambda t: (body(t.va_number, amount=450_000), ...), 422, "does not match the fine"),
    (lambda t: (body("8890800000000000"), ...), 404, "no ticket with virtual account"),
    (lambda t: (b"not json", ...), 422, "not JSON"),
    (lambda t: (body(t.va_number, paid_at="yesterday"), ...), 422, "paid_at"),
    (lambda t: (body(t.va_number, amount=True), ...), 422, "whole number"),
])
def test_refusals_have_reasons_and_are_recorded(ticketed, make, status, reason) -> None:
    enf, (t1, _), post, _ = ticketed
    b, sig = make(t1)
    result = post(b, sign(SECRET, b) if sig is ... else (sig or ""))
    assert result.status == status and result.outcome == "refused" and reason in result.reason
    refusals = enf.cases.read(lambda conn: conn.execute(REFUSALS.select()).all())
    assert len(refusals) == 1 and reason in refusals[0].reason
    assert enf.cases.case(t1.case_id).state is CaseState.TICKET_ISSUED
    assert any(e["action"] == "payment.refused" for e in enf.cases.audit_entries())


def test_closed_case_and_reused_reference_are_refused(ticketed) -> None:
    enf, (t1, t2), post, _ = ticketed
    b = body(t1.va_number, ref="R-1")
    assert post(b, sign(SECRET, b)).outcome == "accepted"
    again = body(t1.va_number, ref="R-2")
    r = post(again, sign(SECRET, again))
    assert r.status == 409 and "CLOSED" in r.reason
    reused = body(t2.va_number, ref="R-1")
    r = post(reused, sign(SECRET, reused))
    assert r.status == 409 and "already used" in r.reason
    assert enf.cases.case(t2.case_id).state is CaseState.TICKET_ISSUED
    assert enf.cases.count(REFUSALS) == 2


def test_http_edges(ticketed) -> None:
    _, _, _, url = ticketed
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url.replace("/callback", "/other"), data=b"{}", timeout=5)
    assert err.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 405
