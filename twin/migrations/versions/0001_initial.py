"""Initial schema: runs, observations, quarantine, link_intervals.

Revision ID: 0001
Revises:
Create Date: 2025-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("scenario", sa.String(), nullable=False),
        sa.Column("scenario_hash", sa.String(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp, nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_table(
        "observations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("observed_at", Timestamp, nullable=False),
        sa.Column("utc_offset_s", sa.Integer(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("link_id", sa.String(), nullable=True),
        sa.Column("pos_m", sa.Double(), nullable=True),
        sa.Column("lane", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_observations_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("event_id", name=op.f("uq_observations_event_id")),
    )
    op.create_index(
        "ix_observations_kind_observed_at", "observations", ["kind", "observed_at"]
    )
    op.create_index(
        "ix_observations_source_id_observed_at", "observations", ["source_id", "observed_at"]
    )
    op.create_index(op.f("ix_observations_observed_at"), "observations", ["observed_at"])
    op.create_index(op.f("ix_observations_run_id"), "observations", ["run_id"])
    op.create_table(
        "quarantine",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_received_at"), "quarantine", ["received_at"])
    op.create_table(
        "link_intervals",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("link_id", sa.String(), nullable=False),
        sa.Column("interval_start_s", sa.Double(), nullable=False),
        sa.Column("mean_speed_mps", sa.Double(), nullable=True),
        sa.Column("vehicle_count", sa.Integer(), nullable=False),
        sa.Column("flow_vph", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name=op.f("fk_link_intervals_run_id_runs")
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "link_id", "interval_start_s", name=op.f("pk_link_intervals")
        ),
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("link_intervals")
    op.drop_index(op.f("ix_quarantine_received_at"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_observations_run_id"), table_name="observations")
    op.drop_index(op.f("ix_observations_observed_at"), table_name="observations")
    op.drop_index("ix_observations_source_id_observed_at", table_name="observations")
    op.drop_index("ix_observations_kind_observed_at", table_name="observations")
    op.drop_table("observations")
    op.drop_table("runs")
