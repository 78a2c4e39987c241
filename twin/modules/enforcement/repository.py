"""All SQL of the enforcement module: transactions, case transitions, queries.

Every write runs in one transaction that also appends its audit entries, so a change
and its audit record commit together or not at all. Writers are serialised (SQLite
``BEGIN IMMEDIATE``; a transaction-scoped advisory lock on PostgreSQL) because the audit
chain has one head. Every write is safe to repeat: new records are keyed (violation id,
payment reference, points source) and transitions check the state they start from, so a
retry after a lost connection neither loses nor doubles anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select, text, update

from twin.store import Store
from twin.store.core import upsert_insert
from twin.store.schema import (
    EtleCaseRow,
    EtleCheckpointRow,
    EtlePaymentRefusalRow,
    EtlePaymentRow,
    EtlePointsRow,
    EtleStnkBlockRow,
    EtleTransitionRow,
    EtleViolationRow,
)

from . import audit
from .audit import AuditEntry, ChainReport
from .plates import try_parse_plate
from .states import TERMINAL, Case, CaseState, TransitionError, check_transition

T = TypeVar("T")

VIOLATIONS = cast(Table, EtleViolationRow.__table__)
CASES = cast(Table, EtleCaseRow.__table__)
TRANSITIONS = cast(Table, EtleTransitionRow.__table__)
PAYMENTS = cast(Table, EtlePaymentRow.__table__)
REFUSALS = cast(Table, EtlePaymentRefusalRow.__table__)
POINTS = cast(Table, EtlePointsRow.__table__)
BLOCKS = cast(Table, EtleStnkBlockRow.__table__)
CHECKPOINTS = cast(Table, EtleCheckpointRow.__table__)

_PG_LOCK = 0x45544C45  # "ETLE"


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One accepted payment (no personal data: the case id stands for the payer).

    Attributes
    ----------
    payment_ref : str, the bank's reference
    case_id : str
    amount_idr : int, rupiah
    paid_at : datetime, when the bank says it was paid
    bank : str
    """

    payment_ref: str
    case_id: str
    amount_idr: int
    paid_at: datetime
    bank: str


class CaseNotFound(LookupError):
    """No case with that id (or virtual-account number)."""


@dataclass
class Tx:
    """One open write transaction and the audit entries it will append on commit."""

    conn: Connection
    audit: list[AuditEntry] = field(default_factory=list)

    def log(self, entry: AuditEntry) -> None:
        """Queue an audit entry; it is chained and written with this transaction."""
        self.audit.append(entry)


