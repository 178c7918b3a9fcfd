"""anchors of the hash-chained logs, and the envelopes as received

Revision ID: 0010
Revises: 0009

``received_envelopes`` keeps the signed bytes of every envelope a node opened (the evidence of a
message, and the Commission's copy of each anchor); ``anchors_taken`` is a node's own copy of the
anchors it sent, with each movement's last record; ``anchors_kept`` is the Commission's list of
every node's anchors.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "received_envelopes",
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_received_envelopes")),
    )
    op.create_table(
        "anchors_taken",
        sa.Column("anchor_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("chains", sa.JSON(), nullable=False),
        sa.Column("movement_heads", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("anchor_id", name=op.f("pk_anchors_taken")),
    )
    with op.batch_alter_table("anchors_taken", schema=None) as batch_op:
        batch_op.create_index("ix_anchors_taken_taken_at", ["taken_at"], unique=False)
    op.create_table(
        "anchors_kept",
        sa.Column("anchor_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=3), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("chains", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("anchor_id", name=op.f("pk_anchors_kept")),
    )
    with op.batch_alter_table("anchors_kept", schema=None) as batch_op:
        batch_op.create_index("ix_anchors_kept_state", ["state", "taken_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anchors_kept", schema=None) as batch_op:
        batch_op.drop_index("ix_anchors_kept_state")
    op.drop_table("anchors_kept")
    with op.batch_alter_table("anchors_taken", schema=None) as batch_op:
        batch_op.drop_index("ix_anchors_taken_taken_at")
    op.drop_table("anchors_taken")
    op.drop_table("received_envelopes")
