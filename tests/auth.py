"""Calling a node's API as somebody: accounts and fresh tokens for tests.

``bearer(node, role, ...)`` makes (once) an account of that role on the node and returns the
``Authorization`` header of a token minted now, by the node's own clock: a test that moves a
manual clock days ahead asks again and gets a token valid then.

``NodeClient`` is a ``TestClient`` for the functional tests, whose subject is what a route does,
not who may call it: each request goes as a role the route's policy row allows (an officer
where officers may, else the administrator, the seal operator, the analyst, and a declarant
only where nobody else may: then as the declarant the body names). The authorisation tests
(``tests/integration/identity``) never use it: they call every route as every role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from silkway.bootstrap import Node
from silkway.identity import service as identity
from silkway.identity.domain.accounts import User
from silkway.identity.domain.policy import POLICY, Rule
from silkway.identity.domain.principal import Principal, Role, home_state
from silkway.identity.passwords import hash_secret
from silkway.node.ports import DuplicateKey
from silkway.reference.model import MEMBER_STATES
from silkway.sim.accounts import DEMO_PASSWORD, ensure_demo_accounts
from silkway.sim.client import UnionClient
from silkway.sim.demo import DEMO_GUARANTOR, Demo
from silkway.web.app import create_union_app

PASSWORD = "test-password-of-twelve"
_PREFERENCE = (
    Role.OFFICER,
    Role.ADMINISTRATOR,
    Role.SEAL_OPERATOR,
    Role.ANALYST,
    Role.GUARANTOR,
    Role.DECLARANT,
)


@cache
def _password_hash() -> str:
    return hash_secret(PASSWORD)


def account(
    node: Node,
    role: Role,
    *,
    party: str | None = None,
    office: str | None = None,
    state: str | None = None,
    name: str | None = None,
) -> Principal:
    """The account (made if missing) and the principal its tokens describe."""
    state = state or home_state(role, node.state)
    if role in (Role.SEAL_OPERATOR,) and party is None:
        party = f"OP{node.state}"
    name = name or "-".join(
        x.lower() for x in ("t", role.value.replace("_", "-"), party or "", office or "") if x
    )
    user = User(
        name, role, state, office, party, _password_hash(), None, False, node.transit.clock.now()
    )
    with node.identity.uow() as uow:
        try:
            uow.identity.add_user(user)
            uow.commit()
        except DuplicateKey:
            pass
    return user.principal(node.identity.issuer)


def bearer(
    node: Node,
    role: Role,
    *,
    party: str | None = None,
    office: str | None = None,
    state: str | None = None,
) -> dict[str, str]:
    principal = account(node, role, party=party, office=office, state=state)
    token = identity.issue_for(node.identity, principal).access_token
    return {"Authorization": f"Bearer {token}"}


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile(
        "^"
        + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
        + "$"
    )


_ROUTES: list[tuple[str, re.Pattern[str], Rule]] = []


def rule_of(method: str, path: str) -> Rule | None:
    """The policy row of a concrete request path (literal routes win over templated ones)."""
    if not _ROUTES:
        rows = sorted(POLICY.items(), key=lambda kv: kv[0][1].count("{"))
        _ROUTES.extend((m, _pattern(p), rule) for (m, p), rule in rows)
    method = "GET" if method == "HEAD" else method
    return next((r for m, p, r in _ROUTES if m == method and p.match(path)), None)


def _declarant_of(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    declaration = body.get("declaration", body)
    if isinstance(declaration, Mapping):
        declarant = declaration.get("declarant")
        if isinstance(declarant, Mapping) and isinstance(declarant.get("identification"), str):
            return str(declarant["identification"])
    return None


def permitted_bearer(node: Node, method: str, path: str, body: Any = None) -> dict[str, str]:
    """A token of a role the route's policy row allows (see the module), or none if public."""
    rule = rule_of(method, path)
    if rule is None or rule.public:
        return {}
    role = next(r for r in _PREFERENCE if r in rule.roles)
    party = _declarant_of(body) if role in (Role.DECLARANT, Role.GUARANTOR) else None
    return bearer(node, role, party=party)


class NodeClient(TestClient):
    """A TestClient that calls each route as a role its policy row allows (see the module)."""

    def __init__(self, app: FastAPI, nodes: Node | Mapping[str, Node], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.nodes = {nodes.state: nodes} if isinstance(nodes, Node) else dict(nodes)

    def build_request(self, method: str, url: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        # Every request, streamed or not, is built here.
        headers = dict(kwargs.pop("headers", None) or {})
        if not any(k.lower() == "authorization" for k in headers):
            headers.update(self._bearer_for(method.upper(), str(url), kwargs.get("json")))
        return super().build_request(method, url, headers=headers, **kwargs)

    def _bearer_for(self, method: str, url: str, body: Any) -> dict[str, str]:
        path = urlsplit(url).path
        node = next(iter(self.nodes.values()))
        mounted = re.match(r"^/nodes/([a-z]{2,3})(/.*)$", path)
        if mounted:
            node = self.nodes.get(mounted.group(1).upper(), node)
            path = mounted.group(2)
        return permitted_bearer(node, method, path, body)


def cli_user(monkeypatch: Any, state: str, role: Role, *, party: str | None = None) -> str:
    """Make (once) a user of ``role`` on ``state``'s node as the settings name it, and have the
    command line sign in as that user from now on (``SILKWAY_USER``/``SILKWAY_PASSWORD``)."""
    from silkway.bootstrap import build_node

    node = build_node(state)
    try:
        principal = account(node, role, party=party)
    finally:
        node.dispose()
    monkeypatch.setenv("SILKWAY_USER", principal.subject)
    monkeypatch.setenv("SILKWAY_PASSWORD", PASSWORD)
    return principal.subject


@contextmanager
def demo_over_http(nodes: Mapping[str, Node]) -> Iterator[Demo]:
    """The demo traffic of ``silkway run`` over these nodes, calling their API as ``silkway run``
    mounts it (``/nodes/{state}``), signed in as the demo's accounts."""
    ensure_demo_accounts(nodes, DEMO_GUARANTOR)
    first = next(iter(nodes.values()))
    members = [s for s in nodes if s in MEMBER_STATES]
    with TestClient(create_union_app(nodes)) as http:
        yield Demo(UnionClient(http, DEMO_PASSWORD), first.reference, first.transit.clock, members)
