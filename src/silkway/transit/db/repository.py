"""Movements, their event log and registration counters on SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from silkway.node.db.values import utc
from silkway.node.ports import ConcurrentUpdate, DuplicateKey
from silkway.transit.db.snapshot import movement_from_snapshot, movement_to_snapshot
from silkway.transit.db.tables import counters, movement_events, movement_offices, movements
from silkway.transit.domain.audit import EventRecord
from silkway.transit.domain.movement import Movement, MovementStatus
from silkway.transit.ports import (
    MovementFilter,
    Page,
    StoredDeclaration,
)

# Statements built once: SQLAlchemy then reuses their compiled form, and per-call work is only
# binding parameters (building ``insert(...).values(...)`` on every call costs more than the
# SQLite write itself).
_INSERT_MOVEMENT = insert(movements)


_INSERT_OFFICES = insert(movement_offices)


_DELETE_OFFICES = movement_offices.delete().where(
    movement_offices.c.movement_reference == bindparam("ref")
)


_SAVE_MOVEMENT = (
    update(movements)
    .where(movements.c.reference == bindparam("ref"), movements.c.version == bindparam("expected"))
    .values(
        status=bindparam("status"),
        destination_office=bindparam("destination_office"),
        time_limit=bindparam("time_limit"),
        updated_at=bindparam("updated_at"),
        version=bindparam("version"),
        snapshot=bindparam("snapshot", type_=movements.c.snapshot.type),
    )
)


_BY_REFERENCE = select(movements.c.snapshot).where(movements.c.reference == bindparam("key"))


_BY_REGISTRATION = select(movements.c.snapshot).where(
    movements.c.registration_number == bindparam("key")
)


_BY_LRN = select(movements.c.snapshot, movements.c.request_hash).where(
    movements.c.declarant_id == bindparam("declarant"), movements.c.lrn == bindparam("lrn")
)


_LAST_EVENT = (
    select(movement_events)
    .where(movement_events.c.movement_reference == bindparam("ref"))
    .order_by(movement_events.c.seq.desc())
    .limit(1)
)


_INSERT_EVENT = insert(movement_events)


_BUMP_COUNTER = (
    update(counters)
    .where(counters.c.name == bindparam("counter"))
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)


_BUMP_COUNTERS = (
    update(counters)
    .where(counters.c.name.in_(bindparam("names", expanding=True)))
    .values(value=counters.c.value + 1)
    .returning(counters.c.name, counters.c.value)
)


_NEW_COUNTER = insert(counters)


def _office_rows(movement: Movement) -> list[dict[str, str]]:
    decl = movement.declaration
    rows = {
        (decl.departure_office, "departure"),
        (movement.destination_office, "destination"),
    }
    rows.update((office, "intermediate") for office in decl.intermediate_offices)
    rows.update((office, "intermediate") for office in movement.unplanned_offices)
    return [
        {"movement_reference": movement.reference, "office": office, "role": role}
        for office, role in sorted(rows)
    ]


class SqlMovementRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _row_values(self, movement: Movement) -> dict[str, Any]:
        return {
            "status": movement.status.value,
            "destination_office": movement.destination_office,
            "time_limit": movement.time_limit,
            "updated_at": self._updated_at(movement),
            "version": movement.version,
            "snapshot": movement_to_snapshot(movement),
        }

    @staticmethod
    def _updated_at(movement: Movement) -> datetime:
        stamps = [
            t
            for t in (
                movement.lodged_at,
                movement.released_at,
                movement.arrived_at,
                movement.completed_at,
            )
            if t is not None
        ]
        return max(stamps)

    def add(self, movement: Movement, *, declarant_id: str, lrn: str, request_hash: str) -> None:
        try:
            self._insert(movement, declarant_id, lrn, request_hash)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    def _insert(self, movement: Movement, declarant_id: str, lrn: str, request_hash: str) -> None:
        self._conn.execute(
            _INSERT_MOVEMENT,
            {
                "reference": movement.reference,
                "registration_number": movement.registration_number,
                "declarant_id": declarant_id,
                "lrn": lrn,
                "request_hash": request_hash,
                "state": movement.state,
                "departure_office": movement.declaration.departure_office,
                "lodged_at": movement.lodged_at,
                **self._row_values(movement),
            },
        )
        self._conn.execute(_INSERT_OFFICES, _office_rows(movement))

    def save(self, movement: Movement, *, expected_version: int) -> None:
        result = self._conn.execute(
            _SAVE_MOVEMENT,
            {"ref": movement.reference, "expected": expected_version, **self._row_values(movement)},
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(movement.reference)
        # Change of destination or an unplanned office changes which worklists show it.
        self._conn.execute(_DELETE_OFFICES, {"ref": movement.reference})
        self._conn.execute(_INSERT_OFFICES, _office_rows(movement))

    def _one(self, statement: Any, key: str) -> Movement | None:
        row = self._conn.execute(statement, {"key": key}).first()
        return None if row is None else movement_from_snapshot(row.snapshot)

    def get(self, reference: str) -> Movement | None:
        return self._one(_BY_REFERENCE, reference)

    def get_by_registration_number(self, number: str) -> Movement | None:
        return self._one(_BY_REGISTRATION, number)

    def find_lodged(self, declarant_id: str, lrn: str) -> StoredDeclaration | None:
        row = self._conn.execute(_BY_LRN, {"declarant": declarant_id, "lrn": lrn}).first()
        if row is None:
            return None
        return StoredDeclaration(movement_from_snapshot(row.snapshot), row.request_hash)

    def search(self, flt: MovementFilter, *, offset: int, limit: int) -> Page:
        conditions: list[Any] = []
        if flt.status is not None:
            conditions.append(movements.c.status == flt.status.value)
        if flt.departure_office:
            conditions.append(movements.c.departure_office == flt.departure_office)
        if flt.destination_office:
            conditions.append(movements.c.destination_office == flt.destination_office)
        if flt.declarant_id:
            conditions.append(movements.c.declarant_id == flt.declarant_id)
        if flt.office:
            concerned = select(movement_offices.c.movement_reference).where(
                movement_offices.c.office == flt.office
            )
            conditions.append(movements.c.reference.in_(concerned))
        if flt.lodged_from:
            start = datetime.combine(flt.lodged_from, time.min, tzinfo=UTC)
            conditions.append(movements.c.lodged_at >= start)
        if flt.lodged_to:
            end = datetime.combine(flt.lodged_to, time.max, tzinfo=UTC)
            conditions.append(movements.c.lodged_at <= end)
        where = and_(True, *conditions)
        total = self._conn.execute(select(func.count()).select_from(movements).where(where))
        rows = self._conn.execute(
            select(movements.c.snapshot)
            .where(where)
            .order_by(movements.c.lodged_at.desc(), movements.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return Page(
            items=[movement_from_snapshot(r.snapshot) for r in rows],
            total=int(total.scalar_one()),
            offset=offset,
            limit=limit,
        )

    def concerning_office(
        self, office: str, role: str, statuses: Sequence[MovementStatus], *, limit: int
    ) -> list[Movement]:
        concerned = select(movement_offices.c.movement_reference).where(
            movement_offices.c.office == office, movement_offices.c.role == role
        )
        rows = self._conn.execute(
            select(movements.c.snapshot)
            .where(
                movements.c.reference.in_(concerned),
                movements.c.status.in_([s.value for s in statuses]),
            )
            .order_by(movements.c.time_limit, movements.c.id)
            .limit(limit)
        )
        return [movement_from_snapshot(r.snapshot) for r in rows]

    def overdue_candidates(self, before: date, *, limit: int) -> list[Movement]:
        rows = self._conn.execute(
            select(movements.c.snapshot)
            .where(
                movements.c.time_limit < before,
                or_(
                    movements.c.status == MovementStatus.RELEASED.value,
                    movements.c.status == MovementStatus.IN_PASSAGE.value,
                ),
            )
            .order_by(movements.c.time_limit, movements.c.id)
            .limit(limit)
        )
        return [movement_from_snapshot(r.snapshot) for r in rows]


def _record_from_row(row: Any) -> EventRecord:
    return EventRecord(
        movement_reference=row.movement_reference,
        seq=row.seq,
        kind=row.kind,
        payload=row.payload,
        at=utc(row.at),
        actor=row.actor,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class SqlEventLogRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def last(self, reference: str) -> EventRecord | None:
        row = self._conn.execute(_LAST_EVENT, {"ref": reference}).first()
        return None if row is None else _record_from_row(row)

    def append(self, record: EventRecord) -> None:
        self._conn.execute(
            _INSERT_EVENT,
            {
                "movement_reference": record.movement_reference,
                "seq": record.seq,
                "kind": record.kind,
                "payload": record.payload,
                "at": record.at,
                "actor": record.actor,
                "prev_hash": record.prev_hash,
                "hash": record.hash,
            },
        )

    def records(self, reference: str) -> list[EventRecord]:
        rows = self._conn.execute(
            select(movement_events)
            .where(movement_events.c.movement_reference == reference)
            .order_by(movement_events.c.seq)
        )
        return [_record_from_row(r) for r in rows]

    def references(self) -> list[str]:
        rows = self._conn.execute(
            select(movement_events.c.movement_reference)
            .distinct()
            .order_by(movement_events.c.movement_reference)
        )
        return [r[0] for r in rows]


class SqlCounterRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def next(self, name: str) -> int:
        # One guarded UPDATE; the INSERT only happens the first time a counter is used, and a
        # racing first INSERT loses on the primary key and retries the UPDATE.
        for _ in range(2):
            row = self._conn.execute(_BUMP_COUNTER, {"counter": name}).first()
            if row is not None:
                return int(row[0])
            try:
                with self._conn.begin_nested():
                    self._conn.execute(_NEW_COUNTER, {"name": name, "value": 1})
                return 1
            except IntegrityError:
                continue
        raise RuntimeError(f"counter {name!r} could not be incremented")

    def next_all(self, names: Sequence[str]) -> list[int]:
        # One statement for the usual case where every counter exists already.
        bumped = {
            row.name: int(row.value)
            for row in self._conn.execute(_BUMP_COUNTERS, {"names": list(names)})
        }
        return [bumped[n] if n in bumped else self.next(n) for n in names]
