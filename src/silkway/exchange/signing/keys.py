"""Node signing keys and the trust list that says which of them to believe, and when."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from silkway.reference.model import NODE_CODES

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")


class TrustListInvalid(ValueError):
    """A trust list entry, or the list as a whole, is inconsistent."""


def check_key_id(key_id: str) -> str:
    """Return ``key_id`` if it has the shape the signature header block accepts."""
    if not _KEY_ID.fullmatch(key_id):
        raise TrustListInvalid(f"key id {key_id[:140]!r} must match {_KEY_ID.pattern}")
    return key_id


def require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise TrustListInvalid(f"{name} must carry a timezone")


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """One node's public signing key with its validity window."""

    key_id: str
    public_key: Ed25519PublicKey
    owner: str
    """Node code of the state (or ``EEC``) that holds the private key."""
    valid_from: datetime
    valid_to: datetime | None = None
    """First instant at which the key no longer signs; ``None`` while open-ended."""
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if self.owner not in NODE_CODES:
            raise TrustListInvalid(f"owner {self.owner!r} is not one of {NODE_CODES}")
        require_aware("valid_from", self.valid_from)
        if self.valid_to is not None:
            require_aware("valid_to", self.valid_to)
            if self.valid_to <= self.valid_from:
                raise TrustListInvalid(f"{self.key_id}: valid_to must follow valid_from")
        if self.revoked_at is not None:
            require_aware("revoked_at", self.revoked_at)

    def signs_at(self, instant: datetime) -> bool:
        """True when ``instant`` lies in the key's validity window (revocation aside)."""
        return self.valid_from <= instant and (self.valid_to is None or instant < self.valid_to)

    def revoked_by(self, instant: datetime) -> bool:
        return self.revoked_at is not None and self.revoked_at <= instant


class TrustList:
    """Public keys by key id, as published by the Commission's trusted third party.

    A node may hold several keys at once: during a rotation the old and the new key have
    overlapping validity, receivers accept both, and the sender switches whenever it likes.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Iterable[TrustedKey] = ()) -> None:
        self._keys: dict[str, TrustedKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise TrustListInvalid(f"key id {key.key_id!r} appears twice")
            self._keys[key.key_id] = key

    def get(self, key_id: str) -> TrustedKey | None:
        return self._keys.get(key_id)

    def keys_of(self, owner: str) -> tuple[TrustedKey, ...]:
        return tuple(key for key in self._keys.values() if key.owner == owner)

    def with_key(self, key: TrustedKey) -> TrustList:
        """A new list with ``key`` added; the key id must be new."""
        return TrustList([*self._keys.values(), key])

    def revoke(self, key_id: str, at: datetime) -> TrustList:
        """A new list in which ``key_id`` is revoked from ``at`` on."""
        key = self._keys.get(key_id)
        if key is None:
            raise TrustListInvalid(f"no key {key_id!r} to revoke")
        revoked = replace(key, revoked_at=at)
        return TrustList(revoked if k.key_id == key_id else k for k in self._keys.values())

    def __iter__(self) -> Iterator[TrustedKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)
