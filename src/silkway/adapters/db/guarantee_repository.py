"""SQLAlchemy Core storage of the guarantee registry and ledger."""

from __future__ import annotations

from sqlalchemy import Connection


class SqlGuaranteeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
