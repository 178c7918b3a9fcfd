"""The trust list as the Commission publishes it: a versioned, expiring, signed document.

A node believes a signing key only because the Commission says so. The Commission's statement is
one JSON document (``trust.json``)::

    {"format": "silkway-trust-list/v1", "version": 7, "issued_at": "...Z", "expires_at": "...Z",
     "signed_by": "EEC-trust-...", "keys": [{"key_id": ..., "owner": "KZ", "public_key": b64,
     "valid_from": ..., "valid_to": null, "revoked_at": null}, ...],
     "signature": "<base64 Ed25519 signature>"}

What is signed is the canonical JSON (:func:`silkway.kernel.chain.canonical_json`) of the whole
document without ``signature``; the ``format`` member keeps the signature from being taken for
any other kind of document. The key that signs is the Commission's trust-list key, which nodes
know from their *anchor* (``trust-anchor.json``, handed to each node once, out of band, as
X-Road's configuration anchor is): never from the list itself, so whoever can write a node's
key folder cannot vouch for a key.

A node takes a new document only if it verifies against the anchor, is not older (a lower
version) than the one it holds, is not a different document under the same version, and has
not expired; otherwise it keeps the one it had (see :mod:`.keeper`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from silkway.exchange.signing.keys import TrustedKey, TrustList, TrustListInvalid, check_key_id
from silkway.kernel.chain import canonical_json, iso_utc

FORMAT = "silkway-trust-list/v1"
ANCHOR_FORMAT = "silkway-trust-anchor/v1"


class TrustCode(StrEnum):
    """Stable reasons for refusing a trust list."""

    UNREADABLE = "trust-list-unreadable"
    UNSIGNED = "trust-list-unsigned"
    MALFORMED = "trust-list-malformed"
    SIGNER_UNKNOWN = "trust-list-signer-unknown"
    SIGNATURE_INVALID = "trust-list-signature-invalid"
    OLDER = "trust-list-older"
    VERSION_CONFLICT = "trust-list-version-conflict"
    EXPIRED = "trust-list-expired"
    MISSING = "trust-list-missing"
    ANCHOR_INVALID = "trust-anchor-invalid"


class TrustListRefused(TrustListInvalid):
    """A trust list (or anchor) that a node must not believe; ``code`` is a :class:`TrustCode`."""

    def __init__(self, code: TrustCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code.value
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """The Commission's trust-list key, as every node knows it."""

    key_id: str
    public_key: Ed25519PublicKey

    def to_json(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        document = {
            "format": ANCHOR_FORMAT,
            "key_id": self.key_id,
            "public_key": base64.b64encode(raw).decode("ascii"),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, data: bytes) -> TrustAnchor:
        try:
            document = json.loads(data)
            if not isinstance(document, dict) or document.get("format") != ANCHOR_FORMAT:
                raise ValueError(f"not a {ANCHOR_FORMAT} document")
            raw = base64.b64decode(document["public_key"], validate=True)
            return cls(check_key_id(document["key_id"]), Ed25519PublicKey.from_public_bytes(raw))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise TrustListRefused(TrustCode.ANCHOR_INVALID, str(exc)[:200]) from None


@dataclass(frozen=True, slots=True)
class PublishedTrustList:
    """A trust list whose signature checked out against the anchor."""

    version: int
    issued_at: datetime
    expires_at: datetime
    signed_by: str
    keys: TrustList
    digest: str
    """SHA-256 of the signed bytes: tells two documents that claim one version apart."""

    def expired_at(self, now: datetime) -> bool:
        return now >= self.expires_at

    def usable_at(self, now: datetime, grace: timedelta) -> bool:
        """Within its validity, or past it by less than ``grace`` (a Commission outage)."""
        return now < self.expires_at + grace


def key_entry(key: TrustedKey) -> dict[str, Any]:
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "public_key": base64.b64encode(raw).decode("ascii"),
        "valid_from": iso_utc(key.valid_from),
        "valid_to": None if key.valid_to is None else iso_utc(key.valid_to),
        "revoked_at": None if key.revoked_at is None else iso_utc(key.revoked_at),
    }


def key_from_entry(entry: Any) -> TrustedKey:
    """One key of the list; ``TrustListInvalid`` when the entry is not one."""
    try:
        raw = base64.b64decode(entry["public_key"], validate=True)
        return TrustedKey(
            key_id=entry["key_id"],
            public_key=Ed25519PublicKey.from_public_bytes(raw),
            owner=entry["owner"],
            valid_from=datetime.fromisoformat(entry["valid_from"]),
            valid_to=_instant(entry.get("valid_to")),
            revoked_at=_instant(entry.get("revoked_at")),
        )
    except (KeyError, ValueError, TypeError, binascii.Error) as exc:
        raise TrustListInvalid(f"bad key entry {str(entry)[:80]}: {exc}") from None


