"""SQLAlchemy Core storage of the navigation-seal registry, positions and incidents."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlSealRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
