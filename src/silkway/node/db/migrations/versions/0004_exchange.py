"""the interstate exchange

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conformance_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=3), nullable=False),
        sa.Column("to_state", sa.String(length=3), nullable=False),
        sa.Column("scenario", sa.String(length=80), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conformance_results")),
    )
    with op.batch_alter_table("conformance_results", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conformance_pair", ["process", "from_state", "to_state", "id"], unique=False
        )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=45), nullable=True),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_dead_letters_resolved", ["resolved", "id"], unique=False)

    op.create_table(
        "inbox",
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_code", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=3), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("relates_to", sa.String(length=45), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbox")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_received_at", ["received_at"], unique=False)
        batch_op.create_index("ix_inbox_relates_to", ["relates_to"], unique=False)

    op.create_table(
        "journal",
        sa.Column("track_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("accept_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_code", sa.String(length=24), nullable=False),
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=3), nullable=False),
        sa.Column("to_state", sa.String(length=3), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("relates_to", sa.String(length=45), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("track_id", name=op.f("pk_journal")),
        sa.UniqueConstraint("message_id", name=op.f("uq_journal_message_id")),
    )
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.create_index("ix_journal_conversation", ["conversation_id"], unique=False)
        batch_op.create_index(
            "ix_journal_pair", ["from_state", "to_state", "process"], unique=False
        )

    op.create_table(
        "outbox_results",
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox_results")),
    )
    op.create_table(
        "partners",
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("in_operation", sa.Boolean(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("process", "state", name=op.f("pk_partners")),
    )
    op.create_table(
        "process_stages",
        sa.Column("process", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("process", "state", name=op.f("pk_process_stages")),
    )
    op.create_table(
        "processes",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("group_code", sa.String(length=4), nullable=False),
        sa.Column("legal_acts", sa.Text(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_processes")),
    )


def downgrade() -> None:
    op.drop_table("processes")
    op.drop_table("process_stages")
    op.drop_table("partners")
    op.drop_table("outbox_results")
    with op.batch_alter_table("journal", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_pair")
        batch_op.drop_index("ix_journal_conversation")

    op.drop_table("journal")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_relates_to")
        batch_op.drop_index("ix_inbox_received_at")

    op.drop_table("inbox")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_resolved")

    op.drop_table("dead_letters")
    with op.batch_alter_table("conformance_results", schema=None) as batch_op:
        batch_op.drop_index("ix_conformance_pair")

    op.drop_table("conformance_results")
