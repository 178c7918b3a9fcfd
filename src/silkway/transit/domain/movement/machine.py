"""The movement and its state machine: the transition table, the guards, and :func:`apply`.

A refused event changes nothing: a movement is an immutable value, replaced by the one
:func:`apply` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import TypeAlias

from silkway.kernel.errors import ActionInvalid, ForbiddenTransition, Violation
from silkway.reference.model import MEMBER_STATES, OfficeRole, ReferenceData
from silkway.transit.domain.declaration import TransitDeclaration
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
    MovementEvent,
    MovementStatus,
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Reject,
    Release,
)

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
    # The declarant is who lodged: its identity keys idempotent lodging, searches and the
    # holder authorisation at release, so another declarant lodges a declaration of its own.
    lodged_by, amended_by = m.declaration.declarant, new.declarant
    for name in ("identification", "country"):
        if getattr(amended_by, name) != getattr(lodged_by, name):
            found.append(
                _v(
                    "declarant-fixed",
                    f"/declaration/declarant/{name}",
                    f"the declarant cannot change: {lodged_by.identification}"
                    f" ({lodged_by.country}) lodged this declaration",
                )
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


_XML_FORBIDDEN = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r")
"""Characters XML 1.0 cannot carry: text holding one could never be sent to another state."""


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
    if not _is_text(value):
        return [_v("blank", pointer, f"{pointer.removeprefix('/')} must not be blank")]
    if isinstance(value, str) and not _XML_FORBIDDEN.isdisjoint(value):
        # It would be carried by a message to other states, which XML cannot do.
        return [_v("control-character", pointer, "the text holds a control character")]
    return []


def _aware(value: object, pointer: str) -> list[Violation]:
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return []
    return [_v("naive-time", pointer, "the instant must be timezone-aware")]
