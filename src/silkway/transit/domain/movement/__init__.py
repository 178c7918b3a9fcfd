"""The transit movement: its statuses, the events that change it, and the table between them.

A movement is created when a transit declaration is lodged (:meth:`Movement.lodge`) and changes
only through :func:`apply`, which looks the pair (status, event) up in :data:`TRANSITIONS`, runs
the event's own guard, and returns a new immutable :class:`Movement`. A refused event changes
nothing. :func:`notifications_for` tells which member states must hear of an applied event.

Transitions (status, event -> new status)::

    lodged          accept                        -> accepted
    lodged          reject                        -> rejected
    lodged          amend                         -> lodged
    lodged          cancel                        -> cancelled
    accepted        amend                         -> accepted
    accepted        cancel                        -> cancelled
    accepted        release                       -> released
    released        record_passage                -> in_passage
    released        record_incident               -> released
    released        extend_time_limit             -> released
    released        change_destination            -> released
    released        record_arrival                -> arrived
    released        mark_overdue                  -> overdue
    in_passage      record_passage                -> in_passage
    in_passage      record_incident               -> in_passage
    in_passage      extend_time_limit             -> in_passage
    in_passage      change_destination            -> in_passage
    in_passage      record_arrival                -> arrived
    in_passage      mark_overdue                  -> overdue
    overdue         record_passage                -> overdue
    overdue         record_incident               -> overdue
    overdue         extend_time_limit             -> in_passage
    overdue         record_arrival                -> arrived
    overdue         open_enquiry                  -> under_enquiry
    under_enquiry   record_arrival                -> arrived
    under_enquiry   answer_enquiry_delivered      -> arrived
    under_enquiry   answer_enquiry_not_delivered  -> not_delivered
    under_enquiry   declare_not_delivered         -> not_delivered
    arrived         complete                      -> completed
    arrived         complete_partially            -> partially_completed

Terminal statuses (no event is ever accepted again): rejected, completed, partially_completed,
cancelled, not_delivered.

Rules beyond the table:

- An amendment keeps the status (an accepted declaration stays accepted), may change anything
  but the office of departure, the LRN and the declarant (its identification and country; a
  corrected name or address is fine), and is possible only before release.
- An office of transit is passed once. An office off the itinerary needs ``unplanned=True`` and
  is kept as an unplanned office of transit (NCTS diversion); ``passed_offices`` lists every
  office passed, in order, ``unplanned_offices`` the unplanned ones among them.
- A movement is past its time limit when the UTC date of the instant is after the limit date
  (the limit day itself is still in time). An extension must be later than the current limit and
  not already past; granted to an overdue movement it puts it back in passage.
- An enquiry answer "delivered at office X" counts as arrival at X; "not delivered" ends the
  movement, as does the departure's own declaration of non-delivery.
- ``version`` counts the events in the movement's log, lodging included, so it equals the
  ``seq`` of its last :class:`~silkway.transit.domain.audit.EventRecord`.
"""

from __future__ import annotations

from silkway.transit.domain.movement.codec import event_from_payload
from silkway.transit.domain.movement.events import (
    Accept,
    Amend,
    AnswerEnquiry,
    Cancel,
    ChangeDestination,
    Complete,
    CompletePartially,
    DeclareNotDelivered,
    EnquiryOutcome,
    EventKind,
    ExtendTimeLimit,
    IncidentKind,
    LodgedEvent,
    MarkOverdue,
    MessageKind,
    MovementEvent,
    MovementStatus,
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Reject,
    Release,
)
from silkway.transit.domain.movement.machine import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    Movement,
    OfficeCheck,
    OfficeState,
    allowed_events,
    apply,
    destination_offices,
    office_states,
    replay,
)
from silkway.transit.domain.movement.notifications import Notification, notifications_for

__all__ = [
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "Accept",
    "Amend",
    "AnswerEnquiry",
    "Cancel",
    "ChangeDestination",
    "Complete",
    "CompletePartially",
    "DeclareNotDelivered",
    "EnquiryOutcome",
    "EventKind",
    "ExtendTimeLimit",
    "IncidentKind",
    "LodgedEvent",
    "MarkOverdue",
    "MessageKind",
    "Movement",
    "MovementEvent",
    "MovementStatus",
    "Notification",
    "OfficeCheck",
    "OfficeState",
    "OpenEnquiry",
    "RecordArrival",
    "RecordIncident",
    "RecordPassage",
    "Reject",
    "Release",
    "allowed_events",
    "apply",
    "destination_offices",
    "event_from_payload",
    "notifications_for",
    "office_states",
    "replay",
]
