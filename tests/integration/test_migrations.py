"""One migration history for SQLite and PostgreSQL, and models that agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from silkway.node.db import migrate
from silkway.node.db.engine import make_engine
from silkway.node.db.schema import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    return str(request.getfixturevalue("empty_postgres_url"))


def test_upgrade_creates_every_table_and_check_passes(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    migrate.check(engine)  # raises if models and migrations disagree (alembic check)
    migrate.upgrade(engine)  # a second upgrade is a no-op
    engine.dispose()


def test_downgrade_to_base_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())
    migrate.upgrade(engine)
    migrate.check(engine)
    engine.dispose()
