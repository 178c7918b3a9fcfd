"""What the transit use cases need from storage: movements, their event log, counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from silkway.transit.domain.audit import EventRecord
from silkway.transit.domain.movement import Movement, MovementStatus


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


class CounterRepository(Protocol):
    def next(self, name: str) -> int:
        """Atomically increment and return the counter ``name`` (1 on first use)."""
        ...

    def next_all(self, names: Sequence[str]) -> list[int]:
        """:meth:`next` for several distinct counters at once, in the order given."""
        ...
