"""One outbox row that cannot be sealed is dead-lettered; the rows behind it still go."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.conftest import START
from tests.integration.exchange.federation import federation

from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.exchange.ports import OutboxMessage
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept, Release, office_states
from silkway.transit.domain.movement.events import MessageKind


def test_a_poison_row_is_dead_lettered_and_a_hundred_behind_it_are_delivered(
    tmp_path: Path,
) -> None:
    with federation(tmp_path, ("KZ", "BY"), START) as fed:
        fed.open_all()
        kz = fed.nodes["KZ"].transit
        decl = example_declaration("western-road", START.date())
        m = transit.lodge_declaration(kz, decl).movement
        transit.act(kz, m.reference, Accept())
        m = transit.act(kz, m.reference, Release(decl.security[0].reference, decl.departure_office))
        fed.pump()
        office_state = office_states(kz.reference)
        now = fed.clock.now()

        def incident(text: str) -> OutboxMessage:
            fields = {
                "MovementReference": m.reference,
                "ReportingOffice": {"OfficeCode": "19201", "CountryCode": "KZ"},
                "IncidentCode": "other",
                "IncidentDateTime": now,
                "Description": text,
            }
            return transit.outbox_message(
                "KZ", "BY", MessageKind.INCIDENT, m, fields, now, office_state
            )

        poison = incident("bell \x07 in the text")
        behind = [incident(f"note {i}") for i in range(100)]
        behind = [
            replace(b, message_id=f"urn:uuid:{i:08d}-0000-4000-8000-000000000000")
            for i, b in enumerate(behind)
        ]
        with kz.uow() as uow:
            uow.outbox.put([poison, *behind])
            uow.commit()
        report = exchange.relay(fed.contexts["KZ"], fed.send, limit=500)
        assert report.dead == 1
        assert report.sent == 100
        assert len(fed.wire) == 100
        assert len({i for _s, _d, i in fed.wire}) == 100
        # Nothing is sent twice: the next pass finds nothing pending.
        fed.pump()
        again = exchange.relay(fed.contexts["KZ"], fed.send)
        assert (again.sent, again.dead) == (0, 0)
        with kz.read() as uow:
            [dead] = uow.exchange.outbox_views(channel="dead")
        assert dead.message_id == poison.message_id
        assert dead.note is not None
        assert "cannot be sealed" in dead.note
        assert transit.get_movement(fed.nodes["BY"].transit, m.reference).incidents == 100
