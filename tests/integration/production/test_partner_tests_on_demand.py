"""An administrator asks a running ``silkway node`` to test its partners now, over its API.

KZ and BY run as two ``silkway node`` processes, each on its own PostgreSQL database, over
NATS JetStream with TLS and a user per node, as in production. Their interstate tests run at
start-up and then only every hour; a run asked for over KZ's API runs at once, over the bus,
and its results are where the scheduled ones are (``/partners``, ``/conformance``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from tests import pg
from tests.auth import account
from tests.integration.bus.test_nats_auth import PASSWORD as NATS_PASSWORD
from tests.integration.bus.test_nats_auth import node_permissions, secured_nats
from tests.integration.production.test_separate_nodes import _eventually, _token
from tests.natsd import NatsServer, free_port

from silkway.bootstrap import build_node, trust_publisher
from silkway.exchange.signing.keystore import KeyStore
from silkway.identity.domain.principal import Role
from silkway.node.clock import SystemClock
from silkway.settings import Settings

STATES = ("KZ", "BY")
PROCESSES = ("P.CP.01", "P.SO.01")


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    with secured_nats(tmp_path, [node_permissions(s) for s in STATES]) as running:
        yield running


@pytest.fixture
def databases(postgres_server: str, postgres_template: str) -> Iterator[dict[str, str]]:
    names = {s: pg.create_database(postgres_server, template=postgres_template) for s in STATES}
    yield {s: pg.sqlalchemy_url(postgres_server, n) for s, n in names.items()}
    for name in names.values():
        pg.drop_database(postgres_server, name)


def _set_up(tmp_path: Path, urls: dict[str, str]) -> None:
    """Keys, the signed trust list and KZ's accounts, as an operator sets a deployment up."""
    settings = Settings(data_dir=tmp_path)
    keys = KeyStore(settings.key_folder())
    now = SystemClock().now()
    publisher = trust_publisher(settings)
    publisher.init(now)
    for state in STATES:
        keys.create(state, now)
    publisher.publish(now, validity=timedelta(days=7), add=keys.requests())
    kz = build_node("KZ", settings, database_url=urls["KZ"])
    try:
        account(kz, Role.ADMINISTRATOR, name="admin.kz")
        account(kz, Role.OFFICER, name="officer.kz")
    finally:
        kz.dispose()


@pytest.fixture
def nodes(
    tmp_path: Path, databases: dict[str, str], nats_server: tuple[NatsServer, Path]
) -> Iterator[dict[str, str]]:
    """The two ``silkway node`` processes, once they answer: each one's API."""
    server, ca = nats_server
    _set_up(tmp_path, databases)
    ports = {s: free_port() for s in STATES}
    logs = [(tmp_path / f"{s}.log").open("w") for s in STATES]
    processes = []
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
            # After the run at start-up, none comes on its own during the test.
            "SILKWAY_INTERSTATE_TESTS_INTERVAL_S": "3600",
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
        _eventually(
            lambda: all(httpx.get(f"http://127.0.0.1:{ports[s]}/health").is_success for s in STATES)
        )
        yield {s: f"http://127.0.0.1:{ports[s]}/api/v1" for s in STATES}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def _runs(api: str, headers: dict[str, str]) -> dict[str, set[str]]:
    """The run ids of KZ's latest results towards BY, per process."""
    answer = httpx.get(f"{api}/conformance", headers=headers)
    answer.raise_for_status()
    runs: dict[str, set[str]] = {}
    for result in answer.json():
        if (result["from_state"], result["to_state"]) == ("KZ", "BY"):
            runs.setdefault(result["process"], set()).add(result["run_id"])
    return runs


def _results(api: str, headers: dict[str, str], process: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{api}/conformance", params={"process": process}, headers=headers)
    answer.raise_for_status()
    return [r for r in answer.json() if (r["from_state"], r["to_state"]) == ("KZ", "BY")]


def test_an_administrator_has_a_running_node_test_its_partners_now(
    nodes: dict[str, str],
) -> None:
    api = nodes["KZ"]
    admin, officer = _token(api, "admin.kz"), _token(api, "officer.kz")
    # The run at start-up records its results process after process: P.SO.01's come last.
    before = _eventually(lambda: (r := _runs(api, admin)).keys() == set(PROCESSES) and r)
    assert all(len(ids) == 1 for ids in before.values()), before

    refused = httpx.post(f"{api}/partners/tests", headers=officer)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "role-forbidden"

    def asked() -> tuple[int, Any] | None:
        # The start-up run may still be closing (its last results are written just before it
        # ends): until it has, the node answers that a run is under way, and is asked again.
        answer = httpx.post(f"{api}/partners/tests", headers=admin)
        if answer.status_code == 409 and answer.json()["code"] == "partner-tests-running":
            return None
        return answer.status_code, answer.json()

    status, body = _eventually(asked)
    assert status == 202, body
    assert (body["state"], body["partners"], body["processes"]) == ("KZ", ["BY"], list(PROCESSES))
    assert body["links"] == {"partners": "/api/v1/partners", "conformance": "/api/v1/conformance"}

    # The run asked for records new results (the next scheduled run is an hour away), and
    # they pass: BY's own node answered every scenario over the bus.
    after = _eventually(
        lambda: (
            (r := _runs(api, admin)).keys() == set(PROCESSES)
            and all(r[p] != before[p] for p in PROCESSES)
            and r
        )
    )
    for process in PROCESSES:
        results = _results(api, admin, process)
        assert {r["run_id"] for r in results} == after[process]
        assert len(results) == 5
        assert [r["scenario"] for r in results if not r["passed"]] == []
        partners = httpx.get(f"{api}/partners", params={"process": process}, headers=admin)
        assert partners.json() == {"BY": True}
