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
