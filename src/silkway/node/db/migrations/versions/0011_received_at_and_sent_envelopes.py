"""when the bus took each dead letter, and the envelopes as sent

Revision ID: 0011
Revises: 0010

A dead letter retried days later is judged as fresh as when the bus took it, as it would have
been on its first delivery; letters from before this revision have no such time and are judged
at their retry. ``sent_envelopes`` keeps the signed bytes of every envelope a node put on the
bus, as ``received_envelopes`` keeps what it opened: the answer in a message's evidence is the
one that was sent.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sent_envelopes",
        sa.Column("message_id", sa.String(length=45), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_sent_envelopes")),
    )


def downgrade() -> None:
    op.drop_table("sent_envelopes")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("received_at")
