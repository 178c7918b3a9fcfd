"""Who did what: every change a caller makes names the caller (subject, role, office, address)
in the record it changes, from the movement log to the guarantee history, the seal registry,
seal incidents and the process register."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.auth import account, bearer
from tests.integration.seals.seal_support import IMEI, SEAL_ID, corridor_track, released_movement

from silkway.bootstrap import Node
from silkway.examples import example_declaration
from silkway.exchange.db.tables import process_stages
from silkway.exchange.register import shipped_register
from silkway.guarantees.db.tables import guarantee_holders, guarantors
from silkway.identity.domain.principal import Role
from silkway.node.clock import ManualClock
from silkway.seals import ingest as telemetry
from silkway.seals import service as seals
from silkway.seals.db.tables import seal_activations
from silkway.seals.db.tables import seals as seal_table
from silkway.seals.domain.seals import IncidentCode
from silkway.seals.ports import IncidentFilter
from silkway.web.app import create_node_app

API = "/api/v1"
WHERE = " from testclient"  # the address Starlette's TestClient calls from
DECLARANT = "210340012345"  # the western-road example's declarant


@pytest.fixture
def client(kz_node: Node) -> Iterator[TestClient]:
    with TestClient(create_node_app(kz_node)) as c:
        yield c


def _actor(node: Node, role: Role, **kw: str) -> str:
    return account(node, role, **kw).actor + WHERE


def test_movement_events_name_the_officer_its_office_and_address(
    kz_node: Node, client: TestClient
) -> None:
    declaration = example_declaration("western-road", kz_node.transit.clock.now().date())
    office = declaration.departure_office
    lodged = client.post(
        f"{API}/declarations",
        content=declaration.model_dump_json(),
        headers={
            "content-type": "application/json",
            **bearer(kz_node, Role.DECLARANT, party=DECLARANT),
        },
    )
    assert lodged.status_code == 201, lodged.text
    reference = lodged.json()["reference"]
    officer = bearer(kz_node, Role.OFFICER, office=office)
    assert client.post(f"{API}/movements/{reference}/accept", headers=officer).status_code == 200
    events = client.get(f"{API}/movements/{reference}/events", headers=officer).json()["events"]
    assert [e["actor"] for e in events] == [
        _actor(kz_node, Role.DECLARANT, party=DECLARANT),
        _actor(kz_node, Role.OFFICER, office=office),
    ]
    assert f"officer:t-officer-{office}@{office} from testclient" == events[-1]["actor"]


def test_guarantee_registry_and_history_name_each_actor(kz_node: Node, client: TestClient) -> None:
    admin = bearer(kz_node, Role.ADMINISTRATOR)
    g = client.post(
        f"{API}/guarantors",
        json={"name": "Halyk Bank", "kind": "bank", "country": "KZ"},
        headers=admin,
    )
    assert g.status_code == 201, g.text
    guarantor_id = g.json()["guarantor_id"]
    h = client.put(
        f"{API}/holders/{DECLARANT}", json={"name": "Silk Road LLP", "country": "KZ"}, headers=admin
    )
    assert h.status_code == 200, h.text
    h = client.put(
        f"{API}/holders/990340012345", json={"name": "Fwd", "country": "KZ"}, headers=admin
    )
    assert h.status_code == 200, h.text
    guarantor = bearer(kz_node, Role.GUARANTOR, party=guarantor_id)
    body = {
        "method": "bank_guarantee",
        "scope": "general",
        "reference_amount": "500000.00",
        "currency": "EUR",
        "guarantor_id": guarantor_id,
        "holder_id": DECLARANT,
    }
    r = client.post(f"{API}/guarantees", json=body, headers=guarantor)
    assert r.status_code == 201, r.text
    grn = r.json()["grn"]
    officer = bearer(kz_node, Role.OFFICER)
    steps = [
        ("post", f"/guarantees/{grn}/authorisations", {"holder_id": "990340012345"}, guarantor),
        ("delete", f"/guarantees/{grn}/authorisations/990340012345", None, guarantor),
        ("post", f"/guarantees/{grn}/suspension", {"reason": "audit"}, officer),
        ("post", f"/guarantees/{grn}/reinstatement", {}, officer),
    ]
    for method, path, json, who in steps:
        kwargs = {"json": json} if json is not None else {}
        answer = client.request(method.upper(), API + path, headers=who, **kwargs)
        assert answer.status_code == 200, (path, answer.text)
    # Withdrawing what is not granted changes nothing and records nothing.
    again = client.delete(f"{API}/guarantees/{grn}/authorisations/990340012345", headers=guarantor)
    assert again.status_code == 200
    history = client.get(f"{API}/guarantees/{grn}/history", headers=officer).json()
    by_guarantor = _actor(kz_node, Role.GUARANTOR, party=guarantor_id)
    by_officer = _actor(kz_node, Role.OFFICER)
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("register", by_guarantor),
        ("authorise", by_guarantor),
        ("withdraw", by_guarantor),
        ("suspended", by_officer),
        ("active", by_officer),
    ]
    by_admin = _actor(kz_node, Role.ADMINISTRATOR)
    with kz_node.engine.connect() as conn:
        assert conn.execute(select(guarantors.c.registered_by)).scalar_one() == by_admin
        changed = conn.execute(
            select(guarantee_holders.c.changed_by).where(guarantee_holders.c.holder_id == DECLARANT)
        ).scalar_one()
    assert changed == by_admin


def test_seal_registry_activation_and_incident_closure_name_each_actor(
    kz_node: Node, client: TestClient, clock: ManualClock
) -> None:
    operator = bearer(kz_node, Role.SEAL_OPERATOR)
    r = client.post(
        f"{API}/seals",
        json={"seal_id": SEAL_ID, "protocol": "egts", "imei": IMEI, "reporting_period_s": 60},
        headers=operator,
    )
    assert r.status_code == 201, r.text
    movement = released_movement(kz_node)  # activates the declared seal at release
    track = corridor_track(kz_node, clock.now(), count=5, to_km=20)
    track[2] = replace(track[2], flags={"seal_opened": True})
    clock.advance(timedelta(minutes=10))
    telemetry.ingest(kz_node.seals, track, source="egts")
    [broken] = seals.list_incidents(kz_node.seals, IncidentFilter(code=IncidentCode.SEAL_BROKEN))
    assert broken.closed_by is None
    officer = bearer(kz_node, Role.OFFICER)
    closed = client.post(
        f"{API}/seal-incidents/{broken.id}/closure", json={"note": "resealed"}, headers=officer
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_by"] == _actor(kz_node, Role.OFFICER)
    assert closed.json()["detail"]["closure_note"] == "resealed"
    with kz_node.engine.connect() as conn:
        registered_by = conn.execute(select(seal_table.c.registered_by)).scalar_one()
        activated_by = conn.execute(
            select(seal_activations.c.activated_by).where(
                seal_activations.c.movement_reference == movement.reference
            )
        ).scalar_one()
    assert registered_by == _actor(kz_node, Role.SEAL_OPERATOR)
    assert activated_by == "node:KZ"  # activated by the release itself, which names its officer


def test_a_register_import_names_the_administrator(kz_node: Node, client: TestClient) -> None:
    r = client.post(
        f"{API}/register/import",
        content=shipped_register(),
        headers={"content-type": "text/csv", **bearer(kz_node, Role.ADMINISTRATOR)},
    )
    assert r.status_code == 200, r.text
    with kz_node.engine.connect() as conn:
        sources = set(conn.execute(select(process_stages.c.source)).scalars())
    assert sources == {_actor(kz_node, Role.ADMINISTRATOR) + ": import"}
