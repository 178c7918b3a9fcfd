"""A node's signing keys on disk, and the public halves it hands the Commission.

Layout of a key folder (``{data_dir}/keys`` by default)::

    {STATE}.{key_id}.pem        one private key per node key, PKCS#8 PEM, owner-only
    {STATE}.{key_id}.pub.json   its public half, the request the Commission publishes from
    trust.json                  the trust list as the Commission published it (see .published)

Creating a key never touches the trust list: a key signs only once the Commission has published
a list that names it (``silkway trust publish``), so whoever can write the folder cannot enrol a
key, and a node whose key file is lost stops with a precise error instead of making a new one.
Every file is written under a name of its own (the key id is random, temporary files are
``mkstemp``'s), so concurrent creations cannot lose one another's work.

In the embedded set-up every node's key lives in one folder. In production each node keeps its
own private key, sends its ``.pub.json`` to the Commission and receives ``trust.json`` back.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from silkway.exchange.signing.keys import TrustedKey, TrustList, TrustListInvalid, check_key_id
from silkway.exchange.signing.published import aware_instant
from silkway.exchange.signing.signature import Signer
from silkway.kernel.chain import iso_utc
from silkway.reference.model import NODE_CODES

REQUEST_SUFFIX = ".pub.json"


class SigningKeyMissing(TrustListInvalid):
    """The node has no private key that the trust list lets it sign with now."""


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A node key's public half, for the Commission to publish."""

    key_id: str
    owner: str
    public_key: Ed25519PublicKey
    valid_from: datetime
    supersedes_after: datetime | None = None
    """For a rotation: when the owner's older keys stop signing (the overlap's end)."""

    def __post_init__(self) -> None:
        check_key_id(self.key_id)
        if self.owner not in NODE_CODES:
            raise TrustListInvalid(f"owner {self.owner!r} is not one of {NODE_CODES}")

    def trusted_key(self) -> TrustedKey:
        return TrustedKey(self.key_id, self.public_key, self.owner, valid_from=self.valid_from)

    def to_json(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        document = {
            "key_id": self.key_id,
            "owner": self.owner,
            "public_key": base64.b64encode(raw).decode("ascii"),
            "valid_from": iso_utc(self.valid_from),
            "supersedes_after": (
                None if self.supersedes_after is None else iso_utc(self.supersedes_after)
            ),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def read(cls, path: Path) -> KeyRequest:
        """The request in ``path``; ``TrustListInvalid`` naming the file otherwise."""
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            raw = base64.b64decode(d["public_key"], validate=True)
            until = d.get("supersedes_after")
            return cls(
                key_id=d["key_id"],
                owner=d["owner"],
                public_key=Ed25519PublicKey.from_public_bytes(raw),
                valid_from=aware_instant(d["valid_from"]),
                supersedes_after=None if until is None else aware_instant(until),
            )
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise TrustListInvalid(f"{path}: not a key request: {exc}") from None


class KeyStore:
    """Creates a node's keys in one folder and finds the one it signs with."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _private_path(self, state: str, key_id: str) -> Path:
        return self.folder / f"{state}.{key_id}.pem"

    def request_path(self, state: str, key_id: str) -> Path:
        return self.folder / f"{state}.{key_id}{REQUEST_SUFFIX}"

    def create(
        self, state: str, now: datetime, *, supersedes_after: datetime | None = None
    ) -> Signer:
        """A new key for ``state``, valid from ``now`` once the Commission publishes it."""
        key = Ed25519PrivateKey.generate()
        key_id = f"{state}-{now:%Y%m%d}-{secrets.token_hex(4)}"
        request = KeyRequest(key_id, state, key.public_key(), now, supersedes_after)
        self.folder.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_new(self._private_path(state, key_id), pem, 0o600)
        _write_new(self.request_path(state, key_id), request.to_json().encode("utf-8"), 0o644)
        return Signer(key_id, key)

    def rotate(self, state: str, now: datetime, overlap: timedelta) -> Signer:
        """A new key for ``state``; once published, its older keys sign for ``overlap`` more."""
        return self.create(state, now, supersedes_after=now + overlap)

    def has_keys(self, state: str) -> bool:
        """Whether ``state`` has a key here with its public half (one that can be published)."""
        return any(
            p.with_name(p.name.removesuffix(".pem") + REQUEST_SUFFIX).exists()
            for p in self.folder.glob(f"{state}.*.pem")
        )

    def requests(self) -> list[KeyRequest]:
        """Every public half in the folder (the embedded Commission publishes them all)."""
        return [KeyRequest.read(p) for p in sorted(self.folder.glob(f"*{REQUEST_SUFFIX}"))]

    def signer(self, state: str, trust: TrustList, now: datetime) -> Signer:
        """The newest key of ``state`` that ``trust`` lets sign at ``now``, with its private half
        here; :class:`SigningKeyMissing` when there is none (a key is never made here)."""
        usable = [
            k
            for k in trust.keys_of(state)
            if k.signs_at(now)
            and not k.revoked_by(now)
            and self._private_path(state, k.key_id).exists()
        ]
        if not usable:
            raise SigningKeyMissing(
                f"no key of {state} in {self.folder} that the trust list lets sign now: create"
                f" one (silkway keys create --node {state}) and have the Commission publish it"
            )
        newest = max(usable, key=lambda k: k.valid_from)
        pem = self._private_path(state, newest.key_id).read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise TrustListInvalid(f"{newest.key_id}: not an Ed25519 key")
        return Signer(newest.key_id, private)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