def sign_trust_list(
    keys: TrustList,
    *,
    version: int,
    issued_at: datetime,
    expires_at: datetime,
    key_id: str,
    private_key: Ed25519PrivateKey,
) -> bytes:
    """The document for ``keys``, signed with the Commission's trust-list key."""
    if version < 1:
        raise TrustListInvalid(f"version must be at least 1, not {version}")
    if expires_at <= issued_at:
        raise TrustListInvalid("a trust list must expire after it is issued")
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": version,
        "issued_at": iso_utc(issued_at),
        "expires_at": iso_utc(expires_at),
        "signed_by": check_key_id(key_id),
        "keys": [key_entry(k) for k in sorted(keys, key=lambda k: k.key_id)],
    }
    signature = private_key.sign(canonical_json(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def open_trust_list(data: bytes, anchor: TrustAnchor) -> PublishedTrustList:
    """Verify ``data`` against ``anchor`` and read it; :class:`TrustListRefused` otherwise.

    Whether it is new enough and unexpired is the holder's question (:func:`accept`)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustListRefused(TrustCode.UNREADABLE, f"not JSON: {exc}"[:200]) from None
    if isinstance(document, list):
        raise TrustListRefused(TrustCode.UNSIGNED, "a bare list of keys, signed by nobody")
    if not isinstance(document, dict):
        raise TrustListRefused(TrustCode.MALFORMED, "expected a JSON object")
    signature_text = document.pop("signature", None)
    if not isinstance(signature_text, str) or not signature_text:
        raise TrustListRefused(TrustCode.UNSIGNED, "the document carries no signature")
    if document.get("format") != FORMAT:
        raise TrustListRefused(TrustCode.MALFORMED, f"format is not {FORMAT!r}")
    signed_by = document.get("signed_by")
    if signed_by != anchor.key_id:
        raise TrustListRefused(
            TrustCode.SIGNER_UNKNOWN,
            f"signed by {str(signed_by)[:80]!r}; the anchor names {anchor.key_id!r}",
        )
    try:
        signature = base64.b64decode(signature_text, validate=True)
        signed = canonical_json(document)
        anchor.public_key.verify(signature, signed)
    except (binascii.Error, ValueError, InvalidSignature):
        raise TrustListRefused(
            TrustCode.SIGNATURE_INVALID, "the signature does not match the document"
        ) from None
    # Everything below was vouched for by the Commission; it may still be ill-formed.
    try:
        version = document["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"version {version!r} is not a positive integer")
        issued_at = aware_instant(document["issued_at"])
        expires_at = aware_instant(document["expires_at"])
        entries = document["keys"]
        if not isinstance(entries, list):
            raise TypeError("keys is not a list")
        keys = TrustList(key_from_entry(e) for e in entries)
    except (KeyError, ValueError, TypeError) as exc:
        raise TrustListRefused(TrustCode.MALFORMED, str(exc)[:200]) from None
    return PublishedTrustList(
        version=version,
        issued_at=issued_at,
        expires_at=expires_at,
        signed_by=signed_by,
        keys=keys,
        digest=hashlib.sha256(signed).hexdigest(),
    )


def accept(
    held: PublishedTrustList | None, candidate: PublishedTrustList, now: datetime
) -> PublishedTrustList:
    """``candidate`` if a node holding ``held`` may take it at ``now``; refused otherwise."""
    if held is not None:
        if candidate.version < held.version:
            raise TrustListRefused(
                TrustCode.OLDER,
                f"version {candidate.version} is older than the version {held.version} held",
            )
        if candidate.version == held.version and candidate.digest != held.digest:
            raise TrustListRefused(
                TrustCode.VERSION_CONFLICT,
                f"a different document under the version {held.version} already held",
            )
    if candidate.expired_at(now):
        raise TrustListRefused(
            TrustCode.EXPIRED,
            f"version {candidate.version} expired at {iso_utc(candidate.expires_at)}",
        )
    return candidate


def aware_instant(text: Any) -> datetime:
    """An ISO 8601 instant with its zone, in UTC; ``ValueError``/``TypeError`` otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"{text!r} is not an instant")
    value = datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise ValueError(f"{text!r} carries no time zone")
    return value.astimezone(UTC)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
