"""The store's tables as a typed SQLAlchemy 2 ORM model.

The Alembic migrations under ``twin/migrations/versions`` create exactly these
tables; ``tests/twin/test_store.py`` checks that the two never drift apart.
Every timestamp is stored in UTC (:class:`UTCDateTime`), every JSON column is
written with ``allow_nan=False`` so SQLite and PostgreSQL accept the same data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so later migrations (and SQLite batch mode) can name them."""

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit surrogate key; ``INTEGER`` on SQLite so it aliases the rowid."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores the UTC wall time as text
    (fixed width, so text order is time order). Naive datetimes are refused on
    the way in; values always come back aware, in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert ``value`` to UTC (naive on SQLite, which has no zone)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} is a naive datetime; the store needs a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return ``value`` as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every store table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class RunRow(Base):
    """One scenario run (simulated) or live session."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    scenario: Mapped[str] = mapped_column(String)
    """Scenario name."""
    scenario_hash: Mapped[str | None] = mapped_column(String)
    """Hash of the scenario file's bytes (which exact file was run)."""
    seed: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String)
    """``running``, then ``finished`` or ``failed`` (or any caller-chosen word)."""
    summary: Mapped[dict[str, Any] | None]


class ObservationRow(Base):
    """One stored :class:`twin.observations.Observation`, unique by ``event_id``."""

    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_kind_observed_at", "kind", "observed_at"),
        Index("ix_observations_source_id_observed_at", "source_id", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String, unique=True)
    kind: Mapped[str] = mapped_column(String)
    source_id: Mapped[str] = mapped_column(String)
    observed_at: Mapped[datetime] = mapped_column(index=True)
    """The observation time in UTC."""
    utc_offset_s: Mapped[int] = mapped_column(Integer)
    """The UTC offset the observation was made with, so it reads back as given."""
    lon: Mapped[float | None] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)
    link_id: Mapped[str | None] = mapped_column(String)
    pos_m: Mapped[float | None] = mapped_column(Double)
    lane: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]]
    schema_version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.run_id"), index=True)
    received_at: Mapped[datetime]
    """When the store wrote the row (UTC)."""


