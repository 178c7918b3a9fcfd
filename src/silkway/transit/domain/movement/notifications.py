"""Which member states must hear of an applied event, and with which message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from silkway.reference.model import MEMBER_STATES
from silkway.transit.domain.movement.events import (
    AnswerEnquiry,
    ChangeDestination,
    Complete,
    CompletePartially,
    DeclareNotDelivered,
    EnquiryOutcome,
    ExtendTimeLimit,
    MessageKind,
    MovementEvent,
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Release,
)
from silkway.transit.domain.movement.machine import Movement, OfficeState


@dataclass(frozen=True, slots=True)
class Notification:
    """A message a member state must receive because of an applied event."""

    to_state: str
    message_kind: MessageKind


def notifications_for(
    before: Movement,
    after: Movement,
    event: MovementEvent,
    office_state: OfficeState,
    *,
    sender: str | None = None,
) -> list[Notification]:
    """The messages owed to other member states once ``event`` turned ``before`` into ``after``.

    ``sender`` is the state whose node records the event; when omitted it is inferred as below
    (a node keying in an event for an office of another state, e.g. from a paper document,
    passes its own state so that nobody is left out).

    The sender is the state that records the event: the state of the event's office for release,
    passage, arrival, an incident at an office and an enquiry answer; the state of the office of
    destination (or of actual arrival) for completion; the departure state otherwise. Only member
    states receive messages, never the sender. Each (state, message kind) appears once, in route
    order. A declaration of non-delivery by the departure goes to every other state on the route
    so that they close their copies; an answer "not delivered" goes to the departure state.
    """
    departure = office_state(after.declaration.departure_office) or after.state
    if sender is None:
        sender = _sender(before, event, office_state, departure)
    route = _route_states(after, office_state)
    planned: list[tuple[str | None, MessageKind]] = []
    match event:
        case Release():
            planned += [(s, MessageKind.RELEASE_NOTIFICATION) for s in route if s != departure]
            planned.append(
                (office_state(after.destination_office), MessageKind.ANTICIPATED_ARRIVAL)
            )
            planned += [
                (office_state(office), MessageKind.ANTICIPATED_PASSAGE)
                for office in after.declaration.intermediate_offices
            ]
        case RecordPassage():
            planned.append((departure, MessageKind.PASSAGE_CONFIRMATION))
        case RecordArrival():
            planned.append((departure, MessageKind.ARRIVAL_NOTICE))
        case Complete() | CompletePartially():
            planned += [(s, MessageKind.COMPLETION) for s in route]
        case ChangeDestination():
            old_destination = office_state(before.destination_office)
            planned += [(s, MessageKind.DESTINATION_CHANGED) for s in (*route, old_destination)]
        case ExtendTimeLimit():
            planned += [(s, MessageKind.TIME_LIMIT_EXTENDED) for s in route]
        case RecordIncident():
            remaining = route[route.index(sender) + 1 :] if sender in route else route
            planned += [(s, MessageKind.INCIDENT) for s in (departure, *remaining)]
        case OpenEnquiry():
            planned.append((office_state(after.destination_office), MessageKind.ENQUIRY))
        case AnswerEnquiry() if event.outcome is EnquiryOutcome.DELIVERED:
            planned.append((departure, MessageKind.ARRIVAL_NOTICE))
        case AnswerEnquiry():
            planned.append((departure, MessageKind.NON_DELIVERY_DUTY_NOTICE))
        case DeclareNotDelivered():
            planned += [(s, MessageKind.NON_DELIVERY_DUTY_NOTICE) for s in route]
        case _:
            pass
    return _addressed(planned, sender)


def _sender(
    before: Movement, event: MovementEvent, office_state: OfficeState, departure: str
) -> str:
    match event:
        case Release() | RecordPassage() | RecordArrival() | AnswerEnquiry():
            return office_state(event.office) or departure
        case RecordIncident() if event.office is not None:
            return office_state(event.office) or departure
        case Complete() | CompletePartially():
            office = before.arrival_office or before.destination_office
            return office_state(office) or departure
        case _:
            return departure


def _route_states(m: Movement, office_state: OfficeState) -> list[str]:
    """Member states on the route in travel order, the destination's state last if not on it."""
    states = _unique(s for s in m.declaration.route if s in MEMBER_STATES)
    destination = office_state(m.destination_office)
    if destination in MEMBER_STATES and destination not in states:
        states.append(destination)
    return states


_T = TypeVar("_T")


def _unique(values: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(values))


def _addressed(planned: list[tuple[str | None, MessageKind]], sender: str) -> list[Notification]:
    return [
        Notification(state, kind)
        for state, kind in _unique(planned)
        if state is not None and state in MEMBER_STATES and state != sender
    ]
