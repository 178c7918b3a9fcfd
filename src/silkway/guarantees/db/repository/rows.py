"""The guarantee repository's shared parts: amounts in minor units, statements built once, and
rows turned into domain values."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    insert,
    or_,
    select,
    text,
    update,
)

from silkway.guarantees.db.tables import (
    guarantee_authorisations,
    guarantee_ledger,
    guarantee_locks,
    guarantees,
)
from silkway.guarantees.domain.guarantee import (
    AmountInvalid,
    Balance,
    Command,
    CommandKind,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    Lock,
    LockStatus,
    Outcome,
)
from silkway.guarantees.domain.liability import MINOR_UNITS
from silkway.guarantees.ports import (
    AccountKind,
    GuaranteeRecord,
    LockRecord,
    LockRequest,
)
from silkway.node.db.tables import ACTOR_LENGTH
from silkway.node.db.values import utc

ATTEMPTS = 3
"""A guarded update refused although a fresh read says it would fit means a concurrent change
in between; it is tried again this many times in all."""


def to_units(amount: Decimal) -> int:
    """``amount`` in hundredths of its currency unit."""
    scaled = amount.scaleb(2)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise AmountInvalid(f"amount {amount} is not a whole number of hundredths")
    return int(scaled)


def from_units(units: int) -> Decimal:
    return Decimal(units).scaleb(-2)


def _minor_unit(currency: str) -> int:
    """Hundredths per minor unit of ``currency`` (1 for EUR, 100 for JPY)."""
    return int(10 ** (2 - MINOR_UNITS[currency]))


def states_column(states: Iterable[str]) -> str:
    return "," + ",".join(sorted(states)) + ","


def states_of(column: str) -> frozenset[str]:
    return frozenset(s for s in column.split(",") if s)


def _bp(pct: Decimal) -> int:
    return int(pct.scaleb(2))


def _pct(bp: int) -> Decimal:
    return Decimal(bp).scaleb(-2)


_g = guarantees.c


lk = guarantee_locks.c


led = guarantee_ledger.c


TOTAL = bindparam("total", type_=BigInteger)


COUNT = bindparam("n", type_=Integer)


ON = bindparam("on", type_=Date)


PART = bindparam("part", type_=BigInteger)


_LOCK = (
    update(guarantees)
    .where(
        _g.grn == bindparam("g_grn", type_=String),
        _g.status == GuaranteeStatus.ACTIVE.value,
        _g.currency == bindparam("g_currency", type_=String),
        _g.valid_from <= ON,
        or_(_g.valid_to.is_(None), _g.valid_to >= ON),
        _g.valid_states.like(bindparam("state_pattern", type_=String)),
        # A single guarantee covers one operation: one lock, ever.
        or_(_g.scope == GuaranteeScope.GENERAL.value, and_(_g.locks_placed == 0, COUNT == 1)),
        _g.reference_amount - _g.locked - _g.posted >= TOTAL,
    )
    .values(locked=_g.locked + TOTAL, locks_placed=_g.locks_placed + COUNT)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)


PG_LOCK_GROUPS = text(
    "UPDATE guarantees AS g SET locked = g.locked + v.total,"
    " locks_placed = g.locks_placed + v.n"
    " FROM json_to_recordset(CAST(:groups AS json))"
    " AS v(grn varchar, currency varchar, day date, state_pattern varchar, n int, total bigint)"
    " WHERE g.grn = v.grn AND g.status = 'active' AND g.currency = v.currency"
    " AND g.valid_from <= v.day AND (g.valid_to IS NULL OR g.valid_to >= v.day)"
    " AND g.valid_states LIKE v.state_pattern"
    " AND (g.scope = 'general' OR (g.locks_placed = 0 AND v.n = 1))"
    " AND g.reference_amount - g.locked - g.posted >= v.total"
    " RETURNING g.grn, g.reference_amount, g.locked, g.posted"
)
"""PostgreSQL: the guarded update of :data:`_LOCK` for many guarantees' groups at once (one
round trip for a batch spread over many guarantees); a group that does not fit is left
untouched and returns no row."""


RELEASE_HELD = (
    update(guarantees)
    .where(_g.grn == bindparam("g_grn"))
    .values(locked=_g.locked - PART)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)


POST_HELD = (
    update(guarantees)
    .where(_g.grn == bindparam("g_grn"))
    .values(locked=_g.locked - PART, posted=_g.posted + PART)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)


LOCK_COLUMNS = (
    lk.lock_id,
    lk.grn,
    lk.state,
    lk.currency,
    lk.amount,
    lk.held,
    lk.credited,
    lk.posted,
    lk.released,
    lk.status,
    lk.last_change,
)


PENDING_LOCK = and_(lk.lock_id == bindparam("l_id"), lk.status == LockStatus.PENDING.value)


WHOLE = {"last_change": lk.held, "held": 0}


SETTLE: Mapping[tuple[CommandKind, bool], Any] = {
    (CommandKind.CREDIT, False): update(guarantee_locks)
    .where(PENDING_LOCK)
    .values(**WHOLE, credited=lk.credited + lk.held, status=LockStatus.CREDITED.value)
    .returning(*LOCK_COLUMNS),
    (CommandKind.CREDIT, True): update(guarantee_locks)
    .where(PENDING_LOCK, lk.held >= PART, PART % lk.minor_unit == 0)
    .values(
        last_change=PART,
        held=lk.held - PART,
        credited=lk.credited + PART,
        # Right-hand sides see the row as it was: held == part means nothing is left.
        status=case((lk.held == PART, LockStatus.CREDITED.value), else_=LockStatus.PENDING.value),
    )
    .returning(*LOCK_COLUMNS),
    (CommandKind.VOID, False): update(guarantee_locks)
    .where(PENDING_LOCK, lk.credited == 0)
    .values(**WHOLE, released=lk.released + lk.held, status=LockStatus.VOIDED.value)
    .returning(*LOCK_COLUMNS),
    (CommandKind.POST, False): update(guarantee_locks)
    .where(PENDING_LOCK)
    .values(**WHOLE, posted=lk.posted + lk.held, status=LockStatus.POSTED.value)
    .returning(*LOCK_COLUMNS),
    (CommandKind.EXPIRE, False): update(guarantee_locks)
    .where(PENDING_LOCK, lk.deadline < bindparam("due", type_=DateTime(timezone=True)))
    .values(**WHOLE, released=lk.released + lk.held, status=LockStatus.EXPIRED.value)
    .returning(*LOCK_COLUMNS),
}


INSERT_ENTRIES = insert(guarantee_ledger)


INSERT_LOCKS = insert(guarantee_locks)


def from_json(table: Table, param: str) -> str:
    columns = ", ".join(
        c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)
    )
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns}"
        f" FROM json_populate_recordset(NULL::{table.name}, CAST(:{param} AS json))"
    )


PG_INSERT_BATCH = text(
    f"WITH placed AS ({from_json(guarantee_locks, 'locks')})"
    f" {from_json(guarantee_ledger, 'entries')}"
)
"""PostgreSQL: a batch's lock rows and history entries in one statement, each set sent as one
JSON document. One short statement whatever the batch size (prepared once, one round trip),
and the rows are encoded by ``json.dumps`` rather than parameter by parameter."""


_GUARANTEE = select(guarantees).where(_g.grn == bindparam("g_grn"))


GUARANTEES = select(guarantees).where(_g.grn.in_(bindparam("grns", expanding=True)))


LOCK_BY_ID = select(guarantee_locks).where(lk.lock_id == bindparam("l_id"))


ANSWERS = (
    select(
        guarantee_ledger,
        lk.state.label("lock_state"),
        lk.currency.label("lock_currency"),
        lk.amount.label("lock_amount"),
        lk.grn.label("lock_grn"),
    )
    .select_from(guarantee_ledger.outerjoin(guarantee_locks, led.lock_id == lk.lock_id))
    .where(led.idempotency_key.in_(bindparam("keys", expanding=True)))
)


MAY_QUOTE = select(_g.grn).where(
    _g.grn == bindparam("grn"),
    or_(
        _g.holder_id == bindparam("holder"),
        _g.grn.in_(
            select(guarantee_authorisations.c.grn).where(
                guarantee_authorisations.c.grn == bindparam("grn"),
                guarantee_authorisations.c.holder_id == bindparam("holder"),
            )
        ),
    ),
)


@dataclass(slots=True)
class Placed:
    """A lock request that succeeded in this batch, waiting to be written."""

    request: LockRequest
    units: int
    balance: tuple[int, int, int]
    """reference amount, locked, posted right after this lock."""


def _balance(reference: int, locked: int, posted: int) -> Balance:
    return Balance.of(from_units(reference), from_units(locked), from_units(posted))


def lock_of(row: Any) -> Lock:
    return Lock(
        lock_id=row.lock_id,
        grn=row.grn,
        state=row.state,
        currency=row.currency,
        amount=from_units(row.amount),
        held=from_units(row.held),
        credited=from_units(row.credited),
        posted=from_units(row.posted),
        released=from_units(row.released),
        status=LockStatus(row.status),
    )


def record_of(row: Any) -> GuaranteeRecord:
    guarantee = Guarantee(
        grn=row.grn,
        method=GuaranteeMethod(row.method),
        scope=GuaranteeScope(row.scope),
        status=GuaranteeStatus(row.status),
        reference_amount=from_units(row.reference_amount),
        currency=row.currency,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        valid_states=states_of(row.valid_states),
    )
    return GuaranteeRecord(
        guarantee=guarantee,
        account_kind=AccountKind(row.account_kind),
        balance=_balance(row.reference_amount, row.locked, row.posted),
        guarantor_id=row.guarantor_id,
        holder_id=row.holder_id,
        access_code_hash=row.access_code_hash,
        home_state=row.home_state,
        registered_at=utc(row.registered_at),
        locks_placed=row.locks_placed,
        status_reason=row.status_reason,
    )


def lock_record(row: Any) -> LockRecord:
    return LockRecord(
        lock=lock_of(row),
        movement_reference=row.movement_reference,
        deadline=utc(row.deadline),
        placed_at=utc(row.placed_at),
        detail=row.detail,
    )


def command_of(row: Any) -> Command:
    kind = CommandKind(row.kind)
    amount = None if row.request_amount is None else from_units(row.request_amount)
    target = row.grn if kind is CommandKind.LOCK else row.lock_id
    return Command(kind, target, amount, row.request_state)


def outcome_of(row: Any) -> Outcome:
    """The answer a ledger entry recorded, rebuilt for a repeated key."""
    lock = Lock(
        lock_id=row.lock_id,
        grn=row.lock_grn,
        state=row.lock_state,
        currency=row.lock_currency,
        amount=from_units(row.lock_amount),
        held=from_units(row.lock_held),
        credited=from_units(row.lock_credited),
        posted=from_units(row.lock_posted),
        released=from_units(row.lock_released),
        status=LockStatus(row.lock_status),
    )
    return Outcome(lock, _balance(row.reference_amount, row.locked, row.posted))


def _entry(
    *,
    key: str | None,
    grn: str,
    kind: str,
    balance: tuple[int, int, int],
    at: datetime,
    actor: str,
    lock_row: Mapping[str, Any] | None = None,
    request_amount: int | None = None,
    request_state: str | None = None,
    amount: int | None = None,
    movement_reference: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    reference, locked, posted = balance
    lock = lock_row or {}
    return {
        "idempotency_key": key,
        "grn": grn,
        "kind": kind,
        "lock_id": lock.get("lock_id"),
        "movement_reference": movement_reference,
        "request_amount": request_amount,
        "request_state": request_state,
        "amount": amount,
        "reference_amount": reference,
        "locked": locked,
        "posted": posted,
        "lock_held": lock.get("held"),
        "lock_credited": lock.get("credited"),
        "lock_posted": lock.get("posted"),
        "lock_released": lock.get("released"),
        "lock_status": lock.get("status"),
        "at": at,
        "actor": actor[:ACTOR_LENGTH],
        "note": note,
    }


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, default=iso, separators=(",", ":"))


def iso(value: object) -> str:
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _alike(requests: Sequence[LockRequest], group: list[int]) -> bool:
    """Whether one guarded update can take the group: same state, day and currency."""
    first = requests[group[0]]
    return all(
        (r.state, r.on, r.currency) == (first.state, first.on, first.currency)
        for r in (requests[i] for i in group)
    )


def _segments(requests: Sequence[LockRequest]) -> list[list[int]]:
    """The batch cut where a key comes again, so that a repeat follows its first use."""
    segments: list[list[int]] = [[]]
    keys: set[str] = set()
    for index, request in enumerate(requests):
        if request.key in keys:
            segments.append([])
            keys.clear()
        keys.add(request.key)
        segments[-1].append(index)
    return segments


def _groups(requests: Sequence[LockRequest], indexes: Iterable[int]) -> list[list[int]]:
    """The requests per guarantee, in their order (one guarded update may take a group).

    Requests on different guarantees do not affect each other, so applying them guarantee by
    guarantee answers each exactly as applying them one after the other would.
    """
    groups: dict[str, list[int]] = {}
    for index in indexes:
        groups.setdefault(requests[index].grn, []).append(index)
    # One order for every batch, so that concurrent batches lock guarantee rows alike and
    # cannot deadlock each other.
    return [groups[grn] for grn in sorted(groups)]


class Connected:
    """What every part of the repository works on: the unit of work's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
