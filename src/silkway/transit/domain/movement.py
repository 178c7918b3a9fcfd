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
  but the office of departure and the LRN, and is possible only before release.
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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, NoReturn, TypeAlias, TypeVar

from pydantic import ValidationError

from silkway.kernel.errors import ActionInvalid, ForbiddenTransition, Violation
from silkway.reference.model import MEMBER_STATES, OfficeRole, ReferenceData
from silkway.transit.domain.audit import JSON, iso_utc
from silkway.transit.domain.declaration import TransitDeclaration


class MovementStatus(StrEnum):
    LODGED = "lodged"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RELEASED = "released"
    IN_PASSAGE = "in_passage"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    PARTIALLY_COMPLETED = "partially_completed"
    CANCELLED = "cancelled"
    OVERDUE = "overdue"
    UNDER_ENQUIRY = "under_enquiry"
    NOT_DELIVERED = "not_delivered"


class EventKind(StrEnum):
    LODGE = "lodge"
    ACCEPT = "accept"
    REJECT = "reject"
    AMEND = "amend"
    RELEASE = "release"
    RECORD_PASSAGE = "record_passage"
    EXTEND_TIME_LIMIT = "extend_time_limit"
    CHANGE_DESTINATION = "change_destination"
    RECORD_INCIDENT = "record_incident"
    RECORD_ARRIVAL = "record_arrival"
    COMPLETE = "complete"
    COMPLETE_PARTIALLY = "complete_partially"
    CANCEL = "cancel"
    MARK_OVERDUE = "mark_overdue"
    OPEN_ENQUIRY = "open_enquiry"
    ANSWER_ENQUIRY_DELIVERED = "answer_enquiry_delivered"
    ANSWER_ENQUIRY_NOT_DELIVERED = "answer_enquiry_not_delivered"
    DECLARE_NOT_DELIVERED = "declare_not_delivered"


class IncidentKind(StrEnum):
    TRANSSHIPMENT = "transshipment"
    ACCIDENT = "accident"
    SEAL_REPLACED = "seal_replaced"
    OTHER = "other"


class EnquiryOutcome(StrEnum):
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"


class MessageKind(StrEnum):
    RELEASE_NOTIFICATION = "release_notification"
    ANTICIPATED_ARRIVAL = "anticipated_arrival"
    ANTICIPATED_PASSAGE = "anticipated_passage"
    PASSAGE_CONFIRMATION = "passage_confirmation"
    ARRIVAL_NOTICE = "arrival_notice"
    COMPLETION = "completion"
    DESTINATION_CHANGED = "destination_changed"
    TIME_LIMIT_EXTENDED = "time_limit_extended"
    INCIDENT = "incident"
    ENQUIRY = "enquiry"
    NON_DELIVERY_DUTY_NOTICE = "non_delivery_duty_notice"


_S = MovementStatus
_E = EventKind

