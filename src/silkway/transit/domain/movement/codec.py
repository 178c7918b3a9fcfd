"""The storage form of a movement's events: each event as the JSON payload its log record keeps, and back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import NoReturn, TypeVar

from pydantic import ValidationError

from silkway.kernel.errors import ActionInvalid, Violation
from silkway.transit.domain.audit import JSON
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
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Reject,
    Release,
)

_E = EventKind


def event_from_payload(kind: str, payload: Mapping[str, JSON]) -> MovementEvent | LodgedEvent:
    """Rebuild an event from its stored ``kind`` and ``to_payload()`` form.

    Raises :class:`ActionInvalid` naming the offending member when the payload does not fit.
    """
    try:
        event_kind = EventKind(kind)
    except ValueError:
        raise ActionInvalid(
            f"unknown event kind {kind!r}",
            [Violation("unknown-event-kind", "/kind", f"unknown event kind {kind!r}")],
        ) from None
    if not isinstance(payload, Mapping):
        raise ActionInvalid(
            "an event payload is a JSON object", [Violation("not-object", "", "not an object")]
        )
    reader = _Reader(payload)
    event = _PARSERS[event_kind](reader)
    reader.finish()
    if event.kind is not event_kind:
        message = f"payload describes '{event.kind}', not '{event_kind}'"
        raise ActionInvalid(message, [Violation("kind-mismatch", "/kind", message)])
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
        raise ActionInvalid(message, [Violation(code, f"/{key}", message)])

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
                Violation(
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
