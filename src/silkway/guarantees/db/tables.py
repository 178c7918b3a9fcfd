"""The guarantee registry and ledger tables.

Money is stored as whole **hundredths** of the currency unit in 64-bit integers, whatever the
currency (a JPY amount is a multiple of 100): exact on SQLite and PostgreSQL alike, and cheap to
compare in the guarded updates. ``domain.guarantee.MAX_AMOUNT`` keeps every sum in range.

The balance lives on the guarantee row (``locked``, ``posted``); it only ever changes through a
guarded ``UPDATE`` and the CHECK constraints below make an over-commitment impossible even for
a statement that forgot its guard.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
)

from silkway.node.db.tables import ACTOR_LENGTH, metadata

_MONEY = BigInteger

guarantors = Table(
    "guarantors",
    metadata,
    Column("guarantor_id", String(20), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("country", String(2), nullable=False),
    Column("national_guarantor", Boolean, nullable=False),
    # The national guarantor's reduction in hundredths of a percent (0 when none).
    Column("reduction_bp", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(ACTOR_LENGTH), nullable=True),
    CheckConstraint("kind IN ('bank', 'insurer', 'surety')", name="kind_known"),
    CheckConstraint("reduction_bp >= 0 AND reduction_bp <= 10000", name="reduction_in_range"),
)

guarantee_holders = Table(
    "guarantee_holders",
    metadata,
    Column("holder_id", String(35), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("country", String(2), nullable=False),
    Column("qualified", Boolean, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(ACTOR_LENGTH), nullable=True),
)

guarantees = Table(
    "guarantees",
    metadata,
    Column("grn", String(24), primary_key=True),
    # ``guarantee`` (registered here) or ``certificate`` (a certificate received from the
    # guarantee's home state, used here like a guarantee of the certificate's amount).
    Column("account_kind", String(12), nullable=False),
    Column("method", String(16), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("status", String(10), nullable=False),
    Column("status_reason", String(512), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("reference_amount", _MONEY, nullable=False),
    Column("locked", _MONEY, nullable=False),
    Column("posted", _MONEY, nullable=False),
    Column("locks_placed", Integer, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=True),
    # Comma-framed state codes (``,KZ,RU,``) so that one LIKE tells whether a state is in.
    Column("valid_states", String(20), nullable=False),
    Column("guarantor_id", String(20), nullable=False),
    Column("holder_id", String(35), nullable=False),
    Column("access_code_hash", String(200), nullable=False),
    Column("home_state", String(3), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("reference_amount > 0", name="reference_positive"),
    CheckConstraint(
        "locked >= 0 AND posted >= 0 AND locked + posted <= reference_amount",
        name="never_over_committed",
    ),
    CheckConstraint("locks_placed >= 0", name="locks_placed_not_negative"),
    CheckConstraint("account_kind IN ('guarantee', 'certificate')", name="account_kind_known"),
    CheckConstraint("scope IN ('single', 'general')", name="scope_known"),
    CheckConstraint("status IN ('active', 'suspended', 'revoked', 'expired')", name="status_known"),
    Index("ix_guarantees_guarantor", "guarantor_id"),
    Index("ix_guarantees_holder", "holder_id"),
)

guarantee_authorisations = Table(
    "guarantee_authorisations",
    metadata,
    Column("grn", String(24), primary_key=True),
    Column("holder_id", String(35), primary_key=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
)
"""Holders other than the guarantee's own who may quote it."""

guarantee_locks = Table(
    "guarantee_locks",
    metadata,
    # The idempotency key of the command that placed the lock.
    Column("lock_id", String(64), primary_key=True),
    Column("grn", String(24), nullable=False),
    Column("state", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    # Hundredths per minor unit of the currency (1 for EUR, 100 for JPY).
    Column("minor_unit", Integer, nullable=False),
    Column("amount", _MONEY, nullable=False),
    Column("held", _MONEY, nullable=False),
    Column("credited", _MONEY, nullable=False),
    Column("posted", _MONEY, nullable=False),
    Column("released", _MONEY, nullable=False),
    # What the latest guarded update moved (read back with RETURNING).
    Column("last_change", _MONEY, nullable=False),
    Column("status", String(10), nullable=False),
    Column("movement_reference", String(24), nullable=True),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    # The liability computed at release: the explanation, and what partial completion and
    # claims read back.
    Column("detail", JSON, nullable=True),
    CheckConstraint(
        "held >= 0 AND credited >= 0 AND posted >= 0 AND released >= 0"
        " AND amount = held + credited + posted + released",
        name="adds_up",
    ),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "(status = 'pending' AND held > 0) OR (status <> 'pending' AND held = 0)",
        name="pending_iff_held",
    ),
    Index("ix_guarantee_locks_grn", "grn", "status"),
    Index("ix_guarantee_locks_movement", "movement_reference"),
    Index("ix_guarantee_locks_deadline", "status", "deadline"),
)

