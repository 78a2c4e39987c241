"""Dispatch (112 centre): incidents, calls and KPIs per run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_T = ("t_occurred_s", "t_ring_s", "t_answer_s", "t_classified_s", "t_dispatch_s",
      "t_enroute_s", "t_onscene_s", "t_patient_contact_s", "t_transport_s", "t_at_facility_s",
      "t_road_reopened_s", "t_clear_s", "t_closed_s")


def upgrade() -> None:
    """Create the dispatch tables."""
    op.create_table(
        "dispatch_incidents",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("injury", sa.String(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(), nullable=False),
        sa.Column("n_calls", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Double(), nullable=name != "t_occurred_s") for name in _T],
        sa.Column("units", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "incident_id", name=op.f("pk_dispatch_incidents")),
    )
    op.create_table(
        "dispatch_calls",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("call_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Boolean(), nullable=False),
        sa.Column("t_ring_s", sa.Double(), nullable=False),
        sa.Column("t_answer_s", sa.Double(), nullable=True),
        sa.Column("t_classified_s", sa.Double(), nullable=True),
        sa.Column("t_abandon_s", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "call_id", name=op.f("pk_dispatch_calls")),
    )
    op.create_table(
        "dispatch_kpis",
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "scope", "metric", name=op.f("pk_dispatch_kpis")),
    )


def downgrade() -> None:
    """Drop the dispatch tables."""
    op.drop_table("dispatch_kpis")
    op.drop_table("dispatch_calls")
    op.drop_table("dispatch_incidents")
