"""One migration history for SQLite and PostgreSQL, and models that agree with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from silkway.node.db import migrate
from silkway.node.db.engine import make_engine
from silkway.node.db.schema import metadata
from silkway.seals.passwords import verify_password


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


def test_passwords_kept_in_clear_become_their_hashes(empty_url: str) -> None:
    engine = make_engine(empty_url)
    migrate.upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO seals (seal_id, operator, protocol, device_id, password,"
                " reporting_period_s, status, registered_at) VALUES"
                " ('KZNS0001', 'KZ', 'wialon', '356307042441013', 'kz-ru-1', 60, 'registered',"
                " :at), ('KZNS0002', 'KZ', 'egts', '356307042441014', NULL, 60, 'registered', :at)"
            ),
            {"at": datetime(2026, 12, 1, tzinfo=UTC)},
        )
    migrate.upgrade(engine)
    assert "password" not in {c["name"] for c in inspect(engine).get_columns("seals")}
    with engine.connect() as conn:
        hashes = dict(conn.execute(text("SELECT seal_id, password_hash FROM seals")).all())
    engine.dispose()
    assert hashes["KZNS0002"] is None
    assert hashes["KZNS0001"].startswith("$argon2id$")
    assert verify_password(hashes["KZNS0001"], "kz-ru-1")
