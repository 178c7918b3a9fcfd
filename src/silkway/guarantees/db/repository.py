"""SQLAlchemy Core storage of the guarantee registry and ledger.

The ledger never lets a read decide a change. A lock is a guarded ``UPDATE`` on the guarantee
row (``… WHERE reference_amount - locked - posted >= :amount`` and the guarantee's status,
validity, states and scope); a credit, void, post or expiry is a guarded ``UPDATE`` on the lock
row followed by the matching change of the guarantee row. The CHECK constraints of
:mod:`silkway.guarantees.db.tables` back the guards up. Reads explain refusals and answer
repeated idempotency keys.

A batch of locks (:meth:`SqlGuaranteeRepository.lock_many`) is applied as if its requests came
one after the other, each answered on its own, in a few statements whatever its size:

1. each guarantee's requests are offered whole to one guarded update (on PostgreSQL, every
   guarantee of the batch in one statement); most batches end here;
2. for a guarantee whose group did not fit, one read decides each request with the domain's
   rules, in order, and answers the refusals;
3. the requests that fit are offered again; the guard re-checks them, and only if the
   guarantee changed in between are they placed one by one.

The lock rows and history entries of a batch are then written with one statement.
"""

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
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from silkway.guarantees.db.tables import (
    claim_recoveries,
    duty_distributions,
    guarantee_authorisations,
    guarantee_claims,
    guarantee_holders,
    guarantee_ledger,
    guarantee_locks,
    guarantees,
    guarantors,
    security_certificates,
)
from silkway.guarantees.domain.distribution import ClaimLine, DistributionLine
from silkway.guarantees.domain.guarantee import (
    MAX_AMOUNT,
    AmountInvalid,
    Balance,
    CertificateKind,
    Command,
    CommandKind,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    Guarantor,
    GuarantorKind,
    Holder,
    LedgerError,
    Lock,
    LockStatus,
    Outcome,
    UnknownGuarantee,
    UnknownLock,
    check_amount,
    credit_lock,
    expire_lock,
    place_lock,
    post_lock,
    replayed,
    void_lock,
)
from silkway.guarantees.domain.liability import MINOR_UNITS, Tax
from silkway.guarantees.ports import (
    AccountKind,
    Certificate,
    Claim,
    DistributionTotal,
    GuaranteeRecord,
    GuarantorExposure,
    HistoryEntry,
    LockRecord,
    LockRequest,
    NewAccount,
    Recovery,
    SettleRequest,
    StateExposure,
)
from silkway.node.db.values import utc
from silkway.node.ports import DuplicateKey

_ATTEMPTS = 3
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


def _states_column(states: Iterable[str]) -> str:
    return "," + ",".join(sorted(states)) + ","


def _states_of(column: str) -> frozenset[str]:
    return frozenset(s for s in column.split(",") if s)


def _bp(pct: Decimal) -> int:
    return int(pct.scaleb(2))


def _pct(bp: int) -> Decimal:
    return Decimal(bp).scaleb(-2)


# --- statements, built once --------------------------------------------------------------------

_g = guarantees.c
_lk = guarantee_locks.c
_led = guarantee_ledger.c

_TOTAL = bindparam("total", type_=BigInteger)
_COUNT = bindparam("n", type_=Integer)
_ON = bindparam("on", type_=Date)
_PART = bindparam("part", type_=BigInteger)

_LOCK = (
    update(guarantees)
    .where(
        _g.grn == bindparam("g_grn", type_=String),
        _g.status == GuaranteeStatus.ACTIVE.value,
        _g.currency == bindparam("g_currency", type_=String),
        _g.valid_from <= _ON,
        or_(_g.valid_to.is_(None), _g.valid_to >= _ON),
        _g.valid_states.like(bindparam("state_pattern", type_=String)),
        # A single guarantee covers one operation: one lock, ever.
        or_(_g.scope == GuaranteeScope.GENERAL.value, and_(_g.locks_placed == 0, _COUNT == 1)),
        _g.reference_amount - _g.locked - _g.posted >= _TOTAL,
    )
    .values(locked=_g.locked + _TOTAL, locks_placed=_g.locks_placed + _COUNT)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)
