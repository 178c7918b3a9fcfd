"""The node's envelope sealer: XML codec + schemas + Ed25519 signatures + the trust list."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from silkway.exchange.domain.envelope import Envelope, EnvelopeRejected
from silkway.exchange.signing.keeper import TrustKeeper, TrustListUnusable
from silkway.exchange.signing.keys import TrustList
from silkway.exchange.signing.keystore import KeyStore, SigningKeyMissing
from silkway.exchange.signing.published import TrustCode
from silkway.exchange.signing.signature import DEFAULT_SKEW, Signer, signature_key_id, verify
from silkway.exchange.xml.codec import decode

DEFAULT_MAX_AGE = timedelta(hours=6)
"""How old a signature may be when it arrives; older envelopes are refused as stale."""


class SignedXmlSealer:
    """Seals with the node's newest published key; opens with the trust list the node holds."""

    def __init__(
        self,
        state: str,
        keys: KeyStore,
        trust: TrustKeeper,
        *,
        max_age: timedelta = DEFAULT_MAX_AGE,
        skew: timedelta = DEFAULT_SKEW,
    ) -> None:
        self.state = state
        self.keys = keys
        self.trust = trust
        self.max_age = max_age
        self.skew = skew
        self._signer: Signer | None = None
        self._signer_version: int | None = None

    def _current_signer(self, now: datetime) -> Signer:
        # Sealing needs only the node's own key: a list past its expiry still says which one
        # the receivers know, and it is each receiver that decides whether to believe it.
        held = self.trust.held(now)
        if held is None:
            raise SigningKeyMissing(
                f"{self.state} holds no trust list yet: nothing says which key to sign with"
            )
        signer = self._signer
        if signer is not None and self._signer_version == held.version:
            key = held.keys.get(signer.key_id)
            if key is not None and key.signs_at(now) and not key.revoked_by(now):
                return signer
        # A new publication, or the key's window closed: pick again (a rotation's new key
        # takes over once the Commission lists it).
        self._signer = self.keys.signer(self.state, held.keys, now)
        self._signer_version = held.version
        return self._signer

    def seal(self, envelope: Envelope, now: datetime) -> bytes:
        return self._current_signer(now).sign_envelope(envelope, now)

    def seal_untrusted(self, envelope: Envelope, now: datetime) -> bytes:
        forger = Signer(
            f"{self.state}-untrusted-{secrets.token_hex(4)}", Ed25519PrivateKey.generate()
        )
        return forger.sign_envelope(envelope, now)

    def open(self, data: bytes, now: datetime, received_at: datetime | None = None) -> Envelope:
        trust = self.trust.current(now)
        return verify(
            data, trust, now, self.max_age, received_at=received_at, skew=self.skew
        ).envelope

    def open_as_of(self, data: bytes, received_at: datetime) -> Envelope:
        # Age is judged at reception; a kept envelope does not go stale on the shelf.
        return verify(
            data, self._listed(received_at), received_at, timedelta.max, skew=self.skew
        ).envelope

    def _listed(self, now: datetime) -> TrustList:
        # Kept envelopes are judged by the keys the list names, expired or not: what counts is
        # the key's own window at the instant in question, which ``verify`` checks.
        held = self.trust.held(now)
        if held is None:
            raise TrustListUnusable(TrustCode.MISSING, f"{self.state} holds no trust list yet")
        return held.keys

    def signing_key(self, data: bytes, now: datetime) -> dict[str, Any] | None:
        key_id = signature_key_id(data)
        key = None if key_id is None else self._listed(now).get(key_id)
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
