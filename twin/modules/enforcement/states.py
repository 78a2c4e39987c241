"""Case states and the transitions allowed between them (DOMAIN.md section 1.1).

::

    CAPTURED -> AUTO_CHECKED (plate read with confidence >= theta) -> PENDING_VERIFICATION
    CAPTURED -> PENDING_VERIFICATION (auto-check failed: the officer reads the plate)
    PENDING_VERIFICATION -> VERIFIED | REJECTED            (an officer, never the system)
    VERIFIED -> OWNER_RESOLVED | OWNER_UNKNOWN             (Regident lookup)
    OWNER_RESOLVED -> NOTICE_SENT                          (letter posted)
    NOTICE_SENT -> CONFIRMED | DISPUTED | NO_RESPONSE      (owner; deadline)
    CONFIRMED -> TICKET_ISSUED                             (VA code; points on the driver)
    NO_RESPONSE -> TICKET_ISSUED                           (to the owner; STNK blocked)
    DISPUTED -> DISMISSED | TICKET_ISSUED                  (an officer reviews)
    TICKET_ISSUED -> PAID | STNK_BLOCKED                   (bank; payment deadline)
    STNK_BLOCKED -> PAID                                   (paying lifts the block)
    PAID -> CLOSED
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class CaseState(StrEnum):
    """Where a case is in the ETLE workflow."""

    CAPTURED = "CAPTURED"
    AUTO_CHECKED = "AUTO_CHECKED"
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"
    OWNER_RESOLVED = "OWNER_RESOLVED"
    OWNER_UNKNOWN = "OWNER_UNKNOWN"
    NOTICE_SENT = "NOTICE_SENT"
    CONFIRMED = "CONFIRMED"
    DISPUTED = "DISPUTED"
    NO_RESPONSE = "NO_RESPONSE"
    DISMISSED = "DISMISSED"
    TICKET_ISSUED = "TICKET_ISSUED"
    STNK_BLOCKED = "STNK_BLOCKED"
    PAID = "PAID"
    CLOSED = "CLOSED"


S = CaseState
TRANSITIONS: Mapping[CaseState, frozenset[CaseState]] = {
    S.CAPTURED: frozenset({S.AUTO_CHECKED, S.PENDING_VERIFICATION}),
    S.AUTO_CHECKED: frozenset({S.PENDING_VERIFICATION}),
    S.PENDING_VERIFICATION: frozenset({S.VERIFIED, S.REJECTED}),
    S.VERIFIED: frozenset({S.OWNER_RESOLVED, S.OWNER_UNKNOWN}),
    S.OWNER_RESOLVED: frozenset({S.NOTICE_SENT}),
    S.NOTICE_SENT: frozenset({S.CONFIRMED, S.DISPUTED, S.NO_RESPONSE}),
    S.CONFIRMED: frozenset({S.TICKET_ISSUED}),
    S.NO_RESPONSE: frozenset({S.TICKET_ISSUED}),
    S.DISPUTED: frozenset({S.DISMISSED, S.TICKET_ISSUED}),
    S.TICKET_ISSUED: frozenset({S.PAID, S.STNK_BLOCKED}),
    S.STNK_BLOCKED: frozenset({S.PAID}),
    S.PAID: frozenset({S.CLOSED}),
    S.REJECTED: frozenset(),
    S.OWNER_UNKNOWN: frozenset(),
    S.DISMISSED: frozenset(),
    S.CLOSED: frozenset(),
}
"""Allowed next states of each state; terminal states have none."""

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
PAYABLE = frozenset({S.TICKET_ISSUED, S.STNK_BLOCKED})
"""States in which a ticket can be paid."""
HUMAN_ONLY = frozenset({S.VERIFIED, S.REJECTED, S.DISMISSED})
"""States only an officer's act may enter (UU PDP Art. 10: no sanction without a human)."""


class TransitionError(RuntimeError):
    """A case cannot make the requested change from its current state."""


def check_transition(case_id: str, current: CaseState, to: CaseState, actor: str) -> None:
    """Raise :class:`TransitionError` unless ``current -> to`` is allowed for ``actor``."""
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (it is closed)"
        raise TransitionError(f"case {case_id} is {current.value}; it cannot go to {to.value} "
                              f"(allowed: {allowed})")
    if to in HUMAN_ONLY and not actor.startswith("officer:"):
        raise TransitionError(f"case {case_id}: only an officer may move a case to {to.value} "
                              f"(actor was {actor!r})")


@dataclass(frozen=True, slots=True)
class Case:
    """One case as stored (see ``etle_cases`` in twin/store/schema.py for every field)."""

    case_id: str
    violation_id: str
    code: str
    state: CaseState
    observed_at: datetime
    camera_id: str
    plate: str | None
    plate_confidence: float
    plate_token: str | None
    vehicle_class: str | None
    evidence: dict[str, Any]
    fine_idr: int
    points: int
    fines_version: str
    points_version: str
    polda: str
    timers_version: str
    owner_id: str | None
    owner_name: str | None
    owner_address: str | None
    driver_id: str | None
    va_number: str | None
    claimed_by: str | None
    claim_expires_at: datetime | None
    verified_by: str | None
    notice_due_at: datetime | None
    confirmation_due_at: datetime | None
    payment_due_at: datetime | None
    stnk_blocked: bool
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    transitions: int

    @classmethod
    def from_row(cls, row: Any) -> Case:
        """A case from a row of ``etle_cases``."""
        data = dict(row._mapping)
        data["state"] = CaseState(data["state"])
        data["stnk_blocked"] = bool(data["stnk_blocked"])
        return cls(**data)
