"""The node HTTP API: lodging, reading, acting, and refusing bad input with problem+json."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.auth import NodeClient

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit.security import QuotedSecurityGate
from silkway.web.app import create_node_app, create_union_app

REGISTRATION = re.compile(r"^(\d{2}|\d{5}|\d{8})/\d{6}/\d{1,7}$")
API = "/api/v1"


@pytest.fixture
def client(kz_node: Node) -> Iterator[TestClient]:
    with NodeClient(create_node_app(kz_node), kz_node) as c:
        yield c


@pytest.fixture
def declaration(clock: ManualClock) -> dict[str, Any]:
    return example_declaration("western-road", clock.now().date()).model_dump(mode="json")


def stored(client: TestClient) -> int:
    total = client.get(f"{API}/movements").json()["total"]
    assert isinstance(total, int)
    return total


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "errors"} <= body.keys()
    for err in body["errors"]:
        assert {"code", "pointer", "message"} <= err.keys()
    return dict(body)


def test_lodge_then_read(client: TestClient, declaration: dict[str, Any]) -> None:
    r = client.post(f"{API}/declarations", json=declaration)
    assert r.status_code == 201, r.text
    body = r.json()
    assert REGISTRATION.match(body["registration_number"])
    assert r.headers["location"].endswith(body["reference"])
    code = client.get(f"{API}/codes/{body['reference']}").json()
    assert code == {"kind": "movement_reference", "valid": True, "reason": None}
    detail = client.get(f"{API}/movements/{body['reference']}").json()
    assert detail["status"] == "lodged"
    assert detail["allowed_actions"] == ["accept", "reject", "amend", "cancellation"]
    office, day, serial = body["registration_number"].split("/")
    by_number = client.get(f"{API}/registrations/{office}/{day}/{serial}").json()
    assert by_number["reference"] == body["reference"]


def test_lodging_twice_answers_200_with_the_same_movement(
    client: TestClient, declaration: dict[str, Any]
) -> None:
    first = client.post(f"{API}/declarations", json=declaration).json()
    again = client.post(f"{API}/declarations", json=declaration)
    assert again.status_code == 200
    assert again.json()["reference"] == first["reference"]
    assert stored(client) == 1


def test_lrn_reuse_is_a_conflict(client: TestClient, declaration: dict[str, Any]) -> None:
    client.post(f"{API}/declarations", json=declaration)
    other = {**declaration, "place_of_delivery": "Elsewhere"}
    body = assert_problem(client.post(f"{API}/declarations", json=other), 409)
    assert body["code"] == "lrn-conflict"
    assert stored(client) == 1


def release(client: TestClient, declaration: dict[str, Any]) -> str:
    ref = client.post(f"{API}/declarations", json=declaration).json()["reference"]
    assert client.post(f"{API}/movements/{ref}/accept").json()["status"] == "accepted"
    security = declaration["security"][0]["reference"]
    r = client.post(
        f"{API}/movements/{ref}/release",
        json={"office": declaration["departure_office"], "security_reference": security},
    )
    assert r.status_code == 200, r.text
    return str(ref)


def test_actions_drive_the_movement(client: TestClient, declaration: dict[str, Any]) -> None:
    # Khorgos to Astana through Almaty: every office is Kazakh, so this node records it all.
    domestic = {
        **declaration,
        "destination_office": "71001",
        "intermediate_offices": ["75001"],
        "route": ["KZ"],
        "border_points": [],
        "corridor": None,
    }
    ref = release(client, domestic)
    for office in domestic["intermediate_offices"]:
        r = client.post(f"{API}/movements/{ref}/passages", json={"office": office})
        assert r.json()["status"] == "in_passage"
    dest = domestic["destination_office"]
    worklist = client.get(f"{API}/offices/{dest}/worklist", params={"kind": "expected-arrivals"})
    assert [m["reference"] for m in worklist.json()] == [ref]
    client.post(f"{API}/movements/{ref}/arrival", json={"office": dest})
    done = client.post(f"{API}/movements/{ref}/completion").json()
    assert done["status"] == "completed"
    assert done["allowed_actions"] == []
    log = client.get(f"{API}/movements/{ref}/events").json()
    assert log["verification"]["ok"] is True
    assert [e["kind"] for e in log["events"]][-2:] == ["record_arrival", "complete"]
    assert client.get(f"{API}/movements/{ref}/messages").json() == []  # no other state concerned


def test_another_states_office_is_refused_and_named(
    client: TestClient, declaration: dict[str, Any]
) -> None:
    ref = release(client, declaration)
    kz_border, ru_border = declaration["intermediate_offices"][:2]
    assert (
        client.post(f"{API}/movements/{ref}/passages", json={"office": kz_border}).json()["status"]
        == "in_passage"
    )
    before = client.get(f"{API}/movements/{ref}").json()
    events = len(client.get(f"{API}/movements/{ref}/events").json()["events"])
    for action, office, state in [
        ("passages", ru_border, "RU"),
        ("arrival", declaration["destination_office"], "BY"),
    ]:
        body = assert_problem(
            client.post(f"{API}/movements/{ref}/{action}", json={"office": office}), 422
        )
        assert body["code"] == "office-other-state"
        assert body["office_state"] == state
        assert [(e["code"], e["pointer"]) for e in body["errors"]] == [
            ("office-other-state", "/office")
        ]
        assert f"at the {state} node" in body["detail"]
    assert client.get(f"{API}/movements/{ref}").json() == before
    assert len(client.get(f"{API}/movements/{ref}/events").json()["events"]) == events


def test_forbidden_action_is_409_and_changes_nothing(
    client: TestClient, declaration: dict[str, Any]
) -> None:
    ref = client.post(f"{API}/declarations", json=declaration).json()["reference"]
    before = client.get(f"{API}/movements/{ref}").json()
    body = assert_problem(client.post(f"{API}/movements/{ref}/completion"), 409)
    assert body["code"] == "forbidden-transition"
    assert client.get(f"{API}/movements/{ref}").json() == before


def test_action_with_bad_body_is_422(client: TestClient, declaration: dict[str, Any]) -> None:
    ref = client.post(f"{API}/declarations", json=declaration).json()["reference"]
    client.post(f"{API}/movements/{ref}/accept")
    body = assert_problem(
        client.post(f"{API}/movements/{ref}/release", json={"office": "not-an-office"}), 422
    )
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"/office", "/security_reference"} <= pointers
    assert client.get(f"{API}/movements/{ref}").json()["status"] == "accepted"


def test_unknown_movement_is_404(client: TestClient) -> None:
    assert_problem(client.get(f"{API}/movements/SW26KZ000000000011"), 404)
    assert_problem(client.post(f"{API}/movements/SW26KZ000000000011/accept"), 404)
    assert_problem(client.get(f"{API}/registrations/19201/011226/9"), 404)


def test_a_method_the_path_does_not_take_is_405_naming_every_one_it_does(
    client: TestClient,
) -> None:
    refused = client.request("TRACE", f"{API}/seals")
    assert_problem(refused, 405)
    assert refused.headers["allow"] == "GET, POST"
    assert client.delete(f"{API}/movements/SW26KZ000000000011").headers["allow"] == "GET"


def test_decimals_travel_as_the_schema_says(client: TestClient) -> None:
    body = {"key": "k", "amount": "", "currency": "EUR"}
    for amount in ("", "1e3", 12.5, "0.00"):
        refused = client.post(
            f"{API}/guarantees/26KZ19201G0004171/locks", json={**body, "amount": amount}
        )
        assert assert_problem(refused, 422)["errors"][0]["pointer"] == "/amount"


def test_list_rejects_bad_queries(client: TestClient) -> None:
    assert_problem(client.get(f"{API}/movements", params={"status": "flying"}), 422)
    assert_problem(client.get(f"{API}/movements", params={"limit": 0}), 422)
    assert_problem(client.get(f"{API}/movements", params={"limit": 10_000}), 422)
    # An inverted period is well formed but refused: a 422 like every other refused request.
    inverted = assert_problem(
        client.get(
            f"{API}/movements", params={"lodged_from": "2026-12-05", "lodged_to": "2026-12-01"}
        ),
        422,
    )
    assert inverted["errors"][0]["code"] == "date-range-inverted"
    # Dates travel as RFC 3339 full-dates only; pydantic alone would read 0 as 1 January 1970.
    assert_problem(client.get(f"{API}/movements", params={"lodged_from": "0"}), 422)


Mutation = Callable[[dict[str, Any]], Any]


def _set(path: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> Any:
        target: Any = d
        *parents, last = path.split("/")
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return d

    return mutate


def _drop(path: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> Any:
        target: Any = d
        *parents, last = path.split("/")
        for p in parents:
            target = target[int(p)] if isinstance(target, list) else target[p]
        del target[last]
        return d

    return mutate


MALFORMED: dict[str, tuple[Mutation, int, str | None]] = {
    # name: (mutation, expected status, a pointer that must be named)
    "lrn missing": (_drop("lrn"), 422, "/lrn"),
    "lrn wrong type": (_set("lrn", 12345), 422, "/lrn"),
    "lrn huge": (_set("lrn", "L" * 100_000), 422, "/lrn"),
    "lrn with spaces": (_set("lrn", "A B"), 422, "/lrn"),
    "declarant missing": (_drop("declarant"), 422, "/declarant"),
    "declarant name empty": (_set("declarant/name", ""), 422, "/declarant/name"),
    "declarant country lower": (_set("declarant/country", "kz"), 422, "/declarant/country"),
    "items empty": (_set("items", []), 422, "/items"),
    "items not a list": (_set("items", {"a": 1}), 422, "/items"),
    "item negative mass": (_set("items/0/gross_mass_kg", "-5"), 422, "/items/0/gross_mass_kg"),
    "item zero value": (_set("items/0/value", "0"), 422, "/items/0/value"),
    "item mass not a number": (
        _set("items/0/gross_mass_kg", "heavy"),
        422,
        "/items/0/gross_mass_kg",
    ),
    "item net above gross": (_set("items/0/net_mass_kg", "999999"), 422, "/items/0/net_mass_kg"),
    "item commodity code short": (
        _set("items/0/commodity_code", "8471"),
        422,
        "/items/0/commodity_code",
    ),
    "item commodity heading unknown": (
        _set("items/0/commodity_code", "0101210000"),
        422,
        "/items/0/commodity_code",
    ),
    "item unknown currency": (_set("items/0/currency", "XXX"), 422, "/items/0/currency"),
    "item negative packages": (_set("items/0/packages", -1), 422, "/items/0/packages"),
    "item number zero": (_set("items/0/item_number", 0), 422, "/items/0/item_number"),
    "item extra field": (_set("items/0/colour", "red"), 422, "/items/0/colour"),
    # XML cannot carry it: the release notification to the route states could never be sent.
    "item description with a control character": (
        _set("items/0/description", "Portable\x01computers"),
        422,
        "/items/0/description",
    ),
    "consignee address with a form feed": (
        _set("consignee/address", "Brest\x0cstreet 1"),
        422,
        "/consignee/address",
    ),
    "departure office unknown": (_set("departure_office", "99999"), 422, "/departure_office"),
    "destination office unknown": (_set("destination_office", "00000"), 422, "/destination_office"),
    "departure equals destination": (
        lambda d: {**d, "destination_office": d["departure_office"]},
        422,
        None,
    ),
    "route empty": (_set("route", []), 422, "/route"),
    "route unknown country": (_set("route", ["KZ", "ZZ", "BY"]), 422, "/route/1"),
    "route lower case": (_set("route", ["kz"]), 422, "/route/0"),
    "border point unknown": (_set("border_points", ["NOWHERE"]), 422, None),
    "time limit past": (_set("time_limit", "2020-01-01"), 422, "/time_limit"),
    "time limit not a date": (_set("time_limit", "tomorrow"), 422, "/time_limit"),
    "time limit too far": (_set("time_limit", "2030-01-01"), 422, "/time_limit"),
    "seal count mismatch": (_set("seals/count", 7), 422, "/seals/count"),
    "transport empty": (_set("transport", []), 422, "/transport"),
    "transport bad mode": (_set("transport/0/mode", "teleport"), 422, "/transport/0/mode"),
    "security bad kind": (_set("security/0/kind", "IOU"), 422, "/security/0/kind"),
    "unexpected top-level field": (_set("admin", True), 422, "/admin"),
    "body is a list": (lambda d: [d], 422, None),
    "body is a string": (lambda d: "declaration", 422, None),
    "body is null": (lambda d: None, 422, None),
    "body is a number": (lambda d: 42, 422, None),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_declarations_are_refused_and_store_nothing(
    client: TestClient, declaration: dict[str, Any], case: str
) -> None:
    mutate, status, pointer = MALFORMED[case]
    payload = mutate(copy.deepcopy(declaration))
    body = assert_problem(client.post(f"{API}/declarations", json=payload), status)
    if pointer is not None:
        assert pointer in {e["pointer"] for e in body["errors"]}, body["errors"]
    assert stored(client) == 0


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{", 400),
        (b"{'lrn': 1}", 400),
        (b"\xff\xfe\x00", 400),
        (b"", 422),
        (b'{"lrn": "A"' + b" " * 10, 400),
    ],
)
def test_broken_json_is_refused(client: TestClient, raw: bytes, status: int) -> None:
    r = client.post(
        f"{API}/declarations", content=raw, headers={"content-type": "application/json"}
    )
    assert_problem(r, status)
    assert stored(client) == 0


def test_oversized_body_is_413(client: TestClient, declaration: dict[str, Any]) -> None:
    huge = json.dumps({**declaration, "place_of_delivery": "x" * (2 << 20)})
    r = client.post(
        f"{API}/declarations", content=huge, headers={"content-type": "application/json"}
    )
    assert_problem(r, 413)
    assert stored(client) == 0


def test_union_app_mounts_every_node(
    kz_node: Node, declaration: dict[str, Any], tmp_path: Path, clock: ManualClock
) -> None:
    am_node = build_node(
        "AM", Settings(data_dir=tmp_path / "am"), clock=clock, security=QuotedSecurityGate()
    )
    with NodeClient(
        create_union_app({"AM": am_node, "KZ": kz_node}), {"AM": am_node, "KZ": kz_node}
    ) as c:
        assert "/nodes/kz/api/v1" in c.get("/").text
        r = c.post("/nodes/kz/api/v1/declarations", json=declaration)
        assert r.status_code == 201
        assert r.headers["location"].startswith("/nodes/kz/api/v1/movements/")
        assert c.get("/nodes/kz/openapi.json").status_code == 200
        assert c.get(r.headers["location"]).json()["reference"] == r.json()["reference"]
        assert r.json()["links"]["events"].startswith("/nodes/kz/")
    am_node.dispose()


def test_allow_names_the_most_specific_resource(client: TestClient) -> None:
    # /guarantee-locks/expiry is its own resource, though /guarantee-locks/{lock_id} matches too.
    refused = client.options(f"{API}/guarantee-locks/expiry")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"


def test_the_union_answers_405_with_allow_at_each_node(kz_node: Node, tmp_path: Path) -> None:
    with TestClient(create_union_app({"KZ": kz_node})) as c:
        assert c.request("TRACE", "/nodes/kz/api/v1/seals").headers["allow"] == "GET, POST"
        assert c.request("TRACE", "/health").headers["allow"] == "GET"
