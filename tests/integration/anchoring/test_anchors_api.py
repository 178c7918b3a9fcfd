"""The anchors over the API: a node's own, newest first, and the Commission's per state.

KZ (on SQLite and on PostgreSQL) takes its anchors and sends them over the exchange, sealed
and signed, to the Commission's node, which keeps them; both are read back through each
node's API, with tokens.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.auth import bearer

from silkway.anchoring import service as anchoring
from silkway.anchoring.domain.anchor import Anchor
from silkway.bootstrap import Node, build_node, publish_embedded_trust
from silkway.examples import example_declaration
from silkway.exchange import service as exchange
from silkway.identity.domain.principal import Role
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit import service as transit
from silkway.transit.domain.movement import Accept
from silkway.transit.security import QuotedSecurityGate
from silkway.web.app import create_node_app

TAKEN = "/api/v1/anchors/taken"
KEPT = "/api/v1/anchors/kept"


@pytest.fixture
def nodes(
    tmp_path: Path, database_url: str, sqlite_template: Path, clock: ManualClock
) -> Iterator[tuple[Node, Node]]:
    settings = Settings(data_dir=tmp_path)
    # The Commission's signed trust list names KZ's key and its own, as it does in a Union.
    publish_embedded_trust(settings, ("KZ", "EEC"), clock.now())
    eec_database = tmp_path / "eec.sqlite"
    shutil.copyfile(sqlite_template, eec_database)
    kz = build_node(
        "KZ",
        settings,
        database_url=database_url,
        clock=clock,
        migrate=False,
        security=QuotedSecurityGate(),
    )
    eec = build_node(
        "EEC", settings, database_url=f"sqlite:///{eec_database}", clock=clock, migrate=False
    )
    try:
        yield kz, eec
    finally:
        kz.dispose()
        eec.dispose()


def _anchor_and_send(kz: Node, eec: Node) -> tuple[Anchor, str]:
    """KZ anchors its logs; the relay carries the MSG.915 to the Commission, which keeps it."""
    anchor = anchoring.take_anchor(kz.anchoring)
    receipts: list[exchange.Receipt] = []
    report = exchange.relay(
        kz.exchange, lambda _s, data, _m: receipts.append(exchange.receive(eec.exchange, data))
    )
    assert report.sent == 1
    [receipt] = receipts
    assert (receipt.outcome, receipt.code) == ("accepted", "P.CP.01.MSG.915")
    return anchor, receipt.message_id


def _chains(anchor: Anchor) -> list[dict[str, Any]]:
    return [{"name": c.name, "records": c.records, "head": c.head} for c in anchor.chains]


def test_a_node_lists_its_anchors_and_the_commission_those_it_keeps(
    nodes: tuple[Node, Node], clock: ManualClock
) -> None:
    kz, eec = nodes
    sent = [_anchor_and_send(kz, eec)]
    decl = example_declaration("western-road", clock.now().date())
    reference = transit.lodge_declaration(kz.transit, decl).movement.reference
    transit.act(kz.transit, reference, Accept())
    for _ in range(2):
        clock.advance(timedelta(minutes=10))
        sent.append(_anchor_and_send(kz, eec))
    newest_first = sent[::-1]

    with TestClient(create_node_app(kz)) as client:
        admin = bearer(kz, Role.ADMINISTRATOR)
        page = client.get(TAKEN, headers=admin)
        assert page.status_code == 200, page.text
        body = page.json()
        assert (body["total"], body["offset"], body["limit"]) == (3, 0, 100)
        assert [(a["anchor_id"], a["message_id"]) for a in body["items"]] == [
            (anchor.anchor_id, message_id) for anchor, message_id in newest_first
        ]
        first = body["items"][0]
        latest = newest_first[0][0]
        assert (first["state"], datetime.fromisoformat(first["taken_at"])) == (
            "KZ",
            latest.taken_at,
        )
        assert first["chains"] == _chains(latest)
        # The movement's two events (lodged, accepted) came after the first anchor.
        records = [
            {c["name"]: c["records"] for c in a["chains"]}["movement-events"] for a in body["items"]
        ]
        assert records == [2, 2, 0]
        assert body["items"][-1]["chains"] == _chains(sent[0][0])

        second_page = client.get(TAKEN, params={"offset": 2, "limit": 2}, headers=admin).json()
        assert (second_page["total"], [a["anchor_id"] for a in second_page["items"]]) == (
            3,
            [sent[0][0].anchor_id],
        )
        # A member state's node keeps no anchors: it says where they are.
        elsewhere = client.get(KEPT, headers=admin)
        assert elsewhere.status_code == 404, elsewhere.text
        assert elsewhere.json()["code"] == "anchors-not-kept-here"
        assert "kept by the Commission's node (EEC)" in elsewhere.json()["detail"]
        for role in (Role.OFFICER, Role.ANALYST):
            refused = client.get(TAKEN, headers=bearer(kz, role))
            assert (refused.status_code, refused.json()["code"]) == (403, "role-forbidden")

    with TestClient(create_node_app(eec)) as client:
        analyst = bearer(eec, Role.ANALYST)
        kept = client.get(KEPT, params={"state": "KZ"}, headers=analyst)
        assert kept.status_code == 200, kept.text
        body = kept.json()
        assert body["total"] == 3
        assert [(a["anchor_id"], a["state"], a["message_id"]) for a in body["items"]] == [
            (anchor.anchor_id, "KZ", message_id) for anchor, message_id in newest_first
        ]
        assert [a["chains"] for a in body["items"]] == [_chains(a) for a, _ in newest_first]
        # Each was received as it was sent, on the one clock both nodes read.
        assert [datetime.fromisoformat(a["received_at"]) for a in body["items"]] == [
            a.taken_at for a, _ in newest_first
        ]
        every_state = client.get(KEPT, params={"limit": 1}, headers=bearer(eec, Role.ADMINISTRATOR))
        assert every_state.json()["total"] == 3
        assert [a["anchor_id"] for a in every_state.json()["items"]] == [latest.anchor_id]
        assert client.get(KEPT, params={"state": "BY"}, headers=analyst).json() == {
            "items": [],
            "total": 0,
            "offset": 0,
            "limit": 100,
        }
        for bad in ({"state": "EEC"}, {"state": "kz"}, {"limit": 0}, {"offset": -1}):
            wrong = client.get(KEPT, params=bad, headers=analyst)
            assert (wrong.status_code, wrong.json()["code"]) == (422, "request-invalid"), bad
        # The Commission takes no anchors of its own.
        none_taken = client.get(TAKEN, headers=bearer(eec, Role.ADMINISTRATOR))
        assert none_taken.status_code == 404, none_taken.text
        assert none_taken.json()["code"] == "anchors-not-taken-here"
        officer = client.get(KEPT, headers=bearer(eec, Role.OFFICER))
        assert (officer.status_code, officer.json()["code"]) == (403, "role-forbidden")
