"""Enforcement (ETLE): violations, cases, transitions, payments, points, STNK blocks, audit.

The audit log is append-only in the database too: triggers refuse UPDATE and DELETE on
``etle_audit`` (SQLite and PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-02

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

_APPEND_ONLY_PG = """
CREATE FUNCTION etle_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'etle_audit is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER etle_audit_no_update BEFORE UPDATE OR DELETE ON etle_audit
    FOR EACH ROW EXECUTE FUNCTION etle_audit_append_only();
"""


def upgrade() -> None:
    """Create the enforcement tables, their indexes and the audit triggers."""
    op.create_table(
        "etle_violations",
        sa.Column("violation_id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("rule_version", sa.String(), nullable=False),
        sa.Column("camera_id", sa.String(), nullable=False),
        sa.Column("observed_at", Timestamp, nullable=False),
        sa.Column("plate_token", sa.String(), nullable=True),
        sa.Column("vehicle_class", sa.String(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("link_id", sa.String(), nullable=True),
        sa.Column("measured", sa.JSON(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("violation_id", name=op.f("pk_etle_violations")),
    )
    op.create_index(op.f("ix_etle_violations_observed_at"), "etle_violations", ["observed_at"])
    op.create_index(op.f("ix_etle_violations_plate_token"), "etle_violations", ["plate_token"])
    op.create_table(
        "etle_cases",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("violation_id", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("observed_at", Timestamp, nullable=False),
        sa.Column("camera_id", sa.String(), nullable=False),
        sa.Column("plate", sa.String(), nullable=True),
        sa.Column("plate_confidence", sa.Double(), nullable=False),
        sa.Column("plate_token", sa.String(), nullable=True),
        sa.Column("vehicle_class", sa.String(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("fine_idr", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("fines_version", sa.String(), nullable=False),
        sa.Column("points_version", sa.String(), nullable=False),
        sa.Column("polda", sa.String(), nullable=False),
        sa.Column("timers_version", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("owner_name", sa.String(), nullable=True),
        sa.Column("owner_address", sa.Text(), nullable=True),
        sa.Column("driver_id", sa.String(), nullable=True),
        sa.Column("va_number", sa.String(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("claim_expires_at", Timestamp, nullable=True),
        sa.Column("verified_by", sa.String(), nullable=True),
        sa.Column("notice_due_at", Timestamp, nullable=True),
        sa.Column("confirmation_due_at", Timestamp, nullable=True),
        sa.Column("payment_due_at", Timestamp, nullable=True),
        sa.Column("stnk_blocked", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("closed_at", Timestamp, nullable=True),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["violation_id"], ["etle_violations.violation_id"],
                                name=op.f("fk_etle_cases_violation_id_etle_violations")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_etle_cases")),
        sa.UniqueConstraint("va_number", name=op.f("uq_etle_cases_va_number")),
        sa.UniqueConstraint("violation_id", name=op.f("uq_etle_cases_violation_id")),
    )
    op.create_index("ix_etle_cases_state_observed_at", "etle_cases", ["state", "observed_at"])
    op.create_index(op.f("ix_etle_cases_driver_id"), "etle_cases", ["driver_id"])
    op.create_table(
        "etle_transitions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(), nullable=True),
        sa.Column("to_state", sa.String(), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["etle_cases.case_id"],
                                name=op.f("fk_etle_transitions_case_id_etle_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etle_transitions")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_etle_transitions_case_id")),
    )
    op.create_index(op.f("ix_etle_transitions_case_id"), "etle_transitions", ["case_id"])
    op.create_table(
        "etle_payments",
        sa.Column("payment_ref", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("va_number", sa.String(), nullable=False),
        sa.Column("amount_idr", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", Timestamp, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("bank", sa.String(), nullable=False),
        sa.Column("body_sha256", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["etle_cases.case_id"],
                                name=op.f("fk_etle_payments_case_id_etle_cases")),
        sa.PrimaryKeyConstraint("payment_ref", name=op.f("pk_etle_payments")),
        sa.UniqueConstraint("case_id", name=op.f("uq_etle_payments_case_id")),
    )
    op.create_table(
        "etle_payment_refusals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("payment_ref", sa.String(), nullable=True),
        sa.Column("va_number", sa.String(), nullable=True),
        sa.Column("amount_idr", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etle_payment_refusals")),
    )
    op.create_index(op.f("ix_etle_payment_refusals_received_at"), "etle_payment_refusals",
                    ["received_at"])
    op.create_table(
        "etle_points",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source_ref", sa.String(), nullable=False),
        sa.Column("driver_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=True),
        sa.Column("awarded_at", Timestamp, nullable=False),
        sa.Column("points_version", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etle_points")),
        sa.UniqueConstraint("source_ref", name=op.f("uq_etle_points_source_ref")),
    )
    op.create_index(op.f("ix_etle_points_driver_id"), "etle_points", ["driver_id"])
    op.create_table(
        "etle_stnk_blocks",
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("plate", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("blocked_at", Timestamp, nullable=False),
        sa.Column("lifted_at", Timestamp, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["etle_cases.case_id"],
                                name=op.f("fk_etle_stnk_blocks_case_id_etle_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_etle_stnk_blocks")),
    )
    op.create_index(op.f("ix_etle_stnk_blocks_plate"), "etle_stnk_blocks", ["plate"])
    op.create_table(
        "etle_audit",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("recorded_at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_etle_audit")),
        sa.UniqueConstraint("hash", name=op.f("uq_etle_audit_hash")),
    )
    op.create_index(op.f("ix_etle_audit_case_id"), "etle_audit", ["case_id"])
    op.create_table(
        "etle_checkpoints",
        sa.Column("consumer", sa.String(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("consumer", name=op.f("pk_etle_checkpoints")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_APPEND_ONLY_PG)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER etle_audit_no_{verb.lower()} BEFORE {verb} ON etle_audit "
                f"BEGIN SELECT RAISE(ABORT, 'etle_audit is append-only: {verb} refused'); END"
            )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS etle_audit_no_update ON etle_audit")
        op.execute("DROP FUNCTION IF EXISTS etle_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS etle_audit_no_update")
        op.execute("DROP TRIGGER IF EXISTS etle_audit_no_delete")
    op.drop_table("etle_checkpoints")
    op.drop_index(op.f("ix_etle_audit_case_id"), table_name="etle_audit")
    op.drop_table("etle_audit")
    op.drop_index(op.f("ix_etle_stnk_blocks_plate"), table_name="etle_stnk_blocks")
    op.drop_table("etle_stnk_blocks")
    op.drop_index(op.f("ix_etle_points_driver_id"), table_name="etle_points")
    op.drop_table("etle_points")
    op.drop_index(op.f("ix_etle_payment_refusals_received_at"), table_name="etle_payment_refusals")
    op.drop_table("etle_payment_refusals")
    op.drop_table("etle_payments")
    op.drop_index(op.f("ix_etle_transitions_case_id"), table_name="etle_transitions")
    op.drop_table("etle_transitions")
    op.drop_index(op.f("ix_etle_cases_driver_id"), table_name="etle_cases")
    op.drop_index("ix_etle_cases_state_observed_at", table_name="etle_cases")
    op.drop_table("etle_cases")
    op.drop_index(op.f("ix_etle_violations_plate_token"), table_name="etle_violations")
    op.drop_index(op.f("ix_etle_violations_observed_at"), table_name="etle_violations")
    op.drop_table("etle_violations")
