"""Detached Ed25519 signatures over the exclusive canonical form of an envelope.

What is signed. The bytes signed are a length-prefixed sequence of:

1. the tag ``silkway-envelope-signature/v1`` (so the signature cannot be reused elsewhere),
2. the key id, the algorithm name and the SignedAt text of the ``sw:Signature`` block (so that
   neither the signing time nor the key can be changed without breaking the signature),
3. the exclusive canonical XML (C14N 1.0 exclusive, without comments) of each SOAP header
   block in document order, except ``sw:Signature`` itself and ``int:Integration``, which the
   integration platform stamps after the sender has signed,
4. the exclusive canonical XML of the SOAP Body.

Canonicalising each block on its own makes the signature independent of whitespace between
blocks and of where namespaces are declared: exclusive C14N renders only the namespaces a
subtree actually uses, so the platform may add blocks or declarations around the signed parts.
Prefixes themselves are part of the canonical form and must be kept.

Why not XMLDSig. XML Signature is the classic answer, but no maintained Python XMLDSig library
supports Ed25519 reliably, and XMLDSig's flexibility (references, arbitrary transforms, XPath,
key info retrieval) is a well-known source of signature-wrapping and resolution attacks.
A fixed, detached construction has one way to be computed and one way to be checked, and its
canonical form is still the W3C standard one, so any other implementation can reproduce it
with a stock C14N routine and any Ed25519 library.

What verification covers. The trust list must know the key; the key must not be revoked at
``now``; the signature must match; the key's owner must be the sender's node (ReplyTo); SignedAt
must lie in the key's validity window, be no older than ``max_age`` and no later than the
moment of reception (the bus's timestamp, else ``now``) plus the allowed clock skew. The TrackID and AcceptTime stamps are not signed by the sender.
Replayed MessageIDs are the receiver's store's concern (see :mod:`.replay`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from lxml import etree

from silkway.exchange.domain.envelope import (
    Envelope,
    EnvelopeRejected,
    SignatureCode,
    SignatureRejected,
)
from silkway.exchange.signing.keys import TrustList, check_key_id
from silkway.exchange.xml.codec import encode, envelope_from_document, read_document, serialise
from silkway.exchange.xml.namespaces import INTERACTION, SIGNATURE, SOAP, qname
from silkway.exchange.xml.parsing import DEFAULT_LIMITS, Limits
from silkway.exchange.xml.validation import envelope_schema

ALGORITHM = "Ed25519"
_TAG = b"silkway-envelope-signature/v1"
_UNSIGNED_BLOCKS = frozenset({qname(SIGNATURE, "Signature"), qname(INTERACTION, "Integration")})
_SIGNATURE_LENGTH = 64
DEFAULT_SKEW = timedelta(minutes=2)


def _canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _part(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def signed_bytes(root: etree._Element, key_id: str, algorithm: str, signed_at: str) -> bytes:
    """The exact bytes a signature covers, for the Envelope element ``root``."""
    header = root.find(qname(SOAP, "Header"))
    body = root.find(qname(SOAP, "Body"))
    if header is None or body is None:
        raise SignatureRejected(SignatureCode.MALFORMED, "Header or Body missing")
    parts = [_TAG, key_id.encode(), algorithm.encode(), signed_at.encode()]
    parts += [
        _canonical(block)
        for block in header
        if isinstance(block.tag, str) and block.tag not in _UNSIGNED_BLOCKS
    ]
    parts.append(_canonical(body))
    return b"".join(_part(part) for part in parts)


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must carry a timezone")


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs outbound envelopes with one node key."""

    key_id: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        check_key_id(self.key_id)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def sign(self, data: bytes, signed_at: datetime, limits: Limits = DEFAULT_LIMITS) -> bytes:
        """``data`` (an encoded envelope) with a ``sw:Signature`` header block added."""
        _require_aware("signed_at", signed_at)
        root = read_document(data, limits)
        header = root.find(qname(SOAP, "Header"))
        if header is None:  # pragma: no cover - read_document guarantees a Header
            raise SignatureRejected(SignatureCode.MALFORMED, "Header missing")
        if header.find(qname(SIGNATURE, "Signature")) is not None:
            raise SignatureRejected(SignatureCode.ALREADY_SIGNED, "the envelope is signed")
        signed_at_text = signed_at.isoformat()
        value = self.private_key.sign(signed_bytes(root, self.key_id, ALGORITHM, signed_at_text))
        block = etree.SubElement(header, qname(SIGNATURE, "Signature"), nsmap={"sw": SIGNATURE})
        for name, text in (
            ("KeyId", self.key_id),
            ("Algorithm", ALGORITHM),
            ("SignedAt", signed_at_text),
            ("SignatureValue", base64.b64encode(value).decode("ascii")),
        ):
            etree.SubElement(block, qname(SIGNATURE, name)).text = text
        envelope_schema().check(root, "signed envelope")
        return serialise(root)

    def sign_envelope(self, envelope: Envelope, signed_at: datetime) -> bytes:
        """Encode ``envelope`` and sign it."""
        return self.sign(encode(envelope), signed_at)