_PG_LOCK_GROUPS = text(
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

_RELEASE_HELD = (
    update(guarantees)
    .where(_g.grn == bindparam("g_grn"))
    .values(locked=_g.locked - _PART)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)
_POST_HELD = (
    update(guarantees)
    .where(_g.grn == bindparam("g_grn"))
    .values(locked=_g.locked - _PART, posted=_g.posted + _PART)
    .returning(_g.reference_amount, _g.locked, _g.posted)
)

_LOCK_COLUMNS = (
    _lk.lock_id,
    _lk.grn,
    _lk.state,
    _lk.currency,
    _lk.amount,
    _lk.held,
    _lk.credited,
    _lk.posted,
    _lk.released,
    _lk.status,
    _lk.last_change,
)
_PENDING_LOCK = and_(_lk.lock_id == bindparam("l_id"), _lk.status == LockStatus.PENDING.value)
_WHOLE = {"last_change": _lk.held, "held": 0}
_SETTLE: Mapping[tuple[CommandKind, bool], Any] = {
    (CommandKind.CREDIT, False): update(guarantee_locks)
    .where(_PENDING_LOCK)
    .values(**_WHOLE, credited=_lk.credited + _lk.held, status=LockStatus.CREDITED.value)
    .returning(*_LOCK_COLUMNS),
    (CommandKind.CREDIT, True): update(guarantee_locks)
    .where(_PENDING_LOCK, _lk.held >= _PART, _PART % _lk.minor_unit == 0)
    .values(
        last_change=_PART,
        held=_lk.held - _PART,
        credited=_lk.credited + _PART,
        # Right-hand sides see the row as it was: held == part means nothing is left.
        status=case((_lk.held == _PART, LockStatus.CREDITED.value), else_=LockStatus.PENDING.value),
    )
    .returning(*_LOCK_COLUMNS),
    (CommandKind.VOID, False): update(guarantee_locks)
    .where(_PENDING_LOCK, _lk.credited == 0)
    .values(**_WHOLE, released=_lk.released + _lk.held, status=LockStatus.VOIDED.value)
    .returning(*_LOCK_COLUMNS),
    (CommandKind.POST, False): update(guarantee_locks)
    .where(_PENDING_LOCK)
    .values(**_WHOLE, posted=_lk.posted + _lk.held, status=LockStatus.POSTED.value)
    .returning(*_LOCK_COLUMNS),
    (CommandKind.EXPIRE, False): update(guarantee_locks)
    .where(_PENDING_LOCK, _lk.deadline < bindparam("due", type_=DateTime(timezone=True)))
    .values(**_WHOLE, released=_lk.released + _lk.held, status=LockStatus.EXPIRED.value)
    .returning(*_LOCK_COLUMNS),
}

_INSERT_ENTRIES = insert(guarantee_ledger)
_INSERT_LOCKS = insert(guarantee_locks)


def _from_json(table: Table, param: str) -> str:
    columns = ", ".join(
        c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)
    )
    return (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns}"
        f" FROM json_populate_recordset(NULL::{table.name}, CAST(:{param} AS json))"
    )


