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
timers are safe to schedule twice; :meth:`CaseWorkflow.recover` schedules the timers of
every waiting case after a restart. Call the methods from the clock's thread;
other threads (an HTTP handler, the dashboard) call :meth:`CaseWorkflow.notify`, picked
up by the poller that :meth:`CaseWorkflow.start` runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select

from twin.clock import Clock, ProcessGenerator

from .audit import AuditEntry
from .blocks import place_block
from .payments import issue_va_number
from .registry import Registry
from .repository import POINTS, CaseStore, Tx, insert_ignore
from .states import Case, CaseState, TransitionError
from .tariff import Tariff, Timers

log = logging.getLogger(__name__)

SYSTEM = "system:etle-backoffice"
Listener = Callable[[Case], None]


def award_points(tx: Tx, case: Case, driver_id: str, tariff_points_version: str, at: datetime,
                 actor: str) -> bool:
    """Put ``case``'s points on ``driver_id``'s SIM (once per case); whether written."""
    stmt = insert_ignore(tx.conn, POINTS).returning(POINTS.c.id)
    row = tx.conn.execute(stmt, [{
        "source_ref": f"case:{case.case_id}", "driver_id": driver_id, "kind": "violation",
        "code": case.code, "points": case.points, "case_id": case.case_id, "awarded_at": at,
        "points_version": tariff_points_version,
    }]).first()
    if row is None:
        return False
    tx.log(AuditEntry(at, actor, "points.awarded", case.case_id,
                      f"{case.points} point(s) for {case.code} (Perpol 5/2021)",
                      {"driver_id": driver_id, "points": case.points}))
    return True


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
        self._inbox: list[str] = []
        self._lock = threading.Lock()
        self.fired = 0

    def now(self) -> datetime:
        """The twin's current time."""
        return self.clock.now

    # -- scheduling -------------------------------------------------------------------

    def start(self, poll_s: float | None = None) -> int:
        """Schedule the timers of every waiting case; with ``poll_s``, also poll the
        :meth:`notify` inbox every ``poll_s`` seconds. Returns the timers scheduled."""
        n = self.recover()
        if poll_s is not None:
            self.clock.process(self._poll(poll_s))
        return n

    def recover(self) -> int:
        """Schedule the timers of every case waiting on one (after a restart)."""
        waiting = self.cases.waiting()
        for case in waiting:
            self.schedule(case)
        return len(waiting)

    def notify(self, case_id: str) -> None:
        """Thread-safe: ask the poller to (re)schedule ``case_id``'s timer."""
        with self._lock:
            self._inbox.append(case_id)

    def _poll(self, poll_s: float) -> ProcessGenerator:
        while True:
            yield self.clock.env.timeout(poll_s)
            with self._lock:
                ids, self._inbox = self._inbox, []
            for cid in ids:
                case = self.cases.case(cid)
                if case is not None:
                    self.schedule(case)

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
        self.fired += 1
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
            award_points(tx, case, driver.driver_id, case.points_version, now, SYSTEM)
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
        from .repository import BLOCKS

        stmt = select(BLOCKS.c.plate).where(BLOCKS.c.lifted_at.is_(None))
        return self.cases.read(lambda conn: {r[0] for r in conn.execute(stmt)})
