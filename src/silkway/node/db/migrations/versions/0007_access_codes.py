"""wrong access codes counted per guarantee; certificates keep their own access code's hash

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guarantee_access_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("grn", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_access_failures")),
    )
    with op.batch_alter_table("guarantee_access_failures", schema=None) as batch_op:
        batch_op.create_index("ix_guarantee_access_failures_grn", ["grn", "at"], unique=False)
    # Certificates issued before this revision carried the guarantee's hash and keep none.
    with op.batch_alter_table("security_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code_hash", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("security_certificates", schema=None) as batch_op:
        batch_op.drop_column("access_code_hash")
    with op.batch_alter_table("guarantee_access_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_guarantee_access_failures_grn")
    op.drop_table("guarantee_access_failures")
