"""Dispatch incidents record their area (the station nearest when they occurred).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``dispatch_incidents.area`` (NULL for incidents stored before it existed)."""
    op.add_column("dispatch_incidents", sa.Column("area", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop ``dispatch_incidents.area``."""
    with op.batch_alter_table("dispatch_incidents") as batch:
        batch.drop_column("area")
