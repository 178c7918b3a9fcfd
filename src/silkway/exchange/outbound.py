"""Outbound interstate messages as the outbox keeps them until the relay sends them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from silkway.exchange.domain import fields as message_fields
from silkway.exchange.domain.processes import CATALOGUE, process_of
from silkway.exchange.ports import OutboxMessage


def conversation_of(reference: str) -> str:
    """Every message about one movement travels in one conversation."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"silkway:movement:{reference}"))


def process_message(
    to_state: str,
    kind: str,
    fields: dict[str, Any],
    now: datetime,
    *,
    sender_role: str,
    receiver_role: str,
    conversation_id: str,
    code: str,
    movement_reference: str | None = None,
    relates_to: str | None = None,
    transaction: str | None = None,
) -> OutboxMessage:
    """Any outbound message, with its body fields, as the outbox keeps it.

    ``code`` is the catalogue's message code; a reply (a catalogue entry without a transaction
    of its own) travels in ``transaction``, the one of the message it answers.
    """
    entry = CATALOGUE[code]
    return OutboxMessage(
        message_id=f"urn:uuid:{uuid.uuid4()}",
        created_at=now,
        to_state=to_state,
        process=process_of(code),
        message_kind=kind,
        movement_reference=movement_reference,
        payload={
            "code": code,
            "structure": entry.structure,
            "transaction": entry.transaction or transaction or "",
            "sender_role": sender_role,
            "receiver_role": receiver_role,
            "conversation_id": conversation_id,
            "relates_to": relates_to,
            "fields": message_fields.fields_to_json(entry.structure, fields),
        },
    )