def insert_ignore(conn: Connection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's dialect."""
    return upsert_insert(conn, table).on_conflict_do_nothing()


class CaseStore(Store):
    """The enforcement tables of one database: a :class:`twin.store.Store` with the
    ETLE records, sharing its transactions (reconnect, retry, SQLite write lock).

    Parameters
    ----------
    engine : Engine
        Of a store migrated to at least revision 0002 (``twin.store.open_store`` does it).
    """

    @classmethod
    def of(cls, store: Store) -> CaseStore:
        """The enforcement tables of an open :class:`twin.store.Store`."""
        return cls(store.engine)

    # -- transactions -----------------------------------------------------------------

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one serialised write transaction with its audit entries.

        ``work`` must be safe to run again: like every store write it is retried once
        after a lost connection and a few times after a PostgreSQL deadlock or
        serialisation failure.
        """
        def run(conn: Connection, _maybe_committed: bool) -> T:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            tx = Tx(conn)
            result = work(tx)
            audit.append(conn, tx.audit)
            return result
        return self._write(run)

    # -- cases ------------------------------------------------------------------------

    @staticmethod
    def find(conn: Connection, where: ColumnElement[bool]) -> Case | None:
        """The case matching ``where`` inside a transaction, or None."""
        row = conn.execute(select(CASES).where(where)).first()
        return None if row is None else Case.from_row(row)

    @staticmethod
    def load(conn: Connection, case_id: str) -> Case:
        """The case ``case_id`` inside a transaction; raises :class:`CaseNotFound`."""
        case = CaseStore.find(conn, CASES.c.case_id == case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id!r}")
        return case

    @staticmethod
    def move(tx: Tx, case: Case, to: CaseState, *, at: datetime, actor: str, reason: str,
             updates: Mapping[str, Any] | None = None,
             details: Mapping[str, Any] | None = None) -> Case:
        """Move ``case`` (as just loaded in ``tx``) to ``to``; the case afterwards.

        Checks the transition is allowed (and made by an officer where the law needs a
        human), writes the transition row and queues its audit entry.

        Raises
        ------
        TransitionError
            If the move is not allowed, or the case changed since it was loaded.
        """
        check_transition(case.case_id, case.state, to, actor)
        values: dict[str, Any] = {"state": to.value, "transitions": case.transitions + 1,
                                  "updated_at": at, **(updates or {})}
        if to in TERMINAL:
            values["closed_at"] = at
        done = tx.conn.execute(
            update(CASES).where(CASES.c.case_id == case.case_id,
                                CASES.c.transitions == case.transitions).values(values)
        )
        if done.rowcount != 1:
            raise TransitionError(f"case {case.case_id} changed while {actor} was moving it")
        tx.conn.execute(insert(TRANSITIONS).values(
            case_id=case.case_id, seq=case.transitions, from_state=case.state.value,
            to_state=to.value, at=at, actor=actor, reason=reason,
        ))
        tx.log(AuditEntry(at, actor, "case.transition", case.case_id, reason,
                          {"from": case.state.value, "to": to.value, **(details or {})}))
        return dataclasses.replace(case, **{**values, "state": to})

    def case(self, case_id: str) -> Case | None:
        """The case ``case_id``, or None."""
        return self.read(lambda conn: CaseStore.find(conn, CASES.c.case_id == case_id))

    def case_of_violation(self, violation_id: str) -> Case | None:
        """The case of the violation ``violation_id``, or None."""
        return self.read(lambda conn: CaseStore.find(conn, CASES.c.violation_id == violation_id))

    def cases(self, state: CaseState | Iterable[CaseState] | None = None, *,
              limit: int | None = None, offset: int = 0) -> list[Case]:
        """Cases (in ``state``, if given), oldest violation first."""
        stmt = select(CASES).order_by(CASES.c.observed_at, CASES.c.case_id)
        if state is not None:
            states = [state] if isinstance(state, CaseState) else list(state)
            stmt = stmt.where(CASES.c.state.in_([s.value for s in states]))
        if offset:
            stmt = stmt.offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self.read(lambda conn: [Case.from_row(r) for r in conn.execute(stmt)])

    def count_by_state(self) -> dict[str, int]:
        """How many cases are in each state."""
        stmt = select(CASES.c.state, func.count()).group_by(CASES.c.state)
        return self.read(lambda conn: {str(s): int(n) for s, n in conn.execute(stmt)})

    def count(self, table: Table) -> int:
        """Rows in one of the enforcement tables."""
        return self.read(lambda conn: int(conn.execute(
            select(func.count()).select_from(table)).scalar_one()))

    def transitions_of(self, case_id: str) -> list[tuple[str | None, str, datetime, str, str]]:
        """``(from, to, at, actor, reason)`` of every transition of a case, in order."""
        stmt = select(TRANSITIONS.c.from_state, TRANSITIONS.c.to_state, TRANSITIONS.c.at,
                      TRANSITIONS.c.actor, TRANSITIONS.c.reason).where(
            TRANSITIONS.c.case_id == case_id).order_by(TRANSITIONS.c.seq)
        return self.read(lambda conn: [tuple(r) for r in conn.execute(stmt)])

    def waiting(self) -> list[Case]:
        """Cases a timer waits on: notice to post, confirmation or payment deadline."""
        return self.cases([CaseState.OWNER_RESOLVED, CaseState.NOTICE_SENT,
                           CaseState.TICKET_ISSUED])

    def cases_of(self, *, plate: str | None = None, driver_id: str | None = None,
                 limit: int = 50) -> list[Case]:
        """The newest cases of a plate (any spacing) or of a confirmed driver, newest first.

        Raises
        ------
        ValueError
            Unless exactly one of ``plate`` and ``driver_id`` is given.
        """
        if (plate is None) == (driver_id is None):
            raise ValueError("give exactly one of plate and driver_id")
        if plate is not None:
            parsed = try_parse_plate(plate)
            where = CASES.c.plate == (parsed.text if parsed is not None else plate.strip())
        else:
            where = CASES.c.driver_id == driver_id
        stmt = select(CASES).where(where).order_by(CASES.c.observed_at.desc(),
                                                   CASES.c.case_id).limit(limit)
        return self.read(lambda conn: [Case.from_row(r) for r in conn.execute(stmt)])

    def recent_payments(self, limit: int = 10) -> list[PaymentRecord]:
        """The latest accepted payments, newest first (by the bank's ``paid_at``)."""
        stmt = select(PAYMENTS.c.payment_ref, PAYMENTS.c.case_id, PAYMENTS.c.amount_idr,
                      PAYMENTS.c.paid_at, PAYMENTS.c.bank).order_by(
            PAYMENTS.c.paid_at.desc(), PAYMENTS.c.payment_ref).limit(limit)
        return self.read(lambda conn: [
            PaymentRecord(r.payment_ref, r.case_id, int(r.amount_idr), r.paid_at, r.bank)
            for r in conn.execute(stmt)])

    # -- checkpoints ------------------------------------------------------------------

    @staticmethod
    def save_checkpoint(tx: Tx, consumer: str, position: int, state: Mapping[str, Any],
                        at: datetime) -> None:
        """Record, in ``tx``, that ``consumer`` has processed its stream up to ``position``."""
        row = {"consumer": consumer, "position": position, "state": dict(state),
               "updated_at": at}
        tx.conn.execute(upsert_insert(tx.conn, CHECKPOINTS).values(row).on_conflict_do_update(
            index_elements=["consumer"],
            set_={"position": position, "state": dict(state), "updated_at": at}))

    def checkpoint(self, consumer: str) -> tuple[int, dict[str, Any]]:
        """``(position, state)`` of ``consumer``; ``(0, {})`` before its first commit."""
        def work(conn: Connection) -> tuple[int, dict[str, Any]]:
            row = conn.execute(select(CHECKPOINTS.c.position, CHECKPOINTS.c.state).where(
                CHECKPOINTS.c.consumer == consumer)).first()
            return (0, {}) if row is None else (int(row.position), dict(row.state))
        return self.read(work)

    # -- audit ------------------------------------------------------------------------

    def verify_audit(self) -> ChainReport:
        """Recompute the audit chain (see :func:`twin.modules.enforcement.audit.verify_chain`)."""
        return self.read(audit.verify_chain)

    def audit_entries(self, case_id: str | None = None) -> list[dict[str, Any]]:
        """Audit entries (of one case, if given), in order."""
        stmt = select(audit.AUDIT).order_by(audit.AUDIT.c.seq)
        if case_id is not None:
            stmt = stmt.where(audit.AUDIT.c.case_id == case_id)
        return self.read(lambda conn: [dict(r._mapping) for r in conn.execute(stmt)])


def utcnow() -> datetime:
    """The wall clock in UTC (for ``received_at`` stamps)."""
    return datetime.now(UTC)
