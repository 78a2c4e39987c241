"""A simulated bank that pays tickets according to a behaviour model.

For each issued ticket the bank draws whether and when the violator pays and posts a
signed callback, through the real HTTP endpoint (``hardware_bridge.bank_callback``)
or directly to a gateway. Some payers pay the wrong amount and some callbacks are
delivered twice (bank retries), so the gateway's checks are exercised in every run.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from twin.clock import Clock, ProcessGenerator

from .payments import SIGNATURE_HEADER, CallbackResult, PaymentGatewayInterface, sign
from .states import Case, CaseState


class BankBehaviour(BaseModel):
    """How violators pay.

    Attributes
    ----------
    pay_share : fraction of tickets that are ever paid
    mean_delay_days : mean days from ticket to payment (exponential)
    late_share : fraction of payers who pay only after the deadline (block, then unblock)
    wrong_amount_share : fraction of payments with a wrong amount first (then corrected)
    duplicate_share : fraction of callbacks the bank delivers twice
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pay_share: float = Field(default=0.8, ge=0, le=1)
    mean_delay_days: float = Field(default=3.0, gt=0)
    late_share: float = Field(default=0.1, ge=0, le=1)
    wrong_amount_share: float = Field(default=0.02, ge=0, le=1)
    duplicate_share: float = Field(default=0.05, ge=0, le=1)


Deliver = Callable[[bytes, str], CallbackResult]


def http_delivery(url: str, timeout_s: float = 10.0) -> Deliver:
    """Deliver callbacks by HTTP POST to ``url``."""
    def deliver(body: bytes, signature: str) -> CallbackResult:
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: signature})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                status, data = resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            status, data = err.code, json.loads(err.read() or b"{}")
        return CallbackResult(status, str(data.get("outcome", "")), str(data.get("reason", "")),
                              data.get("case_id"))
    return deliver


def direct_delivery(gateway: PaymentGatewayInterface) -> Deliver:
    """Deliver callbacks by calling the gateway in-process (same checks, no socket)."""
    return gateway.handle


@dataclass
class SimulatedBank:
    """Pays tickets on the twin's clock.

    Parameters
    ----------
    clock : Clock
    secret : bytes, the callback HMAC key
    deliver : how callbacks reach the gateway
    behaviour : BankBehaviour
    seed : int
    """

    clock: Clock
    secret: bytes
    deliver: Deliver
    behaviour: BankBehaviour = field(default_factory=BankBehaviour)
    seed: int = 0
    results: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._n = 0

    def on_case(self, case: Case) -> None:
        """Workflow listener: start paying a newly issued ticket (maybe)."""
        if case.state is not CaseState.TICKET_ISSUED or case.va_number is None:
            return
        b = self.behaviour
        if self._rng.random() >= b.pay_share:
            return
        late = self._rng.random() < b.late_share
        due = case.payment_due_at or self.clock.now
        if late:
            pay_at = due + timedelta(days=self._rng.uniform(0.5, 5.0))
        else:
            delay = timedelta(days=self._rng.expovariate(1.0 / b.mean_delay_days))
            pay_at = min(self.clock.now + delay, due - timedelta(minutes=15))
        wrong = self._rng.random() < b.wrong_amount_share
        dup = self._rng.random() < b.duplicate_share
        self.clock.process(self._pay(case, pay_at, wrong, dup))

    def _pay(self, case: Case, at: datetime, wrong: bool, dup: bool) -> ProcessGenerator:
        yield self.clock.env.timeout(max(0.0, (at - self.clock.now).total_seconds()))
        assert case.va_number is not None
        if wrong:
            self._post(case.va_number, case.fine_idr - 50_000)
        ref = self._post(case.va_number, case.fine_idr)
        if dup:
            self._post(case.va_number, case.fine_idr, ref=ref)

    def _post(self, va: str, amount_idr: int, ref: str | None = None) -> str:
        if ref is None:
            self._n += 1
            ref = f"SIMBANK-{self.seed}-{self._n:08d}"
        body = json.dumps({"payment_ref": ref, "va_number": va, "amount_idr": amount_idr,
                           "paid_at": self.clock.now.isoformat(), "bank": "SIMBANK"}).encode()
        result = self.deliver(body, sign(self.secret, body))
        key = result.outcome if result.outcome != "refused" else f"refused:{result.status}"
        self.results[key] = self.results.get(key, 0) + 1
        return ref