class QuarantineRow(Base):
    """Input that could not be accepted, kept verbatim for an operator to inspect."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(String)
    """The adapter or device that delivered the input."""
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class LinkIntervalRow(Base):
    """Per-link traffic aggregate over one interval of one run."""

    __tablename__ = "link_intervals"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    link_id: Mapped[str] = mapped_column(String, primary_key=True)
    interval_start_s: Mapped[float] = mapped_column(Double, primary_key=True)
    """Interval start, seconds of run time."""
    mean_speed_mps: Mapped[float | None] = mapped_column(Double)
    """Space-mean speed in m/s; NULL when no vehicle was seen."""
    vehicle_count: Mapped[int] = mapped_column(Integer)
    flow_vph: Mapped[float] = mapped_column(Double)
    """Flow in vehicles per hour."""


# -- enforcement (ETLE) records: twin/modules/enforcement, migration 0002 ------------------
# Here, not in the module, because Alembic (twin/migrations/env.py) and the drift check
# compare the database against this one metadata. Owner data and plates in clear live
# only in etle_cases (and etle_stnk_blocks, the Regident-side block); violations and
# every analytics view carry keyed plate tokens.


class EtleViolationRow(Base):
    """One detected violation with its rule, unique by ``violation_id`` (no plate in clear)."""

    __tablename__ = "etle_violations"

    violation_id: Mapped[str] = mapped_column(String, primary_key=True)
    """``{rule}:{source event id}``: the same camera event always maps to the same id."""
    code: Mapped[str] = mapped_column(String)
    rule: Mapped[str] = mapped_column(String)
    rule_version: Mapped[str] = mapped_column(String)
    camera_id: Mapped[str] = mapped_column(String)
    observed_at: Mapped[datetime] = mapped_column(index=True)
    plate_token: Mapped[str | None] = mapped_column(String, index=True)
    """HMAC pseudonym of the plate (twin.modules.enforcement.pseudonym)."""
    vehicle_class: Mapped[str | None] = mapped_column(String)
    lon: Mapped[float | None] = mapped_column(Double)
    lat: Mapped[float | None] = mapped_column(Double)
    link_id: Mapped[str | None] = mapped_column(String)
    measured: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class EtleCaseRow(Base):
    """The case of one violation: its workflow state, owner, ticket and deadlines."""

    __tablename__ = "etle_cases"
    __table_args__ = (Index("ix_etle_cases_state_observed_at", "state", "observed_at"),)

    case_id: Mapped[str] = mapped_column(String, primary_key=True)
    violation_id: Mapped[str] = mapped_column(ForeignKey("etle_violations.violation_id"), unique=True)
    code: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    observed_at: Mapped[datetime]
    camera_id: Mapped[str] = mapped_column(String)
    plate: Mapped[str | None] = mapped_column(String)
    plate_confidence: Mapped[float] = mapped_column(Double)
    plate_token: Mapped[str | None] = mapped_column(String)
    vehicle_class: Mapped[str | None] = mapped_column(String)
    evidence: Mapped[dict[str, Any]]
    fine_idr: Mapped[int] = mapped_column(BigInteger)
    """Ticket amount in rupiah, from the fine table version ``fines_version``."""
    points: Mapped[int] = mapped_column(Integer)
    fines_version: Mapped[str] = mapped_column(String)
    points_version: Mapped[str] = mapped_column(String)
    polda: Mapped[str] = mapped_column(String)
    timers_version: Mapped[str] = mapped_column(String)
    owner_id: Mapped[str | None] = mapped_column(String)
    owner_name: Mapped[str | None] = mapped_column(String)
    owner_address: Mapped[str | None] = mapped_column(Text)
    driver_id: Mapped[str | None] = mapped_column(String, index=True)
    """The confirmed driver, whose SIM takes the points."""
    va_number: Mapped[str | None] = mapped_column(String, unique=True)
    claimed_by: Mapped[str | None] = mapped_column(String)
    claim_expires_at: Mapped[datetime | None]
    verified_by: Mapped[str | None] = mapped_column(String)
    notice_due_at: Mapped[datetime | None]
    confirmation_due_at: Mapped[datetime | None]
    payment_due_at: Mapped[datetime | None]
    stnk_blocked: Mapped[bool]
    outcome: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    transitions: Mapped[int] = mapped_column(Integer)
    """How many transitions the case has had (the next one's ``seq``)."""


class EtleTransitionRow(Base):
    """One state change of a case: who, when, why."""

    __tablename__ = "etle_transitions"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("etle_cases.case_id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String)
    to_state: Mapped[str] = mapped_column(String)
    at: Mapped[datetime]
    """Twin time of the change (simulated in scenarios, wall time live)."""
    actor: Mapped[str] = mapped_column(String)
    reason: Mapped[str] = mapped_column(Text)


class EtlePaymentRow(Base):
    """An accepted virtual-account payment, unique by the bank's payment reference."""

    __tablename__ = "etle_payments"

    payment_ref: Mapped[str] = mapped_column(String, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("etle_cases.case_id"), unique=True)
    va_number: Mapped[str] = mapped_column(String)
    amount_idr: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime]
    received_at: Mapped[datetime]
    bank: Mapped[str] = mapped_column(String)
    body_sha256: Mapped[str] = mapped_column(String)


class EtlePaymentRefusalRow(Base):
    """A payment callback that was refused, with the reason and the body as received."""

    __tablename__ = "etle_payment_refusals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    payment_ref: Mapped[str | None] = mapped_column(String)
    va_number: Mapped[str | None] = mapped_column(String)
    amount_idr: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)


class EtlePointsRow(Base):
    """A demerit-point entry on a driver's SIM, unique by its source (case or accident)."""

    __tablename__ = "etle_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_ref: Mapped[str] = mapped_column(String, unique=True)
    driver_id: Mapped[str] = mapped_column(String, index=True)
    kind: Mapped[str] = mapped_column(String)
    """``violation`` or ``accident``."""
    code: Mapped[str] = mapped_column(String)
    points: Mapped[int] = mapped_column(Integer)
    case_id: Mapped[str | None] = mapped_column(String)
    awarded_at: Mapped[datetime]
    points_version: Mapped[str] = mapped_column(String)


