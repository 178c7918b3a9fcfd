"""Who may do what: the policy covers every route, and every role meets it on every route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.auth import PASSWORD, account, bearer

from silkway.bootstrap import Node, build_node
from silkway.examples import example_declaration
from silkway.identity import service as identity
from silkway.identity.db.tables import access_log
from silkway.identity.domain.policy import POLICY
from silkway.identity.domain.principal import Role
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.transit.db.tables import movements
from silkway.web.app import create_node_app

API = "/api/v1"
DECLARANT = "210340012345"  # the western-road example's declarant
COMPETITOR = "210340099999"


@pytest.fixture
def app(kz_node: Node) -> FastAPI:
    return create_node_app(kz_node)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def _operations(app: FastAPI) -> set[tuple[str, str]]:
    ops = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    for route in app.routes:
        if isinstance(route, APIRoute) and not route.include_in_schema:
            ops |= {(m, route.path) for m in route.methods if m != "HEAD"}
    return ops


def test_every_route_has_exactly_one_policy_row(app: FastAPI) -> None:
    routes = _operations(app)
    assert sorted(routes - set(POLICY)) == [], "routes without an access rule"
    assert sorted(set(POLICY) - routes) == [], "access rules naming no route"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "X1", path)


def _movement_count(node: Node) -> int:
    with node.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(movements)).scalar_one())


@pytest.mark.parametrize("role", list(Role))
def test_each_role_meets_the_policy_on_every_route(
    kz_node: Node, client: TestClient, role: Role
) -> None:
    party = {Role.DECLARANT: COMPETITOR, Role.CARRIER: COMPETITOR, Role.GUARANTOR: "G1"}.get(role)
    before = _movement_count(kz_node)
    for (method, path), rule in sorted(POLICY.items()):
        if rule.public or path.endswith("/stream"):
            continue
        url = _concrete(path)
        anonymous = client.request(method, url)
        assert anonymous.status_code == 401, (method, path)
        r = client.request(method, url, headers=bearer(kz_node, role, party=party), json={})
        if role in rule.roles:
            assert r.status_code not in (401, 403) or r.json()["code"] in (
                "party-mismatch",
                "office-foreign",
            ), (role, method, path, r.text)
        else:
            assert r.status_code == 403, (role, method, path, r.text)
            assert r.json()["code"] == "role-forbidden"
    assert _movement_count(kz_node) == before


@pytest.fixture
def lodged(kz_node: Node, client: TestClient) -> str:
    declaration = example_declaration("western-road", kz_node.transit.clock.now().date())
    r = client.post(
        f"{API}/declarations",
        content=declaration.model_dump_json(),
        headers={
            "content-type": "application/json",
            **bearer(kz_node, Role.DECLARANT, party=DECLARANT),
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["reference"])


def test_a_declarant_sees_only_its_own_movements(
    kz_node: Node, client: TestClient, lodged: str
) -> None:
    own = bearer(kz_node, Role.DECLARANT, party=DECLARANT)
    other = bearer(kz_node, Role.DECLARANT, party=COMPETITOR)
    assert client.get(f"{API}/movements/{lodged}", headers=own).status_code == 200
    r = client.get(f"{API}/movements/{lodged}", headers=other)
    assert r.status_code == 404
    assert r.json()["code"] == "movement-not-found"
    assert client.get(f"{API}/movements/{lodged}/events", headers=other).status_code == 404
    assert client.get(f"{API}/movements", headers=other).json()["total"] == 0
    assert client.get(f"{API}/movements", headers=own).json()["total"] == 1
    # …and cannot act on it either; nothing changes.
    r = client.post(f"{API}/movements/{lodged}/cancellation", json={"reason": "x"}, headers=other)
    assert r.status_code == 404
    assert client.get(f"{API}/movements/{lodged}", headers=own).json()["status"] == "lodged"


def test_a_declarant_cannot_lodge_for_another(kz_node: Node, client: TestClient) -> None:
    declaration = example_declaration("western-road", kz_node.transit.clock.now().date())
    r = client.post(
        f"{API}/declarations",
        content=declaration.model_dump_json(),
        headers={
            "content-type": "application/json",
            **bearer(kz_node, Role.DECLARANT, party=COMPETITOR),
        },
    )
    assert r.status_code == 403
    assert r.json()["code"] == "party-mismatch"
    assert _movement_count(kz_node) == 0


def test_officers_act_only_in_their_state_and_office(
    kz_node: Node, client: TestClient, lodged: str
) -> None:
    by_officer = bearer(kz_node, Role.OFFICER, state="BY")
    r = client.post(f"{API}/movements/{lodged}/accept", headers=by_officer)
    assert r.status_code == 403
    assert r.json()["code"] == "state-foreign"
    elsewhere = bearer(kz_node, Role.OFFICER, office="19203")
    r = client.post(f"{API}/movements/{lodged}/accept", headers=elsewhere)
    assert r.status_code == 403
    assert r.json()["code"] == "office-foreign"
    officer = bearer(kz_node, Role.OFFICER)
    assert client.get(f"{API}/movements/{lodged}", headers=officer).json()["status"] == "lodged"
    r = client.post(f"{API}/movements/{lodged}/accept", headers=officer)
    assert r.status_code == 200, r.text
    events = client.get(f"{API}/movements/{lodged}/events", headers=officer).json()["events"]
    assert [e["actor"] for e in events][-1] == "officer:t-officer from testclient"


def test_an_analyst_reads_no_declaration(kz_node: Node, client: TestClient, lodged: str) -> None:
    analyst = bearer(kz_node, Role.ANALYST)
    assert client.get(f"{API}/movements/{lodged}", headers=analyst).status_code == 403
    assert client.get(f"{API}/journal", headers=analyst).status_code == 200


def test_tokens_expire_are_revoked_and_belong_to_one_node(
    kz_node: Node, client: TestClient, clock: ManualClock, tmp_path: Path
) -> None:
    headers = bearer(kz_node, Role.OFFICER)
    assert client.get(f"{API}/auth/me", headers=headers).json()["role"] == "officer"
    clock.advance(kz_node.identity.access_ttl + timedelta(minutes=1))
    r = client.get(f"{API}/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["code"] == "token-expired"
    assert "invalid_token" in r.headers["www-authenticate"]

    fresh = bearer(kz_node, Role.OFFICER)
    token = fresh["Authorization"].split()[1]
    assert client.post(f"{API}/auth/revocation", data={"token": token}).status_code == 200
    r = client.get(f"{API}/auth/me", headers=fresh)
    assert r.status_code == 401
    assert r.json()["code"] == "token-revoked"

    by = build_node("BY", Settings(data_dir=tmp_path / "by"), clock=clock)
    try:
        r = client.get(f"{API}/auth/me", headers=bearer(by, Role.OFFICER))
        assert r.status_code == 401
        assert r.json()["code"] == "issuer-untrusted"
        # BY's key signing a token that claims to be KZ's: the signature gives it away.
        forged = identity.issue_for(by.identity, account(kz_node, Role.OFFICER)).access_token
        by.identity.issuer = kz_node.identity.issuer
        forged = identity.issue_for(
            by.identity, account(kz_node, Role.OFFICER), audience=kz_node.identity.audience
        ).access_token
        r = client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        assert r.json()["code"] == "token-invalid"
    finally:
        by.dispose()


def test_password_refresh_and_reuse_detection(kz_node: Node, client: TestClient) -> None:
    account(kz_node, Role.OFFICER, name="officer.one")
    bad = client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": "officer.one", "password": "wrong-password!"},
    )
    assert bad.status_code == 401
    assert bad.json()["code"] == "credentials-invalid"
    good = client.post(
        f"{API}/auth/token",
        data={"grant_type": "password", "username": "officer.one", "password": PASSWORD},
    ).json()
    first = good["refresh_token"]
    again = client.post(
        f"{API}/auth/token", data={"grant_type": "refresh_token", "refresh_token": first}
    )
    assert again.status_code == 200
    second = again.json()["refresh_token"]
    reused = client.post(
        f"{API}/auth/token", data={"grant_type": "refresh_token", "refresh_token": first}
    )
    assert reused.status_code == 401
    assert reused.json()["code"] == "token-revoked"
    # The reuse revoked the whole family, the newest member included.
    r = client.post(
        f"{API}/auth/token", data={"grant_type": "refresh_token", "refresh_token": second}
    )
    assert r.status_code == 401


def test_second_factor_and_disabled_accounts(
    kz_node: Node, client: TestClient, clock: ManualClock
) -> None:
    from silkway.identity.passwords import totp_code

    _, secret = identity.add_user(
        kz_node.identity, "chief.officer", PASSWORD, Role.OFFICER, second_factor=True
    )
    assert secret is not None
    form = {"grant_type": "password", "username": "chief.officer", "password": PASSWORD}
    r = client.post(f"{API}/auth/token", data=form)
    assert r.status_code == 401
    assert r.json()["code"] == "second-factor-invalid"
    r = client.post(f"{API}/auth/token", data={**form, "otp": totp_code(secret, clock.now())})
    assert r.status_code == 200, r.text
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    identity.set_user_disabled(kz_node.identity, "chief.officer")
    r = client.get(f"{API}/auth/me", headers=token)
    assert r.status_code == 401
    assert r.json()["code"] == "account-disabled"


def test_client_credentials_rotate_and_revoke(kz_node: Node, client: TestClient) -> None:
    _, secret = identity.add_client(kz_node.identity, "acme-erp", Role.DECLARANT, party=DECLARANT)
    r = client.post(
        f"{API}/auth/token", data={"grant_type": "client_credentials"}, auth=("acme-erp", secret)
    )
    assert r.status_code == 200
    assert "refresh_token" not in r.json()
    new = identity.rotate_client(kz_node.identity, "acme-erp")
    old = client.post(
        f"{API}/auth/token", data={"grant_type": "client_credentials"}, auth=("acme-erp", secret)
    )
    assert old.status_code == 401
    r = client.post(
        f"{API}/auth/token",
        data={"grant_type": "client_credentials", "client_id": "acme-erp", "client_secret": new},
    )
    assert r.status_code == 200
    token = {"Authorization": f"Bearer {r.json()['access_token']}"}
    identity.revoke_client(kz_node.identity, "acme-erp")
    assert client.get(f"{API}/auth/me", headers=token).status_code == 401


def test_the_access_log_records_changes_and_refusals_in_a_chain(
    kz_node: Node, client: TestClient, lodged: str
) -> None:
    client.post(f"{API}/movements/{lodged}/accept")  # anonymous: refused
    client.post(f"{API}/movements/{lodged}/accept", headers=bearer(kz_node, Role.OFFICER))
    admin = bearer(kz_node, Role.ADMINISTRATOR)
    log = client.get(f"{API}/access-log", headers=admin).json()
    assert log["verified"] is True
    rows = [
        (r["subject"], r["method"], r["status"], r["outcome"], r["reason"]) for r in log["records"]
    ]
    assert ("t-declarant-210340012345", "POST", 201, "allowed", "") in rows
    assert ("anonymous", "POST", 401, "refused", "token-missing") in rows
    assert ("t-officer", "POST", 200, "allowed", "") in rows
    with kz_node.engine.begin() as conn:
        conn.execute(access_log.update().where(access_log.c.seq == 2).values(status=200))
    verdict = identity.verify_access_log(kz_node.identity)
    assert not verdict.ok
    assert verdict.first_bad_seq == 2


def test_rate_limit_answers_429_with_retry_after(kz_node: Node, tmp_path: Path) -> None:
    kz_node.settings = Settings(data_dir=tmp_path, rate_limit="3/minute")
    with TestClient(create_node_app(kz_node)) as c:
        headers = bearer(kz_node, Role.OFFICER)
        answers = [c.get(f"{API}/rules", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["code"] == "rate-limited"
