"""A declaration lodged at the Kazakh node travels KZ -> RU -> BY by signed messages only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.auth import NodeClient
from tests.conftest import START
from tests.integration.exchange.federation import Federation, federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.transit import service as transit
from silkway.transit.domain.movement import (
    Accept,
    MovementStatus,
    RecordArrival,
    RecordPassage,
    Release,
)


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Federation]:
    with federation(tmp_path, ("KZ", "RU", "BY"), START) as f:
        yield f


def lodge_and_release(fed: Federation) -> str:
    kz = fed.nodes["KZ"].transit
    decl = example_declaration("western-road", START.date())
    m = transit.lodge_declaration(kz, decl).movement
    transit.act(kz, m.reference, Accept())
    transit.act(kz, m.reference, Release(decl.security[0].reference, decl.departure_office))
    return m.reference


def test_release_reaches_every_state_on_the_route(fed: Federation) -> None:
    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    for state in ("RU", "BY"):
        copy = transit.get_movement(fed.nodes[state].transit, ref)
        assert copy.status is MovementStatus.RELEASED
        assert copy.state == "KZ"
        assert copy.declaration == transit.get_movement(
            fed.nodes["KZ"].transit, ref
        ).declaration.model_copy(update={"security": copy.declaration.security})
    by = fed.nodes["BY"].transit
    dest = transit.get_movement(by, ref).destination_office
    assert [m.reference for m in transit.worklist(by, dest, "expected-arrivals")] == [ref]
    # Every message was answered with a positive R.006.
    with fed.nodes["KZ"].transit.uow() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    assert views
    assert {v.channel for v in views} == {"bus"}
    assert {v.outcome for v in views} == {"accepted"}


def test_passage_arrival_and_completion_flow_back(fed: Federation) -> None:
    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    ru, by, kz = (fed.nodes[s].transit for s in ("RU", "BY", "KZ"))
    decl = transit.get_movement(kz, ref).declaration
    ru_office = next(o for o in decl.intermediate_offices if kz.reference.offices[o].state == "RU")
    transit.act(ru, ref, RecordPassage(ru_office))
    fed.pump()
    assert ru_office in transit.get_movement(kz, ref).passed_offices
    transit.act(by, ref, RecordArrival(decl.destination_office))
    fed.pump()
    assert transit.get_movement(kz, ref).status is MovementStatus.COMPLETED
    assert transit.get_movement(by, ref).status is MovementStatus.COMPLETED
    assert transit.get_movement(ru, ref).status is MovementStatus.COMPLETED
    for node in fed.nodes.values():
        assert all(v.ok for v in transit.verify_all(node.transit).values())


def test_a_passage_confirmation_delayed_past_completion_is_kept(fed: Federation) -> None:
    """RU's confirmation of the passage is held up (its node's backlog) until after BY's
    arrival notice has completed the movement at KZ: taken, recorded, the status unchanged."""
    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    ru, by, kz = (fed.nodes[s].transit for s in ("RU", "BY", "KZ"))
    decl = transit.get_movement(kz, ref).declaration
    ru_office = next(o for o in decl.intermediate_offices if kz.reference.offices[o].state == "RU")
    transit.act(ru, ref, RecordPassage(ru_office))
    exchange.relay(fed.contexts["RU"], fed.send)
    held_up, fed.wire = fed.wire, []
    transit.act(by, ref, RecordArrival(decl.destination_office))
    fed.pump()
    assert transit.get_movement(kz, ref).status is MovementStatus.COMPLETED
    fed.wire = held_up
    fed.pump()
    late = transit.get_movement(kz, ref)
    assert late.status is MovementStatus.COMPLETED
    assert ru_office in late.passed_offices
    with ru.read() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    assert {v.outcome for v in views if v.message_kind == "passage_confirmation"} == {"accepted"}
    assert all(v.ok for v in transit.verify_all(kz).values())


def test_a_copy_refuses_what_only_departure_may_do(fed: Federation) -> None:
    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    from silkway.kernel.errors import ActionInvalid, ForbiddenTransition
    from silkway.transit.domain.movement import Complete

    by = fed.nodes["BY"].transit
    with pytest.raises(ForbiddenTransition):
        transit.act(by, ref, Complete())
    ru_office = next(
        o for o in fed.nodes["KZ"].reference.offices_of("RU") if "intermediate" in o.roles
    )
    with pytest.raises(ActionInvalid):
        transit.act(by, ref, RecordPassage(ru_office.code))


def test_without_a_passing_interstate_test_messages_go_on_paper(fed: Federation) -> None:
    ref = lodge_and_release(fed)
    fed.pump()
    with pytest.raises(transit.MovementNotFound):
        transit.get_movement(fed.nodes["BY"].transit, ref)
    with fed.nodes["KZ"].transit.uow() as uow:
        views = uow.exchange.outbox_views(movement_reference=ref)
    assert views
    assert {v.channel for v in views} == {"paper"}
    assert all("not in operation" in (v.note or "") for v in views)


def test_an_incident_on_the_way_reaches_departure_and_the_states_ahead(fed: Federation) -> None:
    from silkway.transit.domain.movement import IncidentKind, RecordIncident

    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    ru, by, kz = (fed.nodes[s].transit for s in ("RU", "BY", "KZ"))
    decl = transit.get_movement(kz, ref).declaration
    ru_office = next(o for o in decl.intermediate_offices if kz.reference.offices[o].state == "RU")
    transit.act(ru, ref, RecordIncident(IncidentKind.ACCIDENT, ru_office, "jack-knifed trailer"))
    fed.pump()
    assert [transit.get_movement(n, ref).incidents for n in (kz, ru, by)] == [1, 1, 1]
    kz_log = [r.kind for r in transit.event_log(kz, ref)[0]]
    by_log = [r.kind for r in transit.event_log(by, ref)[0]]
    assert kz_log[-1] == "incident_reported"
    assert by_log[-1] == "copy_updated"
    assert all(v.ok for n in (kz, by) for v in transit.verify_all(n).values())


def test_the_exchange_api_shows_messages_answers_and_partners(fed: Federation) -> None:

    from silkway.web.app import create_node_app

    fed.open_all()
    ref = lodge_and_release(fed)
    fed.pump()
    with NodeClient(create_node_app(fed.nodes["KZ"]), fed.nodes["KZ"]) as kz:
        sent = kz.get("/api/v1/messages", params={"movement": ref}).json()
        assert {(m["to_state"], m["channel"], m["outcome"]) for m in sent} >= {
            ("BY", "bus", "accepted"),
            ("RU", "bus", "accepted"),
        }
        one = kz.get(f"/api/v1/messages/{sent[0]['message_id']}").json()
        assert one == sent[0]
        answers = kz.get("/api/v1/inbox").json()
        assert {a["message_code"] for a in answers} == {"P.CP.01.MSG.900"}
        assert kz.get("/api/v1/partners").json() == {"RU": True, "BY": True}
        assert (
            kz.get("/api/v1/messages/urn:uuid:00000000-0000-0000-0000-000000000000").status_code
            == 404
        )
        assert kz.get("/api/v1/messages", params={"channel": "pigeon"}).status_code == 422
