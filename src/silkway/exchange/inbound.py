"""What the handlers of inbound messages share, whatever the process: who sent the message,
whether that sender may say what it says, and how a log names the change it made."""

from __future__ import annotations

from collections.abc import Mapping

from silkway.exchange.domain.envelope import Envelope
from silkway.exchange.domain.processes.senders import Party, SenderRule, sender_rule
from silkway.kernel.codes import movement_state
from silkway.kernel.errors import ActionInvalid, Violation
from silkway.reference.model import ReferenceData

SENDER_NOT_ENTITLED = "sender-not-entitled"

_NEEDS_THE_HANDLER = frozenset({Party.CERTIFICATE_USER, Party.REGISTRATION_OPERATOR})
"""Parties only the capability knows (a stored certificate, a seal's numbering)."""


def sender(envelope: Envelope) -> str:
    """The node that sent ``envelope`` (its ReplyTo, which its signature's key belongs to)."""
    return envelope.header.reply_to.node


def actor(envelope: Envelope) -> str:
    """How a movement's log names a change another node's message made."""
    return f"message:{sender(envelope)}"


def require_sender(
    envelope: Envelope, reference: ReferenceData, entitled: str | None = None
) -> None:
    """Refuse ``envelope`` unless its sender is the party its message type's rule names.

    Handlers call this before they change anything. ``entitled`` is the state of the party when
    only the handler can know it (the state a stored certificate was issued for, the operator a
    seal's id names); otherwise the rule is read from the envelope and the reference data.
    """
    code = envelope.header.action.message
    rule = sender_rule(code)
    if rule.party is Party.OWN_LOGS:
        return  # about the sender's own records: its signature is all the entitlement there is
    if rule.party in _NEEDS_THE_HANDLER:
        if entitled is None:
            raise ValueError(f"the handler of {code} must say who {rule.party} is")
        states = {entitled}
    else:
        states = _entitled_states(rule, envelope, reference)
    who = sender(envelope)
    if states != {who}:
        named = " and ".join(sorted(s for s in states if s)) or "nobody known here"
        message = f"{code} is the word of the {rule.party.value} ({named}), not of {who}"
        pointer = f"/{rule.field}" if rule.field else "/MovementReference"
        raise ActionInvalid(message, [Violation(SENDER_NOT_ENTITLED, pointer, message)])


def _entitled_states(rule: SenderRule, envelope: Envelope, reference: ReferenceData) -> set[str]:
    fields = envelope.body.fields
    states: set[str] = set()
    if rule.party in (Party.DEPARTURE, Party.TRACKING_OPERATOR):
        states.add(movement_state(str(fields["MovementReference"])))
    if rule.field is None:
        return states
    value = fields.get(rule.field)
    if rule.party is Party.CERTIFICATE_ISSUER:
        states.add(str(value))
    elif isinstance(value, Mapping):
        office = reference.offices.get(str(value.get("OfficeCode")))
        # An office this node does not know cannot make anyone its spokesman.
        states.add(office.state if office is not None else "")
    return states