TRANSITIONS: Mapping[tuple[MovementStatus, EventKind], MovementStatus] = MappingProxyType(
    {
        (_S.LODGED, _E.ACCEPT): _S.ACCEPTED,
        (_S.LODGED, _E.REJECT): _S.REJECTED,
        (_S.LODGED, _E.AMEND): _S.LODGED,
        (_S.LODGED, _E.CANCEL): _S.CANCELLED,
        (_S.ACCEPTED, _E.AMEND): _S.ACCEPTED,
        (_S.ACCEPTED, _E.CANCEL): _S.CANCELLED,
        (_S.ACCEPTED, _E.RELEASE): _S.RELEASED,
        (_S.RELEASED, _E.RECORD_PASSAGE): _S.IN_PASSAGE,
        (_S.RELEASED, _E.RECORD_INCIDENT): _S.RELEASED,
        (_S.RELEASED, _E.EXTEND_TIME_LIMIT): _S.RELEASED,
        (_S.RELEASED, _E.CHANGE_DESTINATION): _S.RELEASED,
        (_S.RELEASED, _E.RECORD_ARRIVAL): _S.ARRIVED,
        (_S.RELEASED, _E.MARK_OVERDUE): _S.OVERDUE,
        (_S.IN_PASSAGE, _E.RECORD_PASSAGE): _S.IN_PASSAGE,
        (_S.IN_PASSAGE, _E.RECORD_INCIDENT): _S.IN_PASSAGE,
        (_S.IN_PASSAGE, _E.EXTEND_TIME_LIMIT): _S.IN_PASSAGE,
        (_S.IN_PASSAGE, _E.CHANGE_DESTINATION): _S.IN_PASSAGE,
        (_S.IN_PASSAGE, _E.RECORD_ARRIVAL): _S.ARRIVED,
        (_S.IN_PASSAGE, _E.MARK_OVERDUE): _S.OVERDUE,
        (_S.OVERDUE, _E.RECORD_PASSAGE): _S.OVERDUE,
        (_S.OVERDUE, _E.RECORD_INCIDENT): _S.OVERDUE,
        (_S.OVERDUE, _E.EXTEND_TIME_LIMIT): _S.IN_PASSAGE,
        (_S.OVERDUE, _E.RECORD_ARRIVAL): _S.ARRIVED,
        (_S.OVERDUE, _E.OPEN_ENQUIRY): _S.UNDER_ENQUIRY,
        (_S.UNDER_ENQUIRY, _E.RECORD_ARRIVAL): _S.ARRIVED,
        (_S.UNDER_ENQUIRY, _E.ANSWER_ENQUIRY_DELIVERED): _S.ARRIVED,
        (_S.UNDER_ENQUIRY, _E.ANSWER_ENQUIRY_NOT_DELIVERED): _S.NOT_DELIVERED,
        (_S.UNDER_ENQUIRY, _E.DECLARE_NOT_DELIVERED): _S.NOT_DELIVERED,
        (_S.ARRIVED, _E.COMPLETE): _S.COMPLETED,
        (_S.ARRIVED, _E.COMPLETE_PARTIALLY): _S.PARTIALLY_COMPLETED,
    }
)
"""Every allowed (status, event) pair and the status it leads to; anything else is forbidden."""

TERMINAL_STATUSES: frozenset[MovementStatus] = frozenset(
    {_S.REJECTED, _S.COMPLETED, _S.PARTIALLY_COMPLETED, _S.CANCELLED, _S.NOT_DELIVERED}
)

_ALLOWED: Mapping[MovementStatus, frozenset[EventKind]] = {
    status: frozenset(kind for (source, kind) in TRANSITIONS if source is status)
    for status in MovementStatus
}


def allowed_events(status: MovementStatus) -> frozenset[EventKind]:
    """The events a movement in ``status`` accepts (empty for a terminal status)."""
    return _ALLOWED[status]


# --- Events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LodgedEvent:
    """The declaration was lodged and the movement registered; first record of every log."""

    kind: ClassVar[EventKind] = EventKind.LODGE
    reference: str
    registration_number: str
    state: str
    declaration: TransitDeclaration
    at: datetime

    def to_payload(self) -> dict[str, JSON]:
        return {
            "reference": self.reference,
            "registration_number": self.registration_number,
            "state": self.state,
            "declaration": self.declaration.model_dump(mode="json"),
            "at": iso_utc(self.at),
        }


@dataclass(frozen=True, slots=True)
class Accept:
    """The office of departure accepts the declaration."""

    kind: ClassVar[EventKind] = EventKind.ACCEPT

    def to_payload(self) -> dict[str, JSON]:
        return {}


@dataclass(frozen=True, slots=True)
class Reject:
    """The office of departure refuses the declaration."""

    kind: ClassVar[EventKind] = EventKind.REJECT
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class Amend:
    """The declarant replaces the declaration before release."""

    kind: ClassVar[EventKind] = EventKind.AMEND
    declaration: TransitDeclaration

    def to_payload(self) -> dict[str, JSON]:
        return {"declaration": self.declaration.model_dump(mode="json")}


