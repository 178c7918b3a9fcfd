"""The transit use cases against real node databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from silkway.bootstrap import Node
from silkway.examples import example_declaration
from silkway.exchange.db.tables import outbox
from silkway.kernel.codes import identify
from silkway.kernel.errors import ActionInvalid, DeclarationInvalid, ForbiddenTransition
from silkway.node.clock import ManualClock
from silkway.transit import service as transit
from silkway.transit.db.tables import counters, movement_events, movements
from silkway.transit.domain.declaration import TransitDeclaration
from silkway.transit.domain.movement import (
    Accept,
    Amend,
    AnswerEnquiry,
    Complete,
    DeclareNotDelivered,
    EnquiryOutcome,
    IncidentKind,
    MovementEvent,
    MovementStatus,
    OpenEnquiry,
    RecordArrival,
    RecordIncident,
    RecordPassage,
    Release,
)
from silkway.transit.ports import MovementFilter

REGISTRATION = re.compile(r"^(\d{2}|\d{5}|\d{8})/\d{6}/\d{1,7}$")


def western(clock: ManualClock, lrn: str = "LRN-1") -> TransitDeclaration:
    return example_declaration("western-road", clock.now().date()).model_copy(update={"lrn": lrn})


def count(node: Node, table: object) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def snapshot_counts(node: Node) -> tuple[int, int, int, int]:
    return tuple(count(node, t) for t in (movements, movement_events, outbox, counters))  # type: ignore[return-value]


def release(node: Node, reference: str) -> None:
    m = transit.get_movement(node.transit, reference)
    transit.act(node.transit, reference, Accept())
    transit.act(
        node.transit,
        reference,
        Release(m.declaration.security[0].reference, m.declaration.departure_office),
    )


def test_lodging_returns_numbers_that_verify(kz_node: Node, clock: ManualClock) -> None:
    lodged = transit.lodge_declaration(kz_node.transit, western(clock))
    m = lodged.movement
    assert lodged.created
    assert m.status is MovementStatus.LODGED
    assert REGISTRATION.match(m.registration_number)
    assert m.registration_number.startswith(m.declaration.departure_office + "/011226/")
    check = identify(m.reference)
    assert (check.kind, check.valid) == ("movement_reference", True)
    records, verdict = transit.event_log(kz_node.transit, m.reference)
    assert [r.kind for r in records] == ["lodge"]
    assert verdict.ok


def test_serials_increase_per_office_and_day(kz_node: Node, clock: ManualClock) -> None:
    first = transit.lodge_declaration(kz_node.transit, western(clock, "A")).movement
    second = transit.lodge_declaration(kz_node.transit, western(clock, "B")).movement
    assert int(first.registration_number.rsplit("/", 1)[1]) == 1
    assert int(second.registration_number.rsplit("/", 1)[1]) == 2
    assert first.reference != second.reference


def test_lodging_is_idempotent_on_lrn(kz_node: Node, clock: ManualClock) -> None:
    first = transit.lodge_declaration(kz_node.transit, western(clock))
    before = snapshot_counts(kz_node)
    again = transit.lodge_declaration(kz_node.transit, western(clock))
    assert not again.created
    assert again.movement.reference == first.movement.reference
    assert snapshot_counts(kz_node) == before


def test_reused_lrn_with_other_content_is_refused(kz_node: Node, clock: ManualClock) -> None:
    transit.lodge_declaration(kz_node.transit, western(clock))
    before = snapshot_counts(kz_node)
    other = western(clock).model_copy(update={"place_of_delivery": "Somewhere else"})
    with pytest.raises(transit.LrnConflict):
        transit.lodge_declaration(kz_node.transit, other)
    assert snapshot_counts(kz_node) == before


def test_invalid_declaration_stores_nothing(kz_node: Node, clock: ManualClock) -> None:
    bad = western(clock).model_copy(update={"departure_office": "99999"})
    with pytest.raises(DeclarationInvalid) as err:
        transit.lodge_declaration(kz_node.transit, bad)
    assert "office-unknown" in {v.code for v in err.value.violations}
    assert snapshot_counts(kz_node) == (0, 0, 0, 0)


def test_declaration_for_another_state_goes_to_its_node(kz_node: Node, clock: ManualClock) -> None:
    by_decl = example_declaration("western-road", clock.now().date())
    office = next(o for o in kz_node.reference.offices_of("BY") if "departure" in o.roles)
    moved = by_decl.model_copy(update={"departure_office": office.code})
    with pytest.raises(DeclarationInvalid) as err:
        transit.lodge_declaration(kz_node.transit, moved)
    assert ("departure-office-other-node", "/departure_office") in {
        (v.code, v.pointer) for v in err.value.violations
    }


def test_whole_journey_writes_log_and_messages(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    states_told = {msg.to_state for msg in _outbox(kz_node, m.reference)}
    # Released at a Kazakh office: Russia and Belarus hear of it, Kazakhstan does not.
    assert states_told == {"RU", "BY"}
    kinds = {(msg.to_state, msg.message_kind) for msg in _outbox(kz_node, m.reference)}
    assert ("BY", "anticipated_arrival") in kinds
    assert ("RU", "anticipated_passage") in kinds
    kz_office, *abroad = m.declaration.intermediate_offices
    clock.advance(timedelta(hours=20))
    transit.act(kz_node.transit, m.reference, RecordPassage(kz_office))
    # The Russian and Belarusian offices' steps reach this node as their states' messages
    # (transit.inbound applies them so); its own actions may not record them.
    with kz_node.transit.uow() as uow:
        for office in abroad:
            clock.advance(timedelta(hours=20))
            transit.apply_event(
                kz_node.transit, uow, m.reference, RecordPassage(office), clock.now(),
                actor="message:RU", local=False,
            )  # fmt: skip
        clock.advance(timedelta(days=1))
        for event in (RecordArrival(m.destination_office), Complete()):
            done = transit.apply_event(
                kz_node.transit, uow, m.reference, event, clock.now(),
                actor="message:BY", local=False,
            )  # fmt: skip
        uow.commit()
    assert done.status is MovementStatus.COMPLETED
    records, verdict = transit.event_log(kz_node.transit, m.reference)
    assert verdict.ok
    assert records[-1].seq == done.version
    assert [r.kind for r in records][:3] == ["lodge", "accept", "release"]
    assert [r.actor for r in records][-2:] == ["message:BY", "message:BY"]
    assert any(x.message_kind == "completion" for x in _outbox(kz_node, m.reference))


@pytest.mark.parametrize(
    ("event", "state"),
    [
        (RecordPassage("10504070"), "RU"),
        (RecordArrival("06614"), "BY"),
        (RecordIncident(IncidentKind.ACCIDENT, "10113080", "trailer overturned"), "RU"),
    ],
)
def test_an_action_at_another_states_office_is_refused_and_stores_nothing(
    kz_node: Node, clock: ManualClock, event: MovementEvent, state: str
) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    before = snapshot_counts(kz_node)
    with pytest.raises(transit.OfficeOfAnotherState) as refused:
        transit.act(kz_node.transit, m.reference, event)
    assert refused.value.office_state == state
    assert [(v.code, v.pointer) for v in refused.value.violations] == [
        ("office-other-state", "/office")
    ]
    assert snapshot_counts(kz_node) == before
    # The same kind of action at one of this state's own offices goes through.
    transit.act(kz_node.transit, m.reference, RecordPassage("39201"))


def test_an_enquiry_answer_for_another_states_office_comes_from_that_state(
    kz_node: Node, clock: ManualClock
) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    clock.set(clock.now() + (m.time_limit - clock.now().date()) + timedelta(days=1))
    transit.mark_overdue_movements(kz_node.transit)
    transit.act(kz_node.transit, m.reference, OpenEnquiry("no arrival"))
    answer = AnswerEnquiry(EnquiryOutcome.DELIVERED, m.destination_office, "seen at Kozlovichi")
    with pytest.raises(transit.OfficeOfAnotherState):
        transit.act(kz_node.transit, m.reference, answer)
    assert transit.get_movement(kz_node.transit, m.reference).status is MovementStatus.UNDER_ENQUIRY


def _outbox(node: Node, reference: str) -> list[transit.OutboxMessage]:
    with node.transit.uow() as uow:
        return uow.outbox.for_movement(reference)


def test_forbidden_action_changes_nothing(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    before = snapshot_counts(kz_node)
    with pytest.raises(ForbiddenTransition):
        transit.act(kz_node.transit, m.reference, Complete())
    assert snapshot_counts(kz_node) == before
    assert transit.get_movement(kz_node.transit, m.reference) == m


def test_an_amendment_cannot_hand_the_declaration_to_another_declarant(
    kz_node: Node, clock: ManualClock
) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    before = snapshot_counts(kz_node)
    other = western(clock).declarant.model_copy(update={"identification": "990140000123"})
    with pytest.raises(ActionInvalid) as err:
        transit.act(
            kz_node.transit,
            m.reference,
            Amend(western(clock).model_copy(update={"declarant": other})),
        )
    assert [(v.code, v.pointer) for v in err.value.violations] == [
        ("declarant-fixed", "/declaration/declarant/identification")
    ]
    assert snapshot_counts(kz_node) == before
    assert transit.get_movement(kz_node.transit, m.reference) == m
    # The movement is still found under the declarant who lodged it.
    found = transit.list_movements(
        kz_node.transit, MovementFilter(declarant_id=m.declaration.declarant.identification),
        offset=0, limit=10,
    )  # fmt: skip
    assert [x.reference for x in found.items] == [m.reference]


def test_release_needs_a_quoted_security(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    transit.act(kz_node.transit, m.reference, Accept())
    before = snapshot_counts(kz_node)
    with pytest.raises(ActionInvalid) as err:
        transit.act(
            kz_node.transit,
            m.reference,
            Release("26KZ0000000000017", m.declaration.departure_office),
        )
    assert err.value.violations[0].code == "security-not-quoted"
    assert snapshot_counts(kz_node) == before


def test_unknown_office_is_refused(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    with pytest.raises(ActionInvalid) as err:
        transit.act(kz_node.transit, m.reference, RecordPassage("12345678"))
    assert err.value.violations[0].code == "office-unknown"


def test_overdue_enquiry_and_non_delivery(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    assert transit.mark_overdue_movements(kz_node.transit) == []
    clock.set(clock.now() + (m.time_limit - clock.now().date()) + timedelta(days=1))
    assert transit.mark_overdue_movements(kz_node.transit) == [m.reference]
    assert transit.worklist(kz_node.transit, m.declaration.departure_office, "overdue")
    transit.act(kz_node.transit, m.reference, OpenEnquiry("no arrival"))
    final = transit.act(kz_node.transit, m.reference, DeclareNotDelivered("no answer"))
    assert final.status is MovementStatus.NOT_DELIVERED
    notices = {
        x.to_state
        for x in _outbox(kz_node, m.reference)
        if x.message_kind == "non_delivery_duty_notice"
    }
    assert notices == {"RU", "BY"}


def test_worklists_follow_the_movement(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    dest = m.destination_office
    first_transit = m.declaration.intermediate_offices[0]
    assert [
        x.reference
        for x in transit.worklist(
            kz_node.transit, m.declaration.departure_office, "awaiting-release"
        )
    ] == [m.reference]
    assert transit.worklist(kz_node.transit, dest, "expected-arrivals") == []
    release(kz_node, m.reference)
    assert [x.reference for x in transit.worklist(kz_node.transit, dest, "expected-arrivals")] == [
        m.reference
    ]
    assert [
        x.reference for x in transit.worklist(kz_node.transit, first_transit, "expected-passages")
    ] == [m.reference]
    transit.act(kz_node.transit, m.reference, RecordPassage(first_transit))
    assert transit.worklist(kz_node.transit, first_transit, "expected-passages") == []


def test_list_filters_and_pages(kz_node: Node, clock: ManualClock) -> None:
    refs = [
        transit.lodge_declaration(kz_node.transit, western(clock, f"L{i}")).movement.reference
        for i in range(5)
    ]
    transit.act(kz_node.transit, refs[0], Accept())
    page = transit.list_movements(kz_node.transit, MovementFilter(), offset=0, limit=2)
    assert page.total == 5
    assert len(page.items) == 2
    accepted = transit.list_movements(
        kz_node.transit, MovementFilter(status=MovementStatus.ACCEPTED), offset=0, limit=10
    )
    assert [m.reference for m in accepted.items] == [refs[0]]
    today = clock.now().date()
    none = transit.list_movements(
        kz_node.transit, MovementFilter(lodged_from=today + timedelta(days=1)), offset=0, limit=10
    )
    assert none.total == 0


def test_tampered_log_names_the_first_bad_record(kz_node: Node, clock: ManualClock) -> None:
    m = transit.lodge_declaration(kz_node.transit, western(clock)).movement
    release(kz_node, m.reference)
    assert all(v.ok for v in transit.verify_all(kz_node.transit).values())
    with kz_node.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE movement_events SET actor = 'forged' WHERE movement_reference = :r AND seq = 2"
            ),
            {"r": m.reference},
        )
    verdict = transit.verify_all(kz_node.transit)[m.reference]
    assert not verdict.ok
    assert verdict.first_bad_seq == 2
