"""The node's envelope sealer: XML codec + schemas + Ed25519 signatures + the trust list."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkway.exchange.domain.envelope import Envelope, EnvelopeRejected
from silkway.exchange.signing.keys import TrustList
from silkway.exchange.signing.keystore import TRUST_FILE, KeyStore
from silkway.exchange.signing.signature import Signer, signature_key_id, verify
from silkway.exchange.xml.codec import decode

DEFAULT_MAX_AGE = timedelta(hours=6)
"""How old a signature may be when it arrives; older envelopes are refused as stale."""


class SignedXmlSealer:
    """Seals with the node's newest key; opens with the Commission's trust list."""

    def __init__(self, state: str, keys: KeyStore, *, max_age: timedelta = DEFAULT_MAX_AGE) -> None:
        self.state = state
        self.keys = keys
        self.max_age = max_age
        self._signer: Signer | None = None
        self._trust: TrustList | None = None
        self._trust_stamp: float | None = None

    def _trust_list(self) -> TrustList:
        # Re-read only when the file changed: rotation and revocation take effect at once,
        # without a restart and without reading the file for every message.
        path: Path = self.keys.folder / TRUST_FILE
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if self._trust is None or stamp != self._trust_stamp:
            self._trust = self.keys.trust_list()
            self._trust_stamp = stamp
            self._signer = None
        return self._trust

    def _current_signer(self, now: datetime) -> Signer:
        trust = self._trust_list()
        signer = self._signer
        if signer is not None:
            key = trust.get(signer.key_id)
            if key is not None and key.signs_at(now) and not key.revoked_by(now):
                return signer
        self._signer = self.keys.signer(self.state, now)
        return self._signer

    def seal(self, envelope: Envelope, now: datetime) -> bytes:
        return self._current_signer(now).sign_envelope(envelope, now)

    def seal_untrusted(self, envelope: Envelope, now: datetime) -> bytes:
        forger = Signer(
            f"{self.state}-untrusted-{secrets.token_hex(4)}", Ed25519PrivateKey.generate()
        )
        return forger.sign_envelope(envelope, now)

    def open(self, data: bytes, now: datetime) -> Envelope:
        return verify(data, self._trust_list(), now, self.max_age).envelope

    def open_as_of(self, data: bytes, received_at: datetime) -> Envelope:
        # Age is judged at reception; a kept envelope does not go stale on the shelf.
        return verify(data, self._trust_list(), received_at, timedelta.max).envelope

    def signing_key(self, data: bytes) -> dict[str, Any] | None:
        key_id = signature_key_id(data)
        key = None if key_id is None else self._trust_list().get(key_id)
        if key is None:
            return None
        raw = key.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "key_id": key.key_id,
            "owner": key.owner,
            "public_key": base64.b64encode(raw).decode("ascii"),
            "valid_from": key.valid_from.isoformat(),
            "valid_to": None if key.valid_to is None else key.valid_to.isoformat(),
            "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
        }

    def peek(self, data: bytes) -> Envelope | None:
        try:
            return decode(data)
        except EnvelopeRejected:
            return None
