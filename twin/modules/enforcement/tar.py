"""The Traffic Attitude Record (TAR) and the SIM renewal check.

Points are stored accumulated (Perpol 5/2021 semantics: 12 -> Penalti 1, 18 -> Penalti 2)
and counted within the policy window of the points table; the public TAR view shows
the countdown balance ``max(0, 12 - accumulated)`` (DOMAIN.md section 1.4). Accidents
add 12/10/5 points by class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .audit import AuditEntry
from .registry import Registry
from .repository import CASES, POINTS, CaseStore, Tx, insert_ignore
from .states import PAYABLE
from .tariff import Tariff


def award_points(tx: Tx, *, source_ref: str, driver_id: str, kind: str, code: str, points: int,
                 case_id: str | None, at: datetime, points_version: str, actor: str,
                 reason: str) -> bool:
    """Put ``points`` on ``driver_id``'s SIM once per ``source_ref``; whether written."""
    row = tx.conn.execute(insert_ignore(tx.conn, POINTS).returning(POINTS.c.id), [{
        "source_ref": source_ref, "driver_id": driver_id, "kind": kind, "code": code,
        "points": points, "case_id": case_id, "awarded_at": at,
        "points_version": points_version}]).first()
    if row is None:
        return False
    tx.log(AuditEntry(at, actor, "points.awarded", case_id, reason,
                      {"driver_id": driver_id, "points": points}))
    return True


@dataclass(frozen=True, slots=True)
class TarEntry:
    """One violation or accident on a driver's record.

    Attributes
    ----------
    kind : ``violation`` or ``accident``
    code : violation code or accident class
    points : int
    awarded_at : datetime
    case_id : str or None
    counts : bool, inside the points window at the time asked
    """

    kind: str
    code: str
    points: int
    awarded_at: datetime
    case_id: str | None
    counts: bool


@dataclass(frozen=True, slots=True)
class TrafficAttitudeRecord:
    """A driver's record at one moment.

    Attributes
    ----------
    driver_id : str
    entries : tuple of TarEntry, oldest first
    accumulated_points : int, points inside the window
    balance : int, the public countdown ``max(0, start - accumulated)``
    penalty : ``none``, ``penalty_1`` (>= 12) or ``penalty_2`` (>= 18)
    """

    driver_id: str
    entries: tuple[TarEntry, ...]
    accumulated_points: int
    balance: int
    penalty: str


@dataclass(frozen=True, slots=True)
class RenewalDecision:
    """Whether a SIM may be renewed (perpanjang), and why not.

    Attributes
    ----------
    driver_id : str
    eligible : bool
    reasons : tuple of str, empty when eligible
    record : TrafficAttitudeRecord or None (None for an unknown driver)
    """

    driver_id: str
    eligible: bool
    reasons: tuple[str, ...]
    record: TrafficAttitudeRecord | None


