"""The access log: an append-only, hash-chained record of who saw or did what, when, why.

Same construction as the ETLE audit log (:mod:`twin.modules.enforcement.audit`): each
entry stores the hash of the one before it and its own hash is
``SHA-256(prev_hash + canonical JSON of the entry)``; the database refuses UPDATE and
DELETE on ``access_audit`` (migration 0006).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select

from twin.store.schema import AccessAuditRow

ACCESS_AUDIT = cast(Table, AccessAuditRow.__table__)
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access to record.

    Attributes
    ----------
    actor : str, the account name (or ``anonymous``)
    role : str, the actor's role at the time ("" when unknown)
    action : str, e.g. ``login``, ``login.refused``, ``denied``, ``personal_data.view``
    subject : str or None, what was seen or refused (page path, case or driver id)
    reason : str, why (the purpose the user gave, or the refusal)
    details : mapping, JSON-ready specifics
    at : datetime, when (now by default)
    """

    actor: str
    role: str
    action: str
    subject: str | None
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def entry_hash(prev_hash: str, seq: int, e: AccessEntry) -> str:
    """The hash of entry ``seq`` given the hash before it."""
    body = json.dumps(
        [seq, e.at.astimezone(UTC).isoformat(timespec="microseconds"), e.actor, e.role, e.action,
         e.subject, e.reason, dict(e.details)],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append(conn: Connection, entry: AccessEntry) -> int:
    """Append ``entry`` inside the caller's serialised write transaction; its ``seq``."""
    row = conn.execute(select(ACCESS_AUDIT.c.seq, ACCESS_AUDIT.c.hash)
                       .order_by(ACCESS_AUDIT.c.seq.desc()).limit(1)).first()
    seq, prev = (0, GENESIS) if row is None else (int(row.seq), str(row.hash))
    seq += 1
    conn.execute(insert(ACCESS_AUDIT), [{
        "seq": seq, "at": entry.at, "actor": entry.actor, "role": entry.role,
        "action": entry.action, "subject": entry.subject, "reason": entry.reason,
        "details": dict(entry.details), "prev_hash": prev, "hash": entry_hash(prev, seq, entry),
    }])
    return seq


def verify(conn: Connection) -> tuple[bool, int, str]:
    """Recompute the chain: ``(ok, entries checked, problem)``."""
    prev, count = GENESIS, 0
    for r in conn.execute(select(ACCESS_AUDIT).order_by(ACCESS_AUDIT.c.seq)):
        e = AccessEntry(r.actor, r.role, r.action, r.subject, r.reason, r.details, r.at)
        if r.seq != count + 1 or r.prev_hash != prev or entry_hash(prev, r.seq, e) != r.hash:
            return False, count, f"entry {r.seq} breaks the chain"
        prev, count = r.hash, count + 1
    return True, count, ""
