"""Random lifecycles of one movement: valid and invalid events fired in any order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import event as hypothesis_event
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from silkway.kernel.errors import ActionInvalid, ForbiddenTransition
from silkway.transit.domain.audit import EventRecord, append, verify_chain
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
    event_from_payload,
    replay,
)

REFERENCE = "KZ26MOV00000042"
START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
OFFICES = {
    "55301": "KZ",
    "55302": "KZ",
    "06611": "BY",
    "06612": "BY",
    "10216100": "RU",
    "10404000": "RU",
    "10005000": "RU",
}
DESTINATION_OFFICES = frozenset({"06611", "06612", "10005000"})
ANY_OFFICE = st.sampled_from([*OFFICES, "99999999", ""])
REASON = st.sampled_from(["", "  ", "documents missing", "ferry delayed"])


def is_destination(code: str) -> bool:
    return code in DESTINATION_OFFICES


def declaration(**changes: Any) -> TransitDeclaration:
    data: dict[str, Any] = {
        "lrn": "KZ-LRN-0042",
        "declarant": {
            "name": "Steppe Forwarding",
            "identification": "990140000123",
            "country": "KZ",
        },
        "consignor": {"name": "Urumqi Parts", "identification": "CN650100", "country": "CN"},
        "consignee": {"name": "Brest Auto", "identification": "BY200000042", "country": "BY"},
        "departure_office": "55301",
        "destination_office": "06611",
        "intermediate_offices": ["10216100", "10404000"],
        "route": ["KZ", "RU", "BY"],
        "transport": [{"mode": "road", "identity": "777KZA02"}],
        "items": [
            {
                "item_number": number,
                "commodity_code": "8708999709",
                "description": "vehicle parts",
                "gross_mass_kg": "800",
                "packages": 4,
                "value": "9000.00",
                "currency": "CNY",
            }
            for number in (1, 2, 3)
        ],
        "time_limit": "2026-03-10",
    }
    data.update(changes)
    return TransitDeclaration.model_validate(data)


INSTANTS = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2026, 5, 1), timezones=st.just(UTC)
)
DAYS = st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 5, 1))
ANY_EVENT: st.SearchStrategy[MovementEvent] = st.one_of(
    st.just(Accept()),
    st.builds(Reject, REASON),
    st.builds(
        lambda destination, departure, limit: Amend(
            declaration(
                destination_office=destination,
                departure_office=departure,
                time_limit=limit.isoformat(),
            )
        ),
        st.sampled_from(["06611", "06612"]),
        st.sampled_from(["55301", "55302"]),
        DAYS,
    ),
    st.builds(Release, st.sampled_from(["", "26KZ0000000004242"]), ANY_OFFICE),
    st.builds(RecordPassage, ANY_OFFICE, st.booleans()),
    st.builds(ExtendTimeLimit, DAYS, REASON),
    st.builds(ChangeDestination, ANY_OFFICE, REASON),
    st.builds(
        RecordIncident,
        st.sampled_from(IncidentKind),
        st.none() | ANY_OFFICE,
        st.sampled_from(["", "seal inspected"]),
        st.lists(st.sampled_from(["NS-1", "NS-2", ""]), max_size=2).map(tuple),
    ),
    st.builds(RecordArrival, ANY_OFFICE),
    st.just(Complete()),
    st.builds(
        CompletePartially, st.lists(st.integers(min_value=0, max_value=4), max_size=4).map(tuple)
    ),
    st.builds(Cancel, REASON),
    st.builds(MarkOverdue, INSTANTS),
    st.builds(OpenEnquiry, REASON),
    st.builds(AnswerEnquiry, st.sampled_from(EnquiryOutcome), ANY_OFFICE, REASON),
    st.builds(DeclareNotDelivered, REASON),
)
"""Any event, its data drawn without regard to the movement: mostly refused."""


class MovementLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = START
        movement, lodging = Movement.lodge(
            REFERENCE, "55301/010326/0000042", "KZ", declaration(), self.clock
        )
        self.movement = movement
        self.lodging: LodgedEvent = lodging
        self.applied: list[tuple[MovementEvent, datetime]] = []
        self.log: list[EventRecord] = [
            append(None, REFERENCE, lodging.kind, lodging.to_payload(), self.clock, "KZ")
        ]
        self.terminal: tuple[MovementStatus, int] | None = None
        """Status and version when the movement ended, if it has."""

    def fire(self, event: MovementEvent) -> None:
        before = self.movement
        # A shallow copy plus the declaration's JSON: cheap, yet catches a change anywhere.
        snapshot = (replace(before), before.declaration.model_dump_json())
        target = TRANSITIONS.get((before.status, event.kind))
        try:
            after = apply(before, event, self.clock, is_destination_office=is_destination)
        except (ForbiddenTransition, ActionInvalid) as refused:
            self.check_refusal(refused, target, snapshot)
            return
        assert target is not None, f"{event.kind} succeeded in {before.status}"
        assert before.status not in TERMINAL_STATUSES
        assert after.status is target
        assert after.version == before.version + 1
        if before.released_at is not None:
            # Once the goods are under way only an extension moves the limit, and only forward.
            assert after.time_limit >= before.time_limit
        assert event_from_payload(event.kind, event.to_payload()) == event
        self.log.append(
            append(self.log[-1], REFERENCE, event.kind, event.to_payload(), self.clock, "KZ")
        )
        self.applied.append((event, self.clock))
        self.movement = after
        hypothesis_event(f"reached {after.status}")
        if after.status in TERMINAL_STATUSES:
            self.terminal = (after.status, after.version)

    def check_refusal(
        self,
        refused: ForbiddenTransition | ActionInvalid,
        target: MovementStatus | None,
        snapshot: tuple[Movement, str],
    ) -> None:
        if isinstance(refused, ForbiddenTransition):
            assert target is None, f"refused in {snapshot[0].status} though the table allows it"
        else:
            # Guards run only for pairs the table allows.
            assert target is not None
        assert refused.violations
        assert self.movement == snapshot[0]
        assert self.movement.declaration.model_dump_json() == snapshot[1]

    @rule(hours=st.integers(min_value=1, max_value=96))
    def time_passes(self, hours: int) -> None:
        self.clock += timedelta(hours=hours)

    @rule(event=ANY_EVENT)
    def random_event(self, event: MovementEvent) -> None:
        self.fire(event)

    @rule(data=st.data())
    def valid_event(self, data: st.DataObject) -> None:
        status = self.movement.status
        kinds = sorted(allowed_events(status))
        # Cancelling and rejecting are left to the random events: drawn here, they would end
        # most runs before release.
        kinds = [k for k in kinds if k not in (EventKind.CANCEL, EventKind.REJECT)]
        if kinds:
            self.fire(self.plausible(data.draw(st.sampled_from(kinds), label="kind")))

    def plausible(self, kind: EventKind) -> MovementEvent:
        """An event of ``kind`` whose data fits the movement as it stands."""
        m = self.movement
        if kind is EventKind.MARK_OVERDUE:
            after_limit = datetime.combine(m.time_limit + timedelta(days=1), time(9), UTC)
            self.clock = max(self.clock, after_limit)
            return MarkOverdue(self.clock)
        if kind is EventKind.EXTEND_TIME_LIMIT:
            base = max(m.time_limit, self.clock.date())
            return ExtendTimeLimit(base + timedelta(days=7), "road closed")
        if kind is EventKind.RECORD_PASSAGE:
            ahead = [o for o in m.declaration.intermediate_offices if o not in m.passed_offices]
            return RecordPassage(ahead[0]) if ahead else RecordPassage("55302", unplanned=True)
        if kind is EventKind.CHANGE_DESTINATION:
            other = min(DESTINATION_OFFICES - {m.destination_office})
            return ChangeDestination(other, "consignee moved")
        events: dict[EventKind, MovementEvent] = {
            EventKind.ACCEPT: Accept(),
            EventKind.REJECT: Reject("documents missing"),
            EventKind.AMEND: Amend(declaration(destination_office="06612")),
            EventKind.RELEASE: Release("26KZ0000000004242", m.declaration.departure_office),
            EventKind.RECORD_INCIDENT: RecordIncident(IncidentKind.OTHER, None, "inspection", ()),
            EventKind.RECORD_ARRIVAL: RecordArrival(m.destination_office),
            EventKind.COMPLETE: Complete(),
            EventKind.COMPLETE_PARTIALLY: CompletePartially((2,)),
            EventKind.CANCEL: Cancel("not shipped"),
            EventKind.OPEN_ENQUIRY: OpenEnquiry("no arrival"),
            EventKind.ANSWER_ENQUIRY_DELIVERED: AnswerEnquiry(
                EnquiryOutcome.DELIVERED, m.destination_office
            ),
            EventKind.ANSWER_ENQUIRY_NOT_DELIVERED: AnswerEnquiry(
                EnquiryOutcome.NOT_DELIVERED, m.destination_office
            ),
            EventKind.DECLARE_NOT_DELIVERED: DeclareNotDelivered("no answer"),
        }
        return events[kind]

    @invariant()
    def the_hash_chain_verifies(self) -> None:
        verdict = verify_chain(self.log, movement_reference=REFERENCE, head_hash=self.log[-1].hash)
        assert verdict.ok, verdict.reason

    @invariant()
    def version_counts_the_events_in_the_log(self) -> None:
        assert self.movement.version == len(self.log) == 1 + len(self.applied)
        assert self.movement.version == self.log[-1].seq

    @invariant()
    def a_terminal_movement_never_changes_status(self) -> None:
        if self.terminal is not None:
            assert (self.movement.status, self.movement.version) == self.terminal

    def teardown(self) -> None:
        """The log alone rebuilds the movement (checked once per run: a replay is costly)."""
        stored = [
            (event_from_payload(record.kind, record.payload), record.at) for record in self.log
        ]
        lodging = stored[0][0]
        assert lodging == self.lodging
        assert isinstance(lodging, LodgedEvent)
        events = [(e, at) for e, at in stored[1:] if not isinstance(e, LodgedEvent)]
        assert len(events) == len(self.applied)
        assert replay(lodging, events) == self.movement


MovementLifecycle.TestCase.settings = settings(
    max_examples=75, stateful_step_count=30, deadline=None
)
TestMovementLifecycle = MovementLifecycle.TestCase
