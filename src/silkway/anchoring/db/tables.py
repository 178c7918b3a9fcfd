"""Anchors taken by a node and anchors kept by the Commission."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Index, String, Table

from silkway.node.db.tables import metadata

anchors_taken = Table(
    "anchors_taken",
    metadata,
    Column("anchor_id", String(36), primary_key=True),
    Column("state", String(3), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("message_id", String(45), nullable=False),
    Column("chains", JSON, nullable=False),
    # Each movement's last record at the anchor, whose digest the anchor carries: with it a
    # rewritten chain is named, and the Commission's digest proves the list untouched.
    Column("movement_heads", JSON, nullable=False),
    Index("ix_anchors_taken_taken_at", "taken_at"),
)
"""A node's own copy of each anchor it sent to the Commission."""

anchors_kept = Table(
    "anchors_kept",
    metadata,
    Column("anchor_id", String(36), primary_key=True),
    Column("state", String(3), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    # The signed envelope itself is kept in received_envelopes under this id.
    Column("message_id", String(45), nullable=False),
    Column("chains", JSON, nullable=False),
    Index("ix_anchors_kept_state", "state", "taken_at"),
)
"""At the Commission: every node's anchors, as received over the exchange."""
