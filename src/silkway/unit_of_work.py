"""The node's one transaction: every repository a use case may touch, committed together."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import Protocol, Self

from silkway.anchoring.ports import AnchorRepository
from silkway.exchange.ports import ExchangeRepository, OutboxRepository
from silkway.guarantees.ports import GuaranteeRepository
from silkway.identity.ports import IdentityRepository
from silkway.seals.ports import SealRepository
from silkway.transit.ports import CounterRepository, EventLogRepository, MovementRepository


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls back."""

    movements: MovementRepository
    events: EventLogRepository
    outbox: OutboxRepository
    counters: CounterRepository
    guarantees: GuaranteeRepository
    seals: SealRepository
    exchange: ExchangeRepository
    identity: IdentityRepository
    anchors: AnchorRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def savepoint(self) -> AbstractContextManager[object]:
        """A nested transaction: leaving it with an exception undoes only what it did."""
        ...
