"""All SQL of the enforcement module: transactions, case transitions, queries.

Every write runs in one transaction that also appends its audit entries, so a change
and its audit record commit together or not at all. Writers are serialised (SQLite
``BEGIN IMMEDIATE``; a transaction-scoped advisory lock on PostgreSQL) because the audit
chain has one head. Every write is safe to repeat: new records are keyed (violation id,
payment reference, points source) and transitions check the state they start from, so a
retry after a lost connection neither loses nor doubles anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from twin.store import Store
from twin.store.engine import IMMEDIATE, is_disconnect, is_transient_conflict
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
from .states import TERMINAL, Case, CaseState, TransitionError, check_transition

log = logging.getLogger(__name__)

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
_RETRIES = 5


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
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


class CaseStore:
    """The enforcement tables of one database.

    Parameters
    ----------
    engine : Engine
        Of a store migrated to at least revision 0002 (``twin.store.open_store`` does it).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def of(cls, store: Store) -> CaseStore:
        """The enforcement tables of an open :class:`twin.store.Store`."""
        return cls(store.engine)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    # -- transactions -----------------------------------------------------------------

    def write(self, work: Callable[[Tx], T]) -> T:
        """Run ``work`` in one serialised write transaction with its audit entries.

        ``work`` must be safe to run again: it is retried once after a lost connection
        and a few times after a PostgreSQL deadlock or serialisation failure.
        """
        reconnected = False
        conflicts = 0
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{IMMEDIATE: True})
                    with conn.begin():
                        if conn.dialect.name == "postgresql":
                            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                        tx = Tx(conn)
                        result = work(tx)
                        audit.append(conn, tx.audit)
                        return result
            except DBAPIError as exc:
                if is_disconnect(exc) and not reconnected:
                    log.warning("enforcement store: connection lost (%s); retrying once", exc.orig)
                    reconnected = True
                    self.engine.dispose()
                    continue
                if is_transient_conflict(exc) and conflicts < _RETRIES:
                    conflicts += 1
                    time.sleep(0.02 * conflicts)
                    continue
                raise

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run the read-only ``work`` in one transaction."""
        with self.engine.connect() as conn, conn.begin():
            return work(conn)

    # -- cases ------------------------------------------------------------------------

    @staticmethod
    def load(conn: Connection, case_id: str) -> Case:
        """The case ``case_id`` inside a transaction; raises :class:`CaseNotFound`."""
        row = conn.execute(select(CASES).where(CASES.c.case_id == case_id)).first()
        if row is None:
            raise CaseNotFound(f"no case {case_id!r}")
        return Case.from_row(row)

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
        merged = {f: getattr(case, f) for f in Case.__dataclass_fields__}
        merged.update(values)
        merged["state"] = to
        return Case(**merged)

    def case(self, case_id: str) -> Case | None:
        """The case ``case_id``, or None."""
        def work(conn: Connection) -> Case | None:
            row = conn.execute(select(CASES).where(CASES.c.case_id == case_id)).first()
            return None if row is None else Case.from_row(row)
        return self.read(work)

    def case_of_violation(self, violation_id: str) -> Case | None:
        """The case of the violation ``violation_id``, or None."""
        def work(conn: Connection) -> Case | None:
            row = conn.execute(select(CASES).where(CASES.c.violation_id == violation_id)).first()
            return None if row is None else Case.from_row(row)
        return self.read(work)

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

    # -- checkpoints ------------------------------------------------------------------

    @staticmethod
    def save_checkpoint(tx: Tx, consumer: str, position: int, state: Mapping[str, Any],
                        at: datetime) -> None:
        """Record, in ``tx``, that ``consumer`` has processed its stream up to ``position``."""
        row = {"consumer": consumer, "position": position, "state": dict(state),
               "updated_at": at}
        conn = tx.conn
        if conn.dialect.name == "postgresql":
            stmt: Any = postgresql.insert(CHECKPOINTS).values(row)
        else:
            stmt = sqlite.insert(CHECKPOINTS).values(row)
        conn.execute(stmt.on_conflict_do_update(
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
