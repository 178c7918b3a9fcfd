"""Interstate exchange tables: inbox, dead letters, journal, process register, trust keys.

Every node has all of them (one schema for every node); the journal, the register and the
conformance results are filled at the Commission's node.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from silkway.node.db.tables import ACTOR_LENGTH, metadata

inbox = Table(
    "inbox",
    metadata,
    Column("message_id", String(45), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("message_code", String(24), nullable=False),
    Column("from_state", String(3), nullable=False),
    Column("movement_reference", String(24), nullable=True),
    Column("relates_to", String(45), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("errors", JSON, nullable=False),
    Index("ix_inbox_received_at", "received_at"),
    Index("ix_inbox_relates_to", "relates_to"),
)
"""Every envelope a node has processed, by MessageID: a replay is recognised here."""

received_envelopes = Table(
    "received_envelopes",
    metadata,
    Column("message_id", String(45), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
"""The bytes of every envelope opened here, as received and signed: the evidence of a message
(``silkway messages evidence``) and the Commission's copy of the anchors it keeps."""

sent_envelopes = Table(
    "sent_envelopes",
    metadata,
    Column("message_id", String(45), primary_key=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
"""The bytes of every envelope this node put on the bus, as signed: what an evidence bundle
shows as the answer sent, rather than one sealed anew."""

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(45), nullable=True),
    Column("subject", String(120), nullable=False),
    Column("reason", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retried_at", DateTime(timezone=True), nullable=True),
    Column("resolved", Boolean, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Index("ix_dead_letters_resolved", "resolved", "id"),
)
"""Messages given up on, with the reason, kept for inspection and retry."""

outbox_results = Table(
    "outbox_results",
    metadata,
    Column("message_id", String(45), primary_key=True),
    Column("channel", String(8), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("errors", JSON, nullable=False),
    Column("note", Text, nullable=True),
)
"""What became of an outbox message: sent over the bus (and the R.006 answer), or on paper."""

journal = Table(
    "journal",
    metadata,
    Column("track_id", String(36), primary_key=True),
    Column("message_id", String(45), nullable=False, unique=True),
    Column("accept_time", DateTime(timezone=True), nullable=False),
    Column("message_code", String(24), nullable=False),
    Column("process", String(16), nullable=False),
    Column("from_state", String(3), nullable=False),
    Column("to_state", String(3), nullable=False),
    Column("conversation_id", String(36), nullable=False),
    Column("relates_to", String(45), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(16), nullable=True),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Index("ix_journal_pair", "from_state", "to_state", "process"),
    Index("ix_journal_conversation", "conversation_id"),
)
"""The integration journal at the Commission's node: every envelope seen on the bus."""

processes = Table(
    "processes",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("title", Text, nullable=False),
    Column("group_code", String(4), nullable=False),
    Column("legal_acts", Text, nullable=False),
    Column("approved", Boolean, nullable=False),
)
"""The register of common processes (approved or not yet)."""

process_stages = Table(
    "process_stages",
    metadata,
    Column("process", String(16), primary_key=True),
    Column("state", String(3), primary_key=True),
    Column("stage", String(32), nullable=False),  # the longest of STAGES, with room
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("source", String(ACTOR_LENGTH + 120), nullable=False),
)
"""The declared stage of a process per state (listed ... in operation, suspended)."""

conformance_results = Table(
    "conformance_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("process", String(16), nullable=False),
    Column("from_state", String(3), nullable=False),
    Column("to_state", String(3), nullable=False),
    Column("scenario", String(80), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_conformance_pair", "process", "from_state", "to_state", "id"),
)
"""Interstate test results: the evidence behind "in operation"."""

partners = Table(
    "partners",
    metadata,
    Column("process", String(16), primary_key=True),
    Column("state", String(3), primary_key=True),
    Column("in_operation", Boolean, nullable=False),
    Column("measured_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(36), nullable=False),
)
"""A node's own view: to which states it may send a process's messages electronically."""


outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(45), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("to_state", String(3), nullable=False),
    Column("process", String(16), nullable=False),
    Column("message_kind", String(40), nullable=False),
    Column("movement_reference", String(24), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

"""Messages other states must receive, written in the same transaction as the change."""
