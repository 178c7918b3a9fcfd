"""problems the ledger keeps for an operator

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guarantee_problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("grn", sa.String(length=24), nullable=True),
        sa.Column("lock_id", sa.String(length=64), nullable=True),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_problems")),
    )
    with op.batch_alter_table("guarantee_problems", schema=None) as batch_op:
        batch_op.create_index("ix_guarantee_problems_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guarantee_problems", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantee_problems_at")
    op.drop_table("guarantee_problems")
