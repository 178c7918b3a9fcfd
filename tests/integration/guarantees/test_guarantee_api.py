"""The guarantee API: registry, ledger, liability, certificates, claims; bad input refused."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.auth import NodeClient
from tests.conftest import START
from tests.integration.guarantees.guarantee_support import ledger_rows

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.guarantees.access import verify_access_code
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.web.app import create_node_app

API = "/api/v1"
HOLDER = "210340012345"


def assert_problem(response: Any, status: int, pointer: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["errors"], body
    for err in body["errors"]:
        assert {"code", "pointer", "message"} <= err.keys()
    if pointer is not None:
        assert pointer in {e["pointer"] for e in body["errors"]}, body
    return body


@pytest.fixture
def client(node: Node) -> Iterator[TestClient]:
    with NodeClient(create_node_app(node), node) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_node: Callable[[str], Node]) -> Iterator[tuple[TestClient, Node]]:
    n = sqlite_node("KZ")
    with NodeClient(create_node_app(n), n) as c:
        yield c, n


@pytest.fixture(scope="module")
def registered_client(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Node]]:
    """One node with a guarantee registered, shared by tests that must change nothing."""
    folder = tmp_path_factory.mktemp("guarantee-api")
    shutil.copyfile(sqlite_template, folder / "kz.sqlite")
    n = build_node(
        "KZ",
        Settings(data_dir=folder),
        database_url=f"sqlite:///{folder / 'kz.sqlite'}",
        clock=ManualClock(START),
        migrate=False,
    )
    with NodeClient(create_node_app(n), n) as c:
        registered(c)
        yield c, n
    n.dispose()


def registered(c: TestClient, amount: str = "500000.00") -> str:
    g = c.post(
        f"{API}/guarantors",
        json={"name": "Halyk Bank", "kind": "bank", "country": "KZ"},
    )
    assert g.status_code == 201, g.text
    h = c.put(f"{API}/holders/{HOLDER}", json={"name": "Silk Road LLP", "country": "KZ"})
    assert h.status_code == 200, h.text
    r = c.post(f"{API}/guarantees", json=guarantee_body(g.json()["guarantor_id"], amount))
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith(r.json()["grn"])
    return str(r.json()["grn"])


def guarantee_body(guarantor_id: str, amount: str = "500000.00") -> dict[str, Any]:
    return {
        "method": "bank_guarantee",
        "scope": "general",
        "reference_amount": amount,
        "currency": "EUR",
        "guarantor_id": guarantor_id,
        "holder_id": HOLDER,
        "grn": "26KZ19201G0004171",
        "access_code": "4821",
    }


def test_release_lock_credit_and_the_query_answers(client: TestClient, clock: ManualClock) -> None:
    grn = registered(client)
    decl = example_declaration("western-road", clock.now().date()).model_dump(mode="json")
    ref = client.post(f"{API}/declarations", json=decl).json()["reference"]
    client.post(f"{API}/movements/{ref}/accept")
    released = client.post(
        f"{API}/movements/{ref}/release",
        json={"office": decl["departure_office"], "security_reference": grn},
    )
    assert released.status_code == 200, released.text

    balance = client.get(f"{API}/guarantees/{grn}/balance").json()
    [usage] = balance["usages"]
    assert usage["movement_reference"] == ref
    liability = client.get(f"{API}/movements/{ref}/liability").json()
    assert liability["locked"] is True
    assert liability["liability"]["total"] == usage["held"] == balance["balance"]["locked"]
    assert liability["explanation"][-1].startswith("Amount to secure")

    # A lock asked for directly, then credited in part, voided, and a shortfall.
    lock = client.post(
        f"{API}/guarantees/{grn}/locks",
        json={"key": "api-1", "amount": "1000.00", "currency": "EUR"},
    )
    assert lock.status_code == 200, lock.text
    assert lock.json()["lock"]["status"] == "pending"
    again = client.post(
        f"{API}/guarantees/{grn}/locks",
        json={"key": "api-1", "amount": "1000.00", "currency": "EUR"},
    )
    assert again.json() == lock.json()
    assert_problem(
        client.post(
            f"{API}/guarantees/{grn}/locks",
            json={"key": "api-1", "amount": "999.00", "currency": "EUR"},
        ),
        409,
    )
    credit = client.post(
        f"{API}/guarantee-locks/api-1/credit", json={"key": "api-1-c", "amount": "400.00"}
    )
    assert credit.json()["lock"]["held"] == "600.00"
    assert_problem(client.post(f"{API}/guarantee-locks/api-1/void", json={"key": "v"}), 409)
    short = assert_problem(
        client.post(
            f"{API}/guarantees/{grn}/locks",
            json={"key": "api-2", "amount": "999999.00", "currency": "EUR"},
        ),
        409,
        "/amount",
    )
    assert short["code"] == "insufficient-funds"
    assert short["requested"] == "999999.00"
    assert short["available"] == balance_of(client, grn)["available"]

    history = client.get(f"{API}/guarantees/{grn}/history").json()
    assert [h["kind"] for h in history] == ["register", "lock", "lock", "credit"]
    exposure = client.get(f"{API}/guarantee-exposure").json()
    assert exposure["guarantors"][0]["locked"] == balance_of(client, grn)["locked"]
    assert {s["state"] for s in exposure["states"]} == {"KZ"}


def balance_of(c: TestClient, grn: str) -> dict[str, str]:
    body: dict[str, str] = c.get(f"{API}/guarantees/{grn}").json()["guarantee"]["balance"]
    return body


def test_post_claim_recovery_and_report(
    sqlite_client: tuple[TestClient, Node],
) -> None:
    c, _ = sqlite_client
    grn = registered(c)
    c.post(
        f"{API}/guarantees/{grn}/locks", json={"key": "L1", "amount": "100.00", "currency": "EUR"}
    )
    posted = c.post(f"{API}/guarantee-locks/L1/post", json={"key": "P1"})
    assert posted.status_code == 200, posted.text
    claim = posted.json()["claim"]
    assert claim["amount"] == "100.00"
    paid = c.post(f"{API}/claims/{claim['claim_id']}/recoveries", json={"key": "R1"})
    assert paid.status_code == 201, paid.text
    assert sum(float(x["amount"]) for x in paid.json()["distribution"]) == pytest.approx(100)
    assert c.get(f"{API}/claims/{claim['claim_id']}").json()["status"] == "recovered"
    report = c.get(
        f"{API}/distribution/report", params={"start": "2026-01-01", "end": "2026-12-31"}
    )
    assert report.json()["balanced"] is True
    assert report.json()["totals"] == {"EUR": "100.00"}
    assert_problem(
        c.get(f"{API}/distribution/report", params={"start": "2026-12-31", "end": "2026-01-01"}),
        422,
    )


def test_an_unposted_non_delivery_is_listed_for_an_operator(
    sqlite_client: tuple[TestClient, Node], clock: ManualClock
) -> None:
    c, _ = sqlite_client
    grn = registered(c)
    assert c.get(f"{API}/guarantee-problems").json() == {"total": 0, "items": []}
    decl = example_declaration("western-road", clock.now().date()).model_dump(mode="json")
    ref = c.post(f"{API}/declarations", json=decl).json()["reference"]
    c.post(f"{API}/movements/{ref}/accept")
    c.post(
        f"{API}/movements/{ref}/release",
        json={"office": decl["departure_office"], "security_reference": grn},
    )
    clock.set(clock.now() + timedelta(days=30))
    c.post(f"{API}/movements/{ref}/overdue")
    c.post(f"{API}/movements/{ref}/enquiry", json={"reason": "no arrival"})
    credited = c.post(f"{API}/guarantee-locks/release:{ref}/credit", json={"key": "by-hand"})
    assert credited.status_code == 200, credited.text
    done = c.post(f"{API}/movements/{ref}/non-delivery", json={"reason": "never came"})
    assert done.json()["status"] == "not_delivered", done.text
    page = c.get(f"{API}/guarantee-problems").json()
    assert page["total"] == 1
    [problem] = page["items"]
    assert (problem["kind"], problem["movement_reference"], problem["grn"]) == (
        "non-delivery-not-posted",
        ref,
        grn,
    )
    assert c.get(f"{API}/claims").json() == []


def test_liability_is_explained_without_storing_anything(
    sqlite_client: tuple[TestClient, Node], clock: ManualClock
) -> None:
    c, n = sqlite_client
    decl = example_declaration("western-road", clock.now().date()).model_dump(mode="json")
    r = c.post(
        f"{API}/liability",
        json={"declaration": decl, "holder_qualified": True, "guarantor_reduction_pct": "0"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["liability"]["reduction_pct"] == "20"
    assert len(body["liability"]["items"]) == len(decl["items"])
    bad = copy.deepcopy(decl)
    bad["items"][0]["commodity_code"] = "9999999999"
    assert_problem(c.post(f"{API}/liability", json={"declaration": bad}), 422, None)
    assert ledger_rows(n)["guarantee_locks"] == 0


def test_certificate_endpoints(sqlite_node: Callable[[str], Node], clock: ManualClock) -> None:
    kz, ru = sqlite_node("KZ"), sqlite_node("RU")
    with NodeClient(create_node_app(kz), kz) as home, NodeClient(create_node_app(ru), ru) as there:
        grn = registered(home)
        issued = home.post(
            f"{API}/guarantees/{grn}/certificates",
            json={
                "kind": "general",
                "amount": "1000.00",
                "used_in": "RU",
                "valid_to": "2027-03-01",
            },
        )
        assert issued.status_code == 201, issued.text
        number = issued.json()["number"]
        code = issued.json()["access_code"]  # shown this once
        assert len(code) == 10
        assert "access_code" not in home.get(f"{API}/certificates/{number}").json()
        document = home.get(f"{API}/certificates/{number}/document").json()
        assert verify_access_code(code, document["access_code_hash"])
        assert not verify_access_code("4821", document["access_code_hash"])  # the guarantee's
        taken = there.post(f"{API}/certificates", json=document)
        assert taken.status_code == 201, taken.text
        assert taken.json()["direction"] == "received"
        assert_problem(there.post(f"{API}/certificates", json=document), 422)
        assert there.get(f"{API}/guarantees/{number}/balance").json()["balance"]["available"] == (
            "1000.00"
        )
        assert home.post(f"{API}/certificates/{number}/return").json()["status"] == "returned"


MALFORMED: dict[str, tuple[str, str, Callable[[dict[str, Any]], Any], int, str | None]] = {
    "amount not a number": ("post", "/guarantees", lambda b: {**b, "reference_amount": "abc"}, 422, "/reference_amount"),
    "amount negative": ("post", "/guarantees", lambda b: {**b, "reference_amount": "-5"}, 422, "/reference_amount"),
    "amount sub-cent": ("post", "/guarantees", lambda b: {**b, "reference_amount": "1.001"}, 422, "/reference_amount"),
    "unknown method": ("post", "/guarantees", lambda b: {**b, "method": "iou"}, 422, "/method"),
    "unknown state": ("post", "/guarantees", lambda b: {**b, "valid_states": ["KZ", "CN"]}, 422, "/valid_states/1"),
    "extra field": ("post", "/guarantees", lambda b: {**b, "owner": "me"}, 422, "/owner"),
    "bad grn": ("post", "/guarantees", lambda b: {**b, "grn": "26KZ19201G0004172"}, 422, "/grn"),
    "unknown guarantor": ("post", "/guarantees", lambda b: {**b, "guarantor_id": "KZ-GR999999"}, 422, "/guarantor_id"),
    "not json": ("post", "/guarantees", lambda b: "{", 400, None),
    "lock without key": ("post", "/guarantees/26KZ19201G0004171/locks", lambda b: {"amount": "1", "currency": "EUR"}, 422, "/key"),
    "lock bad key": ("post", "/guarantees/26KZ19201G0004171/locks", lambda b: {"key": "a b", "amount": "1", "currency": "EUR"}, 422, "/key"),
    "lock bad currency": ("post", "/guarantees/26KZ19201G0004171/locks", lambda b: {"key": "k", "amount": "1", "currency": "eur"}, 422, "/currency"),
    "lock other currency": ("post", "/guarantees/26KZ19201G0004171/locks", lambda b: {"key": "k", "amount": "1", "currency": "USD"}, 422, "/amount"),
    "lock unknown guarantee": ("post", "/guarantees/26KZ19201G0009128/locks", lambda b: {"key": "k", "amount": "1", "currency": "EUR"}, 404, None),
    "credit unknown lock": ("post", "/guarantee-locks/nope/credit", lambda b: {"key": "k"}, 404, None),
    "grn path malformed": ("get", "/guarantees/not-a-grn/balance", lambda b: None, 422, "/path/grn"),
    "claim unknown": ("get", "/claims/claim:nope", lambda b: None, 404, None),
    "holder bad country": ("put", "/holders/X1", lambda b: {"name": "X", "country": "kz"}, 422, "/country"),
    "guarantor bad kind": ("post", "/guarantors", lambda b: {"name": "X", "kind": "pawnshop", "country": "KZ"}, 422, "/kind"),
    "suspension without reason": ("post", "/guarantees/26KZ19201G0004171/suspension", lambda b: {}, 422, "/reason"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_input_is_a_problem_and_stores_nothing(
    registered_client: tuple[TestClient, Node], case: str
) -> None:
    c, n = registered_client
    guarantor = c.get(f"{API}/guarantors").json()[0]["guarantor_id"]
    method, path, make, status, pointer = MALFORMED[case]
    body = make(guarantee_body(guarantor) | {"grn": None, "access_code": None})
    before = ledger_rows(n)
    if method == "get":
        response = c.get(API + path)
    elif isinstance(body, str):
        response = c.request(
            method, API + path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = c.request(method, API + path, json=body)
    assert_problem(response, status, pointer)
    assert ledger_rows(n) == before


def test_refusals_store_nothing_on_either_database(client: TestClient, node: Node) -> None:
    grn = registered(client, "100.00")
    before = ledger_rows(node)
    assert_problem(
        client.post(
            f"{API}/guarantees/{grn}/locks",
            json={"key": "big", "amount": "100.01", "currency": "EUR"},
        ),
        409,
    )
    assert_problem(
        client.post(f"{API}/guarantees", json={"reference_amount": "10"}), 422, "/method"
    )
    assert ledger_rows(node) == before


def test_a_release_the_guarantee_cannot_cover_is_409_with_the_amounts(
    client: TestClient, clock: ManualClock
) -> None:
    grn = registered(client, "10.00")
    decl = example_declaration("western-road", clock.now().date()).model_dump(mode="json")
    ref = client.post(f"{API}/declarations", json=decl).json()["reference"]
    client.post(f"{API}/movements/{ref}/accept")
    body = assert_problem(
        client.post(
            f"{API}/movements/{ref}/release",
            json={"office": decl["departure_office"], "security_reference": grn},
        ),
        409,
        "/security_reference",
    )
    assert body["code"] == "security-shortfall"
    assert "10.00 EUR available" in body["errors"][0]["message"]
    assert client.get(f"{API}/movements/{ref}").json()["status"] == "accepted"
    assert client.get(f"{API}/guarantees/{grn}/balance").json()["usages"] == []
