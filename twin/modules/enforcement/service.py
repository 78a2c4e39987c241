"""One object that wires the enforcement module together for a store and a clock."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from twin.clock import Clock
from twin.observations import Observation
from twin.store import Store

from .config import DetectionConfig, StrictModel
from .detector import Detector
from .ingest import Ingestor, IngestResult
from .payments import PaymentGateway
from .pseudonym import PlateTokenizer
from .registry import Registry
from .repository import BLOCKS, PAYMENTS, POINTS, REFUSALS, CaseStore
from .tar import Tar
from .tariff import load_tariff, load_timers
from .verification import VerificationQueue
from .workflow import CaseWorkflow


class EnforcementSettings(StrictModel):
    """Settings of the module (a scenario's ``[modules.enforcement]`` minus simulation keys).

    Attributes
    ----------
    polda : key of the Polda in the timers file
    fines_file, points_file, timers_file : paths of other data files (default: shipped)
    notice_delay_s : seconds from verification to the posted letter
    pseudonym_period_days : rotation period of the plate-token key
    detection : cameras, sections, corridors, tolerances
    """

    polda: str = "metro_jaya"
    fines_file: Path | None = None
    points_file: Path | None = None
    timers_file: Path | None = None
    notice_delay_s: float = Field(default=86400.0, ge=0)
    pseudonym_period_days: int = Field(default=30, ge=1)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)


class Enforcement:
    """The ETLE module over one store and one clock.

    Parameters
    ----------
    store : Store or CaseStore, migrated to revision 0002 or later
    clock : Clock, the twin's clock (timers and transition times)
    registry : Registry
    settings : EnforcementSettings
    pseudonym_key : bytes, master key of the plate tokens (keep it out of the database)
    callback_secret : bytes, HMAC key shared with the bank
    consumer : str, name of this process's stream checkpoint

    Attributes
    ----------
    cases, detector, ingestor, workflow, queue, gateway, tar : the parts, for direct use
    """

    def __init__(self, store: Store | CaseStore, clock: Clock, registry: Registry,
                 settings: EnforcementSettings, *, pseudonym_key: bytes, callback_secret: bytes,
                 consumer: str = "etle-detector") -> None:
        self.cases = store if isinstance(store, CaseStore) else CaseStore.of(store)
        self.clock = clock
        self.registry = registry
        self.settings = settings
        self.tariff = load_tariff(settings.fines_file, settings.points_file)
        self.timers = load_timers(settings.polda, settings.timers_file)
        self.tokenizer = PlateTokenizer(pseudonym_key, settings.pseudonym_period_days)
        self.detector = Detector(settings.detection, self.tokenizer)
        self.ingestor = Ingestor(self.cases, self.detector, self.tariff, self.timers, consumer)
        self.workflow = CaseWorkflow(clock, self.cases, registry, self.tariff, self.timers)
        self.queue = VerificationQueue(self.cases, registry, self.tokenizer, lambda: clock.now,
                                       notice_delay_s=settings.notice_delay_s,
                                       on_change=self.workflow.publish)
        self.gateway = PaymentGateway(self.cases, callback_secret, lambda: clock.now)
        self.tar = Tar(self.cases, registry, self.tariff)

    def ingest(self, observations: Sequence[Observation]) -> IngestResult:
        """Run a batch of observations through detection into persisted cases."""
        return self.ingestor.ingest(observations)

    def summary(self) -> dict[str, Any]:
        """Counts of every record kind and the audit verdict (JSON-ready)."""
        from .analytics import violation_counts

        c = self.cases
        report = c.verify_audit()
        return {
            "plate_reads": self.detector.counts.plate_reads,
            "emergency_exempt_reads": self.detector.counts.emergency_exempt,
            "violations_by_code": violation_counts(c),
            "cases_by_state": c.count_by_state(),
            "payments_accepted": c.count(PAYMENTS),
            "payments_refused": c.count(REFUSALS),
            "points_entries": c.count(POINTS),
            "stnk_blocks": c.count(BLOCKS),
            "audit_entries": report.entries,
            "audit_chain_ok": report.ok,
            "fines_version": self.tariff.fines_version,
            "points_version": self.tariff.points_version,
            "timers": f"{self.timers.polda} ({self.timers.version})",
        }