class EtleStnkBlockRow(Base):
    """The STNK block a case placed, and when paying lifted it."""

    __tablename__ = "etle_stnk_blocks"

    case_id: Mapped[str] = mapped_column(ForeignKey("etle_cases.case_id"), primary_key=True)
    plate: Mapped[str] = mapped_column(String, index=True)
    reason: Mapped[str] = mapped_column(String)
    blocked_at: Mapped[datetime]
    lifted_at: Mapped[datetime | None]


class EtleAuditRow(Base):
    """One entry of the append-only, hash-chained audit log (who, what, when, why)."""

    __tablename__ = "etle_audit"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    """Twin time of the act."""
    recorded_at: Mapped[datetime]
    """Wall time the entry was written."""
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    case_id: Mapped[str | None] = mapped_column(String, index=True)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String)
    hash: Mapped[str] = mapped_column(String, unique=True)


class EtleCheckpointRow(Base):
    """How far a stream consumer got, committed with the records it produced."""

    __tablename__ = "etle_checkpoints"

    consumer: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class DispatchIncidentRow(Base):
    """One incident of a dispatch run with its section 2.2 timestamps (seconds since the
    run's start, NULL until reached)."""

    __tablename__ = "dispatch_incidents"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String, primary_key=True)
    type: Mapped[str] = mapped_column(String)
    injury: Mapped[str] = mapped_column(String)
    priority: Mapped[int] = mapped_column(Integer)
    link_id: Mapped[str] = mapped_column(String)
    n_calls: Mapped[int] = mapped_column(Integer)
    area: Mapped[str | None] = mapped_column(String)
    """The station nearest by travel time when it occurred (NULL before migration 0005)."""
    t_occurred_s: Mapped[float] = mapped_column(Double)
    t_ring_s: Mapped[float | None] = mapped_column(Double)
    t_answer_s: Mapped[float | None] = mapped_column(Double)
    t_classified_s: Mapped[float | None] = mapped_column(Double)
    t_dispatch_s: Mapped[float | None] = mapped_column(Double)
    t_enroute_s: Mapped[float | None] = mapped_column(Double)
    t_onscene_s: Mapped[float | None] = mapped_column(Double)
    t_patient_contact_s: Mapped[float | None] = mapped_column(Double)
    t_transport_s: Mapped[float | None] = mapped_column(Double)
    t_at_facility_s: Mapped[float | None] = mapped_column(Double)
    t_road_reopened_s: Mapped[float | None] = mapped_column(Double)
    t_clear_s: Mapped[float | None] = mapped_column(Double)
    t_closed_s: Mapped[float | None] = mapped_column(Double)
    units: Mapped[dict[str, Any]]
    """Kind -> {unit, t_dispatch, t_enroute, t_onscene} of each unit sent."""


class DispatchCallRow(Base):
    """One call to the 112 centre in a dispatch run (seconds since the run's start)."""

    __tablename__ = "dispatch_calls"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    call_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String)
    """``normal``, ``ghost``, ``prank`` or ``info``."""
    incident_id: Mapped[str | None] = mapped_column(String)
    priority: Mapped[int] = mapped_column(Integer)
    duplicate: Mapped[bool]
    t_ring_s: Mapped[float] = mapped_column(Double)
    t_answer_s: Mapped[float | None] = mapped_column(Double)
    t_classified_s: Mapped[float | None] = mapped_column(Double)
    t_abandon_s: Mapped[float | None] = mapped_column(Double)


class DispatchKpiRow(Base):
    """One KPI value of a dispatch run, e.g. scope ``ambulance``, metric ``total_response_s.p90``."""

    __tablename__ = "dispatch_kpis"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    scope: Mapped[str] = mapped_column(String, primary_key=True)
    """``calls``, ``overall``, a unit kind (service), or ``utilisation``."""
    metric: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)
# -- public-service quality index: twin/modules/quality, migration 0003 --------------------


