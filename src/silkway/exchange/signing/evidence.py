"""Verifying an evidence bundle offline (see :mod:`silkway.exchange.evidence`).

Each check that fails is reported in words, so that whoever holds the bundle knows what does
not hold: the envelope's signature with the listed key, the key's owner, the answer's signature,
that the answer refers to the message, and the order of the times. With a trust list at hand,
the bundled keys must also be the ones it lists.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from silkway.exchange.domain.envelope import (
    Envelope,
    EnvelopeRejected,
    SignatureRejected,
    urn_uuid,
)
from silkway.exchange.domain.processes import is_processing_result
from silkway.exchange.signing.keys import TrustedKey, TrustList
from silkway.exchange.signing.signature import DEFAULT_SKEW, verify

FORMAT = "silkway-evidence/1"


def verify_bundle(bundle: Any, trust: TrustList | None = None) -> list[str]:
    """What is wrong with ``bundle`` (empty when it verifies)."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        return [f"not a {FORMAT} bundle"]
    problems: list[str] = []
    try:
        message, times = bundle["message"], bundle["times"]
        received = datetime.fromisoformat(times["received"])
        sent = datetime.fromisoformat(times["sent"])
    except (KeyError, TypeError, ValueError) as exc:
        return [f"the bundle is incomplete: {exc}"]
    opened = _open(message.get("envelope"), message.get("sender_key"), received, "message")
    if isinstance(opened, str):
        return [opened]
    envelope = opened
    if urn_uuid(envelope.header.message_id) != message.get("message_id"):
        problems.append("message: the envelope's MessageID is not the bundle's message_id")
    if envelope.header.reply_to.node != message.get("from_state"):
        problems.append(
            f"message: sent by {envelope.header.reply_to.node}, not {message.get('from_state')}"
        )
    if received < sent - DEFAULT_SKEW:
        problems.append("times: the message was received before it was sent")
    try:
        made_at = datetime.fromisoformat(bundle["made_at"])
    except (KeyError, TypeError, ValueError):
        return [*problems, "the bundle does not say when it was made"]
    problems += _check_answer(bundle.get("answer"), envelope, times, received, made_at)
    if trust is not None:
        problems += _check_listed(message.get("sender_key"), trust, "sender_key")
        answer = bundle.get("answer")
        if isinstance(answer, dict):
            problems += _check_listed(answer.get("answerer_key"), trust, "answerer_key")
    return problems


def _check_answer(
    answer: Any, envelope: Envelope, times: dict[str, Any], received: datetime, made_at: datetime
) -> list[str]:
    if answer is None:
        return ["answer: the bundle carries no R.006 answer"]
    if not isinstance(answer, dict):
        return ["answer: not an object"]
    try:
        answered = datetime.fromisoformat(times["answered"])
    except (KeyError, TypeError, ValueError):
        return ["times: no time answered"]
    opened = _open(answer.get("envelope"), answer.get("answerer_key"), made_at, "answer")
    if isinstance(opened, str):
        return [opened]
    reply = opened
    problems: list[str] = []
    fields = reply.body.fields
    if not is_processing_result(reply.header.action.message):
        problems.append(f"answer: {reply.header.action.message} is not an R.006 answer")
    relates = reply.header.relates_to
    if relates is None or relates != envelope.header.message_id:
        problems.append("answer: the R.006 does not refer to the message (RelatesTo)")
    if fields.get("RelatedEDocId") != envelope.edoc_header.edoc_id:
        problems.append("answer: the R.006 does not refer to the message's document (EDocId)")
    if reply.header.reply_to.node != envelope.header.to.node:
        problems.append(
            f"answer: given by {reply.header.reply_to.node}, not by the receiver"
            f" {envelope.header.to.node}"
        )
    if urn_uuid(reply.header.message_id) != answer.get("message_id"):
        problems.append("answer: the R.006's MessageID is not the bundle's")
    if fields.get("ProcessingResultCode") != answer.get("outcome"):
        problems.append(
            f"answer: the signed outcome is {fields.get('ProcessingResultCode')!r},"
            f" the bundle says {answer.get('outcome')!r}"
        )
    processed = fields.get("ProcessingDateTime")
    if not isinstance(processed, datetime) or processed != answered:
        problems.append("times: the time answered is not the R.006's ProcessingDateTime")
    elif answered < received:
        problems.append("times: answered before the message was received")
    return problems


def _open(data: Any, listed: Any, at: datetime, what: str) -> Envelope | str:
    """The envelope in ``data`` (base64) verified with the ``listed`` key, or what is wrong."""
    try:
        raw = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        return f"{what}: the envelope is not base64"
    key = _key(listed)
    if isinstance(key, str):
        return f"{what}: {key}"
    try:
        # Judged at the instant it was received (the answer: when the bundle sealed it); its
        # age since is no concern of a bundle's.
        verified = verify(raw, TrustList([key]), at, timedelta.max)
    except SignatureRejected as exc:
        return (
            f"{what}: the signature does not verify with the listed key {key.key_id}"
            f" ({exc.code}: {exc.message})"
        )
    except EnvelopeRejected as exc:
        return f"{what}: not a valid envelope ({exc.code}: {exc.message})"
    return verified.envelope


def _key(listed: Any) -> TrustedKey | str:
    if not isinstance(listed, dict):
        return "no listed key in the bundle"
    try:
        raw = base64.b64decode(str(listed["public_key"]), validate=True)
        return TrustedKey(
            key_id=str(listed["key_id"]),
            public_key=Ed25519PublicKey.from_public_bytes(raw),
            owner=str(listed["owner"]),
            valid_from=datetime.fromisoformat(listed["valid_from"]),
            valid_to=_instant(listed.get("valid_to")),
            revoked_at=_instant(listed.get("revoked_at")),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        return f"the listed key is malformed: {exc}"


def _instant(text: Any) -> datetime | None:
    return None if text is None else datetime.fromisoformat(str(text))


def _check_listed(listed: Any, trust: TrustList, what: str) -> list[str]:
    key = _key(listed)
    if isinstance(key, str):
        return [f"{what}: {key}"]
    known = trust.get(key.key_id)
    if known is None:
        return [f"{what}: key {key.key_id} is not in the trust list"]
    if _raw(known.public_key) != _raw(key.public_key):
        return [f"{what}: key {key.key_id} is not the one the trust list lists"]
    return []


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
