"""The Commission's side of the trust list: its trust-list key, and publishing new versions.

Only the Commission's administrator publishes (``silkway trust publish``): each publication
takes the list last published, adds the node keys whose public halves were handed in (their
``.pub.json`` requests), applies rotations and revocations, and signs the result as the next
version with a fresh expiry. Publications are serialised by an exclusive lock on
``trust.lock``, so two at once cannot lose each other's keys, and the new document replaces
``trust.json`` atomically.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkway.exchange.signing.keeper import TRUST_FILE, write_atomically
from silkway.exchange.signing.keys import TrustedKey, TrustList, TrustListInvalid
from silkway.exchange.signing.keystore import KeyRequest
from silkway.exchange.signing.published import (
    PublishedTrustList,
    TrustAnchor,
    open_trust_list,
    sign_trust_list,
)

LOCK_FILE = "trust.lock"


class TrustPublisher:
    """Publishes ``trust.json`` into ``folder``, signed with the key in ``signing_key``."""

    def __init__(self, folder: Path, signing_key: Path, anchor: Path) -> None:
        self.folder = folder
        self.signing_key = signing_key
        self.anchor_path = anchor

    @property
    def path(self) -> Path:
        return self.folder / TRUST_FILE

    def initialised(self) -> bool:
        return self.signing_key.exists()

    def init(self, now: datetime) -> TrustAnchor:
        """Create the Commission's trust-list key and write its anchor; never overwrites."""
        key = Ed25519PrivateKey.generate()
        anchor = TrustAnchor(f"EEC-trust-{now:%Y%m%d}-{secrets.token_hex(4)}", key.public_key())
        self.signing_key.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            fd = os.open(self.signing_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise TrustListInvalid(
                f"{self.signing_key} exists: the Commission has its key"
            ) from None
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        self.anchor_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.anchor_path, anchor.to_json().encode("utf-8"))
        return anchor

    def _key(self) -> tuple[TrustAnchor, Ed25519PrivateKey]:
        try:
            private = serialization.load_pem_private_key(
                self.signing_key.read_bytes(), password=None
            )
            anchor = TrustAnchor.from_json(self.anchor_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise TrustListInvalid(f"the Commission's trust-list key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise TrustListInvalid(f"{self.signing_key}: not an Ed25519 key")
        if private.public_key() != anchor.public_key:
            raise TrustListInvalid(f"{self.signing_key} is not the key of {self.anchor_path}")
        return anchor, private

    def published(self) -> PublishedTrustList | None:
        """The list last published here (verified), or None before the first."""
        anchor, _ = self._key()
        if not self.path.exists():
            return None
        return open_trust_list(self.path.read_bytes(), anchor)

    def publish(
        self,
        now: datetime,
        *,
        validity: timedelta,
        add: Sequence[KeyRequest] = (),
        revoke: Sequence[str] = (),
        replace_unverified: bool = False,
    ) -> PublishedTrustList:
        """The next version: the last one's keys, ``add``'s and the revocations, valid from
        ``now`` for ``validity``. A key already listed is not added twice; a key id listed
        with another public key, or an unknown key to revoke, refuses the whole publication.
        ``replace_unverified`` starts afresh over a ``trust.json`` that does not verify (an
        unsigned list of an older Silkway) instead of refusing."""
        anchor, private = self._key()
        self.folder.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.folder / LOCK_FILE):
            try:
                last = self.published()
            except TrustListInvalid:
                if not replace_unverified:
                    raise
                last = None
            keys = _merged(last.keys if last else TrustList(), add, revoke, now)
            version = last.version + 1 if last else 1
            data = sign_trust_list(
                keys,
                version=version,
                issued_at=now,
                expires_at=now + validity,
                key_id=anchor.key_id,
                private_key=private,
            )
            write_atomically(self.path, data)
        return open_trust_list(data, anchor)


def _merged(
    keys: TrustList, add: Sequence[KeyRequest], revoke: Sequence[str], now: datetime
) -> TrustList:
    by_id: dict[str, TrustedKey] = {k.key_id: k for k in keys}
    for request in sorted(add, key=lambda r: r.valid_from):
        listed = by_id.get(request.key_id)
        if listed is not None:
            if listed.public_key != request.public_key or listed.owner != request.owner:
                raise TrustListInvalid(f"key id {request.key_id!r} is listed with another key")
            continue
        if request.supersedes_after is not None:
            # A rotation: the owner's older keys still open sign until the overlap ends.
            for key_id, k in list(by_id.items()):
                if (
                    k.owner == request.owner
                    and k.valid_from < request.supersedes_after
                    and (k.valid_to is None or k.valid_to > request.supersedes_after)
                ):
                    by_id[key_id] = replace(k, valid_to=request.supersedes_after)
        by_id[request.key_id] = request.trusted_key()
    for key_id in revoke:
        if key_id not in by_id:
            raise TrustListInvalid(f"no key {key_id!r} in the trust list to revoke")
        if by_id[key_id].revoked_at is None:
            by_id[key_id] = replace(by_id[key_id], revoked_at=now)
    return TrustList(by_id.values())


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with path.open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
