"""What one national seal operator owes another: hand-overs and completion notices (P.SO.01)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from silkway.domain.seal_rules import Handover
from silkway.services.ports import OutboxMessage, UnitOfWork
from silkway.services.seal_activation import HANDOVER, operator_payload
from silkway.services.seal_ports import HandoverRecord
from silkway.services.seals import SealContext

OPERATOR_PROCESS = "P.SO.01"
"""Silkway's process code for the exchange between national seal operators."""


def operator_messages(records: Sequence[HandoverRecord], now: datetime) -> list[OutboxMessage]:
    """The messages owed to other seal operators for hand-overs and completions (P.SO.01)."""
    return [
        OutboxMessage(
            message_id=r.message_id or f"urn:uuid:{uuid.uuid4()}",
            created_at=now,
            to_state=r.handover.to_state,
            process=OPERATOR_PROCESS,
            message_kind=r.kind,
            movement_reference=r.handover.movement_reference,
            payload=r.payload,
        )
        for r in records
    ]


def record_handovers(
    ctx: SealContext, uow: UnitOfWork, handovers: Sequence[Handover], now: datetime
) -> None:
    """Store the hand-overs a batch of positions revealed, and the messages owed for them."""
    records = [
        HandoverRecord(
            kind=HANDOVER,
            handover=h,
            payload=operator_payload(HANDOVER, h),
            message_id=f"urn:uuid:{uuid.uuid4()}" if ctx.emit_operator_messages else None,
        )
        for h in handovers
    ]
    uow.seals.add_handovers(records)
    if ctx.emit_operator_messages:
        uow.outbox.put(operator_messages(records, now))