@dataclass(frozen=True, slots=True)
class Release:
    """The office of departure releases the goods for transit, the security being accepted."""

    kind: ClassVar[EventKind] = EventKind.RELEASE
    security_reference: str
    office: str

    def to_payload(self) -> dict[str, JSON]:
        return {"security_reference": self.security_reference, "office": self.office}


@dataclass(frozen=True, slots=True)
class RecordPassage:
    """The goods passed an office of transit (``unplanned`` when it is off the itinerary)."""

    kind: ClassVar[EventKind] = EventKind.RECORD_PASSAGE
    office: str
    unplanned: bool = False

    def to_payload(self) -> dict[str, JSON]:
        return {"office": self.office, "unplanned": self.unplanned}


@dataclass(frozen=True, slots=True)
class ExtendTimeLimit:
    """The time limit for presenting the goods at destination is moved to ``new_limit``."""

    kind: ClassVar[EventKind] = EventKind.EXTEND_TIME_LIMIT
    new_limit: date
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"new_limit": self.new_limit.isoformat(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ChangeDestination:
    """The place of delivery moves to another office of destination while under way."""

    kind: ClassVar[EventKind] = EventKind.CHANGE_DESTINATION
    office: str
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"office": self.office, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class RecordIncident:
    """Something happened to the goods or their seals on the way (NCTS IE182)."""

    kind: ClassVar[EventKind] = EventKind.RECORD_INCIDENT
    incident: IncidentKind
    office: str | None
    description: str
    new_seal_ids: tuple[str, ...] = ()

    def to_payload(self) -> dict[str, JSON]:
        return {
            "incident": self.incident.value,
            "office": self.office,
            "description": self.description,
            "new_seal_ids": list(self.new_seal_ids),
        }


@dataclass(frozen=True, slots=True)
class RecordArrival:
    """The goods were presented at the office of destination."""

    kind: ClassVar[EventKind] = EventKind.RECORD_ARRIVAL
    office: str

    def to_payload(self) -> dict[str, JSON]:
        return {"office": self.office}


@dataclass(frozen=True, slots=True)
class Complete:
    """The procedure ends with every goods item delivered."""

    kind: ClassVar[EventKind] = EventKind.COMPLETE

    def to_payload(self) -> dict[str, JSON]:
        return {}


@dataclass(frozen=True, slots=True)
class CompletePartially:
    """The procedure ends for the goods items delivered; the others were not."""

    kind: ClassVar[EventKind] = EventKind.COMPLETE_PARTIALLY
    delivered_items: tuple[int, ...]

    def to_payload(self) -> dict[str, JSON]:
        return {"delivered_items": list(self.delivered_items)}


@dataclass(frozen=True, slots=True)
class Cancel:
    """The declaration is withdrawn before release."""

    kind: ClassVar[EventKind] = EventKind.CANCEL
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class MarkOverdue:
    """The time limit passed without arrival, as seen at ``now``."""

    kind: ClassVar[EventKind] = EventKind.MARK_OVERDUE
    now: datetime

    def to_payload(self) -> dict[str, JSON]:
        return {"now": iso_utc(self.now)}


@dataclass(frozen=True, slots=True)
class OpenEnquiry:
    """The departure asks the destination what became of overdue goods."""

    kind: ClassVar[EventKind] = EventKind.OPEN_ENQUIRY
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"reason": self.reason}


@dataclass(frozen=True, slots=True)
class AnswerEnquiry:
    """The answer to an enquiry: delivered at ``office``, or not delivered (said by ``office``)."""

    outcome: EnquiryOutcome
    office: str
    note: str = ""

    @property
    def kind(self) -> EventKind:
        if self.outcome is EnquiryOutcome.DELIVERED:
            return EventKind.ANSWER_ENQUIRY_DELIVERED
        return EventKind.ANSWER_ENQUIRY_NOT_DELIVERED

    def to_payload(self) -> dict[str, JSON]:
        return {"outcome": self.outcome.value, "office": self.office, "note": self.note}


