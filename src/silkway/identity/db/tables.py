"""People, machine clients, refresh tokens, revoked tokens, signing keys and the access log."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from silkway.node.db.tables import metadata

__all__ = [
    "access_log",
    "identity_clients",
    "identity_keys",
    "identity_refresh_tokens",
    "identity_revoked_tokens",
    "identity_users",
]

identity_users = Table(
    "identity_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("state", String(3), nullable=False),
    Column("office", String(8), nullable=True),
    Column("party", String(35), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

identity_clients = Table(
    "identity_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("state", String(3), nullable=False),
    Column("office", String(8), nullable=True),
    Column("party", String(35), nullable=True),
    Column("secret_hash", String(200), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

identity_refresh_tokens = Table(
    "identity_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("subject", String(80), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Index("ix_identity_refresh_tokens_subject", "subject"),
)

identity_revoked_tokens = Table(
    "identity_revoked_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""Access tokens revoked before their expiry; a row is useless once ``expires_at`` passed."""

identity_keys = Table(
    "identity_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired", Boolean, nullable=False),
)

access_log = Table(
    "access_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("subject", String(80), nullable=False),
    Column("role", String(16), nullable=False),
    Column("state", String(3), nullable=False),
    Column("office", String(8), nullable=False),
    Column("client_address", String(64), nullable=False),
    Column("method", String(8), nullable=False),
    Column("path", String(300), nullable=False),
    Column("status", Integer, nullable=False),
    Column("outcome", String(8), nullable=False),
    Column("reason", String(80), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)
"""Append-only and hash-chained: ``seq`` is the position, taken by exactly one writer."""
