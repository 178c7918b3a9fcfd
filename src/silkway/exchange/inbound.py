"""What the handlers of inbound messages share, whatever the process: who sent the message, and
how a log names the change it made."""

from __future__ import annotations

from silkway.exchange.domain.envelope import Envelope


def sender(envelope: Envelope) -> str:
    """The node that sent ``envelope`` (its ReplyTo)."""
    return envelope.header.reply_to.node


def actor(envelope: Envelope) -> str:
    """How a movement's log names a change another node's message made."""
    return f"message:{sender(envelope)}"
