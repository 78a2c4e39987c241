"""The case workflow after verification, on the twin's SimPy clock.

Timers are SimPy processes, so they fire on simulated time in scenarios and on wall
time live (:class:`twin.clock.Clock` with ``realtime``):

* a verified case whose owner is resolved gets its letter posted at ``notice_due_at``
  (NOTICE_SENT; the confirmation window of the Polda starts);
* no confirmation by the deadline: NO_RESPONSE, the ticket is issued to the owner and
  the STNK is blocked;
* an unpaid ticket at its payment deadline: STNK_BLOCKED.

Owner acts (:meth:`CaseWorkflow.confirm`, :meth:`CaseWorkflow.dispute`) and the
officer's dispute review are methods. Confirming names the driver; their SIM takes the
violation's points (Perpol 5/2021) in the same transaction that issues the ticket.

A timer re-reads its case when it fires and does nothing if the case has moved on, so
timers are safe to schedule twice; :meth:`CaseWorkflow.start` schedules the timers of
every waiting case, also after a restart. Call the methods from the clock's thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select

from twin.clock import Clock, ProcessGenerator

from .audit import SYSTEM
from .blocks import place_block
from .payments import issue_va_number
from .registry import Registry
from .repository import BLOCKS, CaseStore, Tx
from .states import Case, CaseState, TransitionError
from .tar import award_points
from .tariff import Tariff, Timers

log = logging.getLogger(__name__)

Listener = Callable[[Case], None]


class CaseWorkflow:
    """Timers and owner acts of the ETLE case workflow.

    Parameters
    ----------
    clock : Clock, the twin's clock
    cases : CaseStore
    registry : Registry
    tariff : Tariff
    timers : Timers, the Polda's deadlines
    """

    def __init__(self, clock: Clock, cases: CaseStore, registry: Registry, tariff: Tariff,
                 timers: Timers) -> None:
        self.clock = clock
        self.cases = cases
        self.registry = registry
        self.tariff = tariff
        self.timers = timers
        self.listeners: list[Listener] = []

    def now(self) -> datetime:
        """The twin's current time."""
        return self.clock.now

    # -- scheduling -------------------------------------------------------------------

    def start(self) -> int:
        """Schedule the timers of every case waiting on one (also after a restart);
        how many."""
        waiting = self.cases.waiting()
        for case in waiting:
            self.schedule(case)
        return len(waiting)

    def schedule(self, case: Case) -> None:
        """Start the timer ``case`` waits on in its state, if any."""
        due: datetime | None = None
        if case.state is CaseState.OWNER_RESOLVED:
            due = case.notice_due_at
        elif case.state is CaseState.NOTICE_SENT:
            due = case.confirmation_due_at
        elif case.state is CaseState.TICKET_ISSUED:
            due = case.payment_due_at
        if due is not None:
            self.clock.process(self._timer(case.case_id, case.state, due))

    def _timer(self, case_id: str, state: CaseState, due: datetime) -> ProcessGenerator:
        delay_s = max(0.0, (due - self.clock.now).total_seconds())
        yield self.clock.env.timeout(delay_s)
        try:
            if state is CaseState.OWNER_RESOLVED:
                self.send_notice(case_id)
            elif state is CaseState.NOTICE_SENT:
                self._no_response(case_id)
            else:
                self._payment_overdue(case_id)
        except TransitionError:  # the case moved on before the deadline: nothing to do
            pass

    def publish(self, case: Case) -> None:
        """Tell the listeners about ``case`` and start its next timer (clock thread only)."""
        for listener in list(self.listeners):
            try:
                listener(case)
            except Exception:  # a listener's bug must not stop the workflow
                log.exception("enforcement listener failed on case %s", case.case_id)
        self.schedule(case)

    def _write(self, work: Callable[[Tx], Case]) -> Case:
        case = self.cases.write(work)
        self.publish(case)
        return case

    # -- timers -----------------------------------------------------------------------

    def send_notice(self, case_id: str, channel: str = "post") -> Case:
        """Post the confirmation letter (OWNER_RESOLVED -> NOTICE_SENT)."""
        now = self.now()

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            due = max(self.timers.confirmation_due(case.observed_at, now), now + timedelta(days=1))
            return CaseStore.move(tx, case, CaseState.NOTICE_SENT, at=now, actor="system:pos",
                                  reason=f"confirmation letter sent by {channel}",
                                  updates={"confirmation_due_at": due},
                                  details={"confirmation_due_at": due.isoformat()})
        return self._write(work)

    def _issue_ticket(self, tx: Tx, case: Case, now: datetime, actor: str, reason: str) -> Case:
        va = issue_va_number(tx, case.case_id)
        due = self.timers.payment_due(case.observed_at, now)
        return CaseStore.move(tx, case, CaseState.TICKET_ISSUED, at=now, actor=actor, reason=reason,
                              updates={"va_number": va, "payment_due_at": due},
                              details={"payment_due_at": due.isoformat(), "fine_idr": case.fine_idr})

    def _no_response(self, case_id: str) -> Case:
        now = self.now()

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            case = CaseStore.move(tx, case, CaseState.NO_RESPONSE, at=now, actor=SYSTEM,
                                  reason="no confirmation by the deadline",
                                  updates={"stnk_blocked": True})
            place_block(tx, case, "no_confirmation", now, SYSTEM)
            return self._issue_ticket(tx, case, now, SYSTEM,
                                      "ticket issued to the registered owner (no confirmation)")
        return self._write(work)

    def _payment_overdue(self, case_id: str) -> Case:
        now = self.now()

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            case = CaseStore.move(tx, case, CaseState.STNK_BLOCKED, at=now, actor=SYSTEM,
                                  reason="fine unpaid by the deadline", updates={"stnk_blocked": True})
            place_block(tx, case, "unpaid", now, SYSTEM)
            return case
        return self._write(work)

    # -- owner and officer acts -------------------------------------------------------

    def confirm(self, case_id: str, *, driver_id: str | None = None, actor: str = "owner") -> Case:
        """The owner confirms who drove: themselves (``driver_id`` None) or another
        named driver. The driver's SIM takes the points; the ticket is issued.

        Raises
        ------
        TransitionError
            If the case is not waiting for confirmation or the driver is unknown.
        """
        now = self.now()

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            if case.state is not CaseState.NOTICE_SENT:
                raise TransitionError(f"case {case_id} is {case.state.value}, not waiting for "
                                      "confirmation")
            owner = self.registry.owners.get(case.owner_id or "")
            named = driver_id or (owner.driver_id if owner is not None else None)
            driver = self.registry.driver(named)
            if driver is None:
                raise TransitionError(f"case {case_id}: driver {named!r} is not in the SIM "
                                      "registry; name a driver with a SIM")
            who = "the owner" if driver_id is None else "another named driver"
            case = CaseStore.move(tx, case, CaseState.CONFIRMED, at=now, actor=actor,
                                  reason=f"driver confirmed: {who}",
                                  updates={"driver_id": driver.driver_id},
                                  details={"driver_id": driver.driver_id})
            award_points(tx, source_ref=f"case:{case.case_id}", driver_id=driver.driver_id,
                         kind="violation", code=case.code, points=case.points,
                         case_id=case.case_id, at=now, points_version=case.points_version,
                         actor=SYSTEM,
                         reason=f"{case.points} point(s) for {case.code} (Perpol 5/2021)")
            return self._issue_ticket(tx, case, now, SYSTEM, "ticket issued to the confirmed driver")
        return self._write(work)

    def dispute(self, case_id: str, kind: Literal["sold", "not_mine"], detail: str = "",
                *, actor: str = "owner") -> Case:
        """The owner disputes: the vehicle was sold, or it is not theirs (cloned plate)."""
        now = self.now()

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            return CaseStore.move(tx, case, CaseState.DISPUTED, at=now, actor=actor,
                                  reason=f"disputed: {kind}" + (f" ({detail})" if detail else ""),
                                  details={"kind": kind})
        return self._write(work)

    def review_dispute(self, case_id: str, officer: str, *, upheld: bool, reason: str) -> Case:
        """An officer decides a dispute: upheld dismisses the case; otherwise the ticket
        is issued to the registered owner."""
        if not reason.strip():
            raise ValueError("a dispute decision needs a reason")
        now = self.now()
        actor = f"officer:{officer}"

        def work(tx: Tx) -> Case:
            case = CaseStore.load(tx.conn, case_id)
            if upheld:
                return CaseStore.move(tx, case, CaseState.DISMISSED, at=now, actor=actor,
                                      reason=reason, updates={"outcome": "dismissed"})
            if case.state is not CaseState.DISPUTED:
                raise TransitionError(f"case {case_id} is {case.state.value}, not disputed")
            return self._issue_ticket(tx, case, now, actor, f"dispute rejected: {reason}")
        return self._write(work)

    def blocked_plates(self) -> set[str]:
        """Plates with an active STNK block."""
        stmt = select(BLOCKS.c.plate).where(BLOCKS.c.lifted_at.is_(None))
        return self.cases.read(lambda conn: {r[0] for r in conn.execute(stmt)})
