"""Request and response bodies of the node API, and how actions map to movement events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from silkway.kernel.wire import JSON_INTEGER, Date, Flag
from silkway.transit.domain.audit import EventRecord
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import (
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
    MarkOverdue,
    Movement,
    MovementEvent,
    MovementStatus,
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Reject,
    Release,
    allowed_events,
)

Reason = Annotated[str, Field(min_length=1, max_length=512)]
OfficeCode = Annotated[str, Field(pattern=r"^(\d{2}|\d{5}|\d{8})$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoBody(_Body):
    pass


class ReasonBody(_Body):
    reason: Reason


class AmendBody(_Body):
    declaration: TransitDeclaration


class ReleaseBody(_Body):
    office: OfficeCode
    security_reference: Annotated[str, Field(min_length=1, max_length=35)]


class PassageBody(_Body):
    office: OfficeCode
    unplanned: Flag = False


class ExtensionBody(_Body):
    new_limit: Date
    reason: Reason


class DestinationBody(_Body):
    office: OfficeCode
    reason: Reason


class IncidentBody(_Body):
    incident: IncidentKind
    office: OfficeCode | None = None
    description: Reason
    new_seal_ids: list[Annotated[str, Field(min_length=1, max_length=35)]] = Field(
        default_factory=list, max_length=99
    )


class OfficeBody(_Body):
    office: OfficeCode


class PartialBody(_Body):
    delivered_items: list[Annotated[int, Field(ge=1, le=9999), JSON_INTEGER]] = Field(
        min_length=1, max_length=999
    )


class EnquiryAnswerBody(_Body):
    outcome: EnquiryOutcome
    office: OfficeCode
    note: Annotated[str, Field(max_length=512)] = ""


@dataclass(frozen=True, slots=True)
class Action:
    """One action on a movement as the API exposes it."""

    path: str
    summary: str
    body: type[_Body]
    build: Callable[[Any, datetime], MovementEvent]
    kinds: tuple[EventKind, ...]


ACTIONS: tuple[Action, ...] = (
    Action("accept", "Accept the declaration (departure)", NoBody,
           lambda b, now: Accept(), (EventKind.ACCEPT,)),
    Action("reject", "Reject the declaration (departure)", ReasonBody,
           lambda b, now: Reject(b.reason), (EventKind.REJECT,)),
    Action("amend", "Amend the declaration before release", AmendBody,
           lambda b, now: Amend(b.declaration), (EventKind.AMEND,)),
    Action("release", "Release for transit; needs an accepted security", ReleaseBody,
           lambda b, now: Release(b.security_reference, b.office), (EventKind.RELEASE,)),
    Action("passages", "Record passage of an office of transit", PassageBody,
           lambda b, now: RecordPassage(b.office, b.unplanned), (EventKind.RECORD_PASSAGE,)),
    Action("time-limit-extensions", "Extend the time limit", ExtensionBody,
           lambda b, now: ExtendTimeLimit(b.new_limit, b.reason),
           (EventKind.EXTEND_TIME_LIMIT,)),
    Action("destination-changes", "Change the office of destination", DestinationBody,
           lambda b, now: ChangeDestination(b.office, b.reason),
           (EventKind.CHANGE_DESTINATION,)),
    Action("incidents", "Record an incident on the way (transshipment, accident, seals)",
           IncidentBody,
           lambda b, now: RecordIncident(b.incident, b.office, b.description,
                                         tuple(b.new_seal_ids)),
           (EventKind.RECORD_INCIDENT,)),
    Action("arrival", "Record arrival at the office of destination", OfficeBody,
           lambda b, now: RecordArrival(b.office), (EventKind.RECORD_ARRIVAL,)),
    Action("completion", "Complete the procedure (all goods delivered)", NoBody,
           lambda b, now: Complete(), (EventKind.COMPLETE,)),
    Action("partial-completion", "Complete the procedure for the delivered items", PartialBody,
           lambda b, now: CompletePartially(tuple(b.delivered_items)),
           (EventKind.COMPLETE_PARTIALLY,)),
    Action("cancellation", "Cancel the declaration before release", ReasonBody,
           lambda b, now: Cancel(b.reason), (EventKind.CANCEL,)),
    Action("overdue", "Mark the movement overdue (time limit passed)", NoBody,
           lambda b, now: MarkOverdue(now), (EventKind.MARK_OVERDUE,)),
    Action("enquiry", "Open an enquiry about an overdue movement", ReasonBody,
           lambda b, now: OpenEnquiry(b.reason), (EventKind.OPEN_ENQUIRY,)),
    Action("enquiry-answer", "Answer the enquiry (delivered at an office, or not)",
           EnquiryAnswerBody,
           lambda b, now: AnswerEnquiry(b.outcome, b.office, b.note),
           (EventKind.ANSWER_ENQUIRY_DELIVERED, EventKind.ANSWER_ENQUIRY_NOT_DELIVERED)),
    Action("non-delivery", "Declare the goods not delivered (duties become payable)",
           ReasonBody,
           lambda b, now: DeclareNotDelivered(b.reason), (EventKind.DECLARE_NOT_DELIVERED,)),
)  # fmt: skip


def allowed_actions(status: MovementStatus) -> list[str]:
    allowed = allowed_events(status)
    return [a.path for a in ACTIONS if any(k in allowed for k in a.kinds)]


class MovementSummary(BaseModel):
    reference: str
    registration_number: str
    state: str
    status: MovementStatus
    lrn: str
    declarant: str
    departure_office: str
    destination_office: str
    route: list[str]
    time_limit: date
    lodged_at: datetime
    released_at: datetime | None
    arrived_at: datetime | None
    completed_at: datetime | None
    version: int

    @classmethod
    def of(cls, m: Movement) -> MovementSummary:
        d = m.declaration
        return cls(
            reference=m.reference,
            registration_number=m.registration_number,
            state=m.state,
            status=m.status,
            lrn=d.lrn,
            declarant=d.declarant.identification,
            departure_office=d.departure_office,
            destination_office=m.destination_office,
            route=list(d.route),
            time_limit=m.time_limit,
            lodged_at=m.lodged_at,
            released_at=m.released_at,
            arrived_at=m.arrived_at,
            completed_at=m.completed_at,
            version=m.version,
        )


class MovementDetail(MovementSummary):
    security_reference: str | None
    passed_offices: list[str]
    unplanned_offices: list[str]
    incidents: int
    delivered_items: list[int] | None
    arrival_office: str | None
    allowed_actions: list[str]
    declaration: TransitDeclaration

    @classmethod
    def of(cls, m: Movement) -> MovementDetail:
        base = MovementSummary.of(m).model_dump()
        return cls(
            **base,
            security_reference=m.security_reference,
            passed_offices=list(m.passed_offices),
            unplanned_offices=list(m.unplanned_offices),
            incidents=m.incidents,
            delivered_items=None if m.delivered_items is None else list(m.delivered_items),
            arrival_office=m.arrival_office,
            allowed_actions=allowed_actions(m.status),
            # Stored without codes already; a movement lodged before codes were dropped at
            # lodging must not show its code either.
            declaration=m.declaration.without_access_codes(),
        )


class LodgeResult(BaseModel):
    reference: str
    registration_number: str
    status: MovementStatus
    created: bool
    links: dict[str, str]


class MovementPage(BaseModel):
    items: list[MovementSummary]
    total: int
    offset: int
    limit: int


class EventOut(BaseModel):
    seq: int
    kind: str
    at: datetime
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, r: EventRecord) -> EventOut:
        return cls(
            seq=r.seq,
            kind=r.kind,
            at=r.at,
            actor=r.actor,
            payload=dict(r.payload),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )


class ChainOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None


class EventLogOut(BaseModel):
    reference: str
    verification: ChainOut
    events: list[EventOut]


class OutboxOut(BaseModel):
    message_id: str
    to_state: str
    process: str
    message_kind: str
    created_at: datetime
