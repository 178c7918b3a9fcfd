"""Signing adapter: Ed25519 signatures on envelopes, the trust list, the replay guard port."""

from silkway.exchange.signing.keys import TrustedKey, TrustList, TrustListInvalid
from silkway.exchange.signing.replay import ReplayGuard
from silkway.exchange.signing.signature import ALGORITHM, Signer, VerifiedEnvelope, verify

__all__ = [
    "ALGORITHM",
    "ReplayGuard",
    "Signer",
    "TrustList",
    "TrustListInvalid",
    "TrustedKey",
    "VerifiedEnvelope",
    "verify",
]
