"""The movement state machine: the table, the guards, the storage form and the notifications."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from silkway.kernel.errors import ActionInvalid, ForbiddenTransition
from silkway.reference.model import CustomsOffice, OfficeRole, ReferenceData
from silkway.transit.domain import movement as movement_module
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import (
    TERMINAL_STATUSES,
    TRANSITIONS,
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
    apply,
    destination_offices,
    event_from_payload,
    notifications_for,
    office_states,
    replay,
)

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
LATE = datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
TIME_LIMIT = date(2026, 3, 20)

DEPARTURE = "55301"
KZ_BORDER = "55302"
DESTINATION = "06611"
OTHER_DESTINATION = "06612"
RU_ENTRY = "10216100"
RU_EXIT = "10404000"
RU_DESTINATION = "10005000"

OFFICE_STATES = {
    DEPARTURE: "KZ",
    KZ_BORDER: "KZ",
    DESTINATION: "BY",
    OTHER_DESTINATION: "BY",
    RU_ENTRY: "RU",
    RU_EXIT: "RU",
    RU_DESTINATION: "RU",
    "05": "AM",
}
DESTINATION_OFFICES = frozenset({DESTINATION, OTHER_DESTINATION, RU_DESTINATION, "05"})
Sent = list[tuple[str, MessageKind]]


def office_state(code: str) -> str | None:
    return OFFICE_STATES.get(code)


def is_destination(code: str) -> bool:
    return code in DESTINATION_OFFICES


def declaration(**changes: Any) -> TransitDeclaration:
    data: dict[str, Any] = {
        "lrn": "KZ-LRN-0001",
        "declarant": {
            "name": "Silk Road Logistics",
            "identification": "123456789012",
            "country": "KZ",
        },
        "consignor": {"name": "Xi'an Electronics", "identification": "CN9133", "country": "CN"},
        "consignee": {"name": "Minsk Retail", "identification": "BY190000001", "country": "BY"},
        "departure_office": DEPARTURE,
        "destination_office": DESTINATION,
        "intermediate_offices": [RU_ENTRY, RU_EXIT],
        "route": ["KZ", "RU", "BY"],
        "transport": [{"mode": "road", "identity": "123ABC02", "nationality": "KZ"}],
        "items": [
            {
                "item_number": number,
                "commodity_code": "8471300000",
                "description": f"portable computers, lot {number}",
                "gross_mass_kg": "120.5",
                "packages": 10,
                "value": "15000.00",
                "currency": "USD",
            }
            for number in (1, 2, 3)
        ],
        "time_limit": TIME_LIMIT.isoformat(),
    }
    data.update(changes)
    return TransitDeclaration.model_validate(data)


def lodged(**changes: Any) -> Movement:
    movement, _ = Movement.lodge(
        "KZ26MOV00000017", "55301/010326/0000017", "KZ", declaration(**changes), NOW
    )
    return movement


RELEASE = Release("26KZ0000000001234", DEPARTURE)
PATHS: dict[MovementStatus, tuple[MovementEvent, ...]] = {
    MovementStatus.LODGED: (),
    MovementStatus.ACCEPTED: (Accept(),),
    MovementStatus.REJECTED: (Reject("consignee unknown"),),
    MovementStatus.CANCELLED: (Cancel("lodged twice"),),
    MovementStatus.RELEASED: (Accept(), RELEASE),
    MovementStatus.IN_PASSAGE: (Accept(), RELEASE, RecordPassage(RU_ENTRY)),
    MovementStatus.OVERDUE: (Accept(), RELEASE, MarkOverdue(LATE)),
    MovementStatus.UNDER_ENQUIRY: (Accept(), RELEASE, MarkOverdue(LATE), OpenEnquiry("no arrival")),
    MovementStatus.NOT_DELIVERED: (
        Accept(),
        RELEASE,
        MarkOverdue(LATE),
        OpenEnquiry("no arrival"),
        DeclareNotDelivered("enquiry period lapsed"),
    ),
    MovementStatus.ARRIVED: (Accept(), RELEASE, RecordArrival(DESTINATION)),
    MovementStatus.COMPLETED: (Accept(), RELEASE, RecordArrival(DESTINATION), Complete()),
    MovementStatus.PARTIALLY_COMPLETED: (
        Accept(),
        RELEASE,
        RecordArrival(DESTINATION),
        CompletePartially((2, 1)),
    ),
}

VALID: dict[EventKind, MovementEvent] = {
    EventKind.ACCEPT: Accept(),
    EventKind.REJECT: Reject("incomplete consignee address"),
    EventKind.AMEND: Amend(
        declaration(destination_office=OTHER_DESTINATION, time_limit="2026-03-25")
    ),
    EventKind.RELEASE: RELEASE,
    EventKind.RECORD_PASSAGE: RecordPassage(RU_EXIT),
    EventKind.EXTEND_TIME_LIMIT: ExtendTimeLimit(date(2026, 4, 30), "ferry delayed at Aktau"),
    EventKind.CHANGE_DESTINATION: ChangeDestination(OTHER_DESTINATION, "consignee moved"),
    EventKind.RECORD_INCIDENT: RecordIncident(
        IncidentKind.SEAL_REPLACED, RU_ENTRY, "seal cut for inspection", ("NS-0077",)
    ),
    EventKind.RECORD_ARRIVAL: RecordArrival(DESTINATION),
    EventKind.COMPLETE: Complete(),
    EventKind.COMPLETE_PARTIALLY: CompletePartially((1,)),
    EventKind.CANCEL: Cancel("goods not shipped"),
    EventKind.MARK_OVERDUE: MarkOverdue(LATE),
    EventKind.OPEN_ENQUIRY: OpenEnquiry("no arrival notice"),
    EventKind.ANSWER_ENQUIRY_DELIVERED: AnswerEnquiry(EnquiryOutcome.DELIVERED, DESTINATION),
    EventKind.ANSWER_ENQUIRY_NOT_DELIVERED: AnswerEnquiry(
        EnquiryOutcome.NOT_DELIVERED, DESTINATION, "never presented"
    ),
    EventKind.DECLARE_NOT_DELIVERED: DeclareNotDelivered("enquiry period lapsed"),
}


def run(movement: Movement, *events: MovementEvent, now: datetime = NOW) -> Movement:
    for event in events:
        movement = apply(movement, event, now, is_destination_office=is_destination)
    return movement


def movement_in(status: MovementStatus, **changes: Any) -> Movement:
    movement = run(lodged(**changes), *PATHS[status])
    assert movement.status is status
    return movement


def sent(before: Movement, event: MovementEvent, now: datetime = NOW) -> Sent:
    after = run(before, event, now=now)
    return [
        (n.to_state, n.message_kind) for n in notifications_for(before, after, event, office_state)
    ]


# --- The table ---------------------------------------------------------------------------------


def test_every_event_kind_has_a_sample() -> None:
    assert set(VALID) == set(EventKind) - {EventKind.LODGE}
    assert all(VALID[kind].kind is kind for kind in VALID)


def test_every_status_has_a_path() -> None:
    assert set(PATHS) == set(MovementStatus)


FORBIDDEN = [
    (status, kind)
    for status in MovementStatus
    for kind in VALID
    if (status, kind) not in TRANSITIONS
]


@pytest.mark.parametrize(("status", "kind"), FORBIDDEN, ids=[f"{s}-{k}" for s, k in FORBIDDEN])
def test_a_pair_missing_from_the_table_is_forbidden(
    status: MovementStatus, kind: EventKind
) -> None:
    before = movement_in(status)
    snapshot = copy.deepcopy(before)
    with pytest.raises(ForbiddenTransition) as raised:
        apply(before, VALID[kind], NOW, is_destination_office=is_destination)
    assert f"'{status.value}'" in raised.value.message
    assert f"'{kind.value}'" in raised.value.message
    assert raised.value.violations[0].pointer == "/kind"
    assert before == snapshot


ALLOWED = sorted(TRANSITIONS.items())


@pytest.mark.parametrize(("pair", "target"), ALLOWED, ids=[f"{s}-{k}" for (s, k), _ in ALLOWED])
def test_a_pair_in_the_table_succeeds_with_a_valid_event(
    pair: tuple[MovementStatus, EventKind], target: MovementStatus
) -> None:
    status, kind = pair
    before = movement_in(status)
    after = apply(before, VALID[kind], NOW, is_destination_office=is_destination)
    assert after.status is target
    assert after.version == before.version + 1
    assert before.status is status


def test_terminal_statuses_accept_nothing_and_others_accept_something() -> None:
    for status in MovementStatus:
        assert (not allowed_events(status)) == (status in TERMINAL_STATUSES)
    assert not any(source in TERMINAL_STATUSES for source, _ in TRANSITIONS)


def test_allowed_events_follow_the_table() -> None:
    for status in MovementStatus:
        expected = {kind for (source, kind) in TRANSITIONS if source is status}
        assert allowed_events(status) == expected
    assert allowed_events(MovementStatus.LODGED) == {
        EventKind.ACCEPT,
        EventKind.REJECT,
        EventKind.AMEND,
        EventKind.CANCEL,
    }


def test_every_status_is_reachable() -> None:
    reached = {MovementStatus.LODGED, *TRANSITIONS.values()}
    assert reached == set(MovementStatus)


def test_lodging_is_never_an_applicable_event() -> None:
    assert all(kind is not EventKind.LODGE for _, kind in TRANSITIONS)


def test_module_docstring_table_matches_transitions() -> None:
    row = re.compile(r"^\s+([a-z_]+)\s+([a-z_]+)\s+->\s+([a-z_]+)\s*$")
    documented = {
        (MovementStatus(m[1]), EventKind(m[2])): MovementStatus(m[3])
        for line in (movement_module.__doc__ or "").splitlines()
        if (m := row.match(line))
    }
    assert documented == dict(TRANSITIONS)


# --- Guards ------------------------------------------------------------------------------------

GUARDS: list[tuple[str, MovementStatus, MovementEvent, str, str]] = [
    (
        "arrival-wrong-office",
        MovementStatus.RELEASED,
        RecordArrival(OTHER_DESTINATION),
        "not-destination",
        "/office",
    ),
    (
        "amend-departure",
        MovementStatus.LODGED,
        Amend(declaration(departure_office=KZ_BORDER)),
        "departure-fixed",
        "/declaration/departure_office",
    ),
    (
        "amend-lrn",
        MovementStatus.ACCEPTED,
        Amend(declaration(lrn="KZ-LRN-0002")),
        "lrn-fixed",
        "/declaration/lrn",
    ),
    (
        "amend-declarant",
        MovementStatus.LODGED,
        Amend(
            declaration(
                declarant={
                    "name": "Another Forwarder",
                    "identification": "987654321098",
                    "country": "KZ",
                }
            )
        ),
        "declarant-fixed",
        "/declaration/declarant/identification",
    ),
    (
        "amend-declarant-country",
        MovementStatus.ACCEPTED,
        Amend(
            declaration(
                declarant={
                    "name": "Silk Road Logistics",
                    "identification": "123456789012",
                    "country": "KG",
                }
            )
        ),
        "declarant-fixed",
        "/declaration/declarant/country",
    ),
    (
        "partial-all-items",
        MovementStatus.ARRIVED,
        CompletePartially((3, 1, 2)),
        "all-delivered",
        "/delivered_items",
    ),
    ("partial-empty", MovementStatus.ARRIVED, CompletePartially(()), "empty", "/delivered_items"),
    (
        "partial-unknown-item",
        MovementStatus.ARRIVED,
        CompletePartially((1, 9)),
        "unknown-item",
        "/delivered_items/1",
    ),
    (
        "partial-duplicate",
        MovementStatus.ARRIVED,
        CompletePartially((1, 1)),
        "duplicate",
        "/delivered_items",
    ),
    ("overdue-too-early", MovementStatus.RELEASED, MarkOverdue(NOW), "not-overdue", "/now"),
    (
        "overdue-on-limit-day",
        MovementStatus.IN_PASSAGE,
        MarkOverdue(datetime(2026, 3, 20, 23, 59, tzinfo=UTC)),
        "not-overdue",
        "/now",
    ),
    (
        "overdue-naive",
        MovementStatus.RELEASED,
        MarkOverdue(datetime(2026, 3, 25, 8, 0)),
        "naive-time",
        "/now",
    ),
    (
        "passage-unknown-office",
        MovementStatus.RELEASED,
        RecordPassage("10009999"),
        "not-on-itinerary",
        "/office",
    ),
    (
        "passage-twice",
        MovementStatus.IN_PASSAGE,
        RecordPassage(RU_ENTRY),
        "already-passed",
        "/office",
    ),
    (
        "passage-planned-as-unplanned",
        MovementStatus.RELEASED,
        RecordPassage(RU_EXIT, unplanned=True),
        "office-is-planned",
        "/unplanned",
    ),
    (
        "passage-at-destination",
        MovementStatus.RELEASED,
        RecordPassage(DESTINATION, unplanned=True),
        "not-transit-office",
        "/office",
    ),
    ("passage-blank", MovementStatus.RELEASED, RecordPassage(" "), "blank", "/office"),
    (
        "release-no-security",
        MovementStatus.ACCEPTED,
        Release("  ", DEPARTURE),
        "blank",
        "/security_reference",
    ),
    (
        "release-elsewhere",
        MovementStatus.ACCEPTED,
        Release("26KZ0000000001234", KZ_BORDER),
        "not-departure",
        "/office",
    ),
    (
        "destination-unchanged",
        MovementStatus.RELEASED,
        ChangeDestination(DESTINATION, "no reason"),
        "same-destination",
        "/office",
    ),
    (
        "destination-not-a-destination",
        MovementStatus.IN_PASSAGE,
        ChangeDestination(RU_EXIT, "closer"),
        "not-destination-office",
        "/office",
    ),
    (
        "destination-no-reason",
        MovementStatus.RELEASED,
        ChangeDestination(OTHER_DESTINATION, ""),
        "blank",
        "/reason",
    ),
    (
        "destination-reason-control-character",
        MovementStatus.RELEASED,
        ChangeDestination(OTHER_DESTINATION, "consignee\x1bmoved"),
        "control-character",
        "/reason",
    ),
    (
        "extension-not-later",
        MovementStatus.RELEASED,
        ExtendTimeLimit(TIME_LIMIT, "traffic"),
        "not-later",
        "/new_limit",
    ),
    (
        "extension-no-reason",
        MovementStatus.RELEASED,
        ExtendTimeLimit(date(2026, 4, 1), " "),
        "blank",
        "/reason",
    ),
    (
        "incident-seals-missing",
        MovementStatus.RELEASED,
        RecordIncident(IncidentKind.SEAL_REPLACED, None, "seal cut", ()),
        "seals-missing",
        "/new_seal_ids",
    ),
    (
        "incident-blank-text",
        MovementStatus.OVERDUE,
        RecordIncident(IncidentKind.ACCIDENT, None, "", ()),
        "blank",
        "/description",
    ),
    (
        "incident-control-character",
        MovementStatus.RELEASED,
        RecordIncident(IncidentKind.ACCIDENT, None, "bell \x07 rang", ()),
        "control-character",
        "/description",
    ),
    (
        "incident-duplicate-seal",
        MovementStatus.RELEASED,
        RecordIncident(IncidentKind.TRANSSHIPMENT, RU_ENTRY, "new truck", ("NS-1", "NS-1")),
        "duplicate",
        "/new_seal_ids",
    ),
    ("reject-no-reason", MovementStatus.LODGED, Reject(""), "blank", "/reason"),
    ("cancel-no-reason", MovementStatus.ACCEPTED, Cancel("   "), "blank", "/reason"),
    ("enquiry-no-reason", MovementStatus.OVERDUE, OpenEnquiry(""), "blank", "/reason"),
    (
        "answer-delivered-not-a-destination",
        MovementStatus.UNDER_ENQUIRY,
        AnswerEnquiry(EnquiryOutcome.DELIVERED, RU_EXIT),
        "not-destination-office",
        "/office",
    ),
    (
        "answer-blank-office",
        MovementStatus.UNDER_ENQUIRY,
        AnswerEnquiry(EnquiryOutcome.NOT_DELIVERED, ""),
        "blank",
        "/office",
    ),
]


@pytest.mark.parametrize(
    ("status", "event", "code", "pointer"), [g[1:] for g in GUARDS], ids=[g[0] for g in GUARDS]
)
def test_guard_refuses_wrong_data_and_changes_nothing(
    status: MovementStatus, event: MovementEvent, code: str, pointer: str
) -> None:
    before = movement_in(status)
    snapshot = copy.deepcopy(before)
    with pytest.raises(ActionInvalid) as raised:
        apply(before, event, NOW, is_destination_office=is_destination)
    assert (code, pointer) in [(v.code, v.pointer) for v in raised.value.violations]
    assert before == snapshot


def test_amendment_after_release_is_forbidden() -> None:
    with pytest.raises(ForbiddenTransition, match="'released'"):
        run(movement_in(MovementStatus.RELEASED), VALID[EventKind.AMEND])


def test_extension_must_not_be_already_past() -> None:
    overdue = movement_in(MovementStatus.OVERDUE)
    with pytest.raises(ActionInvalid) as raised:
        run(overdue, ExtendTimeLimit(date(2026, 3, 22), "late ferry"), now=LATE)
    assert raised.value.violations[0].code == "already-past"


def test_destination_is_unchecked_without_a_check() -> None:
    released = movement_in(MovementStatus.RELEASED)
    after = apply(released, ChangeDestination(RU_EXIT, "closer to consignee"), NOW)
    assert after.destination_office == RU_EXIT


def test_apply_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(lodged(), Accept(), datetime(2026, 3, 1, 10, 0))


# --- What each event changes -------------------------------------------------------------------


def test_lodging_starts_the_log() -> None:
    movement, event = Movement.lodge("R-1", "55301/010326/1", "KZ", declaration(), NOW)
    assert movement.status is MovementStatus.LODGED
    assert movement.version == 1
    assert movement.time_limit == TIME_LIMIT
    assert movement.destination_office == DESTINATION
    assert event.kind is EventKind.LODGE
    assert Movement.from_lodged(event) == movement


@pytest.mark.parametrize(
    ("reference", "state", "at", "code"),
    [
        ("", "KZ", NOW, "blank"),
        ("R-1", "CN", NOW, "not-member-state"),
        ("R-1", "KZ", datetime(2026, 3, 1), "naive-time"),
    ],
)
def test_lodging_refuses_bad_identity(reference: str, state: str, at: datetime, code: str) -> None:
    with pytest.raises(ActionInvalid) as raised:
        Movement.lodge(reference, "55301/010326/1", state, declaration(), at)
    assert code in [v.code for v in raised.value.violations]


def test_amendment_keeps_accepted_and_takes_new_data() -> None:
    after = run(movement_in(MovementStatus.ACCEPTED), VALID[EventKind.AMEND])
    assert after.status is MovementStatus.ACCEPTED
    assert after.destination_office == OTHER_DESTINATION
    assert after.time_limit == date(2026, 3, 25)


def test_amendment_may_correct_the_declarants_name_but_not_who_it_is() -> None:
    corrected = declaration(
        declarant={
            "name": "Silk Road Logistics LLP",
            "identification": "123456789012",
            "country": "KZ",
            "address": "12 Abay Avenue, Almaty",
        }
    )
    after = run(movement_in(MovementStatus.LODGED), Amend(corrected))
    assert after.declaration.declarant.name == "Silk Road Logistics LLP"
    swapped = declaration(
        declarant={"name": "Silk Road Logistics", "identification": "111111111111", "country": "KZ"}
    )
    before = movement_in(MovementStatus.ACCEPTED)
    with pytest.raises(ActionInvalid) as refused:
        run(before, Amend(swapped))
    [violation] = refused.value.violations
    assert violation.code == "declarant-fixed"
    assert "123456789012" in violation.message


def test_release_keeps_the_security_reference() -> None:
    after = run(movement_in(MovementStatus.ACCEPTED), Release(" 26KZ0000000001234 ", DEPARTURE))
    assert after.security_reference == "26KZ0000000001234"
    assert after.released_at == NOW


def test_passages_are_kept_in_order_with_unplanned_ones_marked() -> None:
    after = run(
        movement_in(MovementStatus.RELEASED),
        RecordPassage(RU_EXIT),
        RecordPassage(KZ_BORDER, unplanned=True),
        RecordPassage(RU_ENTRY),
    )
    assert after.passed_offices == (RU_EXIT, KZ_BORDER, RU_ENTRY)
    assert after.unplanned_offices == (KZ_BORDER,)
    with pytest.raises(ActionInvalid, match="already passed"):
        run(after, RecordPassage(KZ_BORDER, unplanned=True))


def test_extension_of_an_overdue_movement_puts_it_back_in_passage() -> None:
    after = run(
        movement_in(MovementStatus.OVERDUE), ExtendTimeLimit(date(2026, 4, 2), "war"), now=LATE
    )
    assert after.status is MovementStatus.IN_PASSAGE
    assert after.time_limit == date(2026, 4, 2)


def test_new_destination_is_where_arrival_is_expected() -> None:
    moved = run(movement_in(MovementStatus.IN_PASSAGE), ChangeDestination(RU_DESTINATION, "sold"))
    with pytest.raises(ActionInvalid):
        run(moved, RecordArrival(DESTINATION))
    arrived = run(moved, RecordArrival(RU_DESTINATION))
    assert arrived.arrival_office == RU_DESTINATION
    assert arrived.arrived_at == NOW


def test_incidents_are_counted() -> None:
    incident = VALID[EventKind.RECORD_INCIDENT]
    after = run(movement_in(MovementStatus.RELEASED), incident, incident)
    assert after.incidents == 2


def test_completion_records_delivered_items() -> None:
    assert movement_in(MovementStatus.COMPLETED).delivered_items == (1, 2, 3)
    partial = movement_in(MovementStatus.PARTIALLY_COMPLETED)
    assert partial.delivered_items == (1, 2)
    assert partial.completed_at == NOW


def test_enquiry_answer_delivered_elsewhere_is_an_arrival_there() -> None:
    enquiry = movement_in(MovementStatus.UNDER_ENQUIRY)
    after = run(
        enquiry, AnswerEnquiry(EnquiryOutcome.DELIVERED, OTHER_DESTINATION, "presented late")
    )
    assert after.status is MovementStatus.ARRIVED
    assert after.arrival_office == OTHER_DESTINATION


def test_replay_rebuilds_the_movement() -> None:
    movement, lodging = Movement.lodge("R-9", "55301/010326/9", "KZ", declaration(), NOW)
    events = [
        *PATHS[MovementStatus.IN_PASSAGE],
        VALID[EventKind.RECORD_INCIDENT],
        RecordArrival(DESTINATION),
        Complete(),
    ]
    final = run(movement, *events)
    assert replay(lodging, [(event, NOW) for event in events]) == final
    assert final.version == 1 + len(events)


def test_reference_data_backs_the_office_callables() -> None:
    def office(code: str, state: str, *roles: OfficeRole) -> CustomsOffice:
        return CustomsOffice(code, state, f"office {code}", frozenset(roles), 0.0, 0.0)

    reference = ReferenceData(
        states={},
        offices={
            DESTINATION: office(DESTINATION, "BY", OfficeRole.DESTINATION),
            RU_EXIT: office(RU_EXIT, "RU", OfficeRole.BORDER, OfficeRole.INTERMEDIATE),
        },
        border_points={},
        corridors={},
        currencies=frozenset(),
        rates=(),
        tariff={},
        duty_shares=(),
        sources={},
    )
    check = destination_offices(reference)
    assert (check(DESTINATION), check(RU_EXIT), check("99999")) == (True, False, False)
    state_of = office_states(reference)
    assert (state_of(RU_EXIT), state_of("99999")) == ("RU", None)


# --- Storage form ------------------------------------------------------------------------------


STORED_SAMPLES: list[MovementEvent] = [
    *VALID.values(),
    RecordPassage(KZ_BORDER, unplanned=True),
    RecordIncident(IncidentKind.TRANSSHIPMENT, None, "moved to wagon 5", ("NS-1", "NS-2")),
    CompletePartially((3, 1)),
    MarkOverdue(datetime(2026, 3, 25, 8, 0, 0, 123456, tzinfo=UTC)),
]


@pytest.mark.parametrize(
    "event", STORED_SAMPLES, ids=[f"{i}-{e.kind}" for i, e in enumerate(STORED_SAMPLES)]
)
def test_event_survives_json_storage(event: MovementEvent) -> None:
    stored = json.loads(json.dumps(event.to_payload(), allow_nan=False))
    assert event_from_payload(event.kind.value, stored) == event


def test_lodged_event_survives_json_storage_with_decimals_as_text() -> None:
    _, event = Movement.lodge("R-1", "55301/010326/1", "KZ", declaration(), NOW)
    payload = event.to_payload()
    stored = json.loads(json.dumps(payload, allow_nan=False))
    assert stored["declaration"]["items"][0]["value"] == "15000.00"
    assert stored["at"] == "2026-03-01T10:00:00.000000Z"
    rebuilt = event_from_payload("lodge", stored)
    assert rebuilt == event
    assert isinstance(rebuilt, LodgedEvent)
    assert rebuilt.declaration.items[0].value == Decimal("15000.00")


BAD_PAYLOADS: list[tuple[str, str, Any, str, str]] = [
    ("unknown-kind", "teleport", {}, "unknown-event-kind", "/kind"),
    ("not-an-object", "accept", ["reason"], "not-object", ""),
    ("missing-member", "reject", {}, "missing", "/reason"),
    ("wrong-type", "record_arrival", {"office": 6611}, "not-text", "/office"),
    ("extra-member", "accept", {"reason": "x"}, "unexpected", "/reason"),
    (
        "bad-date",
        "extend_time_limit",
        {"new_limit": "20/04/2026", "reason": "x"},
        "not-date",
        "/new_limit",
    ),
    ("naive-instant", "mark_overdue", {"now": "2026-03-25T08:00:00"}, "naive-time", "/now"),
    ("bad-instant", "mark_overdue", {"now": "yesterday"}, "not-datetime", "/now"),
    (
        "unknown-incident",
        "record_incident",
        {"incident": "theft", "office": None, "description": "x", "new_seal_ids": []},
        "unknown-value",
        "/incident",
    ),
    (
        "seal-list-type",
        "record_incident",
        {"incident": "other", "office": None, "description": "x", "new_seal_ids": [1]},
        "not-text-list",
        "/new_seal_ids",
    ),
    (
        "boolean-item",
        "complete_partially",
        {"delivered_items": [True]},
        "not-integer-list",
        "/delivered_items",
    ),
    (
        "flag-type",
        "record_passage",
        {"office": RU_EXIT, "unplanned": "no"},
        "not-boolean",
        "/unplanned",
    ),
    (
        "outcome-mismatch",
        "answer_enquiry_delivered",
        {"outcome": "not_delivered", "office": DESTINATION, "note": ""},
        "kind-mismatch",
        "/kind",
    ),
    (
        "bad-declaration",
        "amend",
        {"declaration": {"lrn": "X"}},
        "declaration-invalid",
        "/declaration/declarant",
    ),
]


@pytest.mark.parametrize(
    ("kind", "payload", "code", "pointer"),
    [b[1:] for b in BAD_PAYLOADS],
    ids=[b[0] for b in BAD_PAYLOADS],
)
def test_bad_payload_gets_a_precise_error(kind: str, payload: Any, code: str, pointer: str) -> None:
    with pytest.raises(ActionInvalid) as raised:
        event_from_payload(kind, payload)
    assert (code, pointer) in [(v.code, v.pointer) for v in raised.value.violations]


# --- Notifications -----------------------------------------------------------------------------


def test_release_informs_the_route_and_announces_passage_and_arrival() -> None:
    assert sent(movement_in(MovementStatus.ACCEPTED), RELEASE) == [
        ("RU", MessageKind.RELEASE_NOTIFICATION),
        ("BY", MessageKind.RELEASE_NOTIFICATION),
        ("BY", MessageKind.ANTICIPATED_ARRIVAL),
        ("RU", MessageKind.ANTICIPATED_PASSAGE),
    ]


def test_release_skips_third_countries_and_reaches_an_off_route_destination() -> None:
    via_georgia = movement_in(
        MovementStatus.ACCEPTED, route=["KZ", "RU", "GE", "AM"], destination_office="05"
    )
    assert sent(via_georgia, RELEASE) == [
        ("RU", MessageKind.RELEASE_NOTIFICATION),
        ("AM", MessageKind.RELEASE_NOTIFICATION),
        ("AM", MessageKind.ANTICIPATED_ARRIVAL),
        ("RU", MessageKind.ANTICIPATED_PASSAGE),
    ]
    short_route = movement_in(MovementStatus.ACCEPTED, route=["KZ", "RU"])
    assert ("BY", MessageKind.ANTICIPATED_ARRIVAL) in sent(short_route, RELEASE)
    assert ("BY", MessageKind.RELEASE_NOTIFICATION) in sent(short_route, RELEASE)


def test_passage_is_confirmed_to_departure_unless_in_the_departure_state() -> None:
    released = movement_in(MovementStatus.RELEASED)
    assert sent(released, RecordPassage(RU_ENTRY)) == [("KZ", MessageKind.PASSAGE_CONFIRMATION)]
    assert sent(released, RecordPassage(KZ_BORDER, unplanned=True)) == []


def test_arrival_and_completion_messages() -> None:
    assert sent(movement_in(MovementStatus.IN_PASSAGE), RecordArrival(DESTINATION)) == [
        ("KZ", MessageKind.ARRIVAL_NOTICE)
    ]
    assert sent(movement_in(MovementStatus.ARRIVED), Complete()) == [
        ("KZ", MessageKind.COMPLETION),
        ("RU", MessageKind.COMPLETION),
    ]
    assert sent(movement_in(MovementStatus.ARRIVED), CompletePartially((3,))) == [
        ("KZ", MessageKind.COMPLETION),
        ("RU", MessageKind.COMPLETION),
    ]


def test_incident_goes_to_departure_and_the_states_still_ahead() -> None:
    released = movement_in(MovementStatus.RELEASED)
    at_russian_office = VALID[EventKind.RECORD_INCIDENT]
    assert sent(released, at_russian_office) == [
        ("KZ", MessageKind.INCIDENT),
        ("BY", MessageKind.INCIDENT),
    ]
    unlocated = RecordIncident(IncidentKind.ACCIDENT, None, "truck overturned", ())
    assert sent(released, unlocated) == [("RU", MessageKind.INCIDENT), ("BY", MessageKind.INCIDENT)]


def test_changes_under_way_reach_the_route() -> None:
    in_passage = movement_in(MovementStatus.IN_PASSAGE)
    assert sent(in_passage, ChangeDestination(RU_DESTINATION, "sold on")) == [
        ("RU", MessageKind.DESTINATION_CHANGED),
        ("BY", MessageKind.DESTINATION_CHANGED),
    ]
    assert sent(in_passage, VALID[EventKind.EXTEND_TIME_LIMIT]) == [
        ("RU", MessageKind.TIME_LIMIT_EXTENDED),
        ("BY", MessageKind.TIME_LIMIT_EXTENDED),
    ]


def test_enquiry_and_non_delivery_messages() -> None:
    assert sent(movement_in(MovementStatus.OVERDUE), OpenEnquiry("no news")) == [
        ("BY", MessageKind.ENQUIRY)
    ]
    enquiry = movement_in(MovementStatus.UNDER_ENQUIRY)
    assert sent(enquiry, VALID[EventKind.ANSWER_ENQUIRY_NOT_DELIVERED]) == [
        ("KZ", MessageKind.NON_DELIVERY_DUTY_NOTICE)
    ]
    assert sent(enquiry, VALID[EventKind.ANSWER_ENQUIRY_DELIVERED]) == [
        ("KZ", MessageKind.ARRIVAL_NOTICE)
    ]
    assert sent(enquiry, VALID[EventKind.DECLARE_NOT_DELIVERED]) == [
        ("RU", MessageKind.NON_DELIVERY_DUTY_NOTICE),
        ("BY", MessageKind.NON_DELIVERY_DUTY_NOTICE),
    ]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (MovementStatus.LODGED, EventKind.ACCEPT),
        (MovementStatus.LODGED, EventKind.REJECT),
        (MovementStatus.ACCEPTED, EventKind.AMEND),
        (MovementStatus.ACCEPTED, EventKind.CANCEL),
        (MovementStatus.IN_PASSAGE, EventKind.MARK_OVERDUE),
    ],
)
def test_events_before_release_or_internal_ones_send_nothing(
    status: MovementStatus, kind: EventKind
) -> None:
    assert sent(movement_in(status), VALID[kind]) == []


@pytest.mark.parametrize(("pair", "target"), ALLOWED, ids=[f"{s}-{k}" for (s, k), _ in ALLOWED])
def test_notifications_go_only_to_member_states_once_each(
    pair: tuple[MovementStatus, EventKind], target: MovementStatus
) -> None:
    status, kind = pair
    messages = sent(movement_in(status), VALID[kind])
    assert all(state in {"AM", "BY", "KZ", "KG", "RU"} for state, _ in messages)
    assert len(set(messages)) == len(messages)
