"""An external OpenID Connect provider: a second issuer, served over HTTP by the test itself."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from silkway.bootstrap import build_node
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.web.app import create_node_app

ISSUER = "https://id.customs.example.kz"
AUDIENCE = "silkway-kz"


class _Issuer:
    """A ministry's identity service: its own key, its own claim names."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", parameters={"kid": "ministry-1", "alg": "ES256"})
        jwks = json.dumps({"keys": [self.key.as_dict(private=False)]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(jwks if self.path == "/jwks" else b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, clock: ManualClock, **claims: Any) -> str:
        now = int(clock.now().timestamp())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "u-1", "iat": now, "exp": now + 300}
        return jwt.encode({"alg": "ES256", "kid": "ministry-1"}, {**body, **claims}, self.key)


@pytest.fixture
def issuer() -> Iterator[_Issuer]:
    it = _Issuer()
    yield it
    it.server.shutdown()
    it.server.server_close()


@pytest.fixture
def client(issuer: _Issuer, tmp_path: Path, clock: ManualClock) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        oidc_issuer=ISSUER,
        oidc_jwks_url=issuer.url,
        oidc_audience=AUDIENCE,
        oidc_claims={"role": "customs_role", "state": "country", "office": "post"},
        oidc_roles={"INSPECTOR": "officer"},
    )
    node = build_node("KZ", settings, clock=clock)
    with TestClient(create_node_app(node)) as c:
        yield c
    node.dispose()


def test_a_ministry_token_is_accepted_with_its_claims_mapped(
    client: TestClient, issuer: _Issuer, clock: ManualClock
) -> None:
    token = issuer.token(clock, customs_role="INSPECTOR", country="KZ", post="19201")
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json() | {"issuer": ""} == {
        "subject": "u-1",
        "role": "officer",
        "state": "KZ",
        "office": "19201",
        "party": None,
        "client": None,
        "issuer": "",
    }
    assert me.json()["issuer"] == ISSUER


def test_a_ministry_token_for_another_audience_is_refused(
    client: TestClient, issuer: _Issuer, clock: ManualClock
) -> None:
    token = issuer.token(clock, aud="another-system", customs_role="INSPECTOR", country="KZ")
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == "audience-wrong"


def test_a_ministry_token_of_another_state_may_not_act_here(
    client: TestClient, issuer: _Issuer, clock: ManualClock
) -> None:
    token = issuer.token(clock, customs_role="INSPECTOR", country="BY")
    r = client.get("/api/v1/movements", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert r.json()["code"] == "state-foreign"


def test_a_token_signed_by_another_key_under_the_ministry_name_is_refused(
    client: TestClient, clock: ManualClock
) -> None:
    impostor = _Issuer()
    try:
        token = impostor.token(clock, customs_role="INSPECTOR", country="KZ")
        r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.json()["code"] == "token-invalid"
    finally:
        impostor.server.shutdown()
        impostor.server.server_close()