_PG_INSERT_BATCH = text(
    f"WITH placed AS ({_from_json(guarantee_locks, 'locks')})"
    f" {_from_json(guarantee_ledger, 'entries')}"
)
"""PostgreSQL: a batch's lock rows and history entries in one statement, each set sent as one
JSON document. One short statement whatever the batch size (prepared once, one round trip),
and the rows are encoded by ``json.dumps`` rather than parameter by parameter."""
_GUARANTEE = select(guarantees).where(_g.grn == bindparam("g_grn"))
_GUARANTEES = select(guarantees).where(_g.grn.in_(bindparam("grns", expanding=True)))
_LOCK_BY_ID = select(guarantee_locks).where(_lk.lock_id == bindparam("l_id"))
_ANSWERS = (
    select(
        guarantee_ledger,
        _lk.state.label("lock_state"),
        _lk.currency.label("lock_currency"),
        _lk.amount.label("lock_amount"),
        _lk.grn.label("lock_grn"),
    )
    .select_from(guarantee_ledger.outerjoin(guarantee_locks, _led.lock_id == _lk.lock_id))
    .where(_led.idempotency_key.in_(bindparam("keys", expanding=True)))
)
_MAY_QUOTE = select(_g.grn).where(
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
class _Placed:
    """A lock request that succeeded in this batch, waiting to be written."""

    request: LockRequest
    units: int
    balance: tuple[int, int, int]
    """reference amount, locked, posted right after this lock."""


def _balance(reference: int, locked: int, posted: int) -> Balance:
    return Balance.of(from_units(reference), from_units(locked), from_units(posted))


def _lock_of(row: Any) -> Lock:
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


def _record_of(row: Any) -> GuaranteeRecord:
    guarantee = Guarantee(
        grn=row.grn,
        method=GuaranteeMethod(row.method),
        scope=GuaranteeScope(row.scope),
        status=GuaranteeStatus(row.status),
        reference_amount=from_units(row.reference_amount),
        currency=row.currency,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        valid_states=_states_of(row.valid_states),
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


def _lock_record(row: Any) -> LockRecord:
    return LockRecord(
        lock=_lock_of(row),
        movement_reference=row.movement_reference,
        deadline=utc(row.deadline),
        placed_at=utc(row.placed_at),
        detail=row.detail,
    )


def _command_of(row: Any) -> Command:
    kind = CommandKind(row.kind)
    amount = None if row.request_amount is None else from_units(row.request_amount)
    target = row.grn if kind is CommandKind.LOCK else row.lock_id
    return Command(kind, target, amount, row.request_state)


def _outcome_of(row: Any) -> Outcome:
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
        "actor": actor[:40],
        "note": note,
    }


class SqlGuaranteeRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- registry ------------------------------------------------------------------------------

    def add_guarantor(self, guarantor: Guarantor, at: datetime) -> None:
        try:
            self._conn.execute(
                insert(guarantors),
                {
                    "guarantor_id": guarantor.guarantor_id,
                    "name": guarantor.name,
                    "kind": guarantor.kind.value,
                    "country": guarantor.country,
                    "national_guarantor": guarantor.national_guarantor,
                    "reduction_bp": _bp(guarantor.reduction_pct),
                    "registered_at": at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _guarantor_of(row: Any) -> Guarantor:
        return Guarantor(
            guarantor_id=row.guarantor_id,
            name=row.name,
            kind=GuarantorKind(row.kind),
            country=row.country,
            national_guarantor=row.national_guarantor,
            reduction_pct=_pct(row.reduction_bp),
        )

    def guarantor(self, guarantor_id: str) -> Guarantor | None:
        row = self._conn.execute(
            select(guarantors).where(guarantors.c.guarantor_id == guarantor_id)
        ).first()
        return None if row is None else self._guarantor_of(row)

    def guarantors(self) -> list[Guarantor]:
        rows = self._conn.execute(select(guarantors).order_by(guarantors.c.guarantor_id))
        return [self._guarantor_of(r) for r in rows]

    def put_holder(self, holder: Holder, at: datetime) -> None:
        values = {"name": holder.name, "country": holder.country, "qualified": holder.qualified}
        changed = self._conn.execute(
            update(guarantee_holders)
            .where(guarantee_holders.c.holder_id == holder.holder_id)
            .values(**values)
        )
        if changed.rowcount:
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(guarantee_holders),
                    {"holder_id": holder.holder_id, "registered_at": at, **values},
                )
        except IntegrityError:
            # Registered by a concurrent transaction meanwhile: update that row instead.
            self._conn.execute(
                update(guarantee_holders)
                .where(guarantee_holders.c.holder_id == holder.holder_id)
                .values(**values)
            )

    def holder(self, holder_id: str) -> Holder | None:
        row = self._conn.execute(
            select(guarantee_holders).where(guarantee_holders.c.holder_id == holder_id)
        ).first()
        if row is None:
            return None
        return Holder(row.holder_id, row.name, row.country, row.qualified)

    def add_account(self, account: NewAccount) -> None:
        gt = account.guarantee
        reference = to_units(gt.reference_amount)
        try:
            self._conn.execute(
                insert(guarantees),
                {
                    "grn": gt.grn,
                    "account_kind": account.account_kind.value,
                    "method": gt.method.value,
                    "scope": gt.scope.value,
                    "status": gt.status.value,
                    "status_reason": None,
                    "currency": gt.currency,
                    "reference_amount": reference,
                    "locked": 0,
                    "posted": 0,
                    "locks_placed": 0,
                    "valid_from": gt.valid_from,
                    "valid_to": gt.valid_to,
                    "valid_states": _states_column(gt.valid_states),
                    "guarantor_id": account.guarantor_id,
                    "holder_id": account.holder_id,
                    "access_code_hash": account.access_code_hash,
                    "home_state": account.home_state,
                    "registered_at": account.at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        self._conn.execute(
            _INSERT_ENTRIES,
            _entry(
                key=None,
                grn=gt.grn,
                kind="register",
                balance=(reference, 0, 0),
                at=account.at,
                actor=account.actor,
                note=f"{account.account_kind.value} registered, {gt.scope.value}, {gt.currency}",
            ),
        )

    def guarantee(self, grn: str) -> GuaranteeRecord | None:
        row = self._conn.execute(_GUARANTEE, {"g_grn": grn}).first()
        return None if row is None else _record_of(row)

    def search_guarantees(
        self,
        *,
        guarantor_id: str | None = None,
        holder_id: str | None = None,
        status: GuaranteeStatus | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[GuaranteeRecord]:
        query = select(guarantees)
        if guarantor_id is not None:
            query = query.where(_g.guarantor_id == guarantor_id)
        if holder_id is not None:
            query = query.where(_g.holder_id == holder_id)
        if status is not None:
            query = query.where(_g.status == status.value)
        rows = self._conn.execute(query.order_by(_g.grn).offset(offset).limit(limit))
        return [_record_of(r) for r in rows]

    def set_status(
        self,
        grn: str,
        status: GuaranteeStatus,
        *,
        expected: GuaranteeStatus,
        reason: str | None,
        at: datetime,
        actor: str,
    ) -> GuaranteeRecord | None:
        row = self._conn.execute(
            update(guarantees)
            .where(_g.grn == grn, _g.status == expected.value)
            .values(status=status.value, status_reason=reason)
            .returning(guarantees)
        ).first()
        if row is None:
            return None
        self._conn.execute(
            _INSERT_ENTRIES,
            _entry(
                key=None,
                grn=grn,
                kind=status.value,
                balance=(row.reference_amount, row.locked, row.posted),
                at=at,
                actor=actor,
                note=reason,
            ),
        )
        return _record_of(row)

    def authorise(self, grn: str, holder_id: str, at: datetime) -> bool:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    insert(guarantee_authorisations),
                    {"grn": grn, "holder_id": holder_id, "granted_at": at},
                )
        except IntegrityError:
            return False
        return True

    def withdraw_authorisation(self, grn: str, holder_id: str) -> bool:
        a = guarantee_authorisations.c
        done = self._conn.execute(
            guarantee_authorisations.delete().where(a.grn == grn, a.holder_id == holder_id)
        )
        return bool(done.rowcount)

    def authorised_holders(self, grn: str) -> list[str]:
        a = guarantee_authorisations.c
        rows = self._conn.execute(select(a.holder_id).where(a.grn == grn).order_by(a.holder_id))
        return [r[0] for r in rows]

    def may_quote(self, grn: str, holder_id: str) -> bool:
        return self._conn.execute(_MAY_QUOTE, {"grn": grn, "holder": holder_id}).first() is not None

    # --- ledger: locks -------------------------------------------------------------------------

    def lock_many(
        self, requests: Sequence[LockRequest], *, assume_new: bool = False
    ) -> list[Outcome | LedgerError]:
        answers: list[Outcome | LedgerError | None] = [None] * len(requests)
        units: dict[int, int] = {}
        # A repeated key is answered first, whatever else is wrong with the request (as the
        # domain's model does). A caller that assumes the keys new skips that look-up: a key
        # used before then fails the insert on its unique constraint (DuplicateKey), or, if
        # its request is refused this time, is looked up with the other refusals.
        remembered = {} if assume_new else self._answers([r.key for r in requests])
        placed: dict[int, _Placed] = {}
        placed_by_key: dict[str, int] = {}
        for segment in _segments(requests):
            todo = []
            for index in segment:
                request = requests[index]
                if request.key in remembered:
                    answers[index] = self._replay(request, remembered[request.key])
                elif request.key in placed_by_key:
                    first = placed_by_key[request.key]
                    answers[index] = self._replay_in_batch(request, requests[first], placed[first])
                elif self._valid_amount(request, index, units, answers):
                    todo.append(index)
            self._place(requests, _groups(requests, todo), units, placed, answers)
            placed_by_key.update((requests[i].key, i) for i in todo if i in placed)
        if assume_new:
            # A refusal is no answer for a key used before: that key gets its first answer.
            # (A key used before that was placed again fails the insert below instead.)
            refused = [i for i, a in enumerate(answers) if isinstance(a, LedgerError)]
            remembered = self._answers([requests[i].key for i in refused])
            for index in refused:
                if requests[index].key in remembered:
                    answers[index] = self._replay(requests[index], remembered[requests[index].key])
        self._write_locks([placed[i] for i in sorted(placed)])
        for index, done in placed.items():
            answers[index] = self._outcome_placed(done)
        return [a if a is not None else LedgerError("not answered") for a in answers]

    def _valid_amount(
        self,
        request: LockRequest,
        index: int,
        units: dict[int, int],
        answers: list[Outcome | LedgerError | None],
    ) -> bool:
        try:
            check_amount(request.amount, request.currency)
            units[index] = to_units(request.amount)
        except LedgerError as exc:
            # An unknown guarantee is named before a bad amount, as in the domain.
            answers[index] = self._explain_lock(request) or exc
            return False
        return True

    def _place(
        self,
        requests: Sequence[LockRequest],
        groups: list[list[int]],
        units: Mapping[int, int],
        placed: dict[int, _Placed],
        answers: list[Outcome | LedgerError | None],
    ) -> None:
        """Place the locks of each guarantee's group, answering each request as if it came
        alone, in order.

        1. Each group is offered whole to one guarded update (all groups in one statement on
           PostgreSQL): most batches end here.
        2. For the groups that did not fit, one read of their guarantees decides each request
           with the domain's rules, in order: the refusals are answered from it.
        3. What fits is offered again, the guards re-checking it; if a guarantee changed in
           between, its requests are placed one by one.
        """
        pending = self._offer(requests, groups, units, placed)
        if not pending:
            return
        records = self._records({requests[group[0]].grn for group in pending})
        fitting = [
            fits for group in pending if (fits := self._decide(records, requests, group, answers))
        ]
        for group in self._offer(requests, fitting, units, placed):
            for index in group:
                try:
                    placed[index] = self._lock_one(requests[index], units[index])
                except LedgerError as exc:
                    answers[index] = exc

    def _offer(
        self,
        requests: Sequence[LockRequest],
        groups: list[list[int]],
        units: Mapping[int, int],
        placed: dict[int, _Placed],
    ) -> list[list[int]]:
        """Offer each group whole to a guarded update; returns the groups that did not fit."""
        alike = [g for g in groups if _alike(requests, g)]
        if self._conn.dialect.name == "postgresql" and len(alike) > 1:
            self._offer_all(requests, alike, units, placed)
        else:
            for group in alike:
                self._offer_one(requests, group, units, placed)
        return [g for g in groups if g[0] not in placed]

    def _offer_one(
        self,
        requests: Sequence[LockRequest],
        group: list[int],
        units: Mapping[int, int],
        placed: dict[int, _Placed],
    ) -> None:
        first = requests[group[0]]
        total = sum(units[i] for i in group)
        row = self._conn.execute(_LOCK, self._lock_params(first, total, len(group))).first()
        if row is not None:
            self._placed(requests, group, units, placed, row)

    def _offer_all(
        self,
        requests: Sequence[LockRequest],
        groups: list[list[int]],
        units: Mapping[int, int],
        placed: dict[int, _Placed],
    ) -> None:
        by_grn = {requests[group[0]].grn: group for group in groups}
        payload = [
            {
                "grn": grn,
                "currency": requests[group[0]].currency,
                "day": requests[group[0]].on.isoformat(),
                "state_pattern": f"%,{requests[group[0]].state},%",
                "n": len(group),
                "total": sum(units[i] for i in group),
            }
            for grn, group in by_grn.items()
        ]
        for row in self._conn.execute(_PG_LOCK_GROUPS, {"groups": json.dumps(payload)}):
            self._placed(requests, by_grn[row.grn], units, placed, row)

    @staticmethod
    def _placed(
        requests: Sequence[LockRequest],
        group: list[int],
        units: Mapping[int, int],
        placed: dict[int, _Placed],
        row: Any,
    ) -> None:
        """The group fitted: each lock's balance is the running total up to it."""
        locked = row.locked - sum(units[i] for i in group)
        for index in group:
            locked += units[index]
            placed[index] = _Placed(
                requests[index], units[index], (row.reference_amount, locked, row.posted)
            )

    def _records(self, grns: set[str]) -> dict[str, GuaranteeRecord]:
        rows = self._conn.execute(_GUARANTEES, {"grns": sorted(grns)})
        return {row.grn: _record_of(row) for row in rows}

    def _decide(
        self,
        records: Mapping[str, GuaranteeRecord],
        requests: Sequence[LockRequest],
        group: list[int],
        answers: list[Outcome | LedgerError | None],
    ) -> list[int]:
        """The requests that fit one after the other on the guarantee as read; the others are
        answered with their refusal."""
        record = records.get(requests[group[0]].grn)
        fitting: list[int] = []
        if record is None:
            for index in group:
                answers[index] = UnknownGuarantee(f"no guarantee {requests[index].grn!r}")
            return fitting
        balance = record.balance
        so_far = record.locks_placed
        for index in group:
            request = requests[index]
            if request.currency != record.guarantee.currency:
                answers[index] = AmountInvalid(
                    f"guarantee {request.grn} is held in {record.guarantee.currency},"
                    f" not {request.currency}"
                )
                continue
            try:
                _, balance = place_lock(
                    record.guarantee,
                    balance,
                    lock_id=request.key,
                    amount=request.amount,
                    state=request.state,
                    on=request.on,
                    locks_so_far=so_far,
                )
            except LedgerError as exc:
                answers[index] = exc
                continue
            so_far += 1
            fitting.append(index)
        return fitting

    def _lock_one(self, request: LockRequest, units: int) -> _Placed:
        for _attempt in range(_ATTEMPTS):
            row = self._conn.execute(_LOCK, self._lock_params(request, units, 1)).first()
            if row is not None:
                return _Placed(request, units, (row.reference_amount, row.locked, row.posted))
            refusal = self._explain_lock(request)
            if refusal is not None:
                raise refusal
        raise LedgerError(f"guarantee {request.grn} is changing too fast; try again")

    @staticmethod
    def _lock_params(request: LockRequest, total: int, count: int) -> dict[str, Any]:
        return {
            "g_grn": request.grn,
            "g_currency": request.currency,
            "on": request.on,
            "state_pattern": f"%,{request.state},%",
            "n": count,
            "total": total,
        }

    def _explain_lock(self, request: LockRequest) -> LedgerError | None:
        record = self.guarantee(request.grn)
        if record is None:
            return UnknownGuarantee(f"no guarantee {request.grn!r}")
        if record.guarantee.currency != request.currency:
            return AmountInvalid(
                f"guarantee {request.grn} is held in {record.guarantee.currency},"
                f" not {request.currency}"
            )
        try:
            place_lock(
                record.guarantee,
                record.balance,
                lock_id=request.key,
                amount=request.amount,
                state=request.state,
                on=request.on,
                locks_so_far=record.locks_placed,
            )
        except LedgerError as exc:
            return exc
        return None

    def _write_locks(self, placed: Sequence[_Placed]) -> None:
        if not placed:
            return
        locks = []
        entries = []
        for done in placed:
            r = done.request
            row = {
                "lock_id": r.key,
                "grn": r.grn,
                "state": r.state,
                "currency": r.currency,
                "minor_unit": _minor_unit(r.currency),
                "amount": done.units,
                "held": done.units,
                "credited": 0,
                "posted": 0,
                "released": 0,
                "last_change": done.units,
                "status": LockStatus.PENDING.value,
                "movement_reference": r.movement_reference,
                "deadline": r.deadline,
                "placed_at": r.at,
                "detail": dict(r.detail) if r.detail is not None else None,
            }
            locks.append(row)
            entries.append(
                _entry(
                    key=r.key,
                    grn=r.grn,
                    kind=CommandKind.LOCK.value,
                    balance=done.balance,
                    at=r.at,
                    actor=r.actor,
                    lock_row=row,
                    request_amount=done.units,
                    request_state=r.state,
                    amount=done.units,
                    movement_reference=r.movement_reference,
                )
            )
        try:
            if self._conn.dialect.name == "postgresql":
                self._conn.execute(
                    _PG_INSERT_BATCH, {"locks": _json(locks), "entries": _json(entries)}
                )
            else:
                self._conn.execute(_INSERT_LOCKS, locks)
                self._conn.execute(_INSERT_ENTRIES, entries)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _outcome_placed(done: _Placed) -> Outcome:
        r = done.request
        amount = from_units(done.units)
        nothing = from_units(0)
        lock = Lock(r.key, r.grn, r.state, r.currency, amount, amount, nothing, nothing, nothing)
        return Outcome(lock, _balance(*done.balance))

    def _replay(self, request: LockRequest, row: Any) -> Outcome | LedgerError:
        command = Command(CommandKind.LOCK, request.grn, request.amount, request.state)
        try:
            outcome = replayed(request.key, command, (_command_of(row), _outcome_of(row)))
        except LedgerError as exc:
            return exc
        assert outcome is not None
        return outcome

    def _replay_in_batch(
        self, request: LockRequest, first: LockRequest, done: _Placed
    ) -> Outcome | LedgerError:
        command = Command(CommandKind.LOCK, request.grn, request.amount, request.state)
        earlier = Command(CommandKind.LOCK, first.grn, first.amount, first.state)
        try:
            outcome = replayed(request.key, command, (earlier, self._outcome_placed(done)))
        except LedgerError as exc:
            return exc
        assert outcome is not None
        return outcome

    def _answers(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        rows = self._conn.execute(_ANSWERS, {"keys": list(keys)})
        return {r.idempotency_key: r for r in rows}

    # --- ledger: credit, void, post, expire ----------------------------------------------------

    def settle(self, request: SettleRequest) -> Outcome:
        command = Command(request.kind, request.lock_id, request.amount)
        remembered = self._answers([request.key]).get(request.key)
        if remembered is not None:
            first = replayed(
                request.key, command, (_command_of(remembered), _outcome_of(remembered))
            )
            assert first is not None
            return first
        part = None
        if request.amount is not None:
            try:
                part = self._part(request)
            except AmountInvalid:
                self._explain_settle(request)  # a missing or settled lock is named first
                raise
        statement = _SETTLE.get((request.kind, part is not None))
        if statement is None:
            raise AmountInvalid(f"a {request.kind.value} takes no amount")
        params = {"l_id": request.lock_id, "part": part, "due": request.due_before}
        for _attempt in range(_ATTEMPTS):
            row = self._conn.execute(statement, params).first()
            if row is not None:
                break
            self._explain_settle(request)
        else:
            raise LedgerError(f"lock {request.lock_id} is changing too fast; try again")
        moved = row.last_change
        follow = _POST_HELD if request.kind is CommandKind.POST else _RELEASE_HELD
        balance = self._conn.execute(follow, {"g_grn": row.grn, "part": moved}).one()
        lock_row = dict(row._mapping)
        self._conn.execute(
            _INSERT_ENTRIES,
            _entry(
                key=request.key,
                grn=row.grn,
                kind=request.kind.value,
                balance=(balance.reference_amount, balance.locked, balance.posted),
                at=request.at,
                actor=request.actor,
                lock_row=lock_row,
                request_amount=part,
                amount=moved,
            ),
        )
        return Outcome(_lock_of(row), _balance(*balance))

    @staticmethod
    def _part(request: SettleRequest) -> int:
        amount = request.amount
        assert amount is not None
        if not amount.is_finite() or amount <= 0 or amount >= MAX_AMOUNT:
            raise AmountInvalid(f"amount must be positive and below {MAX_AMOUNT}, got {amount}")
        return to_units(amount)

    def _explain_settle(self, request: SettleRequest) -> None:
        """Raise why the guarded update refused ``request``; return if it would now succeed."""
        found = self.lock(request.lock_id)
        if found is None:
            raise UnknownLock(f"no lock {request.lock_id!r}")
        lock = found.lock
        record = self.guarantee(lock.grn)
        assert record is not None
        balance = record.balance
        match request.kind:
            case CommandKind.CREDIT:
                credit_lock(lock, balance, request.amount)
            case CommandKind.VOID:
                void_lock(lock, balance)
            case CommandKind.POST:
                post_lock(lock, balance)
            case CommandKind.EXPIRE:
                expire_lock(lock, balance)
                if found.deadline >= request.due_before:
                    raise LedgerError(
                        f"lock {lock.lock_id} is held until {found.deadline.isoformat()}"
                    )
            case CommandKind.LOCK:
                raise AssertionError("a lock is not settled")

    # --- ledger: reads -------------------------------------------------------------------------

    def lock(self, lock_id: str) -> LockRecord | None:
        row = self._conn.execute(_LOCK_BY_ID, {"l_id": lock_id}).first()
        return None if row is None else _lock_record(row)

    def locks(
        self,
        *,
        grn: str | None = None,
        movement_reference: str | None = None,
        pending_only: bool = False,
        limit: int = 1000,
    ) -> list[LockRecord]:
        query = select(guarantee_locks)
        if grn is not None:
            query = query.where(_lk.grn == grn)
        if movement_reference is not None:
            query = query.where(_lk.movement_reference == movement_reference)
        if pending_only:
            query = query.where(_lk.status == LockStatus.PENDING.value)
        rows = self._conn.execute(query.order_by(_lk.placed_at, _lk.lock_id).limit(limit))
        return [_lock_record(r) for r in rows]

    def due_locks(self, now: datetime, *, limit: int) -> list[str]:
        rows = self._conn.execute(
            select(_lk.lock_id)
            .where(_lk.status == LockStatus.PENDING.value, _lk.deadline < now)
            .order_by(_lk.deadline, _lk.lock_id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def extend_deadlines(self, movement_reference: str, deadline: datetime) -> int:
        done = self._conn.execute(
            update(guarantee_locks)
            .where(
                _lk.movement_reference == movement_reference,
                _lk.status == LockStatus.PENDING.value,
                _lk.deadline < deadline,
            )
            .values(deadline=deadline)
        )
        return int(done.rowcount)

    def history(self, grn: str, *, offset: int = 0, limit: int = 100) -> list[HistoryEntry]:
        rows = self._conn.execute(
            select(guarantee_ledger)
            .where(_led.grn == grn)
            .order_by(_led.id)
            .offset(offset)
            .limit(limit)
        )
        return [
            HistoryEntry(
                seq=r.id,
                grn=r.grn,
                kind=r.kind,
                at=utc(r.at),
                actor=r.actor,
                balance=_balance(r.reference_amount, r.locked, r.posted),
                key=r.idempotency_key,
                lock_id=r.lock_id,
                movement_reference=r.movement_reference,
                amount=None if r.amount is None else from_units(r.amount),
                lock_status=r.lock_status,
                note=r.note,
            )
            for r in rows
        ]

    def guarantor_exposure(self) -> list[GuarantorExposure]:
        rows = self._conn.execute(
            select(
                _g.guarantor_id,
                func.coalesce(guarantors.c.name, _g.guarantor_id).label("name"),
                _g.currency,
                func.count().label("n"),
                func.sum(_g.reference_amount).label("reference_amount"),
                func.sum(_g.locked).label("locked"),
                func.sum(_g.posted).label("posted"),
            )
            .select_from(
                guarantees.outerjoin(guarantors, _g.guarantor_id == guarantors.c.guarantor_id)
            )
            .where(_g.account_kind == AccountKind.GUARANTEE.value)
            .group_by(_g.guarantor_id, guarantors.c.name, _g.currency)
            .order_by(_g.guarantor_id, _g.currency)
        )
        return [
            GuarantorExposure(
                guarantor_id=r.guarantor_id,
                name=r.name,
                currency=r.currency,
                guarantees=int(r.n),
                reference_amount=from_units(int(r.reference_amount)),
                locked=from_units(int(r.locked)),
                posted=from_units(int(r.posted)),
            )
            for r in rows
        ]

    def state_exposure(self) -> list[StateExposure]:
        rows = self._conn.execute(
            select(
                _g.guarantor_id,
                _lk.state,
                _lk.currency,
                func.count().label("n"),
                func.sum(_lk.held).label("held"),
            )
            .select_from(guarantee_locks.join(guarantees, _lk.grn == _g.grn))
            .where(_lk.status == LockStatus.PENDING.value)
            .group_by(_g.guarantor_id, _lk.state, _lk.currency)
            .order_by(_g.guarantor_id, _lk.state, _lk.currency)
        )
        return [
            StateExposure(r.guarantor_id, r.state, r.currency, int(r.n), from_units(int(r.held)))
            for r in rows
        ]

    # --- certificates --------------------------------------------------------------------------

    def add_certificate(self, certificate: Certificate) -> None:
        c = certificate
        try:
            self._conn.execute(
                insert(security_certificates),
                {
                    "number": c.number,
                    "kind": c.kind.value,
                    "direction": c.direction,
                    "grn": c.grn,
                    "issued_by": c.issued_by,
                    "used_in": c.used_in,
                    "currency": c.currency,
                    "amount": to_units(c.amount),
                    "holder_id": c.holder_id,
                    "holder_qualified": c.holder_qualified,
                    "guarantor_reduction_bp": _bp(c.guarantor_reduction_pct),
                    "valid_from": c.valid_from,
                    "valid_to": c.valid_to,
                    "status": c.status,
                    "lock_id": c.lock_id,
                    "issued_at": c.issued_at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _certificate_of(row: Any) -> Certificate:
        return Certificate(
            number=row.number,
            kind=CertificateKind(row.kind),
            direction=row.direction,
            grn=row.grn,
            issued_by=row.issued_by,
            used_in=row.used_in,
            currency=row.currency,
            amount=from_units(row.amount),
            holder_id=row.holder_id,
            holder_qualified=row.holder_qualified,
            guarantor_reduction_pct=_pct(row.guarantor_reduction_bp),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            status=row.status,
            issued_at=utc(row.issued_at),
            lock_id=row.lock_id,
        )

    def certificate(self, number: str) -> Certificate | None:
        row = self._conn.execute(
            select(security_certificates).where(security_certificates.c.number == number)
        ).first()
        return None if row is None else self._certificate_of(row)

    def certificates(self, *, grn: str | None = None) -> list[Certificate]:
        query = select(security_certificates)
        if grn is not None:
            query = query.where(security_certificates.c.grn == grn)
        rows = self._conn.execute(query.order_by(security_certificates.c.number))
        return [self._certificate_of(r) for r in rows]

    def set_certificate_status(self, number: str, status: str, *, expected: str) -> bool:
        sc = security_certificates.c
        done = self._conn.execute(
            update(security_certificates)
            .where(sc.number == number, sc.status == expected)
            .values(status=status)
        )
        return bool(done.rowcount)

    # --- claims and distribution ---------------------------------------------------------------

    def add_claim(self, claim: Claim) -> None:
        try:
            self._conn.execute(
                insert(guarantee_claims),
                {
                    "claim_id": claim.claim_id,
                    "lock_id": claim.lock_id,
                    "grn": claim.grn,
                    "movement_reference": claim.movement_reference,
                    "claim_date": claim.claim_date,
                    "currency": claim.currency,
                    "amount": to_units(claim.amount),
                    "recovered": to_units(claim.recovered),
                    "debt": [
                        {
                            "tax": line.tax.value,
                            "state": line.state,
                            "amount": str(line.amount),
                            "currency": line.currency,
                        }
                        for line in claim.debt
                    ],
                    "created_at": claim.created_at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _claim_of(row: Any) -> Claim:
        return Claim(
            claim_id=row.claim_id,
            lock_id=row.lock_id,
            grn=row.grn,
            movement_reference=row.movement_reference,
            claim_date=row.claim_date,
            currency=row.currency,
            amount=from_units(row.amount),
            recovered=from_units(row.recovered),
            debt=tuple(
                ClaimLine(Tax(d["tax"]), Decimal(d["amount"]), d["currency"], d["state"])
                for d in row.debt
            ),
            created_at=utc(row.created_at),
        )

    def claim(self, claim_id: str) -> Claim | None:
        row = self._conn.execute(
            select(guarantee_claims).where(guarantee_claims.c.claim_id == claim_id)
        ).first()
        return None if row is None else self._claim_of(row)

    def claims(self, *, open_only: bool = False, offset: int = 0, limit: int = 100) -> list[Claim]:
        gc = guarantee_claims.c
        query = select(guarantee_claims)
        if open_only:
            query = query.where(gc.recovered < gc.amount)
        rows = self._conn.execute(
            query.order_by(gc.created_at, gc.claim_id).offset(offset).limit(limit)
        )
        return [self._claim_of(r) for r in rows]

    def add_recovery(self, recovery: Recovery) -> bool:
        gc = guarantee_claims.c
        amount = to_units(recovery.amount)
        done = self._conn.execute(
            update(guarantee_claims)
            .where(gc.claim_id == recovery.claim_id, gc.recovered + amount <= gc.amount)
            .values(recovered=gc.recovered + amount)
        )
        if not done.rowcount:
            return False
        try:
            self._conn.execute(
                insert(claim_recoveries),
                {
                    "recovery_key": recovery.key,
                    "claim_id": recovery.claim_id,
                    "amount": amount,
                    "recovered_on": recovery.recovered_on,
                    "at": recovery.at,
                },
            )
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc
        if recovery.lines:
            self._conn.execute(
                insert(duty_distributions),
                [
                    {
                        "recovery_key": recovery.key,
                        "claim_id": recovery.claim_id,
                        "recovered_on": recovery.recovered_on,
                        "state": line.state,
                        "tax": line.tax.value,
                        "currency": line.currency,
                        "amount": to_units(line.amount),
                        "basis": line.basis[:200],
                    }
                    for line in recovery.lines
                ],
            )
        return True

    def recovery(self, key: str) -> Recovery | None:
        row = self._conn.execute(
            select(claim_recoveries).where(claim_recoveries.c.recovery_key == key)
        ).first()
        if row is None:
            return None
        dd = duty_distributions.c
        lines = self._conn.execute(
            select(duty_distributions).where(dd.recovery_key == key).order_by(dd.id)
        )
        return Recovery(
            key=row.recovery_key,
            claim_id=row.claim_id,
            amount=from_units(row.amount),
            recovered_on=row.recovered_on,
            at=utc(row.at),
            lines=tuple(
                DistributionLine(d.state, Tax(d.tax), from_units(d.amount), d.currency, d.basis)
                for d in lines
            ),
        )

    def distribution_totals(self, start: date, end: date) -> list[DistributionTotal]:
        dd = duty_distributions.c
        rows = self._conn.execute(
            select(dd.state, dd.tax, dd.currency, func.sum(dd.amount).label("amount"))
            .where(dd.recovered_on >= start, dd.recovered_on <= end)
            .group_by(dd.state, dd.tax, dd.currency)
            .order_by(dd.state, dd.tax, dd.currency)
        )
        return [
            DistributionTotal(r.state, r.tax, r.currency, from_units(int(r.amount))) for r in rows
        ]

    def recovered_totals(self, start: date, end: date) -> dict[str, Decimal]:
        cr = claim_recoveries.c
        rows = self._conn.execute(
            select(guarantee_claims.c.currency, func.sum(cr.amount).label("amount"))
            .select_from(
                claim_recoveries.join(guarantee_claims, cr.claim_id == guarantee_claims.c.claim_id)
            )
            .where(cr.recovered_on >= start, cr.recovered_on <= end)
            .group_by(guarantee_claims.c.currency)
        )
        return {r.currency: from_units(int(r.amount)) for r in rows}


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(rows, default=_iso, separators=(",", ":"))


def _iso(value: object) -> str:
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
