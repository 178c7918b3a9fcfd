"""The evidence of one message received here: a bundle a third party can verify offline.

A bundle (JSON, ``silkway-evidence/1``) holds the envelope exactly as it was received, with
the sender's signature inside it; the sender's key as the trust list lists it; this node's R.006
answer exactly as it was sent (``as_sent``; for an answer sent before this node kept its sent
envelopes, sealed anew when the bundle is made, with the MessageID, outcome, errors and
processing time it was sent with), with this node's listed key; and the times
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
        kept = None if answer is None else uow.exchange.envelope_sent(answer.message_id)
    if stored is None or entry is None:
        raise ActionInvalid(
            f"no message {message_id!r} was received at the {ctx.state} node",
            [Violation("message-unknown", "/message_id", message_id)],
        )
    data, received_at = stored
    envelope = ctx.sealer.peek(data)
    if envelope is None:  # pragma: no cover - it was opened when it was received
        raise ActionInvalid("unreadable", [Violation("message-unreadable", "/", message_id)])
    if answer is None:
        sealed_answer = None
    elif kept is not None:
        sealed_answer = kept[0]
    else:  # sent before sent envelopes were kept, or not sent yet
        sealed_answer = ctx.sealer.seal(envelope_for(ctx, answer), now)
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
            "as_sent": kept is not None,
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
