"""navigation seals, positions and incidents

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seal_id", sa.String(length=35), nullable=False),
        sa.Column("operator", sa.String(length=3), nullable=False),
        sa.Column("protocol", sa.String(length=12), nullable=False),
        sa.Column("device_id", sa.String(length=35), nullable=False),
        sa.Column("password", sa.String(length=32), nullable=True),
        sa.Column("reporting_period_s", sa.Integer(), nullable=False),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("firmware", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
        sa.UniqueConstraint("device_id", name=op.f("uq_seals_device_id")),
        sa.UniqueConstraint("seal_id", name=op.f("uq_seals_seal_id")),
    )
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.create_index("ix_seals_operator_status", ["operator", "status"], unique=False)

    op.create_table(
        "seal_activations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seal_key", sa.Integer(), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_limit", sa.Date(), nullable=False),
        sa.Column("reporting_period_s", sa.Integer(), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("operators", sa.JSON(), nullable=False),
        sa.Column("track", sa.JSON(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=True),
        sa.Column("silent_after_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_activations")),
    )
    with op.batch_alter_table("seal_activations", schema=None) as batch_op:
        batch_op.create_index("ix_seal_activations_movement", ["movement_reference"], unique=False)
        batch_op.create_index("ix_seal_activations_seal", ["seal_key", "status"], unique=False)
        batch_op.create_index(
            "ix_seal_activations_silence", ["status", "silent_after_ms"], unique=False
        )

    op.create_table(
        "seal_positions",
        sa.Column("seal_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("t_ms", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column("lat_e6", sa.Integer(), nullable=False),
        sa.Column("lon_e6", sa.Integer(), nullable=False),
        sa.Column("speed_dkmh", sa.SmallInteger(), nullable=True),
        sa.Column("course", sa.SmallInteger(), nullable=True),
        sa.Column("battery_pct", sa.SmallInteger(), nullable=True),
        sa.Column("signals", sa.SmallInteger(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("progress_m", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("seal_key", "t_ms", name=op.f("pk_seal_positions")),
    )

    op.create_table(
        "seal_incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activation_id", sa.Integer(), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=False),
        sa.Column("seal_id", sa.String(length=35), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("worst", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_incidents")),
    )
    with op.batch_alter_table("seal_incidents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_seal_incidents_activation", ["activation_id", "status"], unique=False
        )
        batch_op.create_index("ix_seal_incidents_movement", ["movement_reference"], unique=False)
        batch_op.create_index("ix_seal_incidents_seq", ["seq"], unique=False)

    op.create_table(
        "seal_handovers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("activation_id", sa.Integer(), nullable=False),
        sa.Column("movement_reference", sa.String(length=24), nullable=False),
        sa.Column("seal_id", sa.String(length=35), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("from_state", sa.String(length=3), nullable=False),
        sa.Column("to_state", sa.String(length=3), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("message_id", sa.String(length=45), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seal_handovers")),
        sa.UniqueConstraint("activation_id", "kind", "to_state", name="uq_seal_handovers_once"),
    )
    with op.batch_alter_table("seal_handovers", schema=None) as batch_op:
        batch_op.create_index("ix_seal_handovers_movement", ["movement_reference"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seal_handovers", schema=None) as batch_op:
        batch_op.drop_index("ix_seal_handovers_movement")
    op.drop_table("seal_handovers")
    with op.batch_alter_table("seal_incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_seal_incidents_seq")
        batch_op.drop_index("ix_seal_incidents_movement")
        batch_op.drop_index("ix_seal_incidents_activation")
    op.drop_table("seal_incidents")
    op.drop_table("seal_positions")
    with op.batch_alter_table("seal_activations", schema=None) as batch_op:
        batch_op.drop_index("ix_seal_activations_silence")
        batch_op.drop_index("ix_seal_activations_seal")
        batch_op.drop_index("ix_seal_activations_movement")
    op.drop_table("seal_activations")
    with op.batch_alter_table("seals", schema=None) as batch_op:
        batch_op.drop_index("ix_seals_operator_status")
    op.drop_table("seals")
