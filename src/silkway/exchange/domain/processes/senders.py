"""Who may send each message: one table for every process.

A signature proves which node sent an envelope (its key belongs to the ReplyTo node); it does
not make that node the one entitled to say what the message says. Any trusted node could
otherwise report an arrival at another state's office, complete another state's movement, or
write off another state's certificate. So every message type names the one party whose word it
is, and the receiving handler compares that party's state with the sender before it changes
anything (:func:`silkway.exchange.inbound.require_sender`); a refusal is the negative R.006
``sender-not-entitled``.

- What happened at a customs office (passage, arrival, an incident, an enquiry answer) is the
  word of that office's state: the state of the office the message reports for.
- What the movement's registration decides (release, anticipated arrival and passage,
  completion, time limit, destination, enquiry, non-delivery) is the word of the state of
  departure: the state the movement reference names, and the state of the office of departure
  where the message names it.
- A certificate is issued by its issuing state and used, then written off, by the state it was
  issued for.
- An anchor of a node's logs is the word of that node alone: it names no other state, and the
  Commission keeps it as the sender's (the anchored state is the signer).
- A carriage's seal is tracked by the operator of the state of departure (the tracking
  operator); a seal is described by the operator that registered it, the state its id names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Party(StrEnum):
    """Whose word a message is."""

    DEPARTURE = "state of departure"
    """The state the movement reference names; also the state of the office of departure when
    the rule names the field that carries it."""
    OFFICE = "state of the office reported for"
    """The state of the customs office in the rule's field (an office group, ``OfficeCode``)."""
    CERTIFICATE_ISSUER = "issuing state of the certificate"
    """The state in the rule's field, which the certificate's registration also checks."""
    CERTIFICATE_USER = "state the certificate was issued for"
    """Known only from the certificate as the issuing node registered it."""
    TRACKING_OPERATOR = "tracking operator"
    """The seal operator of the state of departure: the state the movement reference names."""
    REGISTRATION_OPERATOR = "registration operator of the seal"
    """The operator whose registry holds the seal: the state the seal id begins with."""
    OWN_LOGS = "node whose logs are anchored"
    """The sender itself: a message about the sender's own records and nothing else."""


@dataclass(frozen=True, slots=True)
class SenderRule:
    party: Party
    field: str | None = None
    """The body field that names the office (or state) the rule reads, if any."""


SENDERS: Final[MappingProxyType[str, SenderRule]] = MappingProxyType(
    {
        # P.CP.01, customs authorities.
        "P.CP.01.MSG.010": SenderRule(Party.DEPARTURE, "DepartureOffice"),
        "P.CP.01.MSG.901": SenderRule(Party.DEPARTURE, "DepartureOffice"),
        "P.CP.01.MSG.902": SenderRule(Party.DEPARTURE, "DepartureOffice"),
        "P.CP.01.MSG.903": SenderRule(Party.OFFICE, "IntermediateOffice"),
        "P.CP.01.MSG.904": SenderRule(Party.OFFICE, "DestinationOffice"),
        "P.CP.01.MSG.905": SenderRule(Party.DEPARTURE),
        "P.CP.01.MSG.906": SenderRule(Party.OFFICE, "ReportingOffice"),
        "P.CP.01.MSG.907": SenderRule(Party.DEPARTURE, "DecidingOffice"),
        "P.CP.01.MSG.908": SenderRule(Party.DEPARTURE),
        "P.CP.01.MSG.909": SenderRule(Party.DEPARTURE, "EnquiringOffice"),
        "P.CP.01.MSG.910": SenderRule(Party.OFFICE, "RespondingOffice"),
        "P.CP.01.MSG.911": SenderRule(Party.DEPARTURE, "DepartureOffice"),
        "P.CP.01.MSG.912": SenderRule(Party.CERTIFICATE_ISSUER, "IssuingCountryCode"),
        "P.CP.01.MSG.913": SenderRule(Party.CERTIFICATE_USER),
        "P.CP.01.MSG.914": SenderRule(Party.CERTIFICATE_USER),
        "P.CP.01.MSG.915": SenderRule(Party.OWN_LOGS),
        # P.SO.01, seal operators.
        "P.SO.01.MSG.901": SenderRule(Party.TRACKING_OPERATOR),
        "P.SO.01.MSG.902": SenderRule(Party.REGISTRATION_OPERATOR, "SealId"),
        "P.SO.01.MSG.903": SenderRule(Party.TRACKING_OPERATOR),
        "P.SO.01.MSG.904": SenderRule(Party.TRACKING_OPERATOR),
        "P.SO.01.MSG.905": SenderRule(Party.TRACKING_OPERATOR),
    }
)
"""The rule of every message that has an effect on arrival, by message code. The R.006
answers have none: an answer is matched to the message it answers, which this node sent."""


def sender_rule(code: str) -> SenderRule:
    """The rule of message ``code``; a message without one must not be given an effect."""
    rule = SENDERS.get(code)
    if rule is None:
        raise KeyError(f"no sender rule for {code}")
    return rule
