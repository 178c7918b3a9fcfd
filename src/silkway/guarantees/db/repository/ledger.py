"""The ledger on SQL: locks placed in batches under one guard, settled, read and explained.

Every change is a guarded ``UPDATE``; a read only explains a refusal or answers a repeated key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from silkway.guarantees.db.repository.registry import SqlGuaranteeRegistry
from silkway.guarantees.db.repository.rows import (
    _LOCK,
    ANSWERS,
    ATTEMPTS,
    GUARANTEES,
    INSERT_ENTRIES,
    INSERT_LOCKS,
    LOCK_BY_ID,
    PG_INSERT_BATCH,
    PG_LOCK_GROUPS,
    POST_HELD,
    RELEASE_HELD,
    SETTLE,
    Placed,
    _alike,
    _balance,
    _entry,
    _g,
    _groups,
    _json,
    _minor_unit,
    _segments,
    command_of,
    from_units,
    led,
    lk,
    lock_of,
    lock_record,
    outcome_of,
    record_of,
    to_units,
)
from silkway.guarantees.db.tables import (
    guarantee_ledger,
    guarantee_locks,
    guarantees,
    guarantors,
)
from silkway.guarantees.domain.guarantee import (
    MAX_AMOUNT,
    AmountInvalid,
    Command,
    CommandKind,
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
from silkway.guarantees.ports import (
    AccountKind,
    GuaranteeRecord,
    GuarantorExposure,
    HistoryEntry,
    LockRecord,
    LockRequest,
    SettleRequest,
    StateExposure,
)
from silkway.node.db.values import utc
from silkway.node.ports import DuplicateKey


class SqlGuaranteeLedger(SqlGuaranteeRegistry):
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
        placed: dict[int, Placed] = {}
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
        placed: dict[int, Placed],
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
        placed: dict[int, Placed],
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
        placed: dict[int, Placed],
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
        placed: dict[int, Placed],
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
        for row in self._conn.execute(PG_LOCK_GROUPS, {"groups": json.dumps(payload)}):
            self._placed(requests, by_grn[row.grn], units, placed, row)

    @staticmethod
    def _placed(
        requests: Sequence[LockRequest],
        group: list[int],
        units: Mapping[int, int],
        placed: dict[int, Placed],
        row: Any,
    ) -> None:
        """The group fitted: each lock's balance is the running total up to it."""
        locked = row.locked - sum(units[i] for i in group)
        for index in group:
            locked += units[index]
            placed[index] = Placed(
                requests[index], units[index], (row.reference_amount, locked, row.posted)
            )

    def _records(self, grns: set[str]) -> dict[str, GuaranteeRecord]:
        rows = self._conn.execute(GUARANTEES, {"grns": sorted(grns)})
        return {row.grn: record_of(row) for row in rows}

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

    def _lock_one(self, request: LockRequest, units: int) -> Placed:
        for _attempt in range(ATTEMPTS):
            row = self._conn.execute(_LOCK, self._lock_params(request, units, 1)).first()
            if row is not None:
                return Placed(request, units, (row.reference_amount, row.locked, row.posted))
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

    def _write_locks(self, placed: Sequence[Placed]) -> None:
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
                    PG_INSERT_BATCH, {"locks": _json(locks), "entries": _json(entries)}
                )
            else:
                self._conn.execute(INSERT_LOCKS, locks)
                self._conn.execute(INSERT_ENTRIES, entries)
        except IntegrityError as exc:
            raise DuplicateKey(str(exc.orig)) from exc

    @staticmethod
    def _outcome_placed(done: Placed) -> Outcome:
        r = done.request
        amount = from_units(done.units)
        nothing = from_units(0)
        lock = Lock(r.key, r.grn, r.state, r.currency, amount, amount, nothing, nothing, nothing)
        return Outcome(lock, _balance(*done.balance))

    def _replay(self, request: LockRequest, row: Any) -> Outcome | LedgerError:
        command = Command(CommandKind.LOCK, request.grn, request.amount, request.state)
        try:
            outcome = replayed(request.key, command, (command_of(row), outcome_of(row)))
        except LedgerError as exc:
            return exc
        assert outcome is not None
        return outcome

    def _replay_in_batch(
        self, request: LockRequest, first: LockRequest, done: Placed
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
        rows = self._conn.execute(ANSWERS, {"keys": list(keys)})
        return {r.idempotency_key: r for r in rows}

    def settle(self, request: SettleRequest) -> Outcome:
        command = Command(request.kind, request.lock_id, request.amount)
        remembered = self._answers([request.key]).get(request.key)
        if remembered is not None:
            first = replayed(request.key, command, (command_of(remembered), outcome_of(remembered)))
            assert first is not None
            return first
        part = None
        if request.amount is not None:
            try:
                part = self._part(request)
            except AmountInvalid:
                self._explain_settle(request)  # a missing or settled lock is named first
                raise
        statement = SETTLE.get((request.kind, part is not None))
        if statement is None:
            raise AmountInvalid(f"a {request.kind.value} takes no amount")
        params = {"l_id": request.lock_id, "part": part, "due": request.due_before}
        for _attempt in range(ATTEMPTS):
            row = self._conn.execute(statement, params).first()
            if row is not None:
                break
            self._explain_settle(request)
        else:
            raise LedgerError(f"lock {request.lock_id} is changing too fast; try again")
        moved = row.last_change
        follow = POST_HELD if request.kind is CommandKind.POST else RELEASE_HELD
        balance = self._conn.execute(follow, {"g_grn": row.grn, "part": moved}).one()
        lock_row = dict(row._mapping)
        self._conn.execute(
            INSERT_ENTRIES,
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
        return Outcome(lock_of(row), _balance(*balance))

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

    def lock(self, lock_id: str) -> LockRecord | None:
        row = self._conn.execute(LOCK_BY_ID, {"l_id": lock_id}).first()
        return None if row is None else lock_record(row)

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
            query = query.where(lk.grn == grn)
        if movement_reference is not None:
            query = query.where(lk.movement_reference == movement_reference)
        if pending_only:
            query = query.where(lk.status == LockStatus.PENDING.value)
        rows = self._conn.execute(query.order_by(lk.placed_at, lk.lock_id).limit(limit))
        return [lock_record(r) for r in rows]

    def due_locks(self, now: datetime, *, limit: int) -> list[str]:
        rows = self._conn.execute(
            select(lk.lock_id)
            .where(lk.status == LockStatus.PENDING.value, lk.deadline < now)
            .order_by(lk.deadline, lk.lock_id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def extend_deadlines(self, movement_reference: str, deadline: datetime) -> int:
        done = self._conn.execute(
            update(guarantee_locks)
            .where(
                lk.movement_reference == movement_reference,
                lk.status == LockStatus.PENDING.value,
                lk.deadline < deadline,
            )
            .values(deadline=deadline)
        )
        return int(done.rowcount)

    def history(self, grn: str, *, offset: int = 0, limit: int = 100) -> list[HistoryEntry]:
        rows = self._conn.execute(
            select(guarantee_ledger)
            .where(led.grn == grn)
            .order_by(led.id)
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
                lk.state,
                lk.currency,
                func.count().label("n"),
                func.sum(lk.held).label("held"),
            )
            .select_from(guarantee_locks.join(guarantees, lk.grn == _g.grn))
            .where(lk.status == LockStatus.PENDING.value)
            .group_by(_g.guarantor_id, lk.state, lk.currency)
            .order_by(_g.guarantor_id, lk.state, lk.currency)
        )
        return [
            StateExposure(r.guarantor_id, r.state, r.currency, int(r.n), from_units(int(r.held)))
            for r in rows
        ]
