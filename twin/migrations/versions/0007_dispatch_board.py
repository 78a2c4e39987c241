"""Dispatch board: units and candidate units as last saved, and operator overrides.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``dispatch_board``, ``dispatch_units``, ``dispatch_candidates``, ``dispatch_overrides``."""
    op.create_table(
        "dispatch_board",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("t_now_s", sa.Double(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("saved_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_dispatch_board")),
    )
    op.create_table(
        "dispatch_units",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("station", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=True),
        sa.Column("link_id", sa.String(), nullable=True),
        sa.Column("busy_s", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "unit_id", name=op.f("pk_dispatch_units")),
    )
    op.create_table(
        "dispatch_candidates",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("eta_s", sa.Double(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("recommended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "incident_id", "kind", "unit_id",
                                name=op.f("pk_dispatch_candidates")),
    )
    op.create_table(
        "dispatch_overrides",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True,
                  nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("unit_id", sa.String(), nullable=False),
        sa.Column("recommended_unit_id", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_overrides")),
    )
    op.create_index("ix_dispatch_overrides_run_id", "dispatch_overrides", ["run_id"],
                    unique=False)


def downgrade() -> None:
    """Drop the dispatch board tables."""
    op.drop_index("ix_dispatch_overrides_run_id", table_name="dispatch_overrides")
    op.drop_table("dispatch_overrides")
    op.drop_table("dispatch_candidates")
    op.drop_table("dispatch_units")
    op.drop_table("dispatch_board")
