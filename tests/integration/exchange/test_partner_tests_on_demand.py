"""Asking a node for its interstate tests now (``POST /api/v1/partners/tests``): who may, what
an app with no live exchange of its own answers, and what a node whose run is under way
answers.

The run itself, over NATS between two ``silkway node`` processes whose results then show, is
``tests/integration/production/test_partner_tests_on_demand.py``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.auth import bearer

from silkway.bootstrap import Node, build_node
from silkway.entrypoints.scheduler import Duty, Scheduler
from silkway.entrypoints.serve import PartnerTests
from silkway.identity import service as identity
from silkway.identity.domain.principal import Role
from silkway.node.clock import ManualClock
from silkway.settings import Settings
from silkway.web.app import create_node_app, create_union_app

ROUTE = "/api/v1/partners/tests"
DUTY = "KZ:interstate-tests"


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.01)


@pytest.fixture
def eec_node(sqlite_template: Path, tmp_path: Path, clock: ManualClock) -> Iterator[Node]:
    target = tmp_path / "eec.sqlite"
    shutil.copyfile(sqlite_template, target)
    node = build_node(
        "EEC",
        Settings(data_dir=tmp_path),
        database_url=f"sqlite:///{target}",
        clock=clock,
        migrate=False,
    )
    yield node
    node.dispose()


def _nothing_measured(node: Node) -> bool:
    with node.transit.read() as uow:
        return uow.exchange.conformance_latest() == [] and uow.exchange.partners("P.CP.01") == {}


def test_the_embedded_union_has_no_live_exchange_to_test_over(
    kz_node: Node, eec_node: Node
) -> None:
    """``make run`` mounts every node's app with no partner tests of its own: each says why."""
    with TestClient(create_union_app({"KZ": kz_node, "EEC": eec_node})) as client:
        kz = client.post(f"/nodes/kz{ROUTE}", headers=bearer(kz_node, Role.ADMINISTRATOR))
        eec = client.post(f"/nodes/eec{ROUTE}", headers=bearer(eec_node, Role.ADMINISTRATOR))
    assert kz.status_code == 409, kz.text
    assert kz.headers["content-type"] == "application/problem+json"
    assert (kz.json()["code"], kz.json()["instance"]) == (
        "partner-tests-unavailable",
        f"/nodes/kz{ROUTE}",
    )
    assert "not a 'silkway node' on a live bus" in kz.json()["detail"]
    assert eec.status_code == 409, eec.text
    assert eec.json()["code"] == "partner-tests-unavailable"
    assert eec.json()["detail"] == (
        "the Commission is no partner in a process: its node runs no interstate tests"
    )
    assert _nothing_measured(kz_node)
    assert _nothing_measured(eec_node)


@pytest.fixture
def run_under_way() -> Iterator[tuple[PartnerTests, threading.Event, threading.Event]]:
    """The node's partner tests on a scheduler of their own, as ``silkway node`` starts them
    (an hour apart), whose run holds until the test lets it end: a real run ends when the bus
    has answered, and only a run held open is certainly still under way when asked again."""
    started, finish = threading.Event(), threading.Event()

    def run() -> None:
        started.set()
        finish.wait(30)

    scheduler = Scheduler([Duty(DUTY, 3600.0, run)], tick_s=0.01)
    scheduler.start()
    try:
        yield PartnerTests(scheduler, DUTY, ("BY", "RU")), started, finish
    finally:
        finish.set()
        scheduler.stop()


def test_a_run_is_started_by_an_administrator_only_and_not_twice_at_once(
    kz_node: Node,
    clock: ManualClock,
    run_under_way: tuple[PartnerTests, threading.Event, threading.Event],
) -> None:
    tests, started, finish = run_under_way
    admin = bearer(kz_node, Role.ADMINISTRATOR)
    with TestClient(create_node_app(kz_node, partner_tests=tests)) as client:
        for role in (Role.OFFICER, Role.ANALYST, Role.DECLARANT):
            party = "210340012345" if role is Role.DECLARANT else None
            refused = client.post(ROUTE, headers=bearer(kz_node, role, party=party))
            assert (refused.status_code, refused.json()["code"]) == (403, "role-forbidden"), role
        assert tests.scheduler.runs[DUTY] == 0
        assert not started.is_set()

        asked = client.post(ROUTE, headers=admin)
        assert asked.status_code == 202, asked.text
        body = asked.json()
        assert (body["state"], body["partners"], body["processes"]) == (
            "KZ",
            ["BY", "RU"],
            ["P.CP.01", "P.SO.01"],
        )
        assert datetime.fromisoformat(body["requested_at"]) == clock.now()
        assert body["links"] == {
            "partners": "/api/v1/partners",
            "conformance": "/api/v1/conformance",
        }
        # Asked for an hour before its turn, the run starts at once.
        assert started.wait(20)

        again = client.post(ROUTE, headers=admin)
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "partner-tests-running"
        assert again.json()["detail"].startswith(
            "the KZ node's interstate tests against BY, RU are under way or already asked for"
        )

        finish.set()
        _eventually(lambda: tests.scheduler.runs[DUTY] == 1)
        # Once it has ended, another may be asked for; the refusal asked for nothing.
        assert client.post(ROUTE, headers=admin).status_code == 202
        _eventually(lambda: tests.scheduler.runs[DUTY] == 2)
    assert tests.scheduler.failures[DUTY] == 0
    logged = [
        (r.entry.role, r.entry.status, r.entry.reason)
        for r in identity.access_records(kz_node.identity)
        if r.entry.path == ROUTE
    ]
    assert logged == [
        ("officer", 403, "role-forbidden"),
        ("analyst", 403, "role-forbidden"),
        ("declarant", 403, "role-forbidden"),
        ("administrator", 202, ""),
        ("administrator", 409, "partner-tests-running"),
        ("administrator", 202, ""),
    ]
