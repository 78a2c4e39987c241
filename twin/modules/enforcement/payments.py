"""Virtual-account e-payment: issuing VA codes and accepting the bank's callbacks.

A ticket gets a virtual-account number (BRIVA-style: a 5-digit institution code and 11
digits derived from the case). The bank notifies each payment with a callback whose
body is JSON::

    {"payment_ref": "BRI-20260302-000123", "va_number": "8890812345678901",
     "amount_idr": 500000, "paid_at": "2026-03-05T10:12:00+07:00", "bank": "BRI"}

signed with ``X-Kota-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
:meth:`PaymentGateway.handle` checks the signature, the VA, the case state and the
amount (it must equal the fine the case was priced with from the fine table), and is
idempotent by ``payment_ref``: the same callback twice is accepted once and answered
"duplicate" the second time. A refused callback is recorded with its reason in
``etle_payment_refusals`` and in the audit log. Accepting a payment moves the case to
PAID, lifts any STNK block and closes the case, in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select

from twin.store.core import storable_text

from .audit import SYSTEM, AuditEntry
from .blocks import lift_block
from .repository import CASES, PAYMENTS, REFUSALS, CaseStore, Tx, utcnow
from .states import PAYABLE, CaseState

INSTITUTION_CODE = "88908"
"""The (fictitious) institution prefix of the twin's virtual accounts."""
SIGNATURE_HEADER = "X-Kota-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def issue_va_number(tx: Tx, case_id: str) -> str:
    """A VA number for ``case_id``, unique among cases; deterministic for a given database."""
    for attempt in range(1000):
        digest = hashlib.sha256(f"{case_id}:{attempt}".encode()).digest()
        va = INSTITUTION_CODE + str(int.from_bytes(digest[:8], "big") % 10**11).zfill(11)
        taken = tx.conn.execute(select(CASES.c.case_id).where(CASES.c.va_number == va)).first()
        if taken is None or taken.case_id == case_id:
            return va
    raise RuntimeError("no free virtual-account number after 1000 attempts")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """The answer to one callback.

    Attributes
    ----------
    status : int, HTTP status: 200 accepted or duplicate, 401 bad signature, 404 unknown
        VA, 409 case not payable or reference reused, 422 malformed or wrong amount
    outcome : ``accepted``, ``duplicate`` or ``refused``
    reason : str, why (empty when accepted)
    case_id : str or None
    """

    status: int
    outcome: str
    reason: str = ""
    case_id: str | None = None

    def to_json(self) -> bytes:
        """The HTTP response body."""
        return json.dumps({"outcome": self.outcome, "reason": self.reason,
                           "case_id": self.case_id}).encode()


class PaymentGatewayInterface(Protocol):
    """What a payment gateway offers the HTTP endpoint and the simulated bank."""

    def handle(self, body: bytes, signature: str | None) -> CallbackResult:
        """Process one callback."""
        ...


class _Refused(Exception):
    def __init__(self, status: int, reason: str, fields: Mapping[str, Any]) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.fields = fields


