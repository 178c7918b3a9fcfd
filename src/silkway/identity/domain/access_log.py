"""The access log: every request that changed state or was refused, hash-chained.

Each record is hashed with the one before it, like the movement log: canonical JSON (see
:mod:`silkway.kernel.chain`) of exactly these members, SHA-256, lower-case hex::

    {"at", "client_address", "method", "office", "outcome", "path", "prev_hash", "reason",
     "role", "seq", "state", "status", "subject"}

The chain proves that no record was changed, removed or reordered; ``silkway audit verify``
recomputes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from silkway.identity.domain.principal import Principal
from silkway.kernel.chain import GENESIS_HASH, ChainVerdict, canonical_json, iso_utc

__all__ = ["AccessEntry", "AccessRecord", "Outcome", "append", "entry", "verify"]


class Outcome(StrEnum):
    ALLOWED = "allowed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """What one request was: who, from where, what, and how it ended."""

    at: datetime
    subject: str
    """The token's subject, or ``anonymous``."""
    role: str
    state: str
    office: str
    client_address: str
    method: str
    path: str
    status: int
    outcome: Outcome
    reason: str
    """Why a request was refused (a problem code); empty when allowed."""


def entry(
    at: datetime,
    who: Principal | None,
    *,
    client_address: str,
    method: str,
    path: str,
    status: int,
    reason: str = "",
    unknown: str = "anonymous",
) -> AccessEntry:
    """What a request (or a command line run) was; ``unknown`` names a caller not signed in.
    A status of 400 or above is a refusal."""
    return AccessEntry(
        at=at,
        subject=who.subject if who else unknown,
        role=who.role.value if who else "",
        state=who.state if who else "",
        office=(who.office or "") if who else "",
        client_address=client_address,
        method=method,
        path=path[:300],
        status=status,
        outcome=Outcome.REFUSED if status >= 400 else Outcome.ALLOWED,
        reason=reason[:80],
    )


@dataclass(frozen=True, slots=True)
class AccessRecord:
    seq: int
    entry: AccessEntry
    prev_hash: str
    hash: str


def _document(seq: int, entry: AccessEntry, prev_hash: str) -> dict[str, Any]:
    return {
        "at": iso_utc(entry.at),
        "client_address": entry.client_address,
        "method": entry.method,
        "office": entry.office,
        "outcome": entry.outcome.value,
        "path": entry.path,
        "prev_hash": prev_hash,
        "reason": entry.reason,
        "role": entry.role,
        "seq": seq,
        "state": entry.state,
        "status": entry.status,
        "subject": entry.subject,
    }


def _hash(seq: int, entry: AccessEntry, prev_hash: str) -> str:
    return hashlib.sha256(canonical_json(_document(seq, entry, prev_hash))).hexdigest()


def append(prev: AccessRecord | None, entry: AccessEntry) -> AccessRecord:
    """The record that follows ``prev`` (or opens the log)."""
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS_HASH if prev is None else prev.hash
    return AccessRecord(seq, entry, prev_hash, _hash(seq, entry, prev_hash))


def verify(records: Sequence[AccessRecord]) -> ChainVerdict:
    """Check the log in order and name the first record that is wrong."""
    previous = GENESIS_HASH
    for index, record in enumerate(records):
        position = index + 1
        problem: str | None = None
        if record.seq != position:
            problem = f"expected record {position}, found {record.seq}: missing or reordered"
        elif record.prev_hash != previous:
            problem = f"record {position} does not link to the hash of record {position - 1}"
        elif _hash(record.seq, record.entry, record.prev_hash) != record.hash:
            problem = f"record {position} was changed after it was written (hash mismatch)"
        if problem is not None:
            return ChainVerdict(False, index, position, problem)
        previous = record.hash
    return ChainVerdict(True, len(records), None, None)