@dataclass(frozen=True, slots=True)
class DeclareNotDelivered:
    """The departure closes an enquiry without delivery: duties become payable."""

    kind: ClassVar[EventKind] = EventKind.DECLARE_NOT_DELIVERED
    reason: str

    def to_payload(self) -> dict[str, JSON]:
        return {"reason": self.reason}


MovementEvent: TypeAlias = (
    Accept
    | Reject
    | Amend
    | Release
    | RecordPassage
    | ExtendTimeLimit
    | ChangeDestination
    | RecordIncident
    | RecordArrival
    | Complete
    | CompletePartially
    | Cancel
    | MarkOverdue
    | OpenEnquiry
    | AnswerEnquiry
    | DeclareNotDelivered
)
"""Any event :func:`apply` accepts (lodging creates a movement instead)."""


# --- The movement ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Movement:
    """One transit movement as known to a node; replaced, never mutated, by :func:`apply`."""

    reference: str
    registration_number: str
    state: str
    """The member state whose node registered the movement."""
    status: MovementStatus
    declaration: TransitDeclaration
    time_limit: date
    destination_office: str
    lodged_at: datetime
    version: int = 1
    security_reference: str | None = None
    passed_offices: tuple[str, ...] = ()
    unplanned_offices: tuple[str, ...] = ()
    incidents: int = 0
    delivered_items: tuple[int, ...] | None = None
    arrival_office: str | None = None
    released_at: datetime | None = None
    arrived_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def lodge(
        cls,
        reference: str,
        registration_number: str,
        state: str,
        declaration: TransitDeclaration,
        at: datetime,
    ) -> tuple[Movement, LodgedEvent]:
        """Register a lodged declaration; returns the movement and its first event."""
        violations = [
            *_required_text(reference, "/reference"),
            *_required_text(registration_number, "/registration_number"),
            *_aware(at, "/at"),
        ]
        if state not in MEMBER_STATES:
            violations.append(
                Violation("not-member-state", "/state", f"{state!r} is not a member state")
            )
        if violations:
            raise ActionInvalid("the movement cannot be lodged", violations)
        event = LodgedEvent(reference, registration_number, state, declaration, at.astimezone(UTC))
        return cls.from_lodged(event), event

    @classmethod
    def from_lodged(cls, event: LodgedEvent) -> Movement:
        """The movement as it stands right after lodging (used when replaying a log)."""
        return cls(
            reference=event.reference,
            registration_number=event.registration_number,
            state=event.state,
            status=MovementStatus.LODGED,
            declaration=event.declaration,
            time_limit=event.declaration.time_limit,
            destination_office=event.declaration.destination_office,
            lodged_at=event.at,
        )

    @property
    def item_numbers(self) -> tuple[int, ...]:
        return tuple(item.item_number for item in self.declaration.items)


OfficeCheck: TypeAlias = Callable[[str], bool]
"""Answers whether an office code may serve as office of destination."""

OfficeState: TypeAlias = Callable[[str], str | None]
"""Gives the state of an office code, or None for an unknown office."""


def destination_offices(reference: ReferenceData) -> OfficeCheck:
    """An :data:`OfficeCheck` backed by reference data: a known office with the destination role."""

    def check(code: str) -> bool:
        office = reference.offices.get(code)
        return office is not None and OfficeRole.DESTINATION in office.roles

    return check


def office_states(reference: ReferenceData) -> OfficeState:
    """An :data:`OfficeState` backed by reference data."""

    def state_of(code: str) -> str | None:
        office = reference.offices.get(code)
        return None if office is None else office.state

    return state_of


# --- Applying an event -------------------------------------------------------------------------


