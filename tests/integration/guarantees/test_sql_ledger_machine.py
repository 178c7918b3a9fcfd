"""The SQL ledger and the reference model, driven by the same random command sequences.

Each command runs against :class:`LedgerModel` and against the real repository on SQLite (one
transaction each, batches of locks in one transaction); both must give the same outcome or
refuse with the same error, and their balances and locks must agree after every step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine

from silkway.guarantees.domain.guarantee import (
    CommandKind,
    Guarantee,
    GuaranteeMethod,
    GuaranteeScope,
    GuaranteeStatus,
    LedgerError,
    LedgerModel,
    Outcome,
)
from silkway.guarantees.ports import AccountKind, LockRequest, NewAccount, SettleRequest
from silkway.node.db.engine import make_engine
from silkway.node.db.migrate import upgrade
from silkway.node.db.unit_of_work import SqlUnitOfWork
from silkway.node.ports import DuplicateKey

ON = date(2026, 6, 1)
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
CENT = Decimal("0.01")
_RUNS = itertools.count(1)

cents = st.integers(min_value=1, max_value=60_000).map(lambda c: Decimal(c) * CENT)
# Now and then a request the ledger must refuse for its amount.
amounts = cents | st.sampled_from([Decimal(0), Decimal("0.001"), Decimal(-1)])
references = st.integers(min_value=10_000, max_value=200_000).map(lambda c: Decimal(c) * CENT)
states = st.sampled_from(["KZ", "RU", "BY", "AM"])

Answer = Outcome | LedgerError


@dataclass(frozen=True)
class Done:
    method: str
    key: str
    kwargs: dict[str, Any]


class SqlLedgerMachine(RuleBasedStateMachine):
    locks = Bundle("locks")

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        run = next(_RUNS)
        self.run = run
        self.general = f"G{run:08d}"
        self.single = f"S{run:08d}"
        self.model = LedgerModel()
        self.done: list[Done] = []
        self.keys = itertools.count(1)

    def key(self) -> str:
        return f"{self.run}-{next(self.keys)}"

    # --- running a command on both sides

    def sql(self, work: Callable[[Any], Any]) -> Answer:
        with SqlUnitOfWork(self.engine) as uow:
            try:
                answer = work(uow.guarantees)
            except LedgerError as exc:
                return exc
            uow.commit()
        return answer  # type: ignore[no-any-return]

    def model_run(self, method: str, key: str, kwargs: dict[str, Any]) -> Answer:
        try:
            outcome: Outcome = getattr(self.model, method)(key, **kwargs)
        except LedgerError as exc:
            return exc
        return outcome

    def sql_run(self, method: str, key: str, kwargs: dict[str, Any]) -> Answer:
        if method == "lock":
            request = self.lock_request(key, kwargs)
            return self.sql(lambda repo: repo.lock_many([request])[0])
        kind = CommandKind(method)
        settle = SettleRequest(key, kind, kwargs["lock_id"], AT, kwargs.get("amount"))
        return self.sql(lambda repo: repo.settle(settle))

    @staticmethod
    def lock_request(key: str, kwargs: dict[str, Any]) -> LockRequest:
        return LockRequest(
            key=key,
            grn=kwargs["grn"],
            amount=kwargs["amount"],
            currency="EUR",
            state=kwargs["state"],
            on=kwargs["on"],
            at=AT,
            deadline=AT,
        )

    @staticmethod
    def agree(expected: Answer, got: Answer) -> None:
        if isinstance(expected, LedgerError):
            assert type(got) is type(expected), (expected, got)
        else:
            assert got == expected

    def both(self, method: str, kwargs: dict[str, Any], key: str | None = None) -> Answer:
        key = key or self.key()
        expected = self.model_run(method, key, kwargs)
        self.agree(expected, self.sql_run(method, key, kwargs))
        if isinstance(expected, Outcome):
            self.done.append(Done(method, key, kwargs))
        return expected

    # --- rules

    @initialize(general=references, single=references)
    def open_guarantees(self, general: Decimal, single: Decimal) -> None:
        for grn, scope, amount in (
            (self.general, GuaranteeScope.GENERAL, general),
            (self.single, GuaranteeScope.SINGLE, single),
        ):
            guarantee = Guarantee(
                grn=grn,
                method=GuaranteeMethod.SURETY,
                scope=scope,
                status=GuaranteeStatus.ACTIVE,
                reference_amount=amount,
                currency="EUR",
                valid_from=date(2026, 1, 1),
                valid_to=None,
                valid_states=frozenset({"KZ", "RU", "BY"}),
            )
            self.model.register(guarantee)
            account = NewAccount(
                guarantee, AccountKind.GUARANTEE, "G1", "H1", "scrypt$", "KZ", AT, "test"
            )
            self.sql(lambda repo, a=account: repo.add_account(a))

    def grns(self) -> st.SearchStrategy[str]:
        return st.sampled_from([self.general, self.single])

    @rule(target=locks, data=st.data(), amount=amounts, state=states)
    def lock(self, data: st.DataObject, amount: Decimal, state: str) -> Any:
        grn = data.draw(self.grns())
        answer = self.both("lock", {"grn": grn, "amount": amount, "state": state, "on": ON})
        return answer.lock.lock_id if isinstance(answer, Outcome) else multiple()

    @rule(
        target=locks,
        data=st.data(),
        items=st.lists(st.tuples(amounts, states, st.booleans()), min_size=2, max_size=8),
        assume_new=st.booleans(),
    )
    def lock_batch(
        self, data: st.DataObject, items: list[tuple[Decimal, str, bool]], assume_new: bool
    ) -> Any:
        """Several locks in one transaction, some repeating an earlier key of the batch, or
        of an earlier command."""
        requests: list[tuple[str, dict[str, Any]]] = []
        for amount, state, repeat in items:
            grn = data.draw(self.grns())
            key = requests[-1][0] if repeat and requests else self.key()
            requests.append((key, {"grn": grn, "amount": amount, "state": state, "on": ON}))
        if self.done and data.draw(st.booleans()):
            earlier = data.draw(st.sampled_from(self.done))
            requests[0] = (earlier.key, requests[0][1])
        batch = [self.lock_request(key, kwargs) for key, kwargs in requests]
        before = self.sql_state()
        try:
            got = self.sql(lambda repo: repo.lock_many(batch, assume_new=assume_new))
        except DuplicateKey:
            # Without the look-up, a key used before that fits again fails the whole batch,
            # which changes nothing (the caller retries each request alone).
            assert assume_new
            assert {key for key, _ in requests} & {d.key for d in self.done}
            assert self.sql_state() == before
            return multiple()
        expected = [self.model_run("lock", key, kwargs) for key, kwargs in requests]
        assert isinstance(got, list)
        placed = []
        for (key, kwargs), want, have in zip(requests, expected, got, strict=True):
            self.agree(want, have)
            if isinstance(want, Outcome):
                self.done.append(Done("lock", key, kwargs))
                placed.append(want.lock.lock_id)
        return multiple(*dict.fromkeys(placed))

    @rule(lock_id=locks, part=st.none() | cents | st.just(Decimal("0.001")))
    def credit(self, lock_id: str, part: Decimal | None) -> None:
        self.both("credit", {"lock_id": lock_id, "amount": part})

    @rule(lock_id=locks, method=st.sampled_from(["void", "post", "expire"]))
    def finish(self, lock_id: str, method: str) -> None:
        self.both(method, {"lock_id": lock_id})

    @rule(lock_id=st.just("no-such-lock"), method=st.sampled_from(["credit", "void", "post"]))
    def unknown_lock(self, lock_id: str, method: str) -> None:
        self.both(method, {"lock_id": lock_id})

    @rule(status=st.sampled_from([GuaranteeStatus.ACTIVE] * 3 + list(GuaranteeStatus)))
    def change_status(self, status: GuaranteeStatus) -> None:
        current = self.model.guarantee(self.general).status
        self.model.set_status(self.general, status)
        changed = self.sql(
            lambda repo: repo.set_status(
                self.general, status, expected=current, reason=None, at=AT, actor="test"
            )
        )
        assert changed is not None

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        done = data.draw(st.sampled_from(self.done))
        self.both(done.method, done.kwargs, key=done.key)

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def reuse_key_for_another_request(self, data: st.DataObject) -> None:
        done = data.draw(st.sampled_from(self.done))
        method, kwargs = done.method, dict(done.kwargs)
        if method in ("lock", "credit"):
            kwargs["amount"] = (kwargs["amount"] or Decimal(0)) + CENT
        else:
            method = {"void": "post", "post": "expire", "expire": "void"}[method]
        self.both(method, kwargs, key=done.key)

    def sql_state(self) -> tuple[object, ...]:
        with SqlUnitOfWork(self.engine) as uow:
            repo = uow.guarantees
            return tuple(
                (repo.guarantee(grn), repo.locks(grn=grn), len(repo.history(grn, limit=100_000)))
                for grn in (self.general, self.single)
            )

    # --- invariants

    @invariant()
    def balances_and_locks_agree(self) -> None:
        with SqlUnitOfWork(self.engine) as uow:
            repo = uow.guarantees
            for grn in (self.general, self.single):
                record = repo.guarantee(grn)
                if record is None:
                    return  # before the guarantees are opened
                assert record.balance == self.model.balance(grn)
                assert record.guarantee.status is self.model.guarantee(grn).status
                stored = {found.lock.lock_id: found.lock for found in repo.locks(grn=grn)}
                assert stored == {lk.lock_id: lk for lk in self.model.locks(grn)}
                # The history's last entry shows the balance the row holds.
                last = repo.history(grn, limit=100_000)[-1]
                assert last.balance == record.balance


def test_sql_ledger_agrees_with_the_model(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    upgrade(engine)
    try:
        run_state_machine_as_test(
            lambda: SqlLedgerMachine(engine),
            settings=settings(max_examples=30, stateful_step_count=30, deadline=None),
        )
    finally:
        engine.dispose()
