"""Fixtures for the bus tests: real nats-server processes and a kit that builds either bus.

Every NATS test starts its own server (or cluster) on free loopback ports with its own store, so
tests neither share streams nor depend on a server already running. Under CI (``CI=true``) a
missing nats-server binary fails the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from bus_kit import BusKit
from tests.natsd import NatsCluster, NatsServer, require_nats


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    require_nats()
    server = NatsServer(tmp_path / "store")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    require_nats()
    cluster = NatsCluster(tmp_path, size=3)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["inproc", "nats"])
def kit(request: pytest.FixtureRequest) -> BusKit:
    if request.param == "inproc":
        return BusKit("inproc", None)
    server: NatsServer = request.getfixturevalue("nats_server")
    return BusKit("nats", [server.url])
