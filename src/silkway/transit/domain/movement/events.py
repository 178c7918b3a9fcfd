"""What happens to a movement: its statuses, and the events that change it (lodging creates it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar, TypeAlias

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
