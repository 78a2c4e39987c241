"""The append-only, hash-chained audit log: who did what, when and why.

Every entry stores the hash of the one before it; its own hash is
``SHA-256(prev_hash + canonical JSON of the entry)``. Changing, inserting or deleting an
entry anywhere breaks every hash after it, which :func:`verify_chain` finds. The
database refuses UPDATE and DELETE on the table (triggers of migration 0002), and
entries are written in the same transaction as the change they record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select

from twin.store.schema import EtleAuditRow

AUDIT = cast(Table, EtleAuditRow.__table__)
GENESIS = "0" * 64
"""``prev_hash`` of the first entry."""
SYSTEM = "system:etle-backoffice"
"""The actor of the back office's automatic acts."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One act to record.

    Attributes
    ----------
    at : datetime, twin time of the act
    actor : str, ``officer:<id>``, ``system``, ``owner``, ``bank:<name>`` ...
    action : str, e.g. ``case.transition``, ``payment.refused``, ``points.awarded``
    case_id : str or None
    reason : str, why (free text, never personal data beyond the case id)
    details : mapping, JSON-ready specifics
    """

    at: datetime
    actor: str
    action: str
    case_id: str | None
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, seq: int, at: datetime, recorded_at: datetime, actor: str,
               action: str, case_id: str | None, reason: str, details: Mapping[str, Any]) -> str:
    """The hash of one entry given the hash before it."""
    body = json.dumps(
        [seq, _iso(at), _iso(recorded_at), actor, action, case_id, reason, dict(details)],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def append(conn: Connection, entries: Iterable[AuditEntry]) -> int:
    """Append ``entries`` to the chain inside the caller's transaction; how many.

    The caller must hold the store's write lock (``BEGIN IMMEDIATE`` on SQLite, the
    enforcement advisory lock on PostgreSQL) so no other writer extends the chain
    between reading its head and inserting.
    """
    rows = []
    seq, prev = _head(conn)
    recorded_at = datetime.now(UTC)
    for e in entries:
        seq += 1
        h = entry_hash(prev, seq, e.at, recorded_at, e.actor, e.action, e.case_id, e.reason,
                       e.details)
        rows.append({"seq": seq, "at": e.at, "recorded_at": recorded_at, "actor": e.actor,
                     "action": e.action, "case_id": e.case_id, "reason": e.reason,
                     "details": dict(e.details), "prev_hash": prev, "hash": h})
        prev = h
    if rows:
        conn.execute(insert(AUDIT), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The verifier's verdict.

    Attributes
    ----------
    ok : bool
    entries : int, entries checked
    head_hash : str, hash of the last entry (publish it off-box to pin the log)
    first_bad_seq : int or None
    problem : str, empty when ok
    """

    ok: bool
    entries: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain(conn: Connection, batch: int = 10_000) -> ChainReport:
    """Recompute every hash of the log, in order, and report the first break."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    last = 0
    while True:
        rows = conn.execute(
            select(AUDIT).where(AUDIT.c.seq > last).order_by(AUDIT.c.seq).limit(batch)
        ).all()
        if not rows:
            return ChainReport(True, count, prev)
        for r in rows:
            if r.seq != expected_seq:
                return ChainReport(False, count, prev, expected_seq,
                                   f"entry {expected_seq} is missing (next is {r.seq})")
            if r.prev_hash != prev:
                return ChainReport(False, count, prev, r.seq,
                                   f"entry {r.seq} does not point at the hash of entry {r.seq - 1}")
            h = entry_hash(prev, r.seq, r.at, r.recorded_at, r.actor, r.action, r.case_id,
                           r.reason, r.details)
            if h != r.hash:
                return ChainReport(False, count, prev, r.seq,
                                   f"entry {r.seq} was altered (its hash does not match its content)")
            prev = h
            expected_seq += 1
            count += 1
            last = r.seq
