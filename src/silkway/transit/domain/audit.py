"""The tamper-evident event log of a movement: each record is hashed together with the previous one.

Canonical form hashed by :func:`record_hash` (reproducible by any implementation):

1. Build one JSON object with exactly these seven members::

       {"actor": str, "at": str, "kind": str, "movement_reference": str,
        "payload": object, "prev_hash": str, "seq": int}

   ``at`` is the instant in UTC written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (always six fraction
   digits, a literal ``Z``); ``prev_hash`` is 64 lower-case hex digits, 64 zeros for ``seq`` 1.
2. Serialise it with the members of every object sorted by key (Unicode code point order), no
   whitespace at all (separators ``,`` and ``:``), non-ASCII characters written as themselves (no
   ``\\uXXXX`` escapes), and only the JSON escapes ``\\"``, ``\\\\``, ``\\b``, ``\\f``, ``\\n``,
   ``\\r``, ``\\t`` and ``\\u00xx`` (lower-case hex) for the other control characters below U+0020.
   Integers are plain decimal digits; ``true``, ``false``, ``null`` as usual. Payloads should
   carry decimals and dates as strings; a float, if present, is written in its shortest
   round-trip form (Python ``repr``), and NaN or infinity are refused.
3. Encode the text as UTF-8 and take its SHA-256; the hash is its 64 lower-case hex digits.

This is Python's ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)``.

A chain proves that no record inside it was changed, removed or reordered. Removing records from
its end is visible only against an anchored copy of the last hash: pass it as ``head_hash``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from silkway.kernel.chain import GENESIS_HASH, JSON, ChainVerdict, canonical_json, iso_utc

__all__ = [
    "GENESIS_HASH",
    "JSON",
    "ChainVerdict",
    "EventRecord",
    "append",
    "canonical_bytes",
    "iso_utc",
    "record_hash",
    "verify_chain",
]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One entry of a movement's append-only log."""

    movement_reference: str
    seq: int
    """1-based position in the movement's log."""
    kind: str
    payload: dict[str, JSON]
    at: datetime
    """When the event was recorded, timezone-aware, UTC."""
    actor: str
    """The customs office code or node that recorded the event."""
    prev_hash: str
    hash: str


def canonical_bytes(
    prev_hash: str,
    movement_reference: str,
    seq: int,
    kind: str,
    payload: Mapping[str, JSON],
    at: datetime,
    actor: str,
) -> bytes:
    """The exact bytes that :func:`record_hash` hashes (see the module docstring)."""
    document = {
        "actor": actor,
        "at": iso_utc(at),
        "kind": kind,
        "movement_reference": movement_reference,
        "payload": dict(payload),
        "prev_hash": prev_hash,
        "seq": seq,
    }
    try:
        return canonical_json(document)
    except ValueError as exc:
        raise ValueError(f"payload of record {seq}: {exc}") from None


def record_hash(
    prev_hash: str,
    movement_reference: str,
    seq: int,
    kind: str,
    payload: Mapping[str, JSON],
    at: datetime,
    actor: str,
) -> str:
    """SHA-256 (lower-case hex) of the record's canonical JSON form."""
    data = canonical_bytes(prev_hash, movement_reference, seq, kind, payload, at, actor)
    return hashlib.sha256(data).hexdigest()


def append(
    prev: EventRecord | None,
    movement_reference: str,
    kind: str,
    payload: Mapping[str, JSON],
    at: datetime,
    actor: str,
) -> EventRecord:
    """The record that follows ``prev`` (or opens the chain when ``prev`` is None)."""
    if prev is not None and prev.movement_reference != movement_reference:
        raise ValueError(
            f"record for {movement_reference} cannot follow a record of {prev.movement_reference}"
        )
    seq = 1 if prev is None else prev.seq + 1
    prev_hash = GENESIS_HASH if prev is None else prev.hash
    at_utc = datetime.fromisoformat(iso_utc(at))
    data = canonical_bytes(prev_hash, movement_reference, seq, kind, payload, at_utc, actor)
    digest = hashlib.sha256(data).hexdigest()
    # A private copy, read back from the hashed bytes: a caller changing its dict later cannot
    # silently break the chain, and the stored payload is exactly what was hashed.
    own_payload: dict[str, JSON] = json.loads(data)["payload"]
    return EventRecord(
        movement_reference=movement_reference,
        seq=seq,
        kind=kind,
        payload=own_payload,
        at=at_utc,
        actor=actor,
        prev_hash=prev_hash,
        hash=digest,
    )


def verify_chain(
    records: Sequence[EventRecord],
    *,
    movement_reference: str | None = None,
    head_hash: str | None = None,
) -> ChainVerdict:
    """Check a movement's whole log, in order, and name the first record that is wrong.

    ``movement_reference``, when given, is the movement every record must belong to (otherwise the
    first record's reference is taken). ``head_hash``, when given, is an anchored copy of the last
    record's hash, which also catches records removed from the end.
    """
    expected_reference = movement_reference
    if expected_reference is None and records:
        expected_reference = records[0].movement_reference
    previous_hash = GENESIS_HASH
    for index, record in enumerate(records):
        position = index + 1
        problem = _record_problem(record, position, previous_hash, expected_reference)
        if problem is not None:
            return ChainVerdict(ok=False, checked=index, first_bad_seq=position, reason=problem)
        previous_hash = record.hash
    if head_hash is not None and previous_hash != head_hash:
        return _head_mismatch(records, head_hash)
    return ChainVerdict(ok=True, checked=len(records), first_bad_seq=None, reason=None)


def _record_problem(
    record: EventRecord, position: int, previous_hash: str, expected_reference: str | None
) -> str | None:
    if record.seq != position:
        return f"expected record {position}, found record {record.seq}: missing or reordered"
    if record.movement_reference != expected_reference:
        return (
            f"record {position} belongs to movement {record.movement_reference!r},"
            f" not {expected_reference!r}"
        )
    if record.prev_hash != previous_hash:
        return f"record {position} does not link to the hash of record {position - 1}"
    try:
        recomputed = record_hash(
            record.prev_hash,
            record.movement_reference,
            record.seq,
            record.kind,
            record.payload,
            record.at,
            record.actor,
        )
    except ValueError as exc:
        return f"record {position} cannot be hashed: {exc}"
    if recomputed != record.hash:
        return f"record {position} was changed after it was written (hash mismatch)"
    return None


def _head_mismatch(records: Sequence[EventRecord], head_hash: str) -> ChainVerdict:
    for index, record in enumerate(records):
        if record.hash == head_hash:
            return ChainVerdict(
                ok=False,
                checked=index + 1,
                first_bad_seq=index + 2,
                reason=f"records after {index + 1} are not covered by the anchored head hash",
            )
    return ChainVerdict(
        ok=False,
        checked=len(records),
        first_bad_seq=len(records) + 1,
        reason="the anchored head hash is not in the chain: records are missing at its end",
    )
