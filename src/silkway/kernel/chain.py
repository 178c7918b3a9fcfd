"""What every hash-chained log of a node shares: canonical JSON, the genesis hash, the verdict.

The movement log (:mod:`silkway.transit.domain.audit`) and the access log
(:mod:`silkway.identity.domain.access_log`) each hash their own records with these, so one
specification of the canonical form serves both. The canonical form is Python's
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``
encoded as UTF-8; instants are written by :func:`iso_utc`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

__all__ = ["GENESIS_HASH", "JSON", "ChainVerdict", "canonical_json", "iso_utc"]

JSON: TypeAlias = "str | int | float | bool | list[JSON] | dict[str, JSON] | None"
"""A value that JSON can carry as it is."""

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first record of every chain."""


def iso_utc(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; refuses a naive datetime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"datetime {at.isoformat()} has no time zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(document: dict[str, Any]) -> bytes:
    """The canonical UTF-8 bytes of a JSON object; ``ValueError`` if it is not plain JSON."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not plain JSON: {exc}") from None
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ChainVerdict:
    """The outcome of verifying a chain."""

    ok: bool
    checked: int
    """Records found sound before the first bad one (all of them when ``ok``)."""
    first_bad_seq: int | None
    """The position (1-based) of the first record that is wrong or missing."""
    reason: str | None
