"""Navigation-seal registry, activations, positions, incidents and hand-over tables.

Positions are stored compactly: times as integer milliseconds, coordinates as integer
microdegrees (finer than the 1 arc-second seals record), speed in tenths of km/h, and the seal's
events as a small bit set (``silkway.seals.domain.signals``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
)

from silkway.node.db.tables import ACTOR_LENGTH, metadata

__all__ = [
    "metadata",
    "seal_activations",
    "seal_handovers",
    "seal_incidents",
    "seal_positions",
    "seals",
]

seals = Table(
    "seals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seal_id", String(35), nullable=False, unique=True),
    Column("operator", String(3), nullable=False),
    Column("protocol", String(12), nullable=False),
    Column("device_id", String(35), nullable=False, unique=True),
    Column("password_hash", String(128), nullable=True),
    Column("reporting_period_s", Integer, nullable=False),
    Column("battery_pct", SmallInteger, nullable=True),
    Column("firmware", String(40), nullable=True),
    Column("status", String(12), nullable=False),
    Column("movement_reference", String(24), nullable=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(ACTOR_LENGTH), nullable=True),
    Index("ix_seals_operator_status", "operator", "status"),
)
"""The registry: ``device_id`` is what the device presents on the wire (IMEI, or the seal id);
``password_hash`` the Argon2id hash of a Wialon IPS login password (never the password)."""

seal_activations = Table(
    "seal_activations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seal_key", Integer, nullable=False),
    Column("movement_reference", String(24), nullable=False),
    Column("status", String(12), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("activated_by", String(ACTOR_LENGTH), nullable=True),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("time_limit", Date, nullable=False),
    Column("reporting_period_s", Integer, nullable=False),
    Column("route", JSON, nullable=False),
    Column("operators", JSON, nullable=False),
    Column("track", JSON, nullable=False),
    Column("last_ms", BigInteger, nullable=True),
    Column("silent_after_ms", BigInteger, nullable=True),
    Index("ix_seal_activations_seal", "seal_key", "status"),
    Index("ix_seal_activations_movement", "movement_reference"),
    Index("ix_seal_activations_silence", "status", "silent_after_ms"),
)
"""A seal on a movement: the planned route, the operators concerned and the tracking state."""

seal_positions = Table(
    "seal_positions",
    metadata,
    Column("seal_key", Integer, primary_key=True, autoincrement=False),
    Column("t_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("activation_id", Integer, nullable=True),
    Column("lat_e6", Integer, nullable=False),
    Column("lon_e6", Integer, nullable=False),
    Column("speed_dkmh", SmallInteger, nullable=True),
    Column("course", SmallInteger, nullable=True),
    Column("battery_pct", SmallInteger, nullable=True),
    Column("signals", SmallInteger, nullable=False),
    Column("distance_m", Integer, nullable=True),
    Column("progress_m", Integer, nullable=True),
)
"""One row per fix; the key (seal, time) makes a repeated point a duplicate.

The key is the only index: a movement's track is read through its seals' key ranges, and every
further index would slow the bulk writes that dominate this table.
"""

seal_incidents = Table(
    "seal_incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("activation_id", Integer, nullable=False),
    Column("movement_reference", String(24), nullable=False),
    Column("seal_id", String(35), nullable=False),
    Column("code", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_by", String(ACTOR_LENGTH), nullable=True),
    Column("points", Integer, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("worst", Float, nullable=True),
    Column("detail", JSON, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Index("ix_seal_incidents_activation", "activation_id", "status"),
    Index("ix_seal_incidents_movement", "movement_reference"),
    Index("ix_seal_incidents_seq", "seq"),
)
"""Incidents; ``seq`` grows with every change, so a live stream resumes after the last it sent."""

seal_handovers = Table(
    "seal_handovers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("activation_id", Integer, nullable=False),
    Column("movement_reference", String(24), nullable=False),
    Column("seal_id", String(35), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("from_state", String(3), nullable=False),
    Column("to_state", String(3), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("message_id", String(45), nullable=True),
    Column("payload", JSON, nullable=False),
    UniqueConstraint("activation_id", "kind", "to_state", name="uq_seal_handovers_once"),
    Index("ix_seal_handovers_movement", "movement_reference"),
)
"""Hand-overs between operators and completion notices, with the message owed for each."""