@dataclass(frozen=True, slots=True, eq=False)
class VerifiedEnvelope:
    """An inbound envelope whose signature checked out, and who signed it when."""

    envelope: Envelope
    key_id: str
    signer: str
    """Node code of the key's owner."""
    signed_at: datetime


def _block_text(block: etree._Element, name: str) -> str:
    element = block.find(qname(SIGNATURE, name))
    if element is None or not element.text:
        raise SignatureRejected(SignatureCode.MALFORMED, f"{name} is missing")
    return element.text.strip()


def verify(
    data: bytes,
    trust: TrustList,
    now: datetime,
    max_age: timedelta,
    *,
    received_at: datetime | None = None,
    skew: timedelta = DEFAULT_SKEW,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedEnvelope:
    """Decode ``data`` and check its signature.

    Age is judged at ``received_at``, when the bus took the message (default ``now``): a message
    that waited on the bus for a node that was down or busy is as fresh as when it arrived. The
    key's revocation is judged ``now``: a key revoked since then signs nothing trusted.

    Raises :class:`~silkway.exchange.domain.envelope.EnvelopeRejected` for bytes that are not a valid
    envelope and :class:`~silkway.exchange.domain.envelope.SignatureRejected` for one that cannot be
    trusted. The envelope returned is the one decoded from the very tree that was verified.
    """
    _require_aware("now", now)
    if received_at is not None:
        _require_aware("received_at", received_at)
    root = read_document(data, limits)
    envelope = envelope_from_document(root)
    header = root.find(qname(SOAP, "Header"))
    block = None if header is None else header.find(qname(SIGNATURE, "Signature"))
    if block is None:
        raise SignatureRejected(SignatureCode.UNSIGNED, "the envelope carries no signature")
    key_id = _block_text(block, "KeyId")
    algorithm = _block_text(block, "Algorithm")
    signed_at_text = _block_text(block, "SignedAt")
    if algorithm != ALGORITHM:
        raise SignatureRejected(SignatureCode.ALGORITHM_UNSUPPORTED, algorithm[:40])
    key = trust.get(key_id)
    if key is None:
        raise SignatureRejected(SignatureCode.KEY_UNKNOWN, f"key {key_id!r} is not trusted")
    if key.revoked_by(now):
        raise SignatureRejected(SignatureCode.KEY_REVOKED, f"key {key_id!r} is revoked")
    try:
        value = base64.b64decode(
            "".join(_block_text(block, "SignatureValue").split()), validate=True
        )
        signed_at = datetime.fromisoformat(signed_at_text)
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected(SignatureCode.MALFORMED, str(exc)[:200]) from None
    if len(value) != _SIGNATURE_LENGTH or signed_at.utcoffset() is None:
        raise SignatureRejected(SignatureCode.MALFORMED, "bad signature value or SignedAt")
    try:
        key.public_key.verify(value, signed_bytes(root, key_id, algorithm, signed_at_text))
    except InvalidSignature:
        raise SignatureRejected(
            SignatureCode.INVALID, "the signature does not match the envelope"
        ) from None
    # Everything below relies on values the signature has just authenticated.
    sender = envelope.header.reply_to.node
    if key.owner != sender:
        raise SignatureRejected(
            SignatureCode.KEY_OWNER_MISMATCH, f"key of {key.owner} signs for {sender}"
        )
    if signed_at < key.valid_from:
        raise SignatureRejected(SignatureCode.KEY_NOT_YET_VALID, f"key {key_id!r} not yet valid")
    if not key.signs_at(signed_at):
        raise SignatureRejected(SignatureCode.KEY_EXPIRED, f"key {key_id!r} had expired")
    arrived = now if received_at is None else min(received_at, now)
    if signed_at > arrived + skew:
        raise SignatureRejected(SignatureCode.FROM_FUTURE, f"signed at {signed_at_text}")
    if arrived - signed_at > max_age:
        raise SignatureRejected(SignatureCode.STALE, f"signed at {signed_at_text}")
    return VerifiedEnvelope(envelope, key_id, key.owner, signed_at)


def signature_key_id(data: bytes, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """The KeyId an envelope's signature block names (unverified), or None."""
    try:
        root = read_document(data, limits)
    except (EnvelopeRejected, SignatureRejected):
        return None
    header = root.find(qname(SOAP, "Header"))
    block = None if header is None else header.find(qname(SIGNATURE, "Signature"))
    element = None if block is None else block.find(qname(SIGNATURE, "KeyId"))
    return None if element is None or not element.text else element.text.strip()
