"""the guarantee registry and ledger

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_recoveries",
        sa.Column("recovery_key", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=72), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recovered_on", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_claim_recoveries_amount_positive")),
        sa.PrimaryKeyConstraint("recovery_key", name=op.f("pk_claim_recoveries")),
    )
    with op.batch_alter_table("claim_recoveries", schema=None) as batch_op:
        batch_op.create_index("ix_claim_recoveries_claim", ["claim_id"], unique=False)

    op.create_table(
        "duty_distributions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recovery_key", sa.String(length=64), nullable=False),
        sa.Column("claim_id", sa.String(length=72), nullable=False),
        sa.Column("recovered_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("tax", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("basis", sa.String(length=200), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_duty_distributions_amount_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_distributions")),
    )
    with op.batch_alter_table("duty_distributions", schema=None) as batch_op:
        batch_op.create_index("ix_duty_distributions_recovered_on", ["recovered_on"], unique=False)

    op.create_table(
        "guarantee_authorisations",
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("holder_id", sa.String(length=35), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("grn", "holder_id", name=op.f("pk_guarantee_authorisations")),
    )
    op.create_table(
        "guarantee_claims",
        sa.Column("claim_id", sa.String(length=72), nullable=False),
        sa.Column("lock_id", sa.String(length=64), nullable=False),
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("claim_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recovered", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recovered >= 0 AND recovered <= amount",
            name=op.f("ck_guarantee_claims_recovered_within_amount"),
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_guarantee_claims")),
        sa.UniqueConstraint("lock_id", name=op.f("uq_guarantee_claims_lock_id")),
    )
    with op.batch_alter_table("guarantee_claims", schema=None) as batch_op:
        batch_op.create_index("ix_guarantee_claims_grn", ["grn"], unique=False)

    op.create_table(
        "guarantee_holders",
        sa.Column("holder_id", sa.String(length=35), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("holder_id", name=op.f("pk_guarantee_holders")),
    )
    op.create_table(
        "guarantee_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=True),
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("lock_id", sa.String(length=64), nullable=True),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("request_amount", sa.BigInteger(), nullable=True),
        sa.Column("request_state", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reference_amount", sa.BigInteger(), nullable=False),
        sa.Column("locked", sa.BigInteger(), nullable=False),
        sa.Column("posted", sa.BigInteger(), nullable=False),
        sa.Column("lock_held", sa.BigInteger(), nullable=True),
        sa.Column("lock_credited", sa.BigInteger(), nullable=True),
        sa.Column("lock_posted", sa.BigInteger(), nullable=True),
        sa.Column("lock_released", sa.BigInteger(), nullable=True),
        sa.Column("lock_status", sa.String(length=10), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=512), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_ledger")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_guarantee_ledger_idempotency_key")),
    )
    with op.batch_alter_table("guarantee_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_guarantee_ledger_grn", ["grn", "id"], unique=False)

    op.create_table(
        "guarantee_locks",
        sa.Column("lock_id", sa.String(length=64), nullable=False),
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("minor_unit", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("credited", sa.BigInteger(), nullable=False),
        sa.Column("posted", sa.BigInteger(), nullable=False),
        sa.Column("released", sa.BigInteger(), nullable=False),
        sa.Column("last_change", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "(status = 'pending' AND held > 0) OR (status <> 'pending' AND held = 0)",
            name=op.f("ck_guarantee_locks_pending_iff_held"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_guarantee_locks_amount_positive")),
        sa.CheckConstraint(
            "held >= 0 AND credited >= 0 AND posted >= 0 AND released >= 0 AND amount = held + credited + posted + released",
            name=op.f("ck_guarantee_locks_adds_up"),
        ),
        sa.PrimaryKeyConstraint("lock_id", name=op.f("pk_guarantee_locks")),
    )
    with op.batch_alter_table("guarantee_locks", schema=None) as batch_op:
        batch_op.create_index("ix_guarantee_locks_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index("ix_guarantee_locks_grn", ["grn", "status"], unique=False)
        batch_op.create_index("ix_guarantee_locks_movement", ["movement_reference"], unique=False)

    op.create_table(
        "guarantees",
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("account_kind", sa.String(length=12), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_reason", sa.String(length=512), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference_amount", sa.BigInteger(), nullable=False),
        sa.Column("locked", sa.BigInteger(), nullable=False),
        sa.Column("posted", sa.BigInteger(), nullable=False),
        sa.Column("locks_placed", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("valid_states", sa.String(length=20), nullable=False),
        sa.Column("guarantor_id", sa.String(length=20), nullable=False),
        sa.Column("holder_id", sa.String(length=35), nullable=False),
        sa.Column("access_code_hash", sa.String(length=200), nullable=False),
        sa.Column("home_state", sa.String(length=3), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "account_kind IN ('guarantee', 'certificate')",
            name=op.f("ck_guarantees_account_kind_known"),
        ),
        sa.CheckConstraint(
            "scope IN ('single', 'general')", name=op.f("ck_guarantees_scope_known")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'revoked', 'expired')",
            name=op.f("ck_guarantees_status_known"),
        ),
        sa.CheckConstraint(
            "locked >= 0 AND posted >= 0 AND locked + posted <= reference_amount",
            name=op.f("ck_guarantees_never_over_committed"),
        ),
        sa.CheckConstraint(
            "locks_placed >= 0", name=op.f("ck_guarantees_locks_placed_not_negative")
        ),
        sa.CheckConstraint("reference_amount > 0", name=op.f("ck_guarantees_reference_positive")),
        sa.PrimaryKeyConstraint("grn", name=op.f("pk_guarantees")),
    )
    with op.batch_alter_table("guarantees", schema=None) as batch_op:
        batch_op.create_index("ix_guarantees_guarantor", ["guarantor_id"], unique=False)
        batch_op.create_index("ix_guarantees_holder", ["holder_id"], unique=False)

    op.create_table(
        "guarantors",
        sa.Column("guarantor_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("national_guarantor", sa.Boolean(), nullable=False),
        sa.Column("reduction_bp", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('bank', 'insurer', 'surety')", name=op.f("ck_guarantors_kind_known")
        ),
        sa.CheckConstraint(
            "reduction_bp >= 0 AND reduction_bp <= 10000",
            name=op.f("ck_guarantors_reduction_in_range"),
        ),
        sa.PrimaryKeyConstraint("guarantor_id", name=op.f("pk_guarantors")),
    )
    op.create_table(
        "security_certificates",
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("issued_by", sa.String(length=3), nullable=False),
        sa.Column("used_in", sa.String(length=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("holder_id", sa.String(length=35), nullable=False),
        sa.Column("holder_qualified", sa.Boolean(), nullable=False),
        sa.Column("guarantor_reduction_bp", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("lock_id", sa.String(length=64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('issued', 'received')",
            name=op.f("ck_security_certificates_direction_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('one_off', 'general')", name=op.f("ck_security_certificates_kind_known")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_security_certificates_amount_positive")),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_security_certificates")),
    )
    with op.batch_alter_table("security_certificates", schema=None) as batch_op:
        batch_op.create_index("ix_security_certificates_grn", ["grn"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("security_certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_security_certificates_grn")

    op.drop_table("security_certificates")
    op.drop_table("guarantors")
    with op.batch_alter_table("guarantees", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantees_holder")
        batch_op.drop_index("ix_guarantees_guarantor")

    op.drop_table("guarantees")
    with op.batch_alter_table("guarantee_locks", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantee_locks_movement")
        batch_op.drop_index("ix_guarantee_locks_grn")
        batch_op.drop_index("ix_guarantee_locks_deadline")

    op.drop_table("guarantee_locks")
    with op.batch_alter_table("guarantee_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantee_ledger_grn")

    op.drop_table("guarantee_ledger")
    op.drop_table("guarantee_holders")
    with op.batch_alter_table("guarantee_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantee_claims_grn")

    op.drop_table("guarantee_claims")
    op.drop_table("guarantee_authorisations")
    with op.batch_alter_table("duty_distributions", schema=None) as batch_op:
        batch_op.drop_index("ix_duty_distributions_recovered_on")

    op.drop_table("duty_distributions")
    with op.batch_alter_table("claim_recoveries", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_recoveries_claim")

    op.drop_table("claim_recoveries")
