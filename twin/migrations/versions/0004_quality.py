"""Public-service quality index: published scores per service, area and period.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``quality_scores``."""
    op.create_table(
        "quality_scores",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("index_version", sa.String(), nullable=False),
        sa.Column("area", sa.String(), nullable=False),
        sa.Column("period_kind", sa.String(), nullable=False),
        sa.Column("period_start", Timestamp, nullable=False),
        sa.Column("period_end", Timestamp, nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("grade", sa.String(), nullable=True),
        sa.Column("coverage", sa.Double(), nullable=False),
        sa.Column("objective", sa.Double(), nullable=True),
        sa.Column("ikm", sa.Double(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("computed_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_scores")),
        sa.UniqueConstraint("index_version", "area", "period_kind", "period_start", "period_end",
                            "service", name=op.f("uq_quality_scores_index_version")),
    )
    op.create_index("ix_quality_scores_area_service_period_start", "quality_scores",
                    ["area", "service", "period_start"])


def downgrade() -> None:
    """Drop ``quality_scores``."""
    op.drop_index("ix_quality_scores_area_service_period_start", table_name="quality_scores")
    op.drop_table("quality_scores")
