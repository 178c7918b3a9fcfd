"""The integration journal at the Commission's node.

The Commission's node sees every envelope on the Union's bus (its own durable consumer on all
subjects), stamps it with a TrackID and AcceptTime, and keeps it queryable by conversation,
process, state pair, outcome and latency. An R.006 answer closes its original's entry with the
outcome and the round-trip time from the original's AcceptTime.

Only what verifies is journalled: the envelope must pass the same schema and signature checks
(against the trust list the Commission's node holds) as at its receiver. A forgery is logged
and left out, so it cannot stand in the journal for the genuine envelope of the same
MessageID, whose entry is then the first; and an R.006 closes an entry only when it comes from
the state the original was sent to.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from silkway.exchange.domain.envelope import EnvelopeRejected, SignatureRejected, urn_uuid
from silkway.exchange.domain.processes import is_processing_result
from silkway.exchange.expected import ExpectedRefusals
from silkway.exchange.ports import JournalEntry
from silkway.exchange.service import ExchangeContext

log = logging.getLogger("silkway.exchange.journal")


def journal_envelope(
    ctx: ExchangeContext,
    data: bytes,
    waited: timedelta = timedelta(0),
    *,
    via: str | None = None,
    expected: ExpectedRefusals | None = None,
) -> JournalEntry | None:
    """Journal one envelope seen on the bus; None when it does not verify or was seen before.

    A trust list the node cannot use now raises (the bus retries): nothing is judged with it.
    A forgery this process's own interstate tests sent (``expected``) is left out quietly."""
    now = ctx.node.clock.now()
    # Stamped and judged as of when the bus took it, as at its receiver.
    accepted = now - max(waited, timedelta(0))
    try:
        envelope = ctx.sealer.open(data, now, accepted)
    except (EnvelopeRejected, SignatureRejected) as exc:
        peeked = ctx.sealer.peek(data)
        message_id = urn_uuid(peeked.header.message_id) if peeked is not None else None
        claimed = (
            f"{message_id} claiming {peeked.header.reply_to.node}"
            if peeked is not None
            else "unreadable"
        )
        quiet = expected is not None and expected.expected(message_id, str(exc.code))
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "not journalled: envelope %s refused: %s%s",
            claimed,
            exc,
            " (an interstate test's, as expected)" if quiet else "",
        )
        return None
    header = envelope.header
    if via is not None and via != header.reply_to.node:
        # Relayed by a node that is not its sender: the sender's own copy is the one to keep.
        log.warning(
            "not journalled: envelope %s of %s published by %s",
            urn_uuid(header.message_id),
            header.reply_to.node,
            via,
        )
        return None
    entry = JournalEntry(
        track_id=str(uuid.uuid4()),
        message_id=urn_uuid(header.message_id),
        accept_time=accepted,
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
            uow.exchange.journal_answer(entry.relates_to, entry.from_state, str(outcome), accepted)
        uow.commit()
    return entry
