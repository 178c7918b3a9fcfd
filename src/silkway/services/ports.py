"""What the services need from the outside world, as narrow Protocols.

Adapters (SQLAlchemy, the bus, the real clock) implement them; tests may use fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from silkway.domain.audit import EventRecord
from silkway.domain.errors import Violation
from silkway.domain.movement import Movement, MovementStatus
from silkway.services.exchange_ports import ExchangeRepository
from silkway.services.guarantee_ports import GuaranteeRepository
from silkway.services.seal_ports import SealRepository


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SecurityGate(Protocol):
    """The security behind a movement: checked (and locked) at release, settled afterwards.

    Both calls run inside the movement's own transaction, so a refused release locks nothing
    and a settlement is never lost. The foundation ships a format check; the guarantee ledger
    replaces it with a real two-phase lock.
    """

    def reserve(
        self, uow: UnitOfWork, movement: Movement, security_reference: str, now: datetime
    ) -> list[Violation]:
        """At release (``movement`` is already released): any violation refuses the release."""
        ...

    def settle(self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime) -> None:
        """After any other change: credit, void or post what release locked, as the change says."""
        ...


class MovementObserver(Protocol):
    """A capability that reacts to a movement's change inside the change's own transaction.

    The composition root plugs one in per capability that must follow movements (seals are
    activated at release and deactivated at the end), so transit never imports them.
    """

    def movement_changed(
        self, uow: UnitOfWork, before: Movement, after: Movement, now: datetime
    ) -> None:
        """``before`` became ``after``; raise nothing that should not refuse the change."""
        ...


@dataclass(frozen=True, slots=True)
class MovementFilter:
    status: MovementStatus | None = None
    office: str | None = None
    """Any office the movement concerns (departure, destination, intermediate)."""
    departure_office: str | None = None
    destination_office: str | None = None
    lodged_from: date | None = None
    lodged_to: date | None = None
    declarant_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Movement]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class StoredDeclaration:
    """What lodging idempotency needs to know about an earlier lodging of the same LRN."""

    movement: Movement
    request_hash: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    message_id: str
    created_at: datetime
    to_state: str
    process: str
    message_kind: str
    movement_reference: str | None
    payload: dict[str, Any] = field(default_factory=dict)


class MovementRepository(Protocol):
    def add(
        self, movement: Movement, *, declarant_id: str, lrn: str, request_hash: str
    ) -> None: ...

    def save(self, movement: Movement, *, expected_version: int) -> None:
        """Store a changed movement; raises ConcurrentUpdate if someone else changed it first."""
        ...

    def get(self, reference: str) -> Movement | None: ...

    def get_by_registration_number(self, number: str) -> Movement | None: ...

    def find_lodged(self, declarant_id: str, lrn: str) -> StoredDeclaration | None: ...

    def search(self, flt: MovementFilter, *, offset: int, limit: int) -> Page: ...

    def concerning_office(
        self, office: str, role: str, statuses: Sequence[MovementStatus], *, limit: int
    ) -> list[Movement]: ...

    def overdue_candidates(self, before: date, *, limit: int) -> list[Movement]: ...


class EventLogRepository(Protocol):
    def last(self, reference: str) -> EventRecord | None: ...

    def append(self, record: EventRecord) -> None: ...

    def records(self, reference: str) -> list[EventRecord]: ...

    def references(self) -> list[str]: ...


class OutboxRepository(Protocol):
    def put(self, messages: Sequence[OutboxMessage]) -> None: ...

    def pending(self, *, limit: int) -> list[OutboxMessage]: ...

    def for_movement(self, reference: str) -> list[OutboxMessage]: ...


class CounterRepository(Protocol):
    def next(self, name: str) -> int:
        """Atomically increment and return the counter ``name`` (1 on first use)."""
        ...

    def next_all(self, names: Sequence[str]) -> list[int]:
        """:meth:`next` for several distinct counters at once, in the order given."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``with`` block without ``commit()`` rolls back."""

    movements: MovementRepository
    events: EventLogRepository
    outbox: OutboxRepository
    counters: CounterRepository
    guarantees: GuaranteeRepository
    seals: SealRepository
    exchange: ExchangeRepository

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


class ConcurrentUpdate(Exception):
    """Another transaction changed the movement between read and write."""


class DuplicateKey(Exception):
    """A unique key (e.g. declarant and LRN) is already taken by a concurrent transaction."""
