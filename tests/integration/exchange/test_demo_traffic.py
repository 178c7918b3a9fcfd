"""The demo traffic of ``silkway run``: through each node's API as the demo's own accounts, each
node records only its own offices' steps, and the exchange still carries a movement from
lodging to completion."""

from __future__ import annotations

import random
from pathlib import Path

from tests.auth import demo_over_http
from tests.conftest import START
from tests.integration.exchange.federation import federation

from silkway.sim.demo import DEMO_LRN_PREFIX, register_example_guarantees, tick
from silkway.transit import service as transit
from silkway.transit.domain.movement import MovementStatus
from silkway.transit.ports import MovementFilter


def test_demo_movements_complete_through_the_exchange(tmp_path: Path) -> None:
    with (
        federation(tmp_path, ("KZ", "RU", "BY"), START, guaranteed=True) as fed,
        demo_over_http(fed.nodes) as demo,
    ):
        fed.open_all()
        assert register_example_guarantees(demo)  # the ledger gate locks real amounts
        assert register_example_guarantees(demo) == []  # once: a restart finds them
        rng = random.Random(7)
        completed: list[str] = []
        for serial in range(1, 80):
            tick(demo, serial, rng)
            fed.pump()
            page = transit.list_movements(
                fed.nodes["KZ"].transit,
                MovementFilter(status=MovementStatus.COMPLETED),
                offset=0,
                limit=50,
            )
            completed = [m.reference for m in page.items if m.state == "KZ"]
            if completed:
                break
        assert completed, "no demo movement of the KZ node was completed"
        kz = fed.nodes["KZ"]
        offices = kz.reference.offices
        for reference in completed:
            m = transit.get_movement(kz.transit, reference)
            assert m.declaration.lrn.startswith(DEMO_LRN_PREFIX)
            records, verdict = transit.event_log(kz.transit, reference)
            assert verdict.ok
            # The demo's own accounts did what this node did, each signed in over HTTP.
            assert records[0].actor.startswith("declarant:declarant.kz")
            assert records[1].actor == "officer:officer.kz from testclient"
            # Every step at another state's office came as that state's message.
            for record in records:
                office = record.payload.get("office")
                if isinstance(office, str) and offices[office].state != "KZ":
                    assert record.actor == f"message:{offices[office].state}", record
            assert records[-1].kind == "complete"
            assert records[-1].actor == "message:BY"