class PaymentGateway:
    """Accepts VA payment callbacks for the cases of one store.

    Parameters
    ----------
    cases : CaseStore
    secret : bytes, the HMAC key shared with the bank
    now : callable returning the twin's current time (transition times)
    """

    def __init__(self, cases: CaseStore, secret: bytes, now: Callable[[], datetime]) -> None:
        if len(secret) < 16:
            raise ValueError("the callback secret must be at least 16 bytes")
        self.cases = cases
        self._secret = secret
        self.now = now

    def handle(self, body: bytes, signature: str | None) -> CallbackResult:
        """Check and apply one callback; refusals are recorded, never raised."""
        fields: dict[str, Any] = {}
        try:
            if signature is None or not hmac.compare_digest(sign(self._secret, body), signature):
                raise _Refused(401, "bad or missing signature", {})
            fields = self._parse(body)
            return self.cases.write(lambda tx: self._apply(tx, fields, body))
        except _Refused as refused:
            self._record_refusal(body, refused)
            return CallbackResult(refused.status, "refused", refused.reason,
                                  refused.fields.get("case_id"))

    @staticmethod
    def _parse(body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _Refused(422, "body is not JSON", {}) from None
        if not isinstance(data, dict):
            raise _Refused(422, "body must be a JSON object", {})
        ref, va, amount, paid_at = (data.get(k) for k in ("payment_ref", "va_number", "amount_idr",
                                                          "paid_at"))
        known = {"payment_ref": ref if isinstance(ref, str) else None,
                 "va_number": va if isinstance(va, str) else None,
                 "amount_idr": amount if isinstance(amount, int) and not isinstance(amount, bool)
                 else None}
        if not isinstance(ref, str) or not ref:
            raise _Refused(422, "payment_ref is missing", known)
        if not isinstance(va, str) or not va.isdigit():
            raise _Refused(422, "va_number is missing or not digits", known)
        if known["amount_idr"] is None:
            raise _Refused(422, "amount_idr must be a whole number of rupiah", known)
        try:
            paid = datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else None
        except ValueError:
            paid = None
        if paid is None or paid.tzinfo is None:
            raise _Refused(422, "paid_at must be an ISO 8601 time with a UTC offset", known)
        return {**known, "paid_at": paid, "bank": str(data.get("bank") or "unknown")}

    def _apply(self, tx: Tx, f: dict[str, Any], body: bytes) -> CallbackResult:
        conn = tx.conn
        body_hash = hashlib.sha256(body).hexdigest()
        seen = conn.execute(select(PAYMENTS).where(PAYMENTS.c.payment_ref == f["payment_ref"])).first()
        if seen is not None:
            if seen.va_number == f["va_number"] and seen.amount_idr == f["amount_idr"]:
                return CallbackResult(200, "duplicate", "payment_ref already processed", seen.case_id)
            raise _Refused(409, f"payment_ref {f['payment_ref']} was already used for another "
                           "payment", {**f, "case_id": seen.case_id})
        case = CaseStore.find(conn, CASES.c.va_number == f["va_number"])
        if case is None:
            raise _Refused(404, f"no ticket with virtual account {f['va_number']}", f)
        f = {**f, "case_id": case.case_id}
        if case.state not in PAYABLE:
            raise _Refused(409, f"case {case.case_id} is {case.state.value}; it takes no payment", f)
        if f["amount_idr"] != case.fine_idr:
            raise _Refused(422, f"amount {f['amount_idr']} IDR does not match the fine of "
                           f"{case.fine_idr} IDR ({case.fines_version})", f)
        now = self.now()
        actor = f"bank:{f['bank']}"
        conn.execute(insert(PAYMENTS).values(
            payment_ref=f["payment_ref"], case_id=case.case_id, va_number=f["va_number"],
            amount_idr=f["amount_idr"], paid_at=f["paid_at"], received_at=utcnow(),
            bank=f["bank"], body_sha256=body_hash))
        case = CaseStore.move(tx, case, CaseState.PAID, at=now, actor=actor,
                              reason=f"paid {f['amount_idr']} IDR, ref {f['payment_ref']}",
                              updates={"stnk_blocked": False},
                              details={"payment_ref": f["payment_ref"]})
        lift_block(tx, case, now, actor, "fine paid")
        CaseStore.move(tx, case, CaseState.CLOSED, at=now, actor=SYSTEM,
                       reason="fine paid", updates={"outcome": "paid"})
        return CallbackResult(200, "accepted", "", case.case_id)

    def _record_refusal(self, body: bytes, refused: _Refused) -> None:
        now = self.now()
        raw = storable_text(body)
        f = refused.fields

        def work(tx: Tx) -> None:
            tx.conn.execute(insert(REFUSALS).values(
                received_at=utcnow(), payment_ref=f.get("payment_ref"),
                va_number=f.get("va_number"), amount_idr=f.get("amount_idr"),
                reason=refused.reason, raw=raw))
            tx.log(AuditEntry(now, "system:payment-gateway", "payment.refused", f.get("case_id"),
                              refused.reason, {"status": refused.status,
                                               "payment_ref": f.get("payment_ref")}))
        self.cases.write(work)
