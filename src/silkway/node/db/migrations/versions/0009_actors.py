"""who acted, recorded wherever state changes

Revision ID: 0009
Revises: 0008

Every record a caller's action changes names the caller as ``role:subject@office from
address``: the movement event log and the guarantee history get room for it (200 characters),
and seals, seal activations, seal incidents, guarantors and holders get a column for who
registered, activated, closed or last changed them. Rows written before have none (NULL).

A process stage gets room for the longest stage name (``technical_documents_adopted``, 27
characters, which PostgreSQL refused in the 24 it had).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTOR = 200
_WIDENED = [
    ("movement_events", "actor", 40),
    ("guarantee_ledger", "actor", 40),
    ("guarantee_access_failures", "actor", 80),
    ("process_stages", "source", 120),
]
_STAGE = ("process_stages", "stage", 24, 32)
_ADDED = [
    ("seals", "registered_by"),
    ("seal_activations", "activated_by"),
    ("seal_incidents", "closed_by"),
    ("guarantors", "registered_by"),
    ("guarantee_holders", "changed_by"),
]


def upgrade() -> None:
    for table, column, was in _WIDENED:
        wide = _ACTOR + 120 if column == "source" else _ACTOR
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, type_=sa.String(length=wide), existing_type=sa.String(length=was)
            )
    for table, column in _ADDED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.String(length=_ACTOR), nullable=True))
    table, column, was, wide = _STAGE
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, type_=sa.String(wide), existing_type=sa.String(was))


def downgrade() -> None:
    table, column, was, wide = _STAGE
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column(column, type_=sa.String(was), existing_type=sa.String(wide))
    for table, column in reversed(_ADDED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
    for table, column, was in reversed(_WIDENED):
        wide = _ACTOR + 120 if column == "source" else _ACTOR
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column, type_=sa.String(length=was), existing_type=sa.String(length=wide)
            )
