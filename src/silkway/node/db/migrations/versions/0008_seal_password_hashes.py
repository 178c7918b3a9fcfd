"""device passwords kept as Argon2id hashes only

Revision ID: 0008
Revises: 0007

Every Wialon IPS password the registry held in clear is replaced by its Argon2id hash, and the
clear column goes. A downgrade cannot bring the passwords back: it leaves them unset, so those
devices must be given their password again (``silkway seals register`` after removal, or the
registry's own tools).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from silkway.seals.passwords import hash_password

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_seals = sa.table(
    "seals",
    sa.column("id", sa.Integer()),
    sa.column("password", sa.String(length=32)),
    sa.column("password_hash", sa.String(length=128)),
)


def upgrade() -> None:
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=128), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_seals.c.id, _seals.c.password).where(_seals.c.password.is_not(None))
    ).all()
    for key, password in rows:
        connection.execute(
            sa.update(_seals)
            .where(_seals.c.id == key)
            .values(password_hash=hash_password(password), password=None)
        )
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_column("password")


def downgrade() -> None:
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password", sa.String(length=32), nullable=True))
        batch_op.drop_column("password_hash")
