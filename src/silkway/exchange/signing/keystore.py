"""Node signing keys on disk, and the trust list the Commission publishes.

Layout of a key folder (``{data_dir}/keys`` by default)::

    {STATE}.{key_id}.pem   one private key per node key, PKCS#8 PEM, readable by the owner only
    trust.json             the trust list: every node key's public half and validity

In the embedded set-up every node's key lives in one folder. In production each node keeps its
own private key and receives ``trust.json`` from the Commission's trusted third party.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from silkway.exchange.signing.keys import TrustedKey, TrustList, TrustListInvalid
from silkway.exchange.signing.signature import Signer

TRUST_FILE = "trust.json"


class KeyStore:
    """Creates, rotates and revokes node keys in one folder, and reads the trust list."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _trust_path(self) -> Path:
        return self.folder / TRUST_FILE

    def _read_entries(self) -> list[dict[str, Any]]:
        path = self._trust_path()
        if not path.exists():
            return []
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TrustListInvalid(f"{path}: {exc}") from None
        if not isinstance(entries, list):
            raise TrustListInvalid(f"{path}: expected a list of keys")
        return entries

    def _write_entries(self, entries: list[dict[str, Any]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._trust_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self._trust_path())  # atomic: readers never see half a list

    def trust_list(self) -> TrustList:
        keys = []
        for e in self._read_entries():
            try:
                raw = base64.b64decode(e["public_key"], validate=True)
                keys.append(
                    TrustedKey(
                        key_id=e["key_id"],
                        public_key=Ed25519PublicKey.from_public_bytes(raw),
                        owner=e["owner"],
                        valid_from=datetime.fromisoformat(e["valid_from"]),
                        valid_to=_instant(e.get("valid_to")),
                        revoked_at=_instant(e.get("revoked_at")),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise TrustListInvalid(
                    f"{self._trust_path()}: bad entry {e!r:.80}: {exc}"
                ) from None
        return TrustList(keys)

    def _private_path(self, state: str, key_id: str) -> Path:
        return self.folder / f"{state}.{key_id}.pem"

    def create(self, state: str, now: datetime) -> Signer:
        """A new key for ``state``, valid from ``now``, added to the trust list."""
        key = Ed25519PrivateKey.generate()
        key_id = f"{state}-{now:%Y%m%d}-{secrets.token_hex(4)}"
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._private_path(state, key_id)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        entries = self._read_entries()
        entries.append(
            {
                "key_id": key_id,
                "owner": state,
                "public_key": base64.b64encode(public).decode("ascii"),
                "valid_from": now.isoformat(),
                "valid_to": None,
                "revoked_at": None,
            }
        )
        self._write_entries(entries)
        return Signer(key_id, key)

    def signer(self, state: str, now: datetime) -> Signer:
        """The newest usable key of ``state``; creates the first one when there is none."""
        usable = [
            k
            for k in self.trust_list().keys_of(state)
            if k.signs_at(now)
            and not k.revoked_by(now)
            and self._private_path(state, k.key_id).exists()
        ]
        if not usable:
            return self.create(state, now)
        newest = max(usable, key=lambda k: k.valid_from)
        pem = self._private_path(state, newest.key_id).read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise TrustListInvalid(f"{newest.key_id}: not an Ed25519 key")
        return Signer(newest.key_id, private)

    def rotate(self, state: str, now: datetime, overlap: timedelta) -> Signer:
        """A new key for ``state``; its older keys stay valid for ``overlap`` (no downtime)."""
        signer = self.create(state, now)
        entries = self._read_entries()
        for e in entries:
            if e["owner"] == state and e["key_id"] != signer.key_id and e.get("valid_to") is None:
                e["valid_to"] = (now + overlap).isoformat()
        self._write_entries(entries)
        return signer

    def revoke(self, key_id: str, now: datetime) -> None:
        entries = self._read_entries()
        for e in entries:
            if e["key_id"] == key_id:
                e["revoked_at"] = now.isoformat()
                self._write_entries(entries)
                return
        raise TrustListInvalid(f"no key {key_id!r} in {self._trust_path()}")


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