class Tar:
    """TAR queries, accident points and the renewal check over one store."""

    def __init__(self, cases: CaseStore, registry: Registry, tariff: Tariff) -> None:
        self.cases = cases
        self.registry = registry
        self.tariff = tariff

    def record(self, driver_id: str, at: datetime) -> TrafficAttitudeRecord:
        """The record of ``driver_id`` as of ``at``."""
        stmt = select(POINTS.c.kind, POINTS.c.code, POINTS.c.points, POINTS.c.awarded_at,
                      POINTS.c.case_id).where(POINTS.c.driver_id == driver_id,
                                              POINTS.c.awarded_at <= at).order_by(
            POINTS.c.awarded_at, POINTS.c.id)
        rows = self.cases.read(lambda conn: list(conn.execute(stmt)))
        since = at - timedelta(days=self.tariff.points_window_days)
        entries = tuple(TarEntry(r.kind, r.code, int(r.points), r.awarded_at, r.case_id,
                                 r.awarded_at > since) for r in rows)
        acc = sum(e.points for e in entries if e.counts)
        return TrafficAttitudeRecord(driver_id, entries, acc,
                                     max(0, self.tariff.tar_start_balance - acc), self._penalty(acc))

    def _penalty(self, accumulated: int) -> str:
        t = self.tariff
        return ("penalty_2" if accumulated >= t.penalty_2_points else
                "penalty_1" if accumulated >= t.penalty_1_points else "none")

    def drivers_in_penalty(self, at: datetime) -> int:
        """How many drivers have reached Penalti 1 or 2 as of ``at`` (one query)."""
        since = at - timedelta(days=self.tariff.points_window_days)
        stmt = select(func.sum(POINTS.c.points)).where(
            POINTS.c.awarded_at > since, POINTS.c.awarded_at <= at).group_by(POINTS.c.driver_id)
        sums = self.cases.read(lambda conn: [int(r[0]) for r in conn.execute(stmt)])
        return sum(1 for acc in sums if self._penalty(acc) != "none")

    def record_accident(self, driver_id: str, accident_class: str, ref: str, at: datetime,
                        actor: str) -> bool:
        """Add accident points (class from the points table) once per ``ref``; whether new.

        Raises
        ------
        ValueError
            For an accident class the points table does not list.
        """
        pts = self.tariff.accident_points.get(accident_class)
        if pts is None:
            raise ValueError(f"unknown accident class {accident_class!r}; known: "
                             f"{', '.join(sorted(self.tariff.accident_points))}")

        return self.cases.write(lambda tx: award_points(
            tx, source_ref=f"accident:{ref}", driver_id=driver_id, kind="accident",
            code=accident_class, points=pts, case_id=None, at=at,
            points_version=self.tariff.points_version, actor=actor,
            reason=f"{pts} point(s) for accident {accident_class} ({ref})"))

    def renewal_check(self, driver_id: str, at: datetime, *, on: date | None = None) -> RenewalDecision:
        """Whether ``driver_id``'s SIM may be renewed at ``at``, with every reason it may not.

        Reasons (any of): unknown driver; Penalti 1 or 2 (Perpol 5/2021 Pasal 37(4): a
        penalised SIM cannot be extended); the SIM expired before the renewal date (a new
        SIM is needed; modelled as no grace period, to confirm); an unpaid ETLE ticket on
        which this driver was confirmed (the project's assumption: settle first).
        """
        driver = self.registry.driver(driver_id)
        if driver is None:
            return RenewalDecision(driver_id, False, ("driver is not in the SIM registry",), None)
        record = self.record(driver_id, at)
        reasons: list[str] = []
        t = self.tariff
        if record.penalty == "penalty_2":
            reasons.append(f"{record.accumulated_points} points within {t.points_window_days} days "
                           f"reach Penalti 2 (>= {t.penalty_2_points}): SIM revoked; new-SIM "
                           "procedure after the revocation period (Perpol 5/2021 Pasal 37, 39)")
        elif record.penalty == "penalty_1":
            reasons.append(f"{record.accumulated_points} points within {t.points_window_days} days "
                           f"reach Penalti 1 (>= {t.penalty_1_points}): SIM held; driving "
                           "education or training before renewal (Perpol 5/2021 Pasal 37, 38)")
        day = on or at.date()
        if driver.sim_valid_until < day:
            reasons.append(f"SIM expired on {driver.sim_valid_until.isoformat()}: it cannot be "
                           "extended; apply for a new SIM")
        stmt = select(CASES.c.case_id).where(CASES.c.driver_id == driver_id,
                                             CASES.c.state.in_([s.value for s in PAYABLE]))
        unpaid = self.cases.read(lambda conn: [r[0] for r in conn.execute(stmt)])
        if unpaid:
            reasons.append(f"unpaid ETLE ticket(s): {', '.join(sorted(unpaid))}")
        return RenewalDecision(driver_id, not reasons, tuple(reasons), record)

