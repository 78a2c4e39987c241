"""Dashboard accounts (``users``) and the append-only, hash-chained ``access_audit`` log.

Triggers refuse UPDATE and DELETE on ``access_audit`` (SQLite and PostgreSQL), as for
``etle_audit`` in 0002.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)

_APPEND_ONLY_PG = """
CREATE FUNCTION access_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'access_audit is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_audit_no_update BEFORE UPDATE OR DELETE ON access_audit
    FOR EACH ROW EXECUTE FUNCTION access_audit_append_only();
"""


def upgrade() -> None:
    """Create ``users``, ``access_audit`` and the audit triggers."""
    op.create_table(
        "users",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("disabled", sa.Integer(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "access_audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_audit")),
        sa.UniqueConstraint("hash", name=op.f("uq_access_audit_hash")),
    )
    op.create_index(op.f("ix_access_audit_actor"), "access_audit", ["actor"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_audit_no_{verb.lower()} BEFORE {verb} ON access_audit "
                f"BEGIN SELECT RAISE(ABORT, 'access_audit is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_audit_no_update ON access_audit")
        op.execute("DROP FUNCTION IF EXISTS access_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS access_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS access_audit_no_delete")
    op.drop_index(op.f("ix_access_audit_actor"), table_name="access_audit")
    op.drop_table("access_audit")
    op.drop_table("users")
