"""An anchor: the heads of a node's logs at one instant, which the Commission keeps.

A hash chain proves that no record inside it was changed, but whoever can write the table can
rewrite a whole chain and recompute every hash. An anchor closes that gap: the node signs the
head of each log and sends it to the Commission, so a later rewrite no longer matches what the
Commission holds. Three logs are anchored, each as one :class:`ChainHead`:

- ``movement-events``: every movement's event chain. ``records`` counts the events and ``head``
  is the SHA-256 of the canonical JSON list of ``[reference, seq, hash]`` of each movement's
  last record, by reference (:func:`movement_digest`). The node keeps that list with its copy
  of the anchor, so a mismatch can name the movement; the Commission's digest proves the list.
- ``access-log``: the hash of the access log's last record, ``records`` its sequence number.
- ``guarantee-history``: the guarantee history is append-only but not chained, so ``head`` is
  the SHA-256 over its rows in order (:func:`rows_digest`), ``records`` the last row's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from silkway.kernel.chain import GENESIS_HASH, canonical_json

MOVEMENT_EVENTS = "movement-events"
ACCESS_LOG = "access-log"
GUARANTEE_HISTORY = "guarantee-history"
CHAINS = (MOVEMENT_EVENTS, ACCESS_LOG, GUARANTEE_HISTORY)


@dataclass(frozen=True, slots=True)
class ChainHead:
    """One anchored log: how far it went and the hash that stands for it."""

    name: str
    records: int
    head: str


@dataclass(frozen=True, slots=True)
class MovementHead:
    """The last record of one movement's event chain."""

    reference: str
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """What a node anchored at one instant."""

    anchor_id: str
    state: str
    taken_at: datetime
    chains: tuple[ChainHead, ...]

    def chain(self, name: str) -> ChainHead | None:
        return next((c for c in self.chains if c.name == name), None)


@dataclass(frozen=True, slots=True)
class Finding:
    """A log that does not match its anchor: which one, and why."""

    chain: str
    """``access-log``, ``guarantee-history``, ``movement-events`` or ``movement:{reference}``."""
    reason: str


def movement_digest(heads: Iterable[MovementHead]) -> str:
    """SHA-256 (hex) of ``[[reference, seq, hash], ...]`` sorted by reference."""
    ordered = sorted(heads, key=lambda h: h.reference)
    return _sha256({"heads": [[h.reference, h.seq, h.hash] for h in ordered]})


def rows_digest(rows: Iterable[Mapping[str, Any]]) -> str:
    """A running SHA-256 over rows in order: each step hashes the previous digest and the row's
    canonical JSON (values written as text), starting from the genesis hash."""
    digest = GENESIS_HASH
    for row in rows:
        digest = _sha256({"prev": digest, "row": {k: _text(v) for k, v in row.items()}})
    return digest


def movement_chain(heads: Sequence[MovementHead]) -> ChainHead:
    return ChainHead(MOVEMENT_EVENTS, sum(h.seq for h in heads), movement_digest(heads))


def compare_movements(
    anchored: Sequence[MovementHead], current: Mapping[str, Sequence[str]]
) -> list[Finding]:
    """Each anchored movement whose chain, as it is now, no longer passes its anchored head.

    ``current`` maps a reference to the hashes of its records in order (already verified as a
    chain). A movement is sound when it still has the anchored record and that record's hash
    is the anchored one; records appended after the anchor are not the anchor's concern."""
    findings: list[Finding] = []
    for head in anchored:
        hashes = current.get(head.reference)
        name = f"movement:{head.reference}"
        if not hashes:
            findings.append(Finding(name, "the movement's events are gone since it was anchored"))
        elif len(hashes) < head.seq:
            findings.append(Finding(name, f"{len(hashes)} records left; {head.seq} were anchored"))
        elif hashes[head.seq - 1] != head.hash:
            findings.append(
                Finding(
                    name,
                    f"record {head.seq} is not the one anchored: the chain was rewritten",
                )
            )
    return findings


def compare_head(anchored: ChainHead, records: int, head: str | None) -> Finding | None:
    """A log judged against its anchored head; ``head`` is the log's own hash at ``records``
    (None when it no longer has that many)."""
    if head is None:
        return Finding(anchored.name, f"fewer than the {anchored.records} records anchored")
    if head != anchored.head:
        return Finding(
            anchored.name,
            f"the first {records} records no longer hash to the anchored head: rewritten",
        )
    return None


def _sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def _text(value: object) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
