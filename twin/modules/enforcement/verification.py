"""The officer verification queue: list, claim, verify, reject (with a reason).

No case reaches an owner without an officer's verification (UU PDP Art. 10: no
decision with legal effect based solely on automated processing). Verifying also
resolves the owner from the registration data in the same transaction; the letter is
then posted by the workflow after ``notice_delay``.

Methods take the officer's id and stamp the twin's current time; they raise
:class:`~.states.TransitionError` (wrong state, claimed by someone else) or
:class:`~.repository.CaseNotFound`, with a message that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from .audit import AuditEntry
from .plates import PlateError, normalise_plate
from .pseudonym import PlateTokenizer
from .registry import Registry
from .repository import CASES, CaseStore, Tx
from .states import Case, CaseState, TransitionError

DEFAULT_CLAIM_S = 15 * 60.0
"""How long a claim keeps other officers off a case, in seconds."""


class VerificationQueue:
    """The queue of cases waiting for an officer.

    Parameters
    ----------
    cases : CaseStore
    registry : Registry, for the owner lookup after verification
    tokenizer : PlateTokenizer, to re-token a plate the officer corrects
    now : callable returning the twin's current time
    notice_delay_s : seconds from verification until the letter is posted
    on_change : called with each case after a committed verification (the workflow's
        ``notify`` to schedule the letter)
    """

    def __init__(self, cases: CaseStore, registry: Registry, tokenizer: PlateTokenizer,
                 now: Callable[[], datetime], *, notice_delay_s: float = 86400.0,
                 on_change: Callable[[Case], None] | None = None) -> None:
        self.cases = cases
        self.registry = registry
        self.tokenizer = tokenizer
        self.now = now
        self.notice_delay_s = notice_delay_s
        self.on_change = on_change

    def list(self, *, limit: int = 50, officer: str | None = None) -> list[Case]:
        """Cases waiting for verification, oldest first; with ``officer``, only those
        unclaimed, claimed by them, or whose claim has expired."""
        now = self.now()
        stmt = select(CASES).where(CASES.c.state == CaseState.PENDING_VERIFICATION.value)
        if officer is not None:
            stmt = stmt.where(or_(CASES.c.claimed_by.is_(None), CASES.c.claimed_by == officer,
                                  CASES.c.claim_expires_at < now))
        stmt = stmt.order_by(CASES.c.observed_at, CASES.c.case_id).limit(limit)
        return self.cases.read(lambda conn: [Case.from_row(r) for r in conn.execute(stmt)])

    def _pending(self, tx: Tx, case_id: str, officer: str, now: datetime) -> Case:
        case = CaseStore.load(tx.conn, case_id)
        if case.state is not CaseState.PENDING_VERIFICATION:
            raise TransitionError(f"case {case_id} is {case.state.value}, not waiting for verification")
        if (case.claimed_by not in (None, officer) and case.claim_expires_at is not None
                and case.claim_expires_at > now):
            raise TransitionError(f"case {case_id} is claimed by {case.claimed_by} until "
                                  f"{case.claim_expires_at.isoformat()}")
        return case

    def claim(self, case_id: str, officer: str, *, for_s: float = DEFAULT_CLAIM_S) -> Case:
        """Reserve a case for ``officer`` for ``for_s`` seconds."""
        now = self.now()
        actor = f"officer:{officer}"

        def work(tx: Tx) -> Case:
            self._pending(tx, case_id, officer, now)
            until = now + timedelta(seconds=for_s)
            tx.conn.execute(update(CASES).where(CASES.c.case_id == case_id).values(
                claimed_by=officer, claim_expires_at=until))
            tx.log(AuditEntry(now, actor, "case.claimed", case_id, "claimed for verification",
                              {"until": until.isoformat()}))
            return CaseStore.load(tx.conn, case_id)
        return self.cases.write(work)

    def verify(self, case_id: str, officer: str, *, reason: str = "evidence checked: valid",
               plate: str | None = None) -> Case:
        """Confirm the violation; resolve the owner. ``plate`` corrects or supplies the
        plate the officer read from the image.
        """
        now = self.now()
        actor = f"officer:{officer}"
        if plate is not None:
            try:
                plate = normalise_plate(plate)
            except PlateError as exc:
                raise TransitionError(f"case {case_id}: {exc}") from None

        def work(tx: Tx) -> Case:
            case = self._pending(tx, case_id, officer, now)
            updates: dict[str, object] = {"verified_by": officer, "claimed_by": None,
                                          "claim_expires_at": None}
            details: dict[str, object] = {}
            if plate is not None and plate != case.plate:
                updates.update(plate=plate, plate_confidence=1.0,
                               plate_token=self.tokenizer.token(plate, case.observed_at))
                details["plate_corrected"] = True
            case = CaseStore.move(tx, case, CaseState.VERIFIED, at=now, actor=actor,
                                  reason=reason, updates=updates, details=details)
            owner = self.registry.owner_of(case.plate)
            if owner is None:
                why = ("no readable plate" if case.plate is None
                       else "plate not in the registration data (ERI)")
                return CaseStore.move(tx, case, CaseState.OWNER_UNKNOWN, at=now,
                                      actor="system:eri", reason=f"owner not resolved: {why}")
            return CaseStore.move(
                tx, case, CaseState.OWNER_RESOLVED, at=now, actor="system:eri",
                reason="owner resolved from registration data",
                updates={"owner_id": owner.owner_id, "owner_name": owner.name,
                         "owner_address": owner.address,
                         "notice_due_at": now + timedelta(seconds=self.notice_delay_s)})
        case = self.cases.write(work)
        if self.on_change is not None:
            self.on_change(case)
        return case

    def reject(self, case_id: str, officer: str, reason: str) -> Case:
        """Reject the capture (false positive, emergency vehicle, unreadable image...).

        Raises
        ------
        ValueError
            If ``reason`` is empty: a rejection must say why.
        """
        if not reason.strip():
            raise ValueError("a rejection needs a reason")
        now = self.now()

        def work(tx: Tx) -> Case:
            case = self._pending(tx, case_id, officer, now)
            return CaseStore.move(tx, case, CaseState.REJECTED, at=now, actor=f"officer:{officer}",
                                  reason=reason, updates={"outcome": "rejected", "claimed_by": None,
                                                          "claim_expires_at": None})
        return self.cases.write(work)
