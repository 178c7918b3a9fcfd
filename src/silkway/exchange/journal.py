"""The integration journal at the Commission's node.

The Commission's node sees every envelope on the Union's bus (its own durable consumer on all
subjects), stamps it with a TrackID and AcceptTime, and keeps it queryable by conversation,
process, state pair, outcome and latency. An R.006 answer closes its original's entry with the
outcome and the round-trip time from the original's AcceptTime.
"""

from __future__ import annotations

import uuid

from silkway.exchange.domain.envelope import urn_uuid
from silkway.exchange.domain.processes import is_processing_result
from silkway.exchange.ports import JournalEntry
from silkway.exchange.service import ExchangeContext


def journal_envelope(ctx: ExchangeContext, data: bytes) -> JournalEntry | None:
    """Journal one envelope seen on the bus; None when it cannot even be read."""
    envelope = ctx.sealer.peek(data)
    if envelope is None:
        return None
    now = ctx.node.clock.now()
    header = envelope.header
    entry = JournalEntry(
        track_id=str(uuid.uuid4()),
        message_id=urn_uuid(header.message_id),
        accept_time=now,
        message_code=header.action.message,
        process=header.action.process,
        from_state=header.reply_to.node,
        to_state=header.to.node,
        conversation_id=str(header.conversation_id),
        relates_to=urn_uuid(header.relates_to) if header.relates_to else None,
        sent_at=envelope.edoc_header.edoc_datetime,
    )
    with ctx.node.uow() as uow:
        if not uow.exchange.journal_add(entry):
            return None  # delivered again: journaled the first time
        if is_processing_result(header.action.message) and entry.relates_to is not None:
            outcome = envelope.body.fields.get("ProcessingResultCode")
            uow.exchange.journal_answer(entry.relates_to, str(outcome), now)
        uow.commit()
    return entry
