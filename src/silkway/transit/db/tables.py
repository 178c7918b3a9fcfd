"""Transit tables: movements, the offices on their route, their event log, and the counters of registration numbers."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from silkway.node.db.tables import ACTOR_LENGTH, metadata

movements = Table(
    "movements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(24), nullable=False, unique=True),
    Column("registration_number", String(40), nullable=False, unique=True),
    Column("declarant_id", String(35), nullable=False),
    Column("lrn", String(22), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("departure_office", String(8), nullable=False),
    Column("destination_office", String(8), nullable=False),
    Column("time_limit", Date, nullable=False),
    Column("lodged_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("snapshot", JSON, nullable=False),
    UniqueConstraint("declarant_id", "lrn", name="uq_movements_declarant_lrn"),
    CheckConstraint("version >= 1", name="version_positive"),
    Index("ix_movements_status", "status"),
    Index("ix_movements_departure_office", "departure_office"),
    Index("ix_movements_destination_office", "destination_office"),
    Index("ix_movements_lodged_at", "lodged_at"),
)


movement_offices = Table(
    "movement_offices",
    metadata,
    Column("movement_reference", String(24), primary_key=True),
    Column("office", String(8), primary_key=True),
    Column("role", String(16), primary_key=True),
    Index("ix_movement_offices_office", "office", "role"),
)

"""Every office a movement concerns and in which role: the worklists read this."""


movement_events = Table(
    "movement_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("movement_reference", String(24), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(ACTOR_LENGTH), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("movement_reference", "seq", name="uq_movement_events_reference_seq"),
    CheckConstraint("seq >= 1", name="seq_positive"),
)


counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

"""Serial numbers (registration numbers per office and day, references per year)."""
