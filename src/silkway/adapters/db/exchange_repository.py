"""SQLAlchemy Core storage of the interstate exchange (inbox, dead letters, journal, register, foreign movements)."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlExchangeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
