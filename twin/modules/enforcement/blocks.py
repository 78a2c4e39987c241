"""STNK blocks (Perpol 7/2021 Pasal 87(3)): placed by an overdue case, lifted by paying."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from .audit import AuditEntry
from .repository import BLOCKS, Tx
from .states import Case


def place_block(tx: Tx, case: Case, reason: str, at: datetime, actor: str) -> bool:
    """Block the STNK of ``case``'s vehicle (once per case); whether a block was placed."""
    if case.plate is None:
        return False
    exists = tx.conn.execute(select(BLOCKS.c.case_id).where(BLOCKS.c.case_id == case.case_id)).first()
    if exists is not None:
        return False
    tx.conn.execute(BLOCKS.insert().values(case_id=case.case_id, plate=case.plate, reason=reason,
                                           blocked_at=at, lifted_at=None))
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
