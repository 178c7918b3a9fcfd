"""The node's one transaction on SQL: every capability's repository on one connection.

Like bootstrap, it composes every capability's storage, so it may import each one's db module.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from silkway.anchoring.db.repository import SqlAnchorRepository
from silkway.anchoring.ports import AnchorRepository
from silkway.exchange.db.outbox import SqlOutboxRepository
from silkway.exchange.db.repository import SqlExchangeRepository
from silkway.exchange.ports import ExchangeRepository, OutboxRepository
from silkway.guarantees.db.repository import SqlGuaranteeRepository
from silkway.guarantees.ports import GuaranteeRepository
from silkway.identity.db.repository import SqlIdentityRepository
from silkway.identity.ports import IdentityRepository
from silkway.node.db.engine import READ_ONLY
from silkway.seals.db.repository import SqlSealRepository
from silkway.seals.ports import SealRepository
from silkway.transit.db.repository import (
    SqlCounterRepository,
    SqlEventLogRepository,
    SqlMovementRepository,
)
from silkway.transit.ports import (
    CounterRepository,
    EventLogRepository,
    MovementRepository,
)


class SqlUnitOfWork:
    """One database transaction over one node's tables."""

    movements: MovementRepository
    events: EventLogRepository
    outbox: OutboxRepository
    counters: CounterRepository
    guarantees: GuaranteeRepository
    seals: SealRepository
    exchange: ExchangeRepository
    identity: IdentityRepository
    anchors: AnchorRepository

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        conn.info[READ_ONLY] = self._read_only
        conn.begin()
        self._conn = conn
        self.movements = SqlMovementRepository(conn)
        self.events = SqlEventLogRepository(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.counters = SqlCounterRepository(conn)
        self.guarantees = SqlGuaranteeRepository(conn)
        self.seals = SqlSealRepository(conn)
        self.identity = SqlIdentityRepository(conn)
        self.exchange = SqlExchangeRepository(conn)
        self.anchors = SqlAnchorRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    def commit(self) -> None:
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        self._conn.commit()

    def savepoint(self) -> AbstractContextManager[object]:
        if self._conn is None:
            raise RuntimeError("unit of work is not open")
        return self._conn.begin_nested()
