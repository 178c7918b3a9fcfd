"""What the handlers of inbound messages share, whatever the process: who sent the message, and
how its effect goes into a movement's log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from silkway.domain import audit
from silkway.domain.envelope import Envelope
from silkway.services.ports import UnitOfWork


def sender(envelope: Envelope) -> str:
    """The node that sent ``envelope`` (its ReplyTo)."""
    return envelope.header.reply_to.node


def actor(envelope: Envelope) -> str:
    """How a movement's log names a change another node's message made."""
    return f"message:{sender(envelope)}"


def log_event(
    uow: UnitOfWork,
    reference: str,
    envelope: Envelope,
    now: datetime,
    kind: str,
    payload: dict[str, Any],
) -> None:
    """Append what ``envelope`` did to movement ``reference`` to its log, the sender as actor."""
    uow.events.append(
        audit.append(uow.events.last(reference), reference, kind, payload, now, actor(envelope))
    )
