"""STNK blocks (Perpol 7/2021 Pasal 87(3)): placed by an overdue case, lifted by paying."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from .audit import AuditEntry
from .repository import BLOCKS, Tx, insert_ignore
from .states import Case


def place_block(tx: Tx, case: Case, reason: str, at: datetime, actor: str) -> bool:
    """Block the STNK of ``case``'s vehicle (once per case); whether a block was placed."""
    if case.plate is None:
        return False
    placed = tx.conn.execute(insert_ignore(tx.conn, BLOCKS).returning(BLOCKS.c.case_id), [{
        "case_id": case.case_id, "plate": case.plate, "reason": reason, "blocked_at": at,
        "lifted_at": None}]).first()
    if placed is None:
        return False
    tx.log(AuditEntry(at, actor, "stnk.blocked", case.case_id, reason, {}))
    return True


def lift_block(tx: Tx, case: Case, at: datetime, actor: str, reason: str) -> bool:
    """Lift the block ``case`` placed, if any is active; whether one was lifted."""
    done = tx.conn.execute(update(BLOCKS).where(BLOCKS.c.case_id == case.case_id,
                                                BLOCKS.c.lifted_at.is_(None)).values(lifted_at=at))
    if done.rowcount:
        tx.log(AuditEntry(at, actor, "stnk.unblocked", case.case_id, reason, {}))
        return True
    return False