def apply(
    movement: Movement,
    event: MovementEvent,
    now: datetime,
    *,
    is_destination_office: OfficeCheck | None = None,
) -> Movement:
    """The movement after ``event``, recorded at ``now`` (timezone-aware).

    Raises :class:`ForbiddenTransition` when the movement's status does not allow the event and
    :class:`ActionInvalid` when the event's data is wrong. ``is_destination_office`` checks the
    new office of a change of destination and the office of a "delivered" enquiry answer; without
    it those offices are not checked against reference data (as when replaying a log).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("apply needs a timezone-aware 'now'")
    target = TRANSITIONS.get((movement.status, event.kind))
    if target is None:
        allowed = ", ".join(sorted(allowed_events(movement.status))) or "none"
        message = (
            f"event '{event.kind}' is not allowed for a movement in status '{movement.status}'"
            f" (allowed: {allowed})"
        )
        raise ForbiddenTransition(message, [Violation("forbidden-transition", "/kind", message)])
    moment = now.astimezone(UTC)
    violations = _guard(movement, event, moment, is_destination_office)
    if violations:
        details = "; ".join(v.message for v in violations)
        raise ActionInvalid(f"event '{event.kind}' refused: {details}", violations)
    evolved = _evolve(movement, event, moment)
    return replace(evolved, status=target, version=movement.version + 1)


def replay(lodged: LodgedEvent, events: Iterable[tuple[MovementEvent, datetime]]) -> Movement:
    """Rebuild a movement from its log: the lodging, then each event with its recording time."""
    movement = Movement.from_lodged(lodged)
    for event, at in events:
        movement = apply(movement, event, at)
    return movement


def _guard(
    m: Movement, e: MovementEvent, now: datetime, is_destination: OfficeCheck | None
) -> list[Violation]:
    match e:
        case Reject() | Cancel() | OpenEnquiry() | DeclareNotDelivered():
            return _required_text(e.reason, "/reason")
        case Amend():
            return _guard_amend(m, e)
        case Release():
            return _guard_release(m, e)
        case RecordPassage():
            return _guard_passage(m, e)
        case ExtendTimeLimit():
            return _guard_extension(m, e, now)
        case ChangeDestination():
            return _guard_change_destination(m, e, is_destination)
        case RecordIncident():
            return _guard_incident(e)
        case RecordArrival():
            if e.office != m.destination_office:
                return [
                    _v("not-destination", "/office", f"arrival must be at {m.destination_office}")
                ]
            return []
        case CompletePartially():
            return _guard_partial(m, e)
        case MarkOverdue():
            return _guard_overdue(m, e)
        case AnswerEnquiry():
            return _guard_answer(e, is_destination)
        case Accept() | Complete():
            return []


def _guard_amend(m: Movement, e: Amend) -> list[Violation]:
    new = e.declaration
    if not isinstance(new, TransitDeclaration):
        return [_v("not-a-declaration", "/declaration", "an amendment carries a declaration")]
    found: list[Violation] = []
    if new.departure_office != m.declaration.departure_office:
        found.append(
            _v(
                "departure-fixed",
                "/declaration/departure_office",
                "the office of departure cannot change",
            )
        )
    if new.lrn != m.declaration.lrn:
        found.append(
            _v("lrn-fixed", "/declaration/lrn", "the local reference number cannot change")
        )
    return found


def _guard_release(m: Movement, e: Release) -> list[Violation]:
    found = _required_text(e.security_reference, "/security_reference")
    if e.office != m.declaration.departure_office:
        found.append(
            _v("not-departure", "/office", f"release is given by {m.declaration.departure_office}")
        )
    return found


def _guard_passage(m: Movement, e: RecordPassage) -> list[Violation]:
    if not _is_text(e.office):
        return _required_text(e.office, "/office")
    if e.office in m.passed_offices:
        return [_v("already-passed", "/office", f"office {e.office} was already passed")]
    planned = e.office in m.declaration.intermediate_offices
    if e.unplanned and planned:
        return [_v("office-is-planned", "/unplanned", f"office {e.office} is on the itinerary")]
    if e.unplanned and e.office in (m.declaration.departure_office, m.destination_office):
        return [_v("not-transit-office", "/office", f"{e.office} is not an office of transit")]
    if not e.unplanned and not planned:
        return [
            _v(
                "not-on-itinerary",
                "/office",
                f"office {e.office} is not on the itinerary; record it as unplanned",
            )
        ]
    return []


def _guard_extension(m: Movement, e: ExtendTimeLimit, now: datetime) -> list[Violation]:
    found = _required_text(e.reason, "/reason")
    if not isinstance(e.new_limit, date) or isinstance(e.new_limit, datetime):
        return [*found, _v("not-a-date", "/new_limit", "the new limit must be a date")]
    if e.new_limit <= m.time_limit:
        found.append(_v("not-later", "/new_limit", f"the new limit must be after {m.time_limit}"))
    elif e.new_limit < now.date():
        found.append(_v("already-past", "/new_limit", f"the new limit {e.new_limit} is past"))
    return found


def _guard_change_destination(
    m: Movement, e: ChangeDestination, is_destination: OfficeCheck | None
) -> list[Violation]:
    found = _required_text(e.reason, "/reason")
    if not _is_text(e.office):
        return [*found, *_required_text(e.office, "/office")]
    if e.office == m.destination_office:
        found.append(_v("same-destination", "/office", f"{e.office} is already the destination"))
    elif is_destination is not None and not is_destination(e.office):
        found.append(_v("not-destination-office", "/office", f"{e.office} cannot be a destination"))
    return found


def _guard_incident(e: RecordIncident) -> list[Violation]:
    found = _required_text(e.description, "/description")
    if not isinstance(e.incident, IncidentKind):
        found.append(_v("unknown-incident", "/incident", f"unknown incident kind {e.incident!r}"))
    if e.office is not None and not _is_text(e.office):
        found.append(_v("blank", "/office", "the office must be a code or absent"))
    for index, seal in enumerate(e.new_seal_ids):
        if not _is_text(seal):
            found.append(_v("blank", f"/new_seal_ids/{index}", "a seal id must not be blank"))
    if len(set(e.new_seal_ids)) != len(e.new_seal_ids):
        found.append(_v("duplicate", "/new_seal_ids", "a seal id is listed twice"))
    if e.incident is IncidentKind.SEAL_REPLACED and not e.new_seal_ids:
        found.append(_v("seals-missing", "/new_seal_ids", "a seal replacement names the new seals"))
    return found


def _guard_partial(m: Movement, e: CompletePartially) -> list[Violation]:
    numbers = set(m.item_numbers)
    found = [
        _v("unknown-item", f"/delivered_items/{index}", f"no goods item {item}")
        for index, item in enumerate(e.delivered_items)
        if item not in numbers
    ]
    if len(set(e.delivered_items)) != len(e.delivered_items):
        found.append(_v("duplicate", "/delivered_items", "an item is listed twice"))
    if not e.delivered_items:
        found.append(_v("empty", "/delivered_items", "name at least one delivered item"))
    elif set(e.delivered_items) >= numbers:
        found.append(
            _v("all-delivered", "/delivered_items", "every item was delivered: complete instead")
        )
    return found


def _guard_overdue(m: Movement, e: MarkOverdue) -> list[Violation]:
    if not isinstance(e.now, datetime) or e.now.tzinfo is None or e.now.utcoffset() is None:
        return [_v("naive-time", "/now", "the instant must be timezone-aware")]
    if e.now.astimezone(UTC).date() <= m.time_limit:
        return [_v("not-overdue", "/now", f"the time limit {m.time_limit} has not passed")]
    return []


def _guard_answer(e: AnswerEnquiry, is_destination: OfficeCheck | None) -> list[Violation]:
    if not isinstance(e.outcome, EnquiryOutcome):
        return [_v("unknown-outcome", "/outcome", f"unknown enquiry outcome {e.outcome!r}")]
    if not _is_text(e.office):
        return _required_text(e.office, "/office")
    delivered = e.outcome is EnquiryOutcome.DELIVERED
    if delivered and is_destination is not None and not is_destination(e.office):
        return [_v("not-destination-office", "/office", f"{e.office} cannot be a destination")]
    return []


def _evolve(m: Movement, e: MovementEvent, now: datetime) -> Movement:
    match e:
        case Amend():
            new = e.declaration
            return replace(
                m,
                declaration=new,
                time_limit=new.time_limit,
                destination_office=new.destination_office,
            )
        case Release():
            return replace(m, security_reference=e.security_reference.strip(), released_at=now)
        case RecordPassage():
            unplanned = (*m.unplanned_offices, e.office) if e.unplanned else m.unplanned_offices
            return replace(
                m, passed_offices=(*m.passed_offices, e.office), unplanned_offices=unplanned
            )
        case ExtendTimeLimit():
            return replace(m, time_limit=e.new_limit)
        case ChangeDestination():
            return replace(m, destination_office=e.office)
        case RecordIncident():
            return replace(m, incidents=m.incidents + 1)
        case RecordArrival():
            return replace(m, arrival_office=e.office, arrived_at=now)
        case AnswerEnquiry() if e.outcome is EnquiryOutcome.DELIVERED:
            return replace(m, arrival_office=e.office, arrived_at=now)
        case Complete():
            return replace(m, delivered_items=m.item_numbers, completed_at=now)
        case CompletePartially():
            return replace(m, delivered_items=tuple(sorted(e.delivered_items)), completed_at=now)
        case _:
            return m


def _v(code: str, pointer: str, message: str) -> Violation:
    return Violation(code, pointer, message)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _required_text(value: object, pointer: str) -> list[Violation]:
    if _is_text(value):
        return []
    return [_v("blank", pointer, f"{pointer.removeprefix('/')} must not be blank")]


def _aware(value: object, pointer: str) -> list[Violation]:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return []
    return [_v("naive-time", pointer, "the instant must be timezone-aware")]


# --- Notifications -----------------------------------------------------------------------------


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


# --- Storage form ------------------------------------------------------------------------------


def event_from_payload(kind: str, payload: Mapping[str, JSON]) -> MovementEvent | LodgedEvent:
    """Rebuild an event from its stored ``kind`` and ``to_payload()`` form.

    Raises :class:`ActionInvalid` naming the offending member when the payload does not fit.
    """
    try:
        event_kind = EventKind(kind)
    except ValueError:
        raise ActionInvalid(
            f"unknown event kind {kind!r}",
            [_v("unknown-event-kind", "/kind", f"unknown event kind {kind!r}")],
        ) from None
    if not isinstance(payload, Mapping):
        raise ActionInvalid(
            "an event payload is a JSON object", [_v("not-object", "", "not an object")]
        )
    reader = _Reader(payload)
    event = _PARSERS[event_kind](reader)
    reader.finish()
    if event.kind is not event_kind:
        message = f"payload describes '{event.kind}', not '{event_kind}'"
        raise ActionInvalid(message, [_v("kind-mismatch", "/kind", message)])
    return event


_Choice = TypeVar("_Choice", bound=StrEnum)


class _Reader:
    """Typed access to a stored payload; every miss raises :class:`ActionInvalid`."""

    def __init__(self, payload: Mapping[str, JSON]) -> None:
        self._payload = payload
        self._seen: set[str] = set()

    def _get(self, key: str) -> JSON:
        self._seen.add(key)
        if key not in self._payload:
            self._fail(key, "missing", "is missing")
        return self._payload[key]

    def _fail(self, key: str, code: str, what: str) -> NoReturn:
        message = f"payload member '{key}' {what}"
        raise ActionInvalid(message, [_v(code, f"/{key}", message)])

    def finish(self) -> None:
        extra = sorted(set(self._payload) - self._seen)
        if extra:
            self._fail(extra[0], "unexpected", "is not part of this event")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            self._fail(key, "not-text", "must be a string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._get(key) is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            self._fail(key, "not-boolean", "must be true or false")
        return bool(value)

    def day(self, key: str) -> date:
        text = self.text(key)
        try:
            return date.fromisoformat(text)
        except ValueError:
            self._fail(key, "not-date", "must be an ISO date")

    def instant(self, key: str) -> datetime:
        text = self.text(key)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            self._fail(key, "not-datetime", "must be an ISO date-time")
        if value.utcoffset() is None:
            self._fail(key, "naive-time", "must carry a time zone")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self._fail(key, "not-text-list", "must be a list of strings")
        return tuple(v for v in value if isinstance(v, str))

    def numbers(self, key: str) -> tuple[int, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            self._fail(key, "not-integer-list", "must be a list of integers")
        return tuple(v for v in value if isinstance(v, int))

    def choice(self, key: str, enum: type[_Choice]) -> _Choice:
        text = self.text(key)
        try:
            return enum(text)
        except ValueError:
            self._fail(key, "unknown-value", f"must be one of {', '.join(e.value for e in enum)}")

    def declaration(self, key: str) -> TransitDeclaration:
        value = self._get(key)
        try:
            return TransitDeclaration.model_validate(value)
        except ValidationError as exc:
            violations = [
                _v(
                    "declaration-invalid",
                    "/" + "/".join([key, *(str(part) for part in error["loc"])]),
                    error["msg"],
                )
                for error in exc.errors()
            ]
            raise ActionInvalid(
                f"payload member '{key}' is not a valid declaration", violations
            ) from None


def _lodged(r: _Reader) -> LodgedEvent:
    return LodgedEvent(
        reference=r.text("reference"),
        registration_number=r.text("registration_number"),
        state=r.text("state"),
        declaration=r.declaration("declaration"),
        at=r.instant("at"),
    )


def _answer(r: _Reader) -> AnswerEnquiry:
    return AnswerEnquiry(r.choice("outcome", EnquiryOutcome), r.text("office"), r.text("note"))


def _incident(r: _Reader) -> RecordIncident:
    return RecordIncident(
        incident=r.choice("incident", IncidentKind),
        office=r.optional_text("office"),
        description=r.text("description"),
        new_seal_ids=r.texts("new_seal_ids"),
    )


_PARSERS: Mapping[EventKind, Callable[[_Reader], MovementEvent | LodgedEvent]] = {
    _E.LODGE: _lodged,
    _E.ACCEPT: lambda r: Accept(),
    _E.REJECT: lambda r: Reject(r.text("reason")),
    _E.AMEND: lambda r: Amend(r.declaration("declaration")),
    _E.RELEASE: lambda r: Release(r.text("security_reference"), r.text("office")),
    _E.RECORD_PASSAGE: lambda r: RecordPassage(r.text("office"), r.flag("unplanned")),
    _E.EXTEND_TIME_LIMIT: lambda r: ExtendTimeLimit(r.day("new_limit"), r.text("reason")),
    _E.CHANGE_DESTINATION: lambda r: ChangeDestination(r.text("office"), r.text("reason")),
    _E.RECORD_INCIDENT: _incident,
    _E.RECORD_ARRIVAL: lambda r: RecordArrival(r.text("office")),
    _E.COMPLETE: lambda r: Complete(),
    _E.COMPLETE_PARTIALLY: lambda r: CompletePartially(r.numbers("delivered_items")),
    _E.CANCEL: lambda r: Cancel(r.text("reason")),
    _E.MARK_OVERDUE: lambda r: MarkOverdue(r.instant("now")),
    _E.OPEN_ENQUIRY: lambda r: OpenEnquiry(r.text("reason")),
    _E.ANSWER_ENQUIRY_DELIVERED: _answer,
    _E.ANSWER_ENQUIRY_NOT_DELIVERED: _answer,
    _E.DECLARE_NOT_DELIVERED: lambda r: DeclareNotDelivered(r.text("reason")),
}
