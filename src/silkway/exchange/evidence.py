"""The evidence of one message received here: a bundle a third party can verify offline.

A bundle (JSON, ``silkway-evidence/1``) holds the envelope exactly as it was received, with
the sender's signature inside it; the sender's key as the trust list lists it; this node's R.006
answer, sealed by this node when the bundle is made (the MessageID it was sent with, its
outcome, errors and processing time as recorded), with this node's listed key; and the times
the message was sent (its EDocDateTime), received and answered. Nothing else is needed to check
it: :mod:`silkway.exchange.signing.evidence` verifies a bundle with no database and no network.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from silkway.exchange.domain.envelope import urn_uuid
from silkway.exchange.service import ExchangeContext, envelope_for
from silkway.kernel.errors import ActionInvalid, Violation

FORMAT = "silkway-evidence/1"


def evidence_bundle(ctx: ExchangeContext, message_id: str) -> dict[str, Any]:
    """The evidence of the message ``message_id`` (``urn:uuid:…``) as this node received it."""
    now = ctx.node.clock.now()
    with ctx.node.read() as uow:
        stored = uow.exchange.envelope_received(message_id)
        entry = uow.exchange.inbox_entry(message_id)
        answer = None if entry is None else uow.outbox.answer_to(message_id, entry.from_state)
    if stored is None or entry is None:
        raise ActionInvalid(
            f"no message {message_id!r} was received at the {ctx.state} node",
            [Violation("message-unknown", "/message_id", message_id)],
        )
    data, received_at = stored
    envelope = ctx.sealer.peek(data)
    if envelope is None:  # pragma: no cover - it was opened when it was received
        raise ActionInvalid("unreadable", [Violation("message-unreadable", "/", message_id)])
    sealed_answer = None if answer is None else ctx.sealer.seal(envelope_for(ctx, answer), now)
    fields = {} if answer is None else answer.payload["fields"]
    return {
        "format": FORMAT,
        "made_by": ctx.state,
        "made_at": _iso(now),
        "message": {
            "message_id": message_id,
            "code": entry.message_code,
            "from_state": entry.from_state,
            "to_state": ctx.state,
            "outcome": entry.outcome,
            "envelope": base64.b64encode(data).decode("ascii"),
            "sender_key": ctx.sealer.signing_key(data, now),
        },
        "answer": None
        if answer is None or sealed_answer is None
        else {
            "message_id": answer.message_id,
            "relates_to": urn_uuid(envelope.header.message_id),
            "outcome": fields.get("ProcessingResultCode"),
            "envelope": base64.b64encode(sealed_answer).decode("ascii"),
            "answerer_key": ctx.sealer.signing_key(sealed_answer, now),
        },
        "times": {
            "sent": _iso(envelope.edoc_header.edoc_datetime),
            "received": _iso(received_at),
            "answered": None if answer is None else _iso(answer.created_at),
        },
    }


def _iso(at: datetime) -> str:
    return at.isoformat()