guarantee_ledger = Table(
    "guarantee_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(80), nullable=True, unique=True),
    Column("grn", String(24), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("lock_id", String(64), nullable=True),
    Column("movement_reference", String(24), nullable=True),
    Column("request_amount", _MONEY, nullable=True),
    Column("request_state", String(3), nullable=True),
    # What the command moved (credited, voided, posted...).
    Column("amount", _MONEY, nullable=True),
    Column("reference_amount", _MONEY, nullable=False),
    Column("locked", _MONEY, nullable=False),
    Column("posted", _MONEY, nullable=False),
    Column("lock_held", _MONEY, nullable=True),
    Column("lock_credited", _MONEY, nullable=True),
    Column("lock_posted", _MONEY, nullable=True),
    Column("lock_released", _MONEY, nullable=True),
    Column("lock_status", String(10), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(ACTOR_LENGTH), nullable=False),
    Column("note", String(512), nullable=True),
    Index("ix_guarantee_ledger_grn", "grn", "id"),
)
"""Append-only history of every guarantee: registry changes and ledger commands, each with the
balance right after it. The idempotency keys of ledger commands are unique here."""

security_certificates = Table(
    "security_certificates",
    metadata,
    Column("number", String(24), primary_key=True),
    Column("kind", String(8), nullable=False),
    # ``issued`` at the guarantee's home node, ``received`` where it is used.
    Column("direction", String(8), nullable=False),
    Column("grn", String(24), nullable=False),
    Column("issued_by", String(3), nullable=False),
    Column("used_in", String(3), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", _MONEY, nullable=False),
    Column("holder_id", String(35), nullable=False),
    Column("holder_qualified", Boolean, nullable=False),
    Column("guarantor_reduction_bp", Integer, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("status", String(10), nullable=False),
    # At the home node: the lock on the guarantee that backs the certificate.
    Column("lock_id", String(64), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    # At the home node: the scrypt hash of the certificate's own access code, which the
    # certificate document carries to the node that uses it (never the guarantee's).
    Column("access_code_hash", String(200), nullable=True),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("kind IN ('one_off', 'general')", name="kind_known"),
    CheckConstraint("direction IN ('issued', 'received')", name="direction_known"),
    Index("ix_security_certificates_grn", "grn"),
)

guarantee_claims = Table(
    "guarantee_claims",
    metadata,
    Column("claim_id", String(72), primary_key=True),
    Column("lock_id", String(64), nullable=False, unique=True),
    Column("grn", String(24), nullable=False),
    Column("movement_reference", String(24), nullable=True),
    # The day the debt arose: it chooses the duty share set.
    Column("claim_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    # What was posted against the guarantee: the most the guarantor owes.
    Column("amount", _MONEY, nullable=False),
    Column("recovered", _MONEY, nullable=False),
    # The unreduced debt per tax of the goods not delivered.
    Column("debt", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("recovered >= 0 AND recovered <= amount", name="recovered_within_amount"),
    Index("ix_guarantee_claims_grn", "grn"),
)

claim_recoveries = Table(
    "claim_recoveries",
    metadata,
    Column("recovery_key", String(64), primary_key=True),
    Column("claim_id", String(72), nullable=False),
    Column("amount", _MONEY, nullable=False),
    Column("recovered_on", Date, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_claim_recoveries_claim", "claim_id"),
)
"""Each payment by a guarantor on a claim; its key makes a repeated payment a no-op."""

duty_distributions = Table(
    "duty_distributions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recovery_key", String(64), nullable=False),
    Column("claim_id", String(72), nullable=False),
    Column("recovered_on", Date, nullable=False),
    Column("state", String(3), nullable=False),
    Column("tax", String(12), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount", _MONEY, nullable=False),
    Column("basis", String(200), nullable=False),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    Index("ix_duty_distributions_recovered_on", "recovered_on"),
)
"""Who receives what of each recovery: the distribution ledger the period report sums."""

guarantee_access_failures = Table(
    "guarantee_access_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # A guarantee or a received certificate (its number is its account's GRN).
    Column("grn", String(24), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # Who quoted the wrong code: the declarant and the declaration's LRN.
    Column("actor", String(ACTOR_LENGTH), nullable=False),
    Index("ix_guarantee_access_failures_grn", "grn", "at"),
)
"""Wrong access codes quoted for a guarantee: too many within the window lock it out."""

guarantee_problems = Table(
    "guarantee_problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("grn", String(24), nullable=True),
    Column("lock_id", String(64), nullable=True),
    Column("movement_reference", String(24), nullable=True),
    Column("message", String(1000), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_guarantee_problems_at", "at"),
)
"""What the ledger could not do that an operator must settle by hand (a non-delivery whose lock
was no longer held), recorded in the transaction that met it."""

__all__ = [
    "claim_recoveries",
    "duty_distributions",
    "guarantee_access_failures",
    "guarantee_authorisations",
    "guarantee_claims",
    "guarantee_holders",
    "guarantee_ledger",
    "guarantee_locks",
    "guarantee_problems",
    "guarantees",
    "guarantors",
    "metadata",
    "security_certificates",
]