class QualityScoreRow(Base):
    """One published score of a service (or ``AAI``) for one area and period, with its
    KPI explanation records, so trends can be plotted and every number recomputed."""

    __tablename__ = "quality_scores"
    __table_args__ = (
        UniqueConstraint("index_version", "area", "period_kind", "period_start", "period_end",
                         "service"),
        Index("ix_quality_scores_area_service_period_start", "area", "service", "period_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    index_version: Mapped[str] = mapped_column(String)
    area: Mapped[str] = mapped_column(String)
    period_kind: Mapped[str] = mapped_column(String)
    """``rolling`` (a window ending at publication) or ``month`` (a calendar month)."""
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    service: Mapped[str] = mapped_column(String)
    """One of the six services, or ``AAI`` for the accountability index."""
    status: Mapped[str] = mapped_column(String)
    """``ok`` or ``insufficient data`` (then ``score`` and ``grade`` are NULL)."""
    score: Mapped[float | None] = mapped_column(Double)
    """The final score on the IKM 25-100 scale."""
    grade: Mapped[str | None] = mapped_column(String)
    coverage: Mapped[float] = mapped_column(Double)
    objective: Mapped[float | None] = mapped_column(Double)
    """S_s, the 0-100 objective score (NULL for the AAI)."""
    ikm: Mapped[float | None] = mapped_column(Double)
    explanation: Mapped[dict[str, Any]]
    """``{"explanations": [...]}``: the KPI records the score was computed from."""
    computed_at: Mapped[datetime]


# -- dashboard accounts: twin/accounts, migration 0006 ------------------------------------


class UserRow(Base):
    """One dashboard account: a name, one role and a salted password hash (never the password)."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    role: Mapped[str] = mapped_column(String)
    password_hash: Mapped[str] = mapped_column(String)
    """``scrypt$n$r$p$salt$digest`` (base64 salt and digest): :mod:`twin.accounts.passwords`."""
    disabled: Mapped[int] = mapped_column(Integer)
    """1 when the account may no longer log in (accounts are disabled, never deleted)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AccessAuditRow(Base):
    """One entry of the append-only, hash-chained access log: who saw or did what, when, why."""

    __tablename__ = "access_audit"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String, index=True)
    role: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    """``login``, ``login.refused``, ``logout``, ``denied``, ``personal_data.view`` ..."""
    subject: Mapped[str | None] = mapped_column(String)
    """What was seen or refused: a page path, a case or driver id."""
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String)
    hash: Mapped[str] = mapped_column(String, unique=True)


# -- dispatch board: twin/modules/dispatch/board.py, migration 0007 ------------------------


class DispatchBoardRow(Base):
    """When a dispatch run's board (units, candidate units) was last saved, and by which policy."""

    __tablename__ = "dispatch_board"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    t_now_s: Mapped[float] = mapped_column(Double)
    """The model's clock at the save (seconds since the run's start)."""
    policy: Mapped[str] = mapped_column(String)
    saved_at: Mapped[datetime]


class DispatchUnitRow(Base):
    """One unit of a dispatch run as it stood when the board was saved."""

    __tablename__ = "dispatch_units"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    unit_id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String)
    station: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    """One of :data:`twin.modules.dispatch.units.STATUSES`."""
    incident_id: Mapped[str | None] = mapped_column(String)
    link_id: Mapped[str | None] = mapped_column(String)
    """Link of its last reported position (NULL: at its station)."""
    busy_s: Mapped[float] = mapped_column(Double)


class DispatchCandidateRow(Base):
    """An available unit that could be sent to an open incident for a kind it still needs."""

    __tablename__ = "dispatch_candidates"

    run_id: Mapped[str] = mapped_column(String, primary_key=True)
    incident_id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str] = mapped_column(String, primary_key=True)
    unit_id: Mapped[str] = mapped_column(String, primary_key=True)
    eta_s: Mapped[float | None] = mapped_column(Double)
    """Travel seconds on the travel times of the save (NULL: unreachable)."""
    rank: Mapped[int] = mapped_column(Integer)
    """0 for the policy's recommendation, then by ETA."""
    recommended: Mapped[bool]


class DispatchOverrideRow(Base):
    """An operator's override: send this unit for this kind of this incident (latest wins)."""

    __tablename__ = "dispatch_overrides"
    __table_args__ = (Index("ix_dispatch_overrides_run_id", "run_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String)
    incident_id: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    unit_id: Mapped[str] = mapped_column(String)
    recommended_unit_id: Mapped[str | None] = mapped_column(String)
    """What the policy recommended when the override was recorded."""
    actor: Mapped[str] = mapped_column(String)
    recorded_at: Mapped[datetime]
