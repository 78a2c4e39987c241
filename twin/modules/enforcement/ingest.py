"""From observations to persisted cases: detection, dedup, checkpoint, one transaction.

:meth:`Ingestor.ingest` runs a batch of observations through the
:class:`~.detector.Detector` and writes, in one transaction: the new violations (keyed by
violation id, so a camera event seen twice makes one case), their cases with the
automatic transitions ``CAPTURED -> AUTO_CHECKED -> PENDING_VERIFICATION`` and their
audit entries, and the consumer's checkpoint (stream position plus detector memory). A
process killed at any point restarts from the last checkpoint and, replaying from that
position, loses and doubles nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from twin.observations import Observation

from .audit import SYSTEM, AuditEntry
from .detector import Detector
from .repository import CASES, TRANSITIONS, VIOLATIONS, CaseStore, Tx, insert_ignore, utcnow
from .rules import Violation
from .states import CaseState
from .tariff import Tariff, Timers


def case_id_of(violation_id: str) -> str:
    """The case reference of a violation: ``ETLE-`` and 16 hex digits, deterministic."""
    return "ETLE-" + hashlib.sha256(violation_id.encode()).hexdigest()[:16].upper()


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one batch did.

    Attributes
    ----------
    observations : int, observations in the batch
    violations : int, violations the rules raised
    new_cases : int, cases created
    duplicates : int, violations already stored (or repeated in the batch)
    position : int, the consumer's stream position after the batch
    """

    observations: int
    violations: int
    new_cases: int
    duplicates: int
    position: int


class Ingestor:
    """Detection into persisted cases for one stream consumer.

    Parameters
    ----------
    cases : CaseStore
    detector : Detector
    tariff : Tariff, prices and points each case is created with
    timers : Timers, the Polda whose deadlines apply
    consumer : str, name of the stream position kept in ``etle_checkpoints``

    On creation the detector's memory is restored from the consumer's checkpoint and
    :attr:`position` says how many stream items are already committed. After an
    exception from :meth:`ingest`, make a new Ingestor (the detector's memory is only
    trustworthy as of the last commit).
    """

    def __init__(self, cases: CaseStore, detector: Detector, tariff: Tariff, timers: Timers,
                 consumer: str = "etle-detector") -> None:
        self.cases = cases
        self.detector = detector
        self.tariff = tariff
        self.timers = timers
        self.consumer = consumer
        self.position, state = cases.checkpoint(consumer)
        if state:
            detector.restore(state)
        self._min_conf = detector.config.tolerances.min_plate_confidence

    def ingest(self, observations: Sequence[Observation], *, advance: int | None = None) -> IngestResult:
        """Detect, store and checkpoint one batch.

        Parameters
        ----------
        observations : the batch, in stream order
        advance : how many stream items the batch stands for (default its length);
            the checkpoint moves by this much
        """
        found: dict[str, Violation] = {}
        raised = 0
        for obs in observations:
            for v in self.detector.feed(obs):
                raised += 1
                found.setdefault(v.violation_id, v)
        last_at = max((o.observed_at for o in observations), default=None)
        if last_at is not None:
            self.detector.expire(last_at)
        position = self.position + (len(observations) if advance is None else advance)
        vrows, crows, trows, entries = self._rows(list(found.values()))
        state = self.detector.state()

        def work(tx: Tx) -> int:
            conn = tx.conn
            new: set[str] = set()
            if vrows:
                stmt = insert_ignore(conn, VIOLATIONS).returning(VIOLATIONS.c.violation_id)
                new = {r[0] for r in conn.execute(stmt, vrows)}
            if new:
                conn.execute(insert(CASES), [r for r in crows if r["violation_id"] in new])
                ids = {case_id_of(v) for v in new}
                conn.execute(insert(TRANSITIONS), [r for r in trows if r["case_id"] in ids])
                tx.audit.extend(e for e in entries if e.case_id in ids)
            if position != self.position:
                CaseStore.save_checkpoint(tx, self.consumer, position, state, last_at or utcnow())
            return len(new)

        new_cases = self.cases.write(work)
        self.position = position
        return IngestResult(len(observations), raised, new_cases, raised - new_cases, position)

    def _rows(self, violations: list[Violation]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                         list[dict[str, Any]], list[AuditEntry]]:
        vrows: list[dict[str, Any]] = []
        crows: list[dict[str, Any]] = []
        trows: list[dict[str, Any]] = []
        entries: list[AuditEntry] = []
        tariff, timers = self.tariff, self.timers
        for v in violations:
            at = v.observed_at
            token = self.detector.tokenizer.token(v.plate, at)
            loc = v.location
            cid = case_id_of(v.violation_id)
            vrows.append({
                "violation_id": v.violation_id, "code": v.code.value, "rule": v.rule,
                "rule_version": v.rule_version, "camera_id": v.camera_id, "observed_at": at,
                "plate_token": token, "vehicle_class": v.vehicle_class,
                "lon": None if loc is None else loc.lon, "lat": None if loc is None else loc.lat,
                "link_id": None if loc is None else loc.link_id, "measured": dict(v.measured),
                "created_at": at,
            })
            checked = v.plate_readable and v.plate_confidence >= self._min_conf
            path = [CaseState.CAPTURED, CaseState.AUTO_CHECKED, CaseState.PENDING_VERIFICATION] \
                if checked else [CaseState.CAPTURED, CaseState.PENDING_VERIFICATION]
            crows.append({
                "case_id": cid, "violation_id": v.violation_id, "code": v.code.value,
                "state": path[-1].value, "observed_at": at, "camera_id": v.camera_id,
                "plate": v.plate, "plate_confidence": v.plate_confidence, "plate_token": token,
                "vehicle_class": v.vehicle_class, "evidence": v.evidence(),
                "fine_idr": tariff.fine_idr(v.code), "points": tariff.points(v.code),
                "fines_version": tariff.fines_version, "points_version": tariff.points_version,
                "polda": timers.polda, "timers_version": timers.version,
                "owner_id": None, "owner_name": None, "owner_address": None, "driver_id": None,
                "va_number": None, "claimed_by": None, "claim_expires_at": None,
                "verified_by": None, "notice_due_at": None, "confirmation_due_at": None,
                "payment_due_at": None, "stnk_blocked": False, "outcome": None,
                "created_at": at, "updated_at": at, "closed_at": None, "transitions": len(path),
            })
            reasons = [f"{v.rule} raised {v.code.value} ({v.rule_version})"]
            if checked:
                reasons += [f"plate {v.plate_confidence:.2f} >= {self._min_conf:.2f}",
                            "queued for officer verification"]
            else:
                reasons += ["auto-check failed: plate missing, invalid or below "
                            f"{self._min_conf:.2f}; the officer reads it from the image"]
            prev: CaseState | None = None
            for seq, (state, reason) in enumerate(zip(path, reasons, strict=True)):
                trows.append({"case_id": cid, "seq": seq, "from_state": prev and prev.value,
                              "to_state": state.value, "at": at, "actor": SYSTEM, "reason": reason})
                entries.append(AuditEntry(at, SYSTEM, "case.transition", cid, reason, {
                    "from": prev and prev.value, "to": state.value,
                    **({"violation_id": v.violation_id, "plate_token": token} if prev is None else {}),
                }))
                prev = state
        return vrows, crows, trows, entries
