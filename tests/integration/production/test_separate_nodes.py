"""KZ, RU and BY as three ``silkway node`` processes, each on its own PostgreSQL database, over
NATS JetStream with TLS and a user per node (permissions per subject): they test each other at
start-up, and a movement goes from lodging to completion through their HTTP APIs, with tokens,
like any caller's.

Only the set-up is done directly, as a deployment's would be: the Commission's trust-list key,
each node's key and the signed list naming them (one folder, shared on one machine), each
node's accounts, and the guarantee the declaration quotes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from tests import pg
from tests.auth import PASSWORD, account
from tests.integration.bus.test_nats_auth import PASSWORD as NATS_PASSWORD
from tests.integration.bus.test_nats_auth import node_permissions, secured_nats
from tests.integration.guarantees.guarantee_support import register
from tests.natsd import NatsServer, free_port

from silkway.bootstrap import build_node, trust_publisher
from silkway.examples import example_declaration
from silkway.exchange.signing.keystore import KeyStore
from silkway.identity.domain.principal import Role
from silkway.node.clock import SystemClock
from silkway.settings import Settings

STATES = ("KZ", "RU", "BY")
ROUTE_PASSAGES = (("KZ", "39201"), ("RU", "10504070"), ("RU", "10113080"), ("BY", "08140"))


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    """The production shape of the bus: TLS, and one user per node (the README's section)."""
    with secured_nats(tmp_path, [node_permissions(s) for s in STATES]) as running:
        yield running


@pytest.fixture
def databases(postgres_server: str, postgres_template: str) -> Iterator[dict[str, str]]:
    names = {s: pg.create_database(postgres_server, template=postgres_template) for s in STATES}
    yield {s: pg.sqlalchemy_url(postgres_server, n) for s, n in names.items()}
    for name in names.values():
        pg.drop_database(postgres_server, name)


def _eventually(check: Callable[[], Any], timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (httpx.HTTPError, AssertionError):
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.2)


def _set_up(tmp_path: Path, urls: dict[str, str]) -> dict[str, Any]:
    """Keys, accounts and the guarantee, as an operator sets a deployment up."""
    settings = Settings(data_dir=tmp_path)
    keys = KeyStore(settings.key_folder())
    now = SystemClock().now()
    publisher = trust_publisher(settings)
    publisher.init(now)  # `silkway trust init` at the Commission
    for state in STATES:
        keys.create(state, now)  # `silkway keys create` at each node
    publisher.publish(now, validity=timedelta(days=7), add=keys.requests())  # `trust publish`
    decl = example_declaration("western-road", now.date())
    for state, url in urls.items():
        node = build_node(state, settings, database_url=url)
        try:
            account(node, Role.OFFICER, name=f"officer.{state.lower()}")
            if state == "KZ":
                party = decl.declarant.identification
                account(node, Role.DECLARANT, party=party, name="declarant.kz")
                register(node, "5000000.00", declaration=decl)
        finally:
            node.dispose()
    return json.loads(decl.model_dump_json())


def test_three_nodes_as_processes_take_a_movement_to_completion(
    tmp_path: Path, databases: dict[str, str], nats_server: tuple[NatsServer, Path]
) -> None:
    server, ca = nats_server
    declaration = _set_up(tmp_path, databases)
    ports = {s: free_port() for s in STATES}
    processes = []
    logs = [(tmp_path / f"{s}.log").open("w") for s in STATES]
    for state, log in zip(STATES, logs, strict=True):
        env = {
            **os.environ,
            "SILKWAY_DATA_DIR": str(tmp_path),
            "SILKWAY_DATABASE_URL": databases[state],
            "SILKWAY_BUS_URL": server.url,
            "SILKWAY_NATS_USER": state.lower(),
            "SILKWAY_NATS_PASSWORD": NATS_PASSWORD,
            "SILKWAY_NATS_TLS_CA": str(ca),
            "SILKWAY_PARTNERS": json.dumps([s for s in STATES if s != state]),
            "SILKWAY_INTERSTATE_TESTS_INTERVAL_S": "3",
            "SILKWAY_EGTS_PORT": "0",
            "SILKWAY_WIALON_PORT": "0",
            "SILKWAY_TELTONIKA_PORT": "0",
        }
        processes.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "silkway"), "node", "--state", state,
                 "--port", str(ports[state])],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
    try:
        api = {s: f"http://127.0.0.1:{ports[s]}/api/v1" for s in STATES}
        _eventually(
            lambda: all(httpx.get(f"http://127.0.0.1:{ports[s]}/health").is_success for s in STATES)
        )
        _flow(api, declaration)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def _token(api: str, username: str) -> dict[str, str]:
    answer = httpx.post(
        f"{api}/auth/token",
        data={"grant_type": "password", "username": username, "password": PASSWORD},
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _flow(api: dict[str, str], declaration: dict[str, Any]) -> None:
    officer = {s: _token(api[s], f"officer.{s.lower()}") for s in STATES}

    # Each node puts its processes in operation with the others by testing them over the bus:
    # until then a message would go on paper.
    def in_operation() -> bool:
        return all(
            httpx.get(f"{api[s]}/partners", headers=officer[s]).json()
            == {o: True for o in STATES if o != s}
            for s in STATES
        )

    _eventually(in_operation, timeout=300)
    lodged = httpx.post(
        f"{api['KZ']}/declarations",
        json=declaration,
        headers=_token(api["KZ"], "declarant.kz"),
    )
    assert lodged.status_code == 201, lodged.text
    ref = lodged.json()["reference"]
    kz = f"{api['KZ']}/movements/{ref}"
    assert httpx.post(f"{kz}/accept", headers=officer["KZ"]).is_success
    [security] = declaration["security"]
    released = httpx.post(
        f"{kz}/release",
        json={
            "office": declaration["departure_office"],
            "security_reference": security["reference"],
        },
        headers=officer["KZ"],
    )
    assert released.is_success, released.text
    for state, office in ROUTE_PASSAGES:

        def passed(state: str = state, office: str = office) -> bool:
            answer = httpx.post(
                f"{api[state]}/movements/{ref}/passages",
                json={"office": office},
                headers=officer[state],
            )
            return answer.is_success

        _eventually(passed)
    _eventually(
        lambda: (
            httpx.post(
                f"{api['BY']}/movements/{ref}/arrival",
                json={"office": declaration["destination_office"]},
                headers=officer["BY"],
            ).is_success
        )
    )
    done = _eventually(
        lambda: (m := httpx.get(kz, headers=officer["KZ"]).json())["status"] == "completed" and m
    )
    assert list(done["passed_offices"]) == [o for _, o in ROUTE_PASSAGES]

    # Every message between the nodes went over the bus: the interstate tests opened the way.
    # (The completion notices are made at completion: the relay sends them a moment later.)
    def channels() -> set[str | None]:
        answer = httpx.get(f"{api['KZ']}/messages", params={"movement": ref}, headers=officer["KZ"])
        assert answer.is_success, answer.text
        return {m["channel"] for m in answer.json()}

    assert _eventually(lambda: channels() == {"bus"})
